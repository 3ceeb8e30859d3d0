"""Patient-level bootstrap of a job's evidence (medsweep.evaluate.evaluation, issue 21 items 1, 5, 7): repeated
predictions of one patient resampled as one patient, subgroup minimum events, intervals of calibration and net
benefit, BCa, and small test folds. Each statistic is checked against an independent computation written
here (scikit-learn, scipy, formulas); the resamples are drawn here as bootstrap_weights documents them
(``numpy.random.default_rng(seed).integers(0, patients, (n_boot, patients))`` in one chunk for small cohorts)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit, log_expit, ndtr, ndtri
from sklearn.metrics import roc_auc_score

from medsweep.evaluate.evaluation import (bca_interval, bootstrap_intervals, evaluate_predictions,
                                 subgroup_table)

CLASSES = [0, 1]


def repeated_frame(n=120, repeats=5, seed=0, prevalence=0.4):
    """Out-of-fold predictions of ``n`` patients without a patient column (patient = data row), each predicted
    once per round of repeated 5-fold cross-validation, as training.cross_validate writes them."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(int)
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    signal = rng.normal(size=n) + 1.5 * y
    parts = []
    for r in range(repeats):
        fold = rng.permutation(n) % 5 + 5 * r  # fold numbers run over the rounds
        p = expit(signal + rng.normal(0, 0.3, n))  # each round's model predicts the patient a little differently
        parts.append(pd.DataFrame({"row": np.arange(n), "patient": np.arange(n), "repeat": r, "fold": fold,
                                   "y_true": y, "y_pred": (p >= 0.5).astype(int), "proba_0": 1 - p, "proba_1": p,
                                   "sex": sex}))
    return pd.concat(parts, ignore_index=True)


def evidence(frame, **kw):
    args = dict(thresholds=None, n_boot=500, seed=3, dca_range=[0.05, 0.95], subgroup_values={},
                subgroup_bins=2, subgroup_min_patients=10, grouped=False)
    args.update(kw)
    return evaluate_predictions(frame, CLASSES, "classification", **args)


def patient_resamples(patients, n_boot, seed):
    """The rows of each bootstrap resample of patients (all rows of each drawn patient, as often as drawn)."""
    ids, codes = np.unique(patients, return_inverse=True)
    order = pd.factorize(pd.Series(patients))[0]  # bootstrap_weights numbers patients by first appearance
    rows_of = [np.flatnonzero(order == k) for k in range(len(ids))]
    draws = np.random.default_rng(seed).integers(0, len(ids), size=(n_boot, len(ids)))
    return [np.concatenate([rows_of[k] for k in d]) for d in draws]


def own_percentile(values):
    values = np.asarray(values, dtype=float)
    return np.percentile(values[np.isfinite(values)], [2.5, 97.5])


# ------------------------------------------------------------------- item 1: repeats are not extra patients

