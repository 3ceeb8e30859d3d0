"""The same config and seed give the same numbers release after release: every metric of a few jobs, fold by
fold, with its pooled value and bootstrap interval, against values recorded at commit f4d9aa9 (before the
second wave's performance work) in tests/recorded/metrics.json.

A change that alters a number on purpose (a fix, a new definition) re-records them and says why in its commit:
    OMP_NUM_THREADS=1 python tests/record_numbers.py > tests/recorded/metrics.json
"""

import json
import logging
from pathlib import Path

import pytest

from medsweep.job.runner import run_job

RECORDED = Path(__file__).parent / "recorded" / "metrics.json"
FIELDS = ("folds", "mean", "std", "pooled", "lower", "upper")
# One job per estimator and kind of data: rows without patients (breast_cancer, from scikit-learn), a
# bundled file with several recordings per patient (parkinsons), the other bundled file (cardiovascular).
JOBS = {
    "breast_cancer_logreg": ("model=breast_cancer", "estimator=logreg", "trainer.folds=2"),
    "breast_cancer_mlp": ("model=breast_cancer", "estimator=mlp", "trainer.epochs=5", "trainer.folds=3"),
    "parkinsons_random_forest": ("model=parkinsons", "estimator=random_forest", "estimator.n_estimators=30",
                                 "trainer.folds=3", "seed=7"),
    "parkinsons_hist_gbdt_repeated": ("model=parkinsons", "estimator=hist_gbdt", "trainer.epochs=10",
                                      "trainer.folds=3", "trainer.repeats=2"),
    "cardiovascular_lightgbm": ("model=cardiovascular", "estimator=lightgbm", "trainer.epochs=10",
                                "trainer.folds=3", "eval.threshold=youden"),
}


@pytest.mark.parametrize("name", list(JOBS))
def test_metrics_are_the_recorded_ones(name, compose_cfg, tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="medsweep")  # quiet, and restored after the test
    run_job(compose_cfg(*JOBS[name]), tmp_path / "job")
    metrics = json.loads((tmp_path / "job" / "metrics.json").read_text())["metrics"]
    recorded = json.loads(RECORDED.read_text())[name]
    assert sorted(metrics) == sorted(recorded)
    for metric, values in recorded.items():
        for field, value in values.items():
            got = metrics[metric][field]
            # Tolerance only for the last bits a different CPU's BLAS may change.
            assert got == pytest.approx(value, rel=1e-7, abs=1e-12, nan_ok=True), (metric, field)
