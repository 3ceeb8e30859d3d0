"""Sweeps that never lose finished work: real processes, real signals."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, metrics_of, run_train, wait_for
from hydra_plugins.medsweep_sweeper._interrupt import alive, descendants
from medsweep.record.outputs import atomic_path, write_json

pytestmark = pytest.mark.slow

FAST = ["estimator=logreg", "trainer=fast"]



def digest(job_dir):
    """sha256 of every file of a job directory, .hydra included."""
    return {str(p.relative_to(job_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(job_dir).rglob("*")) if p.is_file()}








def status(job_dir):
    try:
        return metrics_of(job_dir)["status"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_a_failed_job_does_not_stop_later_batches(tmp_path):
    proc = run_train("-m", "model=parkinsons", *FAST, "trainer.folds=3,40,4", "hydra.sweeper.max_batch_size=1",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1
    assert [status(tmp_path / str(n)) for n in range(3)] == ["completed", "failed", "completed"]
    failed = metrics_of(tmp_path / "1")
    assert failed["error_type"] == "DataError" and "trainer.folds=40" in failed["error"]
    log = (tmp_path / "1" / "train.log").read_text()
    assert "Traceback (most recent call last)" in log and "DataError" in log
    assert "1 of 3 jobs failed" in proc.stderr


def test_transient_failures_are_retried_data_errors_are_not(tmp_path):
    proc = run_train("-m", "model=parkinsons", *FAST, "retries=1", "debug.fail_attempts=1", "trainer.folds=3,40",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1
    retried = metrics_of(tmp_path / "0")
    assert retried["status"] == "completed" and retried["attempts"] == 2
    data_error = metrics_of(tmp_path / "1")
    # attempt 1: the injected transient failure; attempt 2: the data error, which is not retried again
    assert data_error["status"] == "failed" and data_error["attempts"] == 2 and data_error["error_type"] == "DataError"
    assert "injected failure of attempt 1" in (tmp_path / "0" / "train.log").read_text()


def test_time_limit_stops_a_slow_job_while_a_fast_one_completes(tmp_path):
    proc = run_train("-m", "model=breast_cancer", *FAST, "debug.epoch_sleep_s=0,30", "timeout_min=0.1",
                     "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1
    assert status(tmp_path / "0") == "completed"
    slow = metrics_of(tmp_path / "1")
    assert slow["status"] == "timeout" and "timeout_min=0.1" in slow["error"]
    assert slow["duration_s"] < 20


def start_sweep(sweep_dir, *extra):
    # Jobs 0 and 2 are quick, jobs 1 and 3 sleep 3 s per fold: interrupted while those two run.
    args = ["-m", "model=breast_cancer,diabetes", *FAST, "debug.epoch_sleep_s=0,3", "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}", *extra]
    return args, subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_sweep_keeps_finished_work_and_resume_completes_it(tmp_path, signum, code):
    args, proc = start_sweep(tmp_path)
    try:
        assert wait_for(lambda: status(tmp_path / "0") == "completed" and status(tmp_path / "2") == "completed"
                        and status(tmp_path / "1") == "running" and status(tmp_path / "3") == "running")
        workers = descendants(proc.pid)
        assert workers
        finished = {n: digest(tmp_path / str(n)) for n in (0, 2)}
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.communicate(timeout=30)
        assert time.monotonic() - sent < 10
    finally:
        proc.kill()
    assert proc.returncode == code
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5), "worker processes left behind"
    assert [status(tmp_path / str(n)) for n in range(4)] == ["completed", "interrupted"] * 2
    assert {n: digest(tmp_path / str(n)) for n in (0, 2)} == finished

    if signum == signal.SIGTERM:
        return  # resume is checked once, after SIGINT
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert [status(tmp_path / str(n)) for n in range(4)] == ["completed"] * 4
    assert {n: digest(tmp_path / str(n)) for n in (0, 2)} == finished, "a completed job was rewritten"
    assert metrics_of(tmp_path / "1")["job_num"] == 1
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert "resume=true" not in sweep["command"] and "resume=true" in sweep["resumes"][0]["command"]
    assert sweep["status"] == "completed" and not any("resume" in o for j in sweep["jobs"] for o in j["overrides"])


def test_resume_with_a_changed_config_is_refused_before_anything_changes(tmp_path):
    proc = run_train("-m", "model=breast_cancer,diabetes", *FAST, f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0
    (tmp_path / "1" / "metrics.json").unlink()  # as if job 1 had been killed
    before = {n: digest(tmp_path / str(n)) for n in (0, 1)}
    proc = run_train("-m", "model=breast_cancer,diabetes", *FAST, "trainer.folds=4", "resume=true",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode != 0 and "resume=true refused" in proc.stderr and "job(s) 0, 1" in proc.stderr
    folds = metrics_of(tmp_path / "0")["folds"]
    assert f"job 0: trainer.folds (saved {folds}, now 4)" in proc.stderr  # what differs, named
    assert {n: digest(tmp_path / str(n)) for n in (0, 1)} == before
    # A sweep started by an older medsweep lacks the keys added since: said as such.
    config = tmp_path / "0" / ".hydra" / "config.yaml"
    config.write_text(config.read_text().replace("  interval: percentile\n", ""))
    proc = run_train("-m", "model=breast_cancer,diabetes", *FAST, "resume=true", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode != 0 and "job 0: eval.interval (saved absent, now 'percentile')" in proc.stderr
    assert "started by an older medsweep" in proc.stderr


def test_resume_needs_an_existing_sweep(tmp_path):
    proc = run_train("-m", "model=breast_cancer", "resume=true", f"hydra.sweep.dir={tmp_path / 'nope'}")
    assert proc.returncode != 0 and "holds no medsweep sweep" in proc.stderr


def test_two_sweeps_started_together_never_share_a_directory(tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", "model=breast_cancer", *FAST,
           f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    dirs = sorted(p.parent.parent for p in tmp_path.glob("*/0/metrics.json"))
    assert [d.name for d in dirs] == ["sweep", "sweep-1"]
    assert all(json.loads((d / "sweep.json").read_text())["status"] == "completed" for d in dirs)


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"status": "completed"})
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path) as tmp:
            tmp.write_text('{"status": "half')
            raise KeyboardInterrupt
    assert json.loads(path.read_text()) == {"status": "completed"}
    assert os.listdir(tmp_path) == ["metrics.json"]


@pytest.mark.parametrize("folds", ["3", "40"])
def test_end_of_sweep_callbacks_run_after_success_and_failure(tmp_path, folds):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "model=parkinsons", *FAST,
                           f"trainer.folds={folds}", "+hydra.callbacks.probe._target_=callback_probe.RecordSweepEnd",
                           f"hydra.sweep.dir={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == (0 if folds == "3" else 1), proc.stderr
    assert (tmp_path / "callback_ran").read_text() == "on_multirun_end\n"
