"""The Python API (medsweep.api): a sweep run from Python and read back as DataFrames, checked against the jobs'
own files with scikit-learn and numpy."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

import medsweep
from helpers import ROOT
from medsweep import api


def test_import_medsweep_stays_light_and_the_api_loads_on_first_use():
    code = ("import sys, medsweep; assert 'pandas' not in sys.modules and 'medsweep.api' not in sys.modules; "
            "f = medsweep.load_sweep; assert 'medsweep.api' in sys.modules and f.__module__ == 'medsweep.api'; "
            "print(sorted(n for n in dir(medsweep) if n.startswith('load_')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['load_folds', 'load_job', 'load_sweep']"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        medsweep.nope  # noqa: B018


def test_override_values_are_typed_as_hydra_parses_them():
    values = api._override_values(["seed=3", "estimator.C=1e-3", "+x.flag=true", "model=als", "data.drop=[a,b]",
                                   "trainer.holdout=null"])
    assert values == {"seed": 3, "estimator.C": 0.001, "x.flag": True, "model": "als", "data.drop": "[a,b]",
                      "trainer.holdout": None}
    assert str(api._typed(pd.Series([1, None, 3], dtype=object)).dtype) == "Int64"
    assert str(api._typed(pd.Series([1, 0.5], dtype=object)).dtype) == "float64"
    assert str(api._typed(pd.Series([True, False], dtype=object)).dtype) == "boolean"
    assert list(api._typed(pd.Series([1, "a"], dtype=object))) == ["1", "a"]


def test_run_sweep_passes_the_overrides_and_streams_the_console(tmp_path, monkeypatch):
    """With a stand-in for `python -m medsweep run` that prints its arguments and fails: the command line, the
    console as it ran, and the error with its tail (no job written: no results)."""
    script = "import sys; print(*sys.argv[1:], sep='\\n'); sys.exit(3)"
    monkeypatch.setattr(api, "sweep_command", lambda: [sys.executable, "-c", script])
    echoed = __import__("io").StringIO()
    with pytest.raises(api.SweepFailed) as failed:
        medsweep.run_sweep("model=als 'seed=0,1'", sweep_dir=tmp_path / "s", n_jobs=2, stream=echoed)
    assert echoed.getvalue().splitlines() == ["-m", "model=als", "seed=0,1", f"hydra.sweep.dir={tmp_path / 's'}",
                                              "hydra.launcher.n_jobs=2"]
    assert failed.value.returncode == 3 and failed.value.results is None
    assert str(failed.value).endswith("hydra.launcher.n_jobs=2") and "exited with code 3" in str(failed.value)
    with pytest.raises(ValueError, match="sweep_dir="):
        medsweep.run_sweep(["hydra.sweep.dir=x"])
    monkeypatch.chdir(tmp_path)  # the default directory, made for it, is removed when nothing ran
    with pytest.raises(api.SweepFailed, match="multirun/"):
        medsweep.run_sweep(["model=als"], echo=False)
    assert not any(p.is_dir() and any(p.iterdir()) for p in (tmp_path / "multirun").iterdir())


@pytest.fixture(scope="module")
def failed_sweep(tmp_path_factory):
    """A 3-job sweep run by run_sweep (through train.py until `python -m medsweep run` exists here) in which
    job 2's data file is empty: (SweepFailed raised, the sweep's directory)."""
    tmp = tmp_path_factory.mktemp("api")
    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    for seed in (0, 1):
        frame.to_csv(tmp / f"bc_{seed}.csv", index=False)
    (tmp / "bc_2.csv").write_text("")
    sweep_dir = tmp / "sweep"
    echoed = __import__("io").StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if subprocess.run([sys.executable, "-m", "medsweep", "run", "--help"], capture_output=True).returncode:
            mp.setattr(api, "sweep_command", lambda: [sys.executable, str(ROOT / "train.py")])
        with pytest.raises(api.SweepFailed) as failed:
            medsweep.run_sweep(["model=breast_cancer", "estimator=logreg", "seed=0,1,2", "trainer.folds=2",
                                "trainer.repeats=2", "trainer.holdout=0.25", "eval.n_boot=100", "estimator.C=0.5",
                                f"data.path={tmp}/bc_" + r"$\{seed\}.csv"],
                               sweep_dir=sweep_dir, n_jobs=2, stream=echoed)
    assert echoed.getvalue().splitlines()[-len(failed.value.console.splitlines()):] == \
        failed.value.console.splitlines()  # streamed as it ran; the error holds its tail
    return failed.value, sweep_dir


@pytest.mark.slow
def test_run_sweep_raises_with_the_consoles_tail_and_what_was_written(failed_sweep):
    error, sweep_dir = failed_sweep
    assert error.returncode == 1 and error.sweep_dir == sweep_dir
    assert "bc_2.csv is empty" in str(error)
    assert list(error.results.index) == [0, 1, 2]
    assert list(error.results["status"]) == ["completed", "completed", "failed"]


@pytest.mark.slow
def test_load_sweep_one_typed_row_per_job_with_every_metric_and_the_holdout(failed_sweep):
    _, sweep_dir = failed_sweep
    df = medsweep.load_sweep(sweep_dir)
    assert df.index.name == "job" and list(df.index) == [0, 1, 2]
    assert df.attrs["swept"] == ["seed"]
    assert str(df["seed"].dtype) == "Int64" and list(df["seed"]) == [0, 1, 2]
    assert df["estimator.C"].dtype == float and (df["estimator.C"] == 0.5).all()
    assert str(df["trainer.folds"].dtype) == "Int64"
    assert df.loc[2, "error_type"] == "DataError" and "is empty" in df.loc[2, "error"]
    assert np.isnan(df.loc[2, "roc_auc_mean"])
    for job in (0, 1):
        row = df.loc[job]
        job_files = medsweep.load_job(sweep_dir, job)
        assert row["dir"] == str(job_files.paths.folder.resolve())
        predictions = pd.read_csv(row["predictions_path"])
        positive = f"proba_{job_files.record.operating_point['positive_class']}"
        # every metric's figures; the pooled value recomputed from the out-of-fold predictions
        for metric in ("roc_auc", "brier", "sensitivity"):
            for figure in ("mean", "std", "pooled", "lower", "upper"):
                assert np.isfinite(row[f"{metric}_{figure}"]), (metric, figure)
        assert row["roc_auc_lower"] <= row["roc_auc_pooled"] <= row["roc_auc_upper"]
        assert row["roc_auc_pooled"] == pytest.approx(roc_auc_score(predictions["y_true"], predictions[positive]))
        test = pd.read_csv(job_files.paths.test_predictions)
        assert row["test_source"] == "holdout"
        assert row["test_roc_auc"] == pytest.approx(roc_auc_score(test["y_true"], test[positive]))
        assert row["test_roc_auc_lower"] <= row["test_roc_auc"] <= row["test_roc_auc_upper"]


@pytest.mark.slow
def test_load_folds_matches_each_folds_predictions(failed_sweep):
    _, sweep_dir = failed_sweep
    folds = medsweep.load_folds(sweep_dir)
    assert list(folds.columns) == ["job", "repeat", "fold", "metric", "value"]
    assert set(folds["job"]) == {0, 1}  # the failed job has no fold
    auc = folds[(folds.job == 1) & (folds.metric == "roc_auc")]
    assert list(auc["fold"]) == [0, 1, 2, 3] and list(auc["repeat"]) == [0, 0, 1, 1]
    job = medsweep.load_job(sweep_dir / "1")
    positive = f"proba_{job.record.operating_point['positive_class']}"
    for _, r in auc.iterrows():
        rows = job.predictions[(job.predictions["fold"] == r["fold"]) & (job.predictions["repeat"] == r["repeat"])]
        assert r["value"] == pytest.approx(roc_auc_score(rows["y_true"], rows[positive]))
    df = medsweep.load_sweep(sweep_dir)
    assert df.loc[1, "roc_auc_mean"] == pytest.approx(auc["value"].mean())
    assert df.loc[1, "roc_auc_std"] == pytest.approx(np.std(auc["value"]))  # ddof=0, as metrics.json


@pytest.mark.slow
def test_load_job_gives_record_frames_and_config(failed_sweep):
    _, sweep_dir = failed_sweep
    job = medsweep.load_job(sweep_dir / "0")
    assert job.record.status == "completed" and job.config.seed == 0 and job.config.trainer.folds == 2
    pd.testing.assert_frame_equal(job.predictions, pd.read_csv(sweep_dir / "0" / "predictions.csv"))
    assert set(job.history["fold"]) == {0, 1, 2, 3}
    assert job.metrics.loc["roc_auc", "pooled"] == job.record.metrics["roc_auc"]["pooled"]
    with pytest.raises(FileNotFoundError):
        medsweep.load_job(sweep_dir / "nope")


@pytest.mark.slow
def test_summarize_sweep_reads_without_writing_unless_asked(failed_sweep):
    _, sweep_dir = failed_sweep
    (sweep_dir / "summary.csv").unlink()
    before = (sweep_dir / "report.html").stat().st_mtime_ns
    summary = medsweep.summarize_sweep(sweep_dir)
    assert not (sweep_dir / "summary.csv").exists() and (sweep_dir / "report.html").stat().st_mtime_ns == before
    assert summary.loc[2, "status"] == "failed" and {summary.loc[0, "rank"], summary.loc[1, "rank"]} == {1, 2}
    assert summary.attrs["sweep"]["counts"]["failed"] == 1
    medsweep.summarize_sweep(sweep_dir, write=True)
    written = pd.read_csv(sweep_dir / "summary.csv").set_index("job")
    assert written.loc[0, "primary_pooled"] == pytest.approx(summary.loc[0, "primary_pooled"])
