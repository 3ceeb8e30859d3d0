"""Real sweeps, run as a user runs them: `python train.py -m ...` in a subprocess."""

import numpy as np
import pandas as pd
import pytest

from helpers import metrics_of, run_train

pytestmark = pytest.mark.slow

JOB_FILES = [".hydra/config.yaml", ".hydra/overrides.yaml", "train.log", "metrics.json", "history.csv",
             "predictions.csv", "model.skops"]



@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweep")
    proc = run_train("-m", "model=als,alzheimers,parkinsons", "trainer=fast", "hydra.launcher.n_jobs=2",
                     f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    return sweep_dir


def test_every_job_has_its_own_directory_with_all_files(sweep):
    for num in range(3):
        for name in JOB_FILES:
            assert (sweep / str(num) / name).is_file(), f"job {num} lacks {name}"


def test_metrics_json_fields(sweep):
    m = metrics_of(sweep / "2")
    assert m["status"] == "completed" and m["model"] == "parkinsons" and m["estimator"] == "mlp"
    assert m["task"] == "classification" and m["primary_metric"] == "roc_auc"
    for name in ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1", "sensitivity", "specificity", "brier"):
        folds = m["metrics"][name]["folds"]
        assert len(folds) == 3
        # mean and population std (ddof=0) of exactly the recorded folds
        assert m["metrics"][name]["mean"] == pytest.approx(np.mean(folds))
        assert m["metrics"][name]["std"] == pytest.approx(np.std(folds, ddof=0))
    assert m["metrics"]["roc_auc"]["std"] > 0  # the three folds of this cohort score differently
    assert (m["folds"], m["epochs"], m["batch_size"], m["seed"]) == (3, 5, 64, 0)
    assert (m["n_samples"], m["n_features"], m["n_groups"]) == (195, 22, 32)
    # model=parkinsons trains on the UCI file shipped with medsweep (data.source=bundled)
    assert m["data"]["source"] == "bundled" and m["data"]["synthetic"] is False and len(m["data"]["sha256"]) == 64
    assert m["duration_s"] > 0 and m["started_at"] <= m["finished_at"]
    assert {"python", "medsweep", "scikit-learn", "hydra-core"} <= set(m["versions"])
    assert 0.5 < m["metrics"]["roc_auc"]["mean"] < 1


def test_synthetic_data_is_labelled_in_the_log(sweep):
    assert "SYNTHETIC cohort" in (sweep / "0" / "train.log").read_text()


def test_no_patient_on_both_sides_of_a_fold(sweep):
    for num in (1, 2):  # alzheimers (visits), parkinsons (recordings)
        predictions = pd.read_csv(sweep / str(num) / "predictions.csv")
        assert (predictions.groupby("patient").fold.nunique() == 1).all()
        history = pd.read_csv(sweep / str(num) / "history.csv")
        assert set(history.fold) == {0, 1, 2}


def test_alzheimers_is_three_class_with_macro_metrics(sweep):
    m = metrics_of(sweep / "1")
    assert m["classes"] == ["Converted", "Demented", "Nondemented"] and m["n_groups"] == 150


def test_same_numbers_whatever_n_jobs(tmp_path):
    results = {}
    for n_jobs in (1, 2):
        out = tmp_path / f"n{n_jobs}"
        proc = run_train("-m", "model=parkinsons,breast_cancer", "estimator=mlp,hist_gbdt", "trainer=fast",
                         f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={out}")
        assert proc.returncode == 0, proc.stderr
        results[n_jobs] = {num: metrics_of(out / str(num))["metrics"] for num in range(4)}
    assert results[1] == results[2]


def test_single_run_writes_into_the_run_dir(tmp_path):
    proc = run_train("model=diabetes", "trainer=fast", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(tmp_path / "run")
    assert m["task"] == "regression" and m["primary_metric"] == "rmse" and m["greater_is_better"] is False
    assert set(m["metrics"]) == {"rmse", "mae", "r2"}


@pytest.mark.parametrize("override, key, allowed", [
    ("trainer.folds=1", "trainer.folds=1", ">= 2"),
    ("trainer.epochs=0", "trainer.epochs=0", ">= 1"),
    ("trainer.batch_size=-3", "trainer.batch_size=-3", ">= 1"),
    ("trainer.epochs=abc", "trainer.epochs", "Integer"),
    # these used to make a job directory, fail inside numpy and be retried
    ("seed=-1", "seed=-1", "from 0 to 4294967295"),
    ("seed=4294967296", "seed=4294967296", "from 0 to 4294967295"),
])
def test_bad_trainer_values_stop_before_any_job_directory(tmp_path, override, key, allowed):
    sweep_dir = tmp_path / "sweep"
    proc = run_train("-m", "model=als,parkinsons", override, f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode != 0
    assert key in proc.stderr and allowed in proc.stderr
    assert not list(sweep_dir.glob("*/"))
    proc = run_train(override, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode != 0 and key in proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, options", [("model=nope", "alzheimers"), ("estimator=nope", "hist_gbdt")])
def test_unknown_model_or_estimator_lists_the_options(tmp_path, override, options):
    proc = run_train("-m", override, f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode != 0 and "Available options" in proc.stderr and options in proc.stderr


def test_too_many_folds_fails_that_job_only(tmp_path):
    proc = run_train("-m", "model=parkinsons", "trainer.folds=3,12", "trainer.epochs=2",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1
    assert metrics_of(tmp_path / "0")["status"] == "completed"
    failed = metrics_of(tmp_path / "1")
    assert failed["status"] == "failed" and failed["error_type"] == "DataError"
    assert "trainer.folds=12" in failed["error"] and "patients" in failed["error"]


def test_help_lists_every_option():
    proc = run_train("--help")
    assert proc.returncode == 0
    for option in ("als", "alzheimers", "parkinsons", "cardiovascular", "diabetes", "breast_cancer",
                   "logreg", "random_forest", "hist_gbdt", "mlp", "default", "fast"):
        assert option in proc.stdout
