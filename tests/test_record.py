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