def test_repeated_predictions_of_a_row_are_resampled_as_one_patient_overall_and_in_subgroups():
    frame = repeated_frame()
    ev = evidence(frame, subgroup_values={"sex": frame["sex"].to_numpy()})
    table = ev.subgroups.set_index("subgroup")
    n_f = int((frame[frame.repeat == 0].sex == "F").sum())
    # Counted as patients and data rows, not as predictions (5 per patient).
    assert table.loc["F", "patients"] == n_f and table.loc["F", "rows"] == n_f
    assert table.loc["F", "events"] == int(((frame.repeat == 0) & (frame.sex == "F") & (frame.y_true == 1)).sum())
    # The subgroup interval: patients resampled with all their predictions, recomputed here by scikit-learn.
    sub = frame[frame.sex == "F"].reset_index(drop=True)
    aucs = [roc_auc_score(sub.y_true[r], sub.proba_1[r]) for r in patient_resamples(sub.row.to_numpy(), 500, 3)]
    lower, upper = own_percentile(aucs)
    assert table.loc["F", "roc_auc_lower"] == pytest.approx(lower, abs=1e-12)
    assert table.loc["F", "roc_auc_upper"] == pytest.approx(upper, abs=1e-12)
    # Today's main resampled the 5 predictions of a patient as 5 patients: an interval about sqrt(5) too narrow.
    rows_as_patients = bootstrap_intervals(sub.y_true.to_numpy(), sub[["proba_0", "proba_1"]].to_numpy(), CLASSES,
                                           "classification", None, 500, 3)["roc_auc"]
    assert upper - lower > 1.6 * (rows_as_patients["upper"] - rows_as_patients["lower"])
    # The overall interval resamples the same way (each data row with all its rounds' predictions).
    aucs = [roc_auc_score(frame.y_true[r], frame.proba_1[r]) for r in patient_resamples(frame.row.to_numpy(), 500, 3)]
    assert [ev.metrics["roc_auc"]["lower"], ev.metrics["roc_auc"]["upper"]] == pytest.approx(own_percentile(aucs),
                                                                                             abs=1e-12)
    assert "each with its predictions of every round" in ev.record["interval"]["resampled"]
    # Counts: the patients once, every fold of every round on its test side.
    assert ev.record["counts"]["patients"] == 120 and ev.record["counts"]["rows"] == 120
    assert [f["fold"] for f in ev.record["counts"]["folds"]] == list(range(25))


def test_a_frame_without_patient_column_takes_the_data_row_as_the_patient():
    frame = repeated_frame(n=60, repeats=3).drop(columns="patient")
    ev = evidence(frame, subgroup_values={"sex": frame["sex"].to_numpy()})
    assert ev.subgroups.patients.sum() == 60 and ev.record["counts"]["patients"] == 60


def test_tiny_and_one_event_subgroups_get_counts_only_with_a_note():
    frame = repeated_frame(n=150)
    first = frame[frame.repeat == 0]
    group = np.where(frame.row < 2, "tiny", "rest")  # 2 patients, 10 predictions: under min_patients
    positives = first.row[(first.y_true == 1) & (first.row >= 2)].to_numpy()
    negatives = first.row[(first.y_true == 0) & (first.row >= 2)].to_numpy()
    one_event = np.r_[positives[:1], negatives[:30]]
    group = np.where(np.isin(frame.row, one_event), "one_event", group)
    ev = evidence(frame, subgroup_values={"g": group}, subgroup_min_events=5)
    table = ev.subgroups.set_index("subgroup")
    assert table.loc["tiny", "patients"] <= 2 and "fewer than 10 patients" in table.loc["tiny", "note"]
    assert table.loc["one_event", "events"] == 1 and table.loc["one_event", "patients"] == 31
    assert "fewer than 5 patients of class 1: counts only" in table.loc["one_event", "note"]
    assert np.isnan(table.loc["one_event", "roc_auc"]) and not table.loc["one_event", "flag"]
    assert table.loc["rest", "dropped_resamples"] == 0 and np.isfinite(table.loc["rest", "roc_auc"])
    # With the rule relaxed to 1 event the group's resamples that draw no event are left out, and counted.
    loose = evidence(frame, subgroup_values={"g": group}, subgroup_min_events=1).subgroups.set_index("subgroup")
    dropped = loose.loc["one_event", "dropped_resamples"]
    assert dropped == pytest.approx(500 * (30 / 31) ** 31, rel=0.25)  # P(the one event is not drawn)


def test_subgroup_min_events_counts_patients_of_each_class_in_multiclass():
    rng = np.random.default_rng(1)
    y = np.r_[np.repeat(["A", "B"], 40), ["C"] * 4]
    proba = rng.dirichlet(np.ones(3), len(y))
    table = subgroup_table(y, proba, ["A", "B", "C"], "classification", None, np.full(len(y), "all"),
                           n_boot=100, min_events=5)
    assert table.iloc[0]["events"] == "A:40 B:40 C:4" and "class C" in table.iloc[0]["note"]


# -------------------------------------------------------------------------------------- item 5: intervals

