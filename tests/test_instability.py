"""eval.instability: bootstrap refits of the final pipeline (Riley & Collins 2023), their instability statistics
and Harrell's optimism correction, checked against formulas and scikit-learn on repeated rows."""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from medsweep.config.schema import config_errors
from medsweep.data.prepare import Dataset
from medsweep.evaluate.bootstrap import bootstrap_weights
from medsweep.evaluate.instability import instability, optimism
from medsweep.job.runner import run_job
from medsweep.learn.instability import bootstrap_refits
from medsweep.learn.training import TrainSettings, fit_final

LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


def _tiny(seed=0, n=40):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    p0 = np.clip(0.4 + 0.3 * (y - 0.4) + rng.normal(0, 0.15, n), 0.02, 0.98)
    risks = np.clip(p0[None, :] + rng.normal(0, 0.1, (6, n)), 0.01, 0.99)
    weights = np.vstack(list(bootstrap_weights(n, None, 6, seed=1)))
    return y, p0, risks, weights


def test_mape_percentiles_and_flips_are_the_formulas():
    y, p0, risks, _ = _tiny()
    got = instability(y, p0, risks, threshold=0.5)
    B, n = risks.shape
    mape_i = [sum(abs(risks[b, i] - p0[i]) for b in range(B)) / B for i in range(n)]
    assert got["record"]["mape"] == pytest.approx(sum(mape_i) / n, rel=1e-12)
    assert got["record"]["mape_max"] == pytest.approx(max(mape_i), rel=1e-12)
    assert got["rows"]["lower"][3] == pytest.approx(np.percentile(risks[:, 3], 2.5))
    flips = [sum((risks[b, i] >= 0.5) != (p0[i] >= 0.5) for b in range(B)) / B for i in range(n)]
    assert got["record"]["classification"]["mean_flip_share"] == pytest.approx(np.mean(flips))
    assert got["record"]["classification"]["rows_ever_flipped"] == pytest.approx(np.mean(np.array(flips) > 0))
    assert len(got["rows"]["curves"]) == B


def _slope(y, p):
    z = np.log(p / (1 - p)).reshape(-1, 1)
    return LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(z, y).coef_[0, 0]


def test_harrell_optimism_on_a_tiny_case():
    y, p0, risks, weights = _tiny()
    got = optimism(y, p0, risks, weights)
    rows = np.arange(len(y))
    for name, perf in (("roc_auc", roc_auc_score), ("brier", lambda t, p: brier_score_loss(t, p)),
                       ("calibration_slope", _slope)):
        # optimism_b = perf(model_b on its bootstrap sample: rows repeated as drawn) - perf(model_b on the
        # original rows); corrected = apparent - mean optimism.
        diffs = []
        for p_b, w_b in zip(risks, weights):
            sample = np.repeat(rows, w_b.astype(int))
            diffs.append(perf(y[sample], p_b[sample]) - perf(y, p_b))
        apparent = perf(y, p0)
        tol = dict(rel=1e-6) if name == "calibration_slope" else dict(rel=1e-10)
        assert got[name]["apparent"] == pytest.approx(apparent, **tol)
        assert got[name]["optimism"] == pytest.approx(np.mean(diffs), **tol, abs=1e-9)
        assert got[name]["corrected"] == pytest.approx(apparent - np.mean(diffs), **tol, abs=1e-9)


def test_refits_are_the_pipeline_fitted_on_patients_drawn_with_replacement():
    rng = np.random.default_rng(0)
    patients = np.repeat([f"P{i}" for i in range(30)], 2)
    y = np.repeat(np.arange(30) % 2, 2)
    X = pd.DataFrame({"a": y + rng.normal(0, 1, 60), "b": rng.normal(0, 1, 60)})
    data = Dataset(X=X, y=pd.Series(y), groups=pd.Series(patients), task="classification", target="y",
                   classes=[0, 1])
    settings = TrainSettings(epochs=1, batch_size=32, seed=0)
    refits = bootstrap_refits(data, LOGREG, settings, 3, seed=5)
    expected = np.vstack(list(bootstrap_weights(60, patients, 3, seed=5)))
    np.testing.assert_array_equal(refits.weights, expected)
    assert (refits.weights[:, ::2] == refits.weights[:, 1::2]).all()  # a patient's rows are drawn together
    sample = np.repeat(np.arange(60), expected[1].astype(int))
    alone = fit_final(data.subset(sample), LOGREG, settings).predict_proba(X)[:, 1]
    np.testing.assert_allclose(refits.risks[1], alone, rtol=1e-12)


def test_instability_out_of_range_is_refused_by_name(compose_cfg):
    errors = config_errors(compose_cfg("eval.instability=5"))
    assert any(e.startswith("eval.instability=5 is not allowed: must be 0 (off) or the number of bootstrap refits")
               for e in errors)


def test_a_job_with_instability_records_it_beside_the_cross_validated_values(compose_cfg, tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="medsweep")
    run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0",
                        "eval.instability=10"), tmp_path / "job")
    m = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert m["status"] == "completed", m.get("error")
    ins = m["instability"]
    assert ins["n_refits"] == 10 and 0 < ins["mape"] <= ins["mape_max"] < 1
    corrected = ins["optimism_corrected"]
    assert corrected["roc_auc"]["cross_validated"] == m["metrics"]["roc_auc"]["pooled"]
    assert corrected["calibration_slope"]["cross_validated"] == m["evaluation"]["calibration"]["slope"]
    assert corrected["roc_auc"]["corrected"] == pytest.approx(corrected["roc_auc"]["apparent"]
                                                              - corrected["roc_auc"]["optimism"])
    assert (tmp_path / "job" / "instability.png").stat().st_size > 10_000
    assert "## Instability" in (tmp_path / "job" / "model_card.md").read_text()
    assert "sites" not in m  # data.site off: no key
