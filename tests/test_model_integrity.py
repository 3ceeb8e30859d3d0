"""Every loader of a job's model checks it is the model the job saved (metrics.json's ``model_sha256``):
a resume runs again a "completed" job whose model.skops was replaced by another job's or emptied; `medsweep
track --register-best` never registers such a file; the registered MLflow model refuses it on load and
checks a frame's columns as `medsweep predict` does; reproduce refuses a job whose model was changed."""

import hashlib
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, metrics_of, run_train
from medsweep.record.files import METRICS_FILE, MODEL_FILE, Status, model_problem

ARGS = ["-m", "model=cardiovascular", "estimator=logreg", "trainer=fast", "eval.n_boot=0", "seed=0,1,2"]
CLEVELAND = ROOT / "src" / "medsweep" / "data" / "datasets" / "cleveland_heart.csv"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("integrity") / "sweep"
    result = run_train(*ARGS, f"hydra.sweep.dir={folder}")
    assert result.returncode == 0, result.stderr[-2000:]
    return folder


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resume_reruns_a_completed_job_whose_model_was_replaced_or_emptied(sweep, tmp_path):
    work = shutil.copytree(sweep, tmp_path / "sweep")
    (work / "0" / MODEL_FILE).write_bytes(b"")
    shutil.copyfile(work / "2" / MODEL_FILE, work / "1" / MODEL_FILE)  # another job's valid model
    kept = _digest(work / "2" / MODEL_FILE), metrics_of(work / "2")["finished_at"]
    assert model_problem(work / "1" / MODEL_FILE, metrics_of(work / "1"))  # what resume now sees
    resumed = run_train(*ARGS, f"hydra.sweep.dir={work}", "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "2 of 3 jobs to run" in resumed.stderr + resumed.stdout
    assert "is not the model the job saved" in resumed.stderr + resumed.stdout
    for num in range(3):
        record = metrics_of(work / str(num))
        assert record["status"] == Status.COMPLETED and model_problem(work / str(num) / MODEL_FILE, record) is None
    assert (_digest(work / "2" / MODEL_FILE), metrics_of(work / "2")["finished_at"]) == kept


def test_register_best_never_registers_a_model_that_is_not_the_jobs(sweep, tmp_path, caplog):
    from mlflow.tracking import MlflowClient

    from medsweep.cli import track as tracking
    work = shutil.copytree(sweep, tmp_path / "sweep")
    best = max(range(3), key=lambda n: (metrics_of(work / str(n))["metrics"]["roc_auc"]["pooled"], -n))
    (work / str(best) / MODEL_FILE).write_bytes(b"")  # issue 22: registered as version 1 today
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert tracking.main([str(work), "--uri", uri, "--register-best"]) == 0
    state = json.loads((work / "tracking.json").read_text())
    registered = state["registered"]["cardiovascular"]
    assert registered["job"] != str(best)
    (version,) = MlflowClient(uri, registry_uri=uri).search_model_versions("name='medsweep-cardiovascular'")
    assert version.tags["model_sha256"] == metrics_of(work / registered["job"])["model_sha256"]
    assert f"Job {best} is not registered" in caplog.text


def _context(job_dir):
    return SimpleNamespace(artifacts={"model": str(job_dir / MODEL_FILE), "metrics": str(job_dir / METRICS_FILE)})


def test_the_registered_model_checks_its_file_and_the_frames_columns(sweep, tmp_path):
    from medsweep.learn.persistence import UntrustedModelError, load_model
    from medsweep.tools.predict import PredictError
    from medsweep.tracking.mlflow.pyfunc import MedsweepModel

    job = sweep / "0"
    used = metrics_of(job)["features"]["used"]
    frame = pd.read_csv(CLEVELAND, na_values=["?"]).head(30)
    model = MedsweepModel()
    model.load_context(_context(job))
    try:
        out = model.predict(None, frame[used])
        np.testing.assert_array_equal(out["proba_1"], load_model(job / MODEL_FILE).predict_proba(frame[used])[:, 1])
        with pytest.raises(PredictError, match=f"lacks 1 of the {len(used)} feature columns.*'{used[0]}'"):
            model.predict(None, frame[used[1:]])
        with pytest.raises(PredictError, match=f"column '{used[1]}' holds text \\('high'"):
            model.predict(None, frame[used].assign(**{used[1]: "high"}))
    finally:
        model.pipeline.close()
    tampered = shutil.copytree(job, tmp_path / "job")
    shutil.copyfile(sweep / "1" / MODEL_FILE, tampered / MODEL_FILE)
    with pytest.raises(UntrustedModelError, match="is not the model the job saved"):
        MedsweepModel().load_context(_context(tampered))


def test_reproduce_refuses_a_job_whose_model_was_changed(sweep, tmp_path, capsys):
    from medsweep.cli import reproduce
    job = shutil.copytree(sweep / "0", tmp_path / "job")
    (job / MODEL_FILE).write_bytes(b"")
    assert reproduce.main([str(job), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is not the model the job saved" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
