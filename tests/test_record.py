"""The job record (metrics.json as record.job_record.JobRecord): a file read and written back is byte-identical,
whatever medsweep wrote it; a file of an older medsweep reads with defaults; keys it does not know are kept."""

import json
import logging
from pathlib import Path

import pytest

from medsweep.job.runner import run_job
from medsweep.record.files import Status
from medsweep.record.job_record import JobRecord, read_record, write_record


def _rewritten(job_dir: Path, tmp_path: Path) -> bytes:
    """metrics.json read into a JobRecord and written by record.job_record into another folder."""
    out = tmp_path / "rewritten"
    out.mkdir(exist_ok=True)
    write_record(out, read_record(job_dir))
    return (out / "metrics.json").read_bytes()


def test_records_as_jobs_write_them_are_rewritten_byte_for_byte(compose_cfg, tmp_path, caplog):
    caplog.set_level(logging.CRITICAL, logger="medsweep")
    completed, failed = tmp_path / "0", tmp_path / "1"
    run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0",
                        "trainer.holdout=0.2"), completed, ["trainer.holdout=0.2"])
    with pytest.raises(Exception):
        run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "data.target=nope"),
                failed)
    for job_dir in (completed, failed):
        original = (job_dir / "metrics.json").read_bytes()
        assert _rewritten(job_dir, tmp_path) == original
    record = read_record(completed)
    assert record.completed and record.final and record.status is Status.COMPLETED
    assert record.overrides == ["trainer.holdout=0.2"] and record.job_num == 0
    assert record.primary() == json.loads((completed / "metrics.json").read_text())["metrics"]["roc_auc"]
    assert record.test["source"] == "holdout"
    assert read_record(failed).status == "failed" and "nope" in read_record(failed).error


def test_a_record_of_an_older_medsweep_reads_with_defaults_and_keeps_what_it_does_not_know(tmp_path):
    # Before model_sha256, warnings, versions and the hold-out; with a key this medsweep no longer writes.
    old = {"model": "als", "estimator": "mlp", "task": "classification", "primary_metric": "roc_auc",
           "metrics": {"roc_auc": {"folds": [0.7, 0.8], "mean": 0.75, "std": 0.05}}, "threshold": 0.5,
           "status": "completed", "finished_at": "2025-01-02T03:04:05+00:00"}
    (tmp_path / "metrics.json").write_text(json.dumps(old, indent=2) + "\n")
    record = read_record(tmp_path)
    assert record.completed and record.primary()["mean"] == 0.75
    assert record.warnings == [] and record.model_sha256 is None and record.test is None and record.versions == {}
    assert record.extra == {"threshold": 0.5}
    assert not record.has("warnings") and "warnings" not in record.to_json()
    assert _rewritten(tmp_path, tmp_path) == (tmp_path / "metrics.json").read_bytes()


def test_a_damaged_value_is_kept_as_it_was_read(tmp_path):
    damaged = {"status": 7, "overrides": "not a list", "metrics": [], "primary_metric": {"a": 1}}
    record = JobRecord.from_json(damaged)
    assert record.to_json() == damaged and not record.final and record.primary() == {}


def test_an_update_keeps_each_key_in_its_place_as_a_merged_dict_would():
    running = {"model": "m", "job_num": 2, "status": "running", "pid": 12, "started_at": "t0"}
    ended = JobRecord.from_json(running).ended(Status.FAILED, "gone", "WorkerKilled").to_json()
    expected = {**running, "status": "failed", "error": "gone", "error_type": "WorkerKilled",
                "finished_at": ended["finished_at"]}
    assert ended == expected and list(ended) == list(expected)
    # What the sweep knows of a job comes first, the job's own record wins.
    filled = JobRecord.from_json(running).filled(job_num=5, overrides=["a=1"], job_dir="d").to_json()
    assert list(filled) == list({"job_num": 0, "overrides": 0, "job_dir": 0, **running})
    assert filled["job_num"] == 2 and filled["overrides"] == ["a=1"]
    with pytest.raises(TypeError, match="no field stauts"):
        JobRecord().updated(stauts="completed")