def test_bca_equals_scipy_on_one_row_per_patient():
    """scipy.stats.bootstrap(method="BCa") of the mean absolute error (a mean: the metric scipy takes) against
    eval.interval=bca's MAE interval; different resamples, so within Monte Carlo error, and apart from the
    percentile interval on these skewed errors."""
    rng = np.random.default_rng(5)
    y = rng.normal(size=40)
    pred = y + rng.exponential(1.0, 40) ** 1.5
    ours = bootstrap_intervals(y, pred, None, "regression", n_boot=40_000, seed=1, method="bca")["mae"]
    theirs = stats.bootstrap((np.abs(y - pred),), np.mean, method="BCa", n_resamples=40_000,
                             random_state=2).confidence_interval
    pct = bootstrap_intervals(y, pred, None, "regression", n_boot=40_000, seed=1)["mae"]
    assert ours["lower"] == pytest.approx(theirs.low, abs=0.01) and ours["upper"] == pytest.approx(theirs.high, abs=0.02)
    assert abs(pct["lower"] - ours["lower"]) > 0.03 or abs(pct["upper"] - ours["upper"]) > 0.03


def test_bca_of_a_clustered_roc_auc_follows_efrons_formula_with_a_patient_jackknife():
    rng = np.random.default_rng(2)
    patients = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    label = (rng.random(40) < 0.3)[patients].astype(int)
    p = expit(1.2 * label + rng.normal(size=len(patients)))
    proba = np.c_[1 - p, p]
    ours = bootstrap_intervals(label, proba, CLASSES, "classification", patients, n_boot=600, seed=4,
                               method="bca")["roc_auc"]
    boot = np.array([roc_auc_score(label[r], p[r]) if len(set(label[r])) == 2 else np.nan
                     for r in patient_resamples(patients, 600, 4)])
    boot = boot[np.isfinite(boot)]
    theta = roc_auc_score(label, p)
    jack = np.array([roc_auc_score(label[patients != k], p[patients != k]) for k in range(40)])
    z0 = ndtri((np.sum(boot < theta) + np.sum(boot <= theta)) / (2 * len(boot)))
    d = jack.mean() - jack
    a = np.sum(d ** 3) / (6 * np.sum(d ** 2) ** 1.5)
    z = ndtri(np.array([0.025, 0.975]))
    q = ndtr(z0 + (z0 + z) / (1 - a * (z0 + z)))
    assert [ours["lower"], ours["upper"]] == pytest.approx(np.percentile(boot, 100 * q), abs=1e-12)
    assert ours["n_valid"] == len(boot)
    # Undefined where every resample lies on one side of the estimate: no interval rather than a wrong one.
    assert bca_interval(np.full(10, 0.9), 0.5, np.linspace(0, 1, 5))["lower"] is None


def slope_and_intercept(y, p):
    """Unpenalised logistic recalibration y ~ a + b logit(p), maximised here with scipy."""
    z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
    nll = lambda beta: -np.sum(y * log_expit(beta[0] + beta[1] * z) + (1 - y) * log_expit(-beta[0] - beta[1] * z))
    res = minimize(nll, [0.0, 1.0], method="BFGS", options={"gtol": 1e-9})
    citl = minimize(lambda a: -np.sum(y * log_expit(a[0] + z) + (1 - y) * log_expit(-a[0] - z)), [0.0],
                    method="BFGS", options={"gtol": 1e-10}).x[0]
    return res.x[0], res.x[1], citl


