"""What a user sees while a sweep runs: the dry run and the progress display."""

import io
import json

import pytest

from helpers import run_train
from hydra_plugins.medsweep_sweeper._progress import Progress
from medsweep.record.outputs import write_json


@pytest.mark.slow
def test_dry_run_of_100_jobs_lists_them_and_creates_nothing(tmp_path):
    seeds = ",".join(map(str, range(25)))
    proc = run_train("-m", "model=parkinsons,breast_cancer", "estimator=logreg,mlp", f"seed={seeds}",
                     "dry_run=true", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 0, proc.stderr
    assert "dry run: 100 jobs would run" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("#")]
    assert len(lines) == 100 and lines[0].startswith("#0 ") and lines[-1].startswith("#99 ")
    assert "model=breast_cancer estimator=mlp epochs=20 folds=5 batch_size=32 seed=24 data=sklearn:breast_cancer" \
        in proc.stdout
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_dry_run_still_refuses_bad_values(tmp_path):
    proc = run_train("-m", "model=parkinsons", "trainer.folds=1", "dry_run=true", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode != 0 and "trainer.folds=1 is not allowed" in proc.stderr


class Terminal(io.StringIO):
    def isatty(self):
        return True


def write_status(sweep_dir, num, status):
    (sweep_dir / str(num)).mkdir(exist_ok=True)
    write_json(sweep_dir / str(num) / "metrics.json", {"status": status})


@pytest.mark.parametrize("stream_type", [io.StringIO, Terminal])
def test_progress_counts_jobs_as_they_finish(tmp_path, stream_type):
    stream = stream_type()
    progress = Progress(tmp_path, [0, 1, 2, 3], stream=stream, interval_s=0.05)
    write_status(tmp_path, 0, "completed")
    write_status(tmp_path, 1, "running")
    counts = progress.poll()
    assert counts["completed"] == 1 and counts["running"] == 1
    assert "1/4 jobs done (1 completed, 0 failed), 1 running" in progress.line(counts)
    assert "left" in progress.line(counts)
    progress.start()
    write_status(tmp_path, 1, "failed")
    write_status(tmp_path, 2, "timeout")
    write_status(tmp_path, 3, "completed")
    progress.stop()
    out = stream.getvalue()
    assert "4/4 jobs done (2 completed, 1 failed, 1 timeout), 0 running" in out
    if stream_type is Terminal:
        assert "\r" in out and "[########################]" in out
    else:
        assert "\r" not in out and out.endswith("\n")


@pytest.mark.slow
def test_a_real_sweep_reports_its_final_count_when_not_on_a_terminal(tmp_path):
    proc = run_train("-m", "model=breast_cancer,diabetes", "estimator=logreg", "trainer=fast",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert "[medsweep] 2/2 jobs done (2 completed, 0 failed), 0 running" in proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["jobs"]) == 2
