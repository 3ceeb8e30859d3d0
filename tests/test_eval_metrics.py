"""eval.metrics: a registry metric that jobs do not report by default (the Matthews correlation coefficient)
is added to a job's metrics by naming it, checked against scikit-learn on the job's own predictions."""

import logging

import pytest
from sklearn.metrics import matthews_corrcoef

from medsweep.config.run_control import trained_config
from medsweep.config.schema import config_errors


def test_a_job_asked_for_mcc_reports_it_per_fold_as_scikit_learn_computes_it(compose_cfg, caplog):
    from medsweep.job.pipeline import train

    caplog.set_level(logging.CRITICAL, logger="medsweep")
    result = train(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=3", "eval.n_boot=200",
                               "eval.metrics=[mcc]"))
    mcc = result.record("0" * 64).to_json()["metrics"]["mcc"]
    predictions = result.predictions
    for fold, value in enumerate(mcc["folds"]):
        rows = predictions[predictions["fold"] == fold]
        assert value == pytest.approx(matthews_corrcoef(rows["y_true"].astype(str), rows["y_pred"].astype(str)),
                                      abs=1e-12)
    pooled = matthews_corrcoef(predictions["y_true"].astype(str), predictions["y_pred"].astype(str))
    assert mcc["pooled"] == pytest.approx(pooled, abs=1e-12)
    assert mcc["lower"] <= pooled <= mcc["upper"]


def test_a_job_not_asked_for_mcc_writes_what_it_wrote_before(compose_cfg, caplog):
    from medsweep.job.pipeline import train

    caplog.set_level(logging.CRITICAL, logger="medsweep")
    result = train(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0"))
    assert "mcc" not in result.record("0" * 64).to_json()["metrics"]


def test_an_unknown_metric_is_refused_naming_the_key_and_the_allowed_ones(compose_cfg):
    errors = config_errors(compose_cfg("eval.metrics=[mcc,kappa]"))
    assert any("eval.metrics='kappa' is not allowed" in e and "mcc" in e for e in errors), errors
    assert not config_errors(compose_cfg("eval.metrics=[mcc]"))


def test_a_config_saved_before_eval_metrics_existed_trains_the_same_as_one_with_none(compose_cfg):
    from omegaconf import OmegaConf

    now = OmegaConf.to_container(compose_cfg(), resolve=False)
    older = {**now, "eval": {k: v for k, v in now["eval"].items() if k != "metrics"}}
    assert trained_config(older) == trained_config(now)
    asked = {**now, "eval": {**now["eval"], "metrics": ["mcc"]}}
    assert trained_config(asked) != trained_config(older)
