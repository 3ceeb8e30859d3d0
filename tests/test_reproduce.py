"""`medsweep reproduce`: a completed job re-run from its saved config gives the same metrics fold by fold (a
real file, an embedded cohort), a changed data file is caught before anything runs, a doctored result is
listed as a difference (exit 1), and the original directory is never written to."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, needs_shared_data, run_train
from medsweep.record.files import METRICS_FILE, MODEL_FILE, SAVED_CONFIG, Status
from medsweep.cli.reproduce import main

METRIC_FIELDS = ("mean", "std", "folds", "pooled", "lower", "upper")


def _train(job: Path, *overrides: str) -> Path:
    result = run_train(*overrides, f"hydra.run.dir={job}")
    assert result.returncode == 0, result.stderr[-2000:]
    return job


def _metrics(job: Path) -> dict:
    return json.loads((job / METRICS_FILE).read_text())


def _files(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (to show nothing there changed)."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_same_metrics(original: dict, reproduced: dict) -> None:
    assert reproduced["status"] == Status.COMPLETED
    assert set(reproduced["metrics"]) == set(original["metrics"])
    for name, m in original["metrics"].items():
        for key in METRIC_FIELDS:
            assert reproduced["metrics"][name].get(key) == m.get(key), (name, key)


@pytest.fixture(scope="module")
def file_job(tmp_path_factory):
    """A job on a copy of the real Cleveland file (the copy is changed by one test, and restored)."""
    folder = tmp_path_factory.mktemp("reproduce")
    data = folder / "cleveland.csv"
    shutil.copyfile(needs_shared_data("cleveland_heart.csv"), data)
    job = _train(folder / "job", "model=cardiovascular", f"data.path={data}", "estimator=logreg",
                 "eval.threshold=youden", "eval.n_boot=200")
    return job, data


def test_a_job_on_a_real_file_reproduces_identically(file_job, tmp_path):
    job, _ = file_job
    before = _files(job)
    out = tmp_path / "again"
    result = subprocess.run([sys.executable, "-m", "medsweep.cli.reproduce", str(job), "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Reproduced {job} in {out}: identical results"
    _assert_same_metrics(_metrics(job), _metrics(out))
    assert _metrics(out)["operating_point"] == _metrics(job)["operating_point"]
    # The reproduction is a job directory of its own (it can be predicted with, or reproduced again).
    assert (out / SAVED_CONFIG).is_file() and (out / MODEL_FILE).is_file() and (out / "train.log").is_file()
    assert _files(job) == before


def test_an_embedded_cohort_reproduces_identically(tmp_path, capsys, monkeypatch):
    job = _train(tmp_path / "als", "model=als", "trainer=fast", "data.source=synthetic")
    assert _metrics(job)["data"]["synthetic"] is True
    monkeypatch.chdir(tmp_path)
    assert main([str(job)]) == 0
    (out,) = (tmp_path / "reproduced").glob("als-*")  # the default: ./reproduced/<run>-<time>, never in the job
    assert capsys.readouterr().out.strip() == f"Reproduced {job} in {out}: identical results"
    _assert_same_metrics(_metrics(job), _metrics(out))


def test_a_changed_data_file_is_refused_before_anything_runs(file_job, tmp_path, capsys):
    job, data = file_job
    original = data.read_bytes()
    last_row = original.decode().splitlines()[-1]
    out = tmp_path / "never"
    try:
        data.write_bytes(original + (last_row + "\n").encode())
        assert main([str(job), "--out", str(out)]) == 2
    finally:
        data.write_bytes(original)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"medsweep reproduce: error: data file {data.resolve()} has changed since the job ran: sha256 ")
    assert _metrics(job)["data"]["sha256"] in err
    assert not out.exists()
    assert not list(job.parent.glob(f"{job.name}-reproduced-*"))


def test_a_doctored_result_is_listed_as_a_difference(file_job, tmp_path, capsys):
    job, _ = file_job
    doctored = shutil.copytree(job, tmp_path / "doctored")
    record = _metrics(doctored)
    true_value = record["metrics"]["roc_auc"]["folds"][1]
    record["metrics"]["roc_auc"]["folds"][1] = true_value + 0.01
    record["versions"]["scikit-learn"] = "0.0"
    (doctored / METRICS_FILE).write_text(json.dumps(record))
    assert main([str(doctored), "--out", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f"Reproduced {doctored} in {tmp_path / 'out'}: 1 difference(s)"
    assert lines[1:] == [f"  metrics.roc_auc.folds[1]: {true_value + 0.01!r} in the job, {true_value!r} in the reproduction"]
    assert "warning: installed versions differ from the job's: scikit-learn 0.0 (job) -> " in captured.err


def test_a_config_that_predates_a_setting_gets_its_current_default(file_job, tmp_path, capsys):
    job, _ = file_job
    old = shutil.copytree(job, tmp_path / "old")
    config = yaml.safe_load((old / SAVED_CONFIG).read_text())
    if "repeats" not in config["trainer"]:
        pytest.skip("this medsweep has no trainer.repeats")
    del config["trainer"]["repeats"]
    (old / SAVED_CONFIG).write_text(yaml.safe_dump(config))
    assert main([str(old), "--out", str(tmp_path / "out")]) == 0
    assert "note: the job's config predates trainer.repeats: this medsweep's default trainer.repeats=1 was used" \
        in capsys.readouterr().err


def test_refusals(file_job, tmp_path, capsys):
    job, _ = file_job
    before = _files(job)
    for out in (job, job / "inside"):
        assert main([str(job), "--out", str(out)]) == 2
        assert "is the job's directory or inside it" in capsys.readouterr().err
    failed = shutil.copytree(job, tmp_path / "failed")
    record = {**_metrics(failed), "status": Status.FAILED.value, "error": "boom", "error_type": "RuntimeError"}
    (failed / METRICS_FILE).write_text(json.dumps(record))
    assert main([str(failed)]) == 2
    err = capsys.readouterr().err
    assert f"medsweep reproduce: error: job {failed} did not complete (status {Status.FAILED.value!r})" in err
    assert "run it again with `medsweep run`" in err  # train.py is only in a clone
    assert main([str(tmp_path / "nothing")]) == 2
    assert "is not a job directory" in capsys.readouterr().err
    assert _files(job) == before
