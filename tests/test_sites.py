"""data.site: internal-external cross-validation, per-site metrics and their random-effects meta-analysis,
checked against statsmodels' combine_effects, a REML likelihood maximised by scipy and formulas written here."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from medsweep.config.schema import config_errors
from medsweep.data.errors import DataError
from medsweep.data.prepare import Dataset, prepare
from medsweep.data.synthetic import COHORTS, make_cohort
from medsweep.evaluate.meta_analysis import random_effects
from medsweep.evaluate.sites import site_evidence
from medsweep.job.runner import run_job
from medsweep.learn.splitting import site_split
from medsweep.learn.training import TrainSettings, cross_validate

Y = np.array([0.10, 0.52, 0.93, 0.31, 0.70, 0.45])
V = np.array([0.020, 0.031, 0.052, 0.018, 0.044, 0.025])
LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


# -- the meta-analysis ----------------------------------------------------------------------------------------

def test_dersimonian_laird_is_statsmodels_combine_effects():
    from statsmodels.stats.meta_analysis import combine_effects

    ref = combine_effects(Y, V, method_re="chi2", use_t=False)
    got = random_effects(Y, V, method="dl")
    assert got["tau2"] == pytest.approx(ref.tau2, rel=1e-10)
    assert got["estimate"] == pytest.approx(ref.mean_effect_re, rel=1e-10)
    assert got["se"] == pytest.approx(ref.sd_eff_w_re, rel=1e-10)
    assert got["q"] == pytest.approx(ref.q, rel=1e-10)
    assert got["i2"] == pytest.approx(ref.i2, rel=1e-10)
    lo, hi = ref.conf_int(use_t=False)[1]  # (fixed, random, fixed wls, random wls): the random-effects one
    assert (got["lower"], got["upper"]) == pytest.approx((lo, hi), rel=1e-10)


def test_hartung_knapp_is_statsmodels_hksj_with_t_k_minus_1():
    from statsmodels.stats.meta_analysis import combine_effects

    ref = combine_effects(Y, V, method_re="chi2")
    got = random_effects(Y, V, method="dl-hk")
    assert got["se"] == pytest.approx(ref.sd_eff_w_re_hksj, rel=1e-10)
    t = stats.t.ppf(0.975, len(Y) - 1)
    assert got["lower"] == pytest.approx(ref.mean_effect_re - t * ref.sd_eff_w_re_hksj, rel=1e-10)


def test_reml_maximises_the_restricted_likelihood():
    def minus_reml(tau2):
        w = 1 / (V + tau2)
        mu = np.sum(w * Y) / np.sum(w)
        return 0.5 * (np.sum(np.log(V + tau2)) + np.log(np.sum(w)) + np.sum(w * (Y - mu) ** 2))

    best = optimize.minimize_scalar(minus_reml, bounds=(0, 10), method="bounded", options={"xatol": 1e-12})
    got = random_effects(Y, V, method="reml")
    assert got["tau2"] == pytest.approx(best.x, rel=1e-5)
    w = 1 / (V + got["tau2"])
    assert got["estimate"] == pytest.approx(np.sum(w * Y) / np.sum(w), rel=1e-12)
    # Homogeneous estimates: tau2 at its boundary 0, as DerSimonian-Laird.
    assert random_effects(np.array([0.5, 0.51, 0.49, 0.5]), np.full(4, 0.05), method="reml")["tau2"] == 0.0


def test_prediction_interval_is_riley_2011():
    got = random_effects(Y, V)  # default: REML with Hartung-Knapp
    assert got["method"] == "reml-hk"
    half = stats.t.ppf(0.975, len(Y) - 2) * np.sqrt(got["tau2"] + got["se"] ** 2)
    assert (got["pi_lower"], got["pi_upper"]) == pytest.approx((got["estimate"] - half, got["estimate"] + half))
    two = random_effects(Y[:2], V[:2])
    assert two["pi_lower"] is None and two["k"] == 2  # a prediction interval needs 3 sites
    assert random_effects(Y[:1], V[:1]) is None


# -- the split and the synthetic sites ------------------------------------------------------------------------

def _dataset(sites, patients=None, y=None):
    n = len(sites)
    y = np.arange(n) % 2 if y is None else y
    return Dataset(X=pd.DataFrame({"x": np.arange(n, dtype=float)}), y=pd.Series(y),
                   groups=None if patients is None else pd.Series(patients), task="classification", target="y",
                   classes=[0, 1])


def test_each_site_is_held_out_once_and_trains_the_others():
    sites = pd.Series(np.repeat(["b", "a", "c"], 6), name="site")
    patients = np.repeat([f"P{i}" for i in range(9)], 2)
    y = np.tile([0, 0, 1, 1], 5)[:18]
    splits = site_split(_dataset(sites, patients, y), sites)
    assert splits.sites == ["b", "a", "c"] and splits.splitter == "LeaveOneSiteOut"
    for k, (train, test) in enumerate(splits):
        assert set(sites[test]) == {splits.sites[k]} and splits.sites[k] not in set(sites[train])
        assert not set(patients[train]) & set(patients[test])
    assert sorted(np.concatenate([t for _, t in splits])) == list(range(18))


def test_site_split_refuses_with_the_column_and_value():
    sites = pd.Series(["a", "a", "b", "b"], name="hospital")
    with pytest.raises(DataError, match=r"data.site='hospital': 1 patient\(s\) .* more than one site \(e.g. P1\)"):
        site_split(_dataset(sites, ["P0", "P1", "P1", "P2"]), sites)
    with pytest.raises(DataError, match=r"site 'b' has no rows of class\(es\) \['0'\]"):
        site_split(_dataset(sites, y=np.array([0, 1, 1, 1])), sites)
    with pytest.raises(DataError, match="single site"):
        site_split(_dataset(pd.Series(["a"] * 4, name="hospital")), pd.Series(["a"] * 4, name="hospital"))


@pytest.mark.parametrize("name", sorted(COHORTS))
def test_synthetic_site_column_leaves_every_other_column_as_drawn(name):
    plain = make_cohort(name, seed=3)
    with_site = make_cohort(name, seed=3, site="hospital")
    pd.testing.assert_frame_equal(with_site.drop(columns="hospital"), plain)
    assert with_site["hospital"].nunique() == 4


def _site_job(effect, n_sites=4, seed=0):
    """Cross-validated across the sites of the synthetic cardiovascular cohort (logistic regression). With 4
    sites tau2 is a noisy estimate: over data seeds 0-5, without a site effect it was 0 in 3 and up to 0.54,
    with SITE_EFFECT=1 from 0.11 to 3.5; the seed is fixed, so the test is deterministic."""
    frame = make_cohort("cardiovascular", seed=seed, site="site", site_effect=effect, n_sites=n_sites)
    cfg = type("C", (), {"target": "num", "task": "classification", "drop": [], "positive": [1, 2, 3, 4],
                         "get": lambda self, k, d=None: {"site": "site", "positive": [1, 2, 3, 4]}.get(k, d)})()
    data = prepare(frame, cfg, {})
    splits = site_split(data, data.column("site", "data.site"))
    cv = cross_validate(data, LOGREG, len(splits), TrainSettings(epochs=1, batch_size=32, seed=0),
                        splits=splits)
    sites = frame["site"].to_numpy()[cv.predictions["row"].to_numpy()]
    return data, site_evidence(cv.predictions, sites, data.classes, "classification", thresholds=None, n_boot=0,
                               seed=0, interval="percentile", dca_range=[0.05, 0.95], meta_method="reml-hk")


@pytest.fixture(scope="module")
def with_effect():
    return _site_job(effect=1.0)


def test_site_is_not_a_feature_and_between_site_effect_is_found(with_effect):
    data, record = with_effect
    assert "site" not in data.X.columns and data.excluded["site"].startswith("site (data.site)")
    meta = record["meta_analysis"]
    assert record["k"] == 4 and set(meta) >= {"roc_auc", "calibration_slope", "citl", "net_benefit_0.1"}
    assert meta["citl"]["tau2"] > 0.2 and meta["citl"]["heterogeneous"] is True
    assert "citl" in record["heterogeneous"]


def test_meta_analysis_of_the_sites_is_combine_effects_on_their_estimates(with_effect):
    from statsmodels.stats.meta_analysis import combine_effects

    _, record = with_effect
    for name, key in (("citl", "citl"), ("calibration_slope", "calibration_slope"), ("roc_auc", "logit_roc_auc")):
        y = np.array([s["measures"][key]["value"] for s in record["per_site"]])
        v = np.array([s["measures"][key]["variance"] for s in record["per_site"]])
        ref = combine_effects(y, v, method_re="chi2")
        dl = random_effects(y, v, method="dl")
        # statsmodels leaves a negative moment estimate as it is; DerSimonian-Laird truncates it at 0, and the
        # random-effects estimate is then the fixed-effect one.
        assert dl["tau2"] == pytest.approx(max(0.0, ref.tau2), rel=1e-9, abs=1e-12)
        assert dl["estimate"] == pytest.approx(ref.mean_effect_re if ref.tau2 > 0 else ref.mean_effect_fe, rel=1e-9)
        got = record["meta_analysis"][name]
        reml = random_effects(y, v)
        if name == "roc_auc":  # pooled on the logit scale, shown back-transformed
            assert got["estimate"] == pytest.approx(1 / (1 + np.exp(-reml["estimate"])))
            assert got["logit"]["tau2"] == pytest.approx(reml["tau2"])
        else:
            assert got["estimate"] == pytest.approx(reml["estimate"]) and got["tau2"] == pytest.approx(reml["tau2"])


def test_without_a_site_effect_tau2_of_calibration_in_the_large_is_near_0(with_effect):
    _, record = _site_job(effect=0.0)
    assert record["meta_analysis"]["citl"]["tau2"] < 0.05 < with_effect[1]["meta_analysis"]["citl"]["tau2"]


def test_per_site_roc_auc_is_sklearn_on_the_site_rows(with_effect):

    data, record = with_effect
    frame = make_cohort("cardiovascular", seed=0, site="site", site_effect=1.0, n_sites=4)
    assert [s["patients"] for s in record["per_site"]] == [int((frame.site == s["site"]).sum())
                                                          for s in record["per_site"]]
    s = record["per_site"][0]
    assert s["measures"]["logit_roc_auc"]["value"] == pytest.approx(
        np.log(s["metrics"]["roc_auc"]["value"] / (1 - s["metrics"]["roc_auc"]["value"])))


# -- config and a job -----------------------------------------------------------------------------------------

def test_bad_site_and_meta_analysis_values_are_refused_by_name(compose_cfg):
    errors = config_errors(compose_cfg("data.site=", "eval.meta_analysis=fixed"))
    assert any(e.startswith("data.site='' is not allowed") for e in errors)
    assert any(e.startswith("eval.meta_analysis='fixed' is not allowed: must be one of reml-hk, reml, dl-hk, dl")
               for e in errors)


def test_a_job_with_data_site_records_sites_and_writes_the_forest_plot(compose_cfg, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="medsweep")
    # Several visits per patient (grouped), binary (Demented or not), four synthetic sites.
    cfg = compose_cfg("model=alzheimers", "estimator=logreg", "data.positive=[Demented]", "data.site=hospital",
                      "eval.n_boot=0", "trainer.folds=3", "eval.dca_thresholds=[0.05,0.15]")
    run_job(cfg, tmp_path / "job")
    m = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert m["status"] == "completed", m.get("error")
    assert m["splitter"] == "LeaveOneSiteOut" and m["splits"]["folds"] == m["sites"]["k"] == 4
    assert m["folds"] == 4    # the folds run, not trainer.folds (3), which data.site does not use
    assert {s["site"] for s in m["sites"]["per_site"]} == {"site_1", "site_2", "site_3", "site_4"}
    assert sum(s["patients"] for s in m["sites"]["per_site"]) == m["n_groups"]  # each patient in one site
    predictions = pd.read_csv(tmp_path / "job" / "predictions.csv")
    assert (predictions.groupby("patient")["fold"].nunique() == 1).all()
    assert set(m["sites"]["meta_analysis"]) == {"roc_auc", "calibration_slope", "citl", "net_benefit_0.05",
                                                "net_benefit_0.1"}
    assert "hospital" not in m["features"]["used"]
    assert (tmp_path / "job" / "forest_plot.png").stat().st_size > 10_000
    card = (tmp_path / "job" / "model_card.md").read_text()
    assert "## Validation across sites" in card and "95% prediction interval" in card
    assert "trainer.folds=3 not used" in caplog.text
    # report.html's block of the job: the forest plot, embedded
    from medsweep.report.html import _job_block

    block = _job_block({"status": "completed", "dir": "job", "job": 0}, tmp_path, True, None)
    assert [p["alt"] for p in block["clinical_plots"]] == ["job 0 forest_plot.png"]
    assert block["clinical_plots"][0]["src"].startswith("data:image/png;base64,")