def test_a_new_record_writes_the_fields_given_in_the_order_a_job_writes_them():
    record = JobRecord(status=Status.RUNNING, model="m", job_num=None)
    assert list(record.to_json()) == ["model", "job_num", "status"] and record.to_json()["job_num"] is None
    assert json.dumps(record.to_json()) == '{"model": "m", "job_num": null, "status": "running"}'


# -- one definition of run-control keys --------------------------------------------------------------------

def test_every_config_key_either_controls_the_run_or_says_what_the_job_trains():
    import dataclasses

    from medsweep.config import run_control
    from medsweep.config.schema import Config

    keys = {f.name for f in dataclasses.fields(Config)}
    assert set(run_control.RUN_CONTROL_KEYS) | set(run_control.TRAINED_KEYS) == keys
    assert not set(run_control.RUN_CONTROL_KEYS) & set(run_control.TRAINED_KEYS)
    assert set(run_control.COMMAND_KEYS) <= set(run_control.RUN_CONTROL_KEYS)


def test_sweep_json_keeps_a_jobs_overrides_without_the_commands_keys():
    from medsweep.config.run_control import is_run_control, job_overrides

    overrides = ["model=als", "resume=true", "+tracking.uri=x", "~verbose", "dry_run=false", "retries=2", "seed=3"]
    assert job_overrides(overrides) == ["model=als", "retries=2", "seed=3"]
    assert [o for o in overrides if not is_run_control(o)] == ["model=als", "seed=3"]


# -- the sweep's directory ---------------------------------------------------------------------------------

def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _job(sweep, num, files=("metrics.json", "history.csv", "predictions.csv", "model.skops"), **record):
    from medsweep.record.outputs import now

    folder = sweep.job(num).folder
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_text("x")
    if "model.skops" in files and record.get("status") == "completed":
        record["model_sha256"] = __import__("hashlib").sha256(b"x").hexdigest()
    record.setdefault("started_at", now())
    write_record(folder, JobRecord.from_json(record))


def test_the_resume_plan_reruns_what_has_no_intact_result_and_names_live_jobs(tmp_path):
    import os

    from medsweep.record.sweep_dir import SweepDir

    sweep = SweepDir(tmp_path)
    _job(sweep, 0, status="completed")
    _job(sweep, 1, files=("metrics.json", "history.csv", "model.skops"), status="completed")
    _job(sweep, 2, status="failed")
    _job(sweep, 3, status="running", pid=os.getpid())
    _job(sweep, 4, status="running", pid=_dead_pid())
    _job(sweep, 5, status="completed")
    (sweep.job(5).model).write_text("another model")
    plan = sweep.resume_plan(range(7))
    assert plan.todo == [1, 2, 3, 4, 5, 6]
    assert plan.running == [(3, os.getpid())]
    assert plan.damaged[0] == (1, "lacks predictions.csv") and plan.damaged[1][0] == 5
    assert "is not the model the job saved" in plan.damaged[1][1]


def test_jobs_that_could_not_record_their_end_are_recorded_for_them(tmp_path):
    from medsweep.record.sweep_dir import SweepDir

    sweep = SweepDir(tmp_path)
    _job(sweep, 0, status="running", pid=_dead_pid(), model="m")
    _job(sweep, 1, status="completed")
    _job(sweep, 2, files=())  # started: its directory exists, its record was never written
    (tmp_path / "2" / "metrics.json").unlink()
    assert sweep.record_lost([0, 1, 2]) == [0]
    lost = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert lost["status"] == "failed" and lost["error_type"] == "WorkerKilled" and "died" in lost["error"]
    assert list(lost)[:3] == ["status", "pid", "model"]  # its keys where they were
    assert sweep.mark_interrupted([0, 1, 2, 3], [["a=0"], ["a=1"], ["a=2"], ["a=3"]], "sweep interrupted") == [2]
    stopped = json.loads((tmp_path / "2" / "metrics.json").read_text())
    assert list(stopped) == ["job_num", "overrides", "job_dir", "status", "error", "error_type", "finished_at"]
    assert (stopped["job_num"], stopped["overrides"], stopped["status"]) == (2, ["a=2"], "interrupted")
    assert json.loads((tmp_path / "1" / "metrics.json").read_text())["status"] == "completed"