def test_calibration_and_net_benefit_get_intervals_from_the_same_patient_bootstrap():
    rng = np.random.default_rng(7)
    patients = np.repeat(np.arange(60), 2)
    y = (rng.random(60) < 0.4)[patients].astype(int)
    p = expit(0.8 * (2 * y - 1) + rng.normal(0, 1, 120) - 0.3)
    frame = pd.DataFrame({"row": np.arange(120), "patient": patients, "fold": np.arange(120) % 3, "y_true": y,
                          "y_pred": (p >= 0.5).astype(int), "proba_0": 1 - p, "proba_1": p})
    ev = evidence(frame, n_boot=200, seed=11, grouped=True)
    cal = ev.record["calibration"]
    resamples = patient_resamples(patients, 200, 11)
    fits = np.array([slope_and_intercept(y[r], p[r]) for r in resamples])
    for k, name in enumerate(("intercept", "slope", "citl")):
        lower, upper = own_percentile(fits[:, k])
        assert cal["interval"][name]["lower"] == pytest.approx(lower, abs=1e-5), name
        assert cal["interval"][name]["upper"] == pytest.approx(upper, abs=1e-5), name
        assert cal["interval"][name]["lower"] <= cal[name] <= cal["interval"][name]["upper"]

    def ece(yr, pr):  # quantile bins of the resample's predictions, as sklearn's calibration_curve
        edges = np.percentile(pr, np.linspace(0, 100, 11))
        ids = np.searchsorted(edges[1:-1], pr)
        return sum(np.sum(ids == b) / len(pr) * abs(yr[ids == b].mean() - pr[ids == b].mean())
                   for b in np.unique(ids))

    assert [cal["interval"]["ece"]["lower"], cal["interval"]["ece"]["upper"]] == pytest.approx(
        own_percentile([ece(y[r], p[r]) for r in resamples]), abs=1e-12)
    t = 0.2
    nb = [np.mean((p[r] >= t) & (y[r] == 1)) - np.mean((p[r] >= t) & (y[r] == 0)) * t / (1 - t) for r in resamples]
    at = ev.record["decision_curve"]["net_benefit"]["0.2"]
    assert [at["model_lower"], at["model_upper"]] == pytest.approx(own_percentile(nb), abs=1e-12)
    assert at["model_lower"] <= at["model"] <= at["model_upper"]
    # The metrics' intervals are unchanged by the calibration's: the same resamples, the same seed.
    assert ev.metrics["roc_auc"]["lower"] == pytest.approx(
        own_percentile([roc_auc_score(y[r], p[r]) for r in resamples])[0], abs=1e-12)


def test_bca_applies_to_every_interval_of_a_job():
    frame = repeated_frame(n=80, repeats=2)
    pct = evidence(frame, n_boot=300)
    bca = evidence(frame, n_boot=300, interval="bca", subgroup_values={"sex": frame["sex"].to_numpy()})
    assert bca.record["interval"]["kind"] == "bca" and "BCa" in bca.record["interval"]["method"]
    assert pct.record["interval"]["kind"] == "percentile"
    for got, base in ((bca.metrics["roc_auc"], pct.metrics["roc_auc"]),
                      (bca.record["calibration"]["interval"]["slope"], pct.record["calibration"]["interval"]["slope"])):
        assert got["lower"] != base["lower"] and got["lower"] < got["upper"]
    assert bca.subgroups.roc_auc_lower.notna().all()
    with pytest.raises(ValueError, match="interval method 'studentized' is not allowed"):
        evidence(frame, interval="studentized")


# ------------------------------------------------------------------------------- item 7: small test folds

def test_a_test_fold_with_few_patients_of_a_class_is_warned_about_with_a_remedy():
    rng = np.random.default_rng(3)
    n = 60
    y = np.r_[np.zeros(8, int), np.ones(n - 8, int)]  # 8 healthy subjects over 4 folds: 2 per fold
    p = rng.random(n)
    frame = pd.DataFrame({"row": np.arange(n), "patient": np.arange(n) // 2, "fold": (np.arange(n) // 2) % 4,
                          "y_true": y, "y_pred": 1, "proba_0": 1 - p, "proba_1": p})
    ev = evidence(frame, n_boot=0)
    warnings = ev.record["warnings"]
    assert [w["kind"] for w in warnings] == ["small_test_fold"]
    message = warnings[0]["message"]
    assert "4 of 4 test folds" in message and "fewer than 5 patients" in message and "of class 0" in message
    assert "fewer folds" in message and "trainer.repeats" in message
    assert [f["patients_with"]["0"] for f in ev.record["counts"]["folds"]] == [1, 1, 1, 1]
    # Enough patients of each class in every fold: no warning.
    balanced = frame.assign(y_true=np.arange(n) % 2)
    assert evidence(balanced, n_boot=0).record["warnings"] == []
