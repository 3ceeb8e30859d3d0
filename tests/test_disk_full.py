"""A job on a full disk: recorded as failed with a one-line "disk full" error, not retried, no partial file
left. Runs on a real tiny filesystem (tmpfs, which needs root); skipped, saying why, elsewhere."""

import logging

import pytest

from helpers import metrics_of, tiny_filesystem
from medsweep.job.runner import DiskFull, run_job
from medsweep.record.files import METRICS_FILE


@pytest.fixture
def tiny_disk(tmp_path):
    """A 48 KiB filesystem: room for a job's first record, not for its outputs."""
    with tiny_filesystem(tmp_path / "tiny", "48k") as mount:
        yield mount


def test_a_job_on_a_full_disk_is_recorded_failed_and_not_retried(compose_cfg, tiny_disk):
    cfg = compose_cfg("model=parkinsons", "estimator=logreg", "trainer=fast", "retries=2")
    job = tiny_disk / "0"
    with pytest.raises(DiskFull) as err:
        run_job(cfg, job)
    assert "disk full: no space left for the job's files in" in str(err.value)
    m = metrics_of(job)  # written in place: the atomic write had no room for its temporary file
    assert (m["status"], m["error_type"], m["attempts"]) == ("failed", "DiskFull", 1)
    assert "disk full" in m["error"] and str(job.resolve()) in m["error"]
    assert not [p.name for p in job.iterdir() if p.name.endswith(".tmp")]  # no partial file left behind
    assert (job / METRICS_FILE).stat().st_size > 0
    assert logging.raiseExceptions  # the full disk quietened the job's log file only, not the process's logging