def test_sweep_json_records_the_jobs_and_a_resume_keeps_the_first_command(tmp_path):
    from medsweep.record.sweep_dir import SweepDir

    sweep = SweepDir(tmp_path)
    first = sweep.start("train.py -m seed=0,1", "L", 2, [["seed=0"], ["seed=1"]], resume=False)
    sweep.finish(first, "failed")
    again = sweep.start("train.py -m seed=0,1 resume=true", "L", 1, [["seed=0"], ["seed=1"]], resume=True)
    assert again["command"] == "train.py -m seed=0,1" and again["started_at"] == first["started_at"]
    assert again["resumes"][0]["command"] == "train.py -m seed=0,1 resume=true"
    info, jobs = sweep.jobs()
    assert [j["overrides"] for j in jobs] == [["seed=0"], ["seed=1"]] and info["n_jobs"] == 1


# -- one watcher of finished jobs --------------------------------------------------------------------------

def test_the_job_watch_tells_each_subscriber_once_per_job_as_it_ends(tmp_path):
    import os
    import time

    from medsweep.record.sweep_dir import SweepDir
    from medsweep.record.watch import JobWatch

    sweep = SweepDir(tmp_path)
    _job(sweep, 0, status="completed")
    old = time.time() - 60
    os.utime(sweep.job(0).metrics, (old, old))  # an earlier run's record: not news
    watch = JobWatch(tmp_path, [0, 1, 2], interval_s=0.02)
    told = []

    def broken(num, job, record):
        raise RuntimeError("a subscriber's bug")

    watch.subscribe(broken)
    watch.subscribe(lambda num, job, record: told.append((num, job.folder, record.status)))
    watch.start()
    _job(sweep, 1, status="running")
    _job(sweep, 2, status="failed")
    time.sleep(0.2)
    write_record(sweep.job(1).folder, JobRecord(status=Status.COMPLETED))
    counts = watch.stop()
    assert sorted(told) == [(1, tmp_path / "1", "completed"), (2, tmp_path / "2", "failed")]
    assert counts["completed"] == 1 and counts["failed"] == 1 and counts["running"] == 0


def test_the_sweeps_callbacks_subscribe_with_on_job_recorded(tmp_path):
    from hydra_plugins.medsweep_sweeper._progress import job_subscribers
    from medsweep.record.files import JobPaths

    class Tracker:
        def __init__(self):
            self.logged = []

        def on_job_recorded(self, job_dir, record):
            self.logged.append((job_dir, record.status))

    tracker = Tracker()
    subscribers = job_subscribers([tracker, object()])
    assert len(subscribers) == 1
    subscribers[0](4, JobPaths(tmp_path / "4"), JobRecord(status=Status.FAILED))
    assert tracker.logged == [(tmp_path / "4", "failed")]


# -- the pipeline returns results, the artifact writer writes them ----------------------------------------

def test_the_artifact_writer_writes_the_jobs_files_and_says_which(compose_cfg, tmp_path, caplog):
    import hashlib

    from medsweep.job.artifacts import write_artifacts
    from medsweep.job.pipeline import train
    from medsweep.record.files import JobPaths

    caplog.set_level(logging.CRITICAL, logger="medsweep")
    result = train(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0",
                               "trainer.holdout=0.2"))
    job = JobPaths(tmp_path / "job")
    job.folder.mkdir()
    assert not list(job.folder.iterdir())
    written = write_artifacts(result, job)
    assert sorted(p.name for p in written.files) == sorted(p.name for p in job.folder.iterdir())
    assert {job.history, job.predictions, job.model, job.roc, job.calibration, job.test_predictions} <= set(written.files)
    assert written.model_sha256 == hashlib.sha256(job.model.read_bytes()).hexdigest()
    record = result.record(written.model_sha256).to_json()
    assert list(record)[:7] == ["folds", "greater_is_better", "metrics", "operating_point", "warnings",
                                "model_sha256", "model_description"]  # folds: those run (one per site with data.site)
    assert record["test"]["source"] == "holdout"
