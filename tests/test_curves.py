"""The bands drawn on the job plots (evaluate/curves.py), each checked against an independent computation: the
patients of each resample drawn here (numpy's generator, as the bootstrap documents), the resampled rows
repeated (np.repeat), the curve computed by scikit-learn, statsmodels or the net-benefit formula, and the
percentiles taken with np.percentile."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import roc_curve

from medsweep.evaluate.curves import calibration_band, net_benefit_band, roc_band

N_BOOT = 40
SEED = 3


@pytest.fixture(scope="module")
def cohort():
    """60 patients with 1-3 rows each; scores with ties."""
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(60), rng.integers(1, 4, 60))
    y = rng.random(len(patients)) < 0.4
    p = np.round(expit(rng.normal(size=len(y)) + 1.5 * y - 0.4), 2)
    return y, p, patients


def patient_resamples(patients, n_boot, seed):
    """Each resample's rows: patients drawn with replacement (as many as there are), all rows of each."""
    codes = {pid: k for k, pid in enumerate(dict.fromkeys(patients))}
    code = np.array([codes[pid] for pid in patients])
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, len(codes), len(codes)), minlength=len(codes))
        yield np.repeat(np.arange(len(patients)), counts[code])


def test_roc_band_is_the_percentiles_of_each_resamples_roc_curve(cohort):
    y, p, patients = cohort
    grid = np.linspace(0, 1, 51)
    curves = []
    for rows in patient_resamples(patients, N_BOOT, SEED):
        if y[rows].all() or not y[rows].any():
            continue
        fpr, tpr, _ = roc_curve(y[rows], p[rows])
        curves.append(np.interp(grid, fpr, tpr))
    band = roc_band(y, p, patients, n_boot=N_BOOT, seed=SEED, grid=grid)
    np.testing.assert_allclose(band["lower"], np.percentile(curves, 2.5, axis=0), atol=1e-12)
    np.testing.assert_allclose(band["upper"], np.percentile(curves, 97.5, axis=0), atol=1e-12)
    fpr, tpr, _ = roc_curve(y, p)
    np.testing.assert_allclose(band["tpr"], np.interp(grid, fpr, tpr), atol=1e-12)
    assert band["n_valid"] == len(curves)
    assert (band["lower"] <= band["tpr"] + 1e-12).all() and (band["tpr"] <= band["upper"] + 1e-12).all()


def test_net_benefit_band_is_the_percentiles_of_the_formula(cohort):
    y, p, patients = cohort
    t = np.round(np.arange(0.05, 0.6, 0.05), 2)
    values = []
    for rows in patient_resamples(patients, N_BOOT, SEED):
        yy, pp, n = y[rows], p[rows], len(rows)
        tp = np.array([(yy & (pp >= x)).sum() for x in t])
        fp = np.array([(~yy & (pp >= x)).sum() for x in t])
        values.append(tp / n - fp / n * t / (1 - t))
    band = net_benefit_band(y, p, t, patients, n_boot=N_BOOT, seed=SEED)
    np.testing.assert_allclose(band["lower"], np.percentile(values, 2.5, axis=0), atol=1e-12)
    np.testing.assert_allclose(band["upper"], np.percentile(values, 97.5, axis=0), atol=1e-12)
    tp = np.array([(y & (p >= x)).sum() for x in t])
    fp = np.array([(~y & (p >= x)).sum() for x in t])
    np.testing.assert_allclose(band["net_benefit"], tp / len(y) - fp / len(y) * t / (1 - t), atol=1e-12)


def natural_spline_fit(y, p, rows, knots, at):
    """statsmodels' unpenalised logistic GLM on patsy's natural cubic regression spline of logit(p) with the
    same knots (the same space of curves as a restricted cubic spline): the fitted risk at ``at``."""
    import patsy
    import statsmodels.api as sm

    def z(q):
        q = np.clip(q, 1e-6, 1 - 1e-6)
        return np.log(q / (1 - q))

    spec = dict(knots=list(knots[1:-1]), lower_bound=knots[0], upper_bound=knots[-1])
    # patsy's cr is linear beyond its bounds, as the restricted cubic spline is beyond the outer knots
    X = patsy.dmatrix("cr(x, **spec) - 1", {"x": z(p[rows]), "spec": spec})
    fit = sm.GLM(y[rows].astype(float), X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
    return fit.predict(patsy.build_design_matrices([X.design_info], {"x": z(at), "spec": spec})[0])


def test_flexible_calibration_is_a_logistic_natural_spline_and_its_band_the_resamples_percentiles(cohort):
    y, p, patients = cohort
    band = calibration_band(y, p, patients, n_boot=N_BOOT, seed=SEED, n_knots=3)
    knots, risk = band["knots"], band["risk"]
    assert len(knots) == 3 and risk.min() == p.min() and risk.max() == p.max()
    np.testing.assert_allclose(band["observed"], natural_spline_fit(y, p, np.arange(len(y)), knots, risk),
                               atol=1e-6)
    curves = [natural_spline_fit(y, p, rows, knots, risk) for rows in patient_resamples(patients, N_BOOT, SEED)]
    assert band["n_valid"] == N_BOOT
    np.testing.assert_allclose(band["lower"], np.percentile(curves, 2.5, axis=0), atol=1e-5)
    np.testing.assert_allclose(band["upper"], np.percentile(curves, 97.5, axis=0), atol=1e-5)


def test_a_well_calibrated_model_has_a_curve_near_the_diagonal():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.98, 4000)
    y = rng.random(4000) < p
    band = calibration_band(y, p, n_boot=0)
    assert band["lower"] is None and len(band["knots"]) == 4  # thousands of events: four knots
    inner = (band["risk"] > 0.1) & (band["risk"] < 0.9)
    assert np.abs(band["observed"][inner] - band["risk"][inner]).max() < 0.05


def test_bands_refuse_what_they_cannot_compute(cohort):
    y, p, _ = cohort
    with pytest.raises(ValueError, match="n_boot"):
        roc_band(y, p, n_boot=0)
    with pytest.raises(ValueError, match="same length"):
        net_benefit_band(y[:-1], p, [0.1])
    with pytest.raises(ValueError, match="not finite"):
        calibration_band(y, np.r_[p[:-1], np.nan])
