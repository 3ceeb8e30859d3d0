"""Sweeps under hostile conditions, reproduced for real: two resumes at once, a parent killed with
SIGKILL, a worker killed by the OS, a full disk, result files deleted after the fact."""

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import helpers
from helpers import ROOT, metrics_of, run_train, wait_for
from hydra_plugins.medsweep_sweeper._interrupt import alive, descendants
from medsweep.record.files import METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, SAVED_CONFIG, SWEEP_FILE, Status

pytestmark = pytest.mark.slow

FAST = ["estimator=logreg", "trainer=fast"]
# logreg fits in one go: with debug.epoch_sleep_s=S each of the 3 folds sleeps S seconds.
SLOW_JOBS = ["-m", "model=breast_cancer", *FAST, "seed=0,1,2,3", "debug.epoch_sleep_s=1", "hydra.launcher.n_jobs=2"]


def status(job_dir):
    try:
        return metrics_of(job_dir)["status"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def statuses(sweep_dir, n):
    return [status(sweep_dir / str(num)) for num in range(n)]


def sweep_status(sweep_dir):
    return json.loads((sweep_dir / SWEEP_FILE).read_text())["status"]


def digest(job_dir):
    return {str(p.relative_to(job_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(job_dir).rglob("*")) if p.is_file()}


def start(*args, output=subprocess.PIPE):
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=output,
                            stderr=output, text=True)


def no_traceback(stderr):
    """The sweep ended with its own one-line error: no traceback came up through the sweeper."""
    return 'medsweep_sweeper.py"' not in stderr


def test_a_second_resume_is_refused_while_the_sweep_runs_and_allowed_after_its_holder_is_killed(tmp_path):
    args = [*SLOW_JOBS, f"hydra.sweep.dir={tmp_path}"]
    first = start(*args)
    try:
        assert wait_for(lambda: status(tmp_path / "0") == Status.COMPLETED)
        done = digest(tmp_path / "0")
        sweep_file = (tmp_path / SWEEP_FILE).read_text()
        second = run_train(*args, "resume=true")
        assert second.returncode != 0
        assert f"in use by another sweep (PID {first.pid})" in second.stderr
        assert (tmp_path / SWEEP_FILE).read_text() == sweep_file  # no `resumes` entry: nothing changed
        assert first.poll() is None  # the first sweep runs on
        first.send_signal(signal.SIGKILL)  # its lock dies with it
        first.wait(timeout=10)
    finally:
        first.kill()
        first.communicate()
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(tmp_path, 4) == [Status.COMPLETED] * 4
    assert digest(tmp_path / "0") == done
    assert sweep_status(tmp_path) == Status.COMPLETED


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers die with their parent on Linux only")
def test_killing_the_sweep_process_stops_every_worker_and_resume_completes_the_sweep(tmp_path):
    args = [*SLOW_JOBS, f"hydra.sweep.dir={tmp_path}"]
    proc, family = start(*args, output=subprocess.DEVNULL), []  # a surviving worker would hold a pipe open
    try:
        assert wait_for(lambda: statuses(tmp_path, 2) == [Status.RUNNING] * 2)
        family = descendants(proc.pid)  # forkserver, workers, resource trackers
        assert family
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_for(lambda: not any(alive(p) for p in family), timeout=5), "processes outlived the sweep"
        time.sleep(2)  # a queued job would have started by now
        assert not any((tmp_path / str(n)).exists() for n in (2, 3)), "a queued job started after the kill"
    finally:
        proc.kill()
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert statuses(tmp_path, 2) == [Status.RUNNING] * 2  # killed mid-job: the resume tells by the dead PIDs
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(tmp_path, 4) == [Status.COMPLETED] * 4


def test_a_worker_killed_by_the_os_fails_its_job_only(tmp_path):
    proc = start(*SLOW_JOBS, f"hydra.sweep.dir={tmp_path}")
    try:
        assert wait_for(lambda: statuses(tmp_path, 2) == [Status.RUNNING] * 2)
        time.sleep(0.5)  # both jobs are training
        os.kill(metrics_of(tmp_path / "0")["pid"], signal.SIGKILL)  # what the OOM killer sends
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1
    killed = metrics_of(tmp_path / "0")
    assert (killed["status"], killed["error_type"]) == (Status.FAILED, "WorkerKilled")
    assert "killed by SIGKILL" in killed["error"]
    # Job 1 was killed with it by the pool and ran again; every later job ran.
    assert statuses(tmp_path, 4)[1:] == [Status.COMPLETED] * 3
    assert sweep_status(tmp_path) == Status.FAILED and (tmp_path / "summary.csv").is_file()
    assert "1 of 4 jobs failed" in stderr and "WorkerKilled" in stderr
    assert "TerminatedWorkerError" not in stderr and no_traceback(stderr)


def test_a_job_process_killed_under_submitit_stops_the_sweep_in_one_line(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    proc = start("-m", "model=breast_cancer", *FAST, "seed=0,1", "debug.epoch_sleep_s=2", "hydra/launcher=local",
                 f"hydra.sweep.dir={tmp_path}")
    try:
        assert wait_for(lambda: statuses(tmp_path, 2) == [Status.RUNNING] * 2)
        os.kill(metrics_of(tmp_path / "0")["pid"], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "Sweep stopped: the launcher gave up on its batch (UncompletedJobError" in stderr and no_traceback(stderr)
    killed = metrics_of(tmp_path / "0")
    assert (killed["status"], killed["error_type"]) == (Status.FAILED, "WorkerKilled")
    assert status(tmp_path / "1") in (Status.COMPLETED, Status.INTERRUPTED)
    assert sweep_status(tmp_path) == Status.FAILED and (tmp_path / "summary.csv").is_file()


def test_resume_refuses_while_a_job_of_the_killed_sweep_still_runs_and_reruns_it_once_dead(tmp_path):
    # submitit's job processes outlive a killed sweep process: the job is recorded running, and is.
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")
    def args(sleep):
        return ["-m", "model=breast_cancer", *FAST, f"debug.epoch_sleep_s={sleep}", "hydra/launcher=local",
                f"hydra.sweep.dir={tmp_path}"]

    proc = start(*args(10), output=subprocess.DEVNULL)  # the orphaned job would hold a pipe open
    try:
        assert wait_for(lambda: status(tmp_path / "0") == Status.RUNNING)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    pid = metrics_of(tmp_path / "0")["pid"]
    try:
        assert alive(pid)
        refused = run_train(*args(10), "resume=true")
        assert refused.returncode != 0 and f"job(s) 0 (PID {pid}) of {tmp_path} are still running" in refused.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(pid), timeout=5)
    resumed = run_train(*args(0), "resume=true")  # how long a job sleeps may change on resume
    assert resumed.returncode == 0, resumed.stderr
    assert status(tmp_path / "0") == Status.COMPLETED


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A 300 KiB filesystem that a sweep fills up."""
    with helpers.tiny_filesystem(tmp_path / "tiny", "300k") as mount:
        yield mount


def test_a_full_disk_stops_the_sweep_in_one_line_and_resume_completes_it(tiny_filesystem):
    sweep_dir = tiny_filesystem / "sweep"
    args = ["-m", "model=breast_cancer,parkinsons,diabetes", *FAST, "seed=0,1", "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}"]
    proc = run_train(*args)
    assert proc.returncode == 1
    assert f"Sweep stopped: disk full (No space left on device) writing {sweep_dir}" in proc.stderr
    assert no_traceback(proc.stderr)
    assert Status.RUNNING not in statuses(sweep_dir, 6)
    assert sweep_status(sweep_dir) == Status.FAILED  # written in the space sweep.json already had

    subprocess.run(["mount", "-o", "remount,size=20m", str(tiny_filesystem)], check=True)  # space freed
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(sweep_dir, 6) == [Status.COMPLETED] * 6


def test_resume_reruns_a_completed_job_whose_files_were_deleted(tmp_path):
    args = ["-m", "model=breast_cancer", *FAST, "seed=0,1,2", f"hydra.sweep.dir={tmp_path}"]
    assert run_train(*args).returncode == 0
    kept = digest(tmp_path / "2")
    (tmp_path / "0" / MODEL_FILE).unlink()
    (tmp_path / "1" / PREDICTIONS_FILE).unlink()
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 of 3 jobs to run" in resumed.stderr + resumed.stdout
    assert (tmp_path / "0" / MODEL_FILE).is_file() and (tmp_path / "1" / PREDICTIONS_FILE).is_file()
    assert statuses(tmp_path, 3) == [Status.COMPLETED] * 3 and digest(tmp_path / "2") == kept


def test_resume_runs_a_job_whose_saved_config_is_empty(tmp_path):
    # What a full disk leaves: Hydra wrote .hydra/config.yaml empty, the job never wrote metrics.json.
    args = ["-m", "model=breast_cancer", *FAST, "seed=0,1", f"hydra.sweep.dir={tmp_path}"]
    assert run_train(*args).returncode == 0
    (tmp_path / "1" / SAVED_CONFIG).write_text("")
    (tmp_path / "1" / METRICS_FILE).unlink()
    resumed = run_train(*args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(tmp_path, 2) == [Status.COMPLETED] * 2


@pytest.mark.parametrize("how", ["single run", "sweep running its job in its own process"])
def test_a_job_whose_process_dies_by_a_signal_is_recorded_failed(tmp_path, how):
    """What a parser crashing under an address-space limit leaves (SIGSEGV: no Python code runs): nobody
    else watches these processes, so the job's watcher records it (job_watch.py)."""
    def args(sleep):
        if how == "single run":
            return ["model=breast_cancer", *FAST, f"debug.epoch_sleep_s={sleep}", f"hydra.run.dir={tmp_path}"]
        return ["-m", "model=breast_cancer", *FAST, f"debug.epoch_sleep_s={sleep}", "hydra.launcher.n_jobs=1",
                f"hydra.sweep.dir={tmp_path}"]

    job_dir = tmp_path if how == "single run" else tmp_path / "0"
    proc = start(*args(20))
    try:
        assert wait_for(lambda: status(job_dir) == Status.RUNNING)
        pid = metrics_of(job_dir)["pid"]
        assert pid == proc.pid    # the job runs in the command's own process
        os.kill(pid, signal.SIGSEGV)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGSEGV
    assert wait_for(lambda: status(job_dir) == Status.FAILED, timeout=30)
    record = metrics_of(job_dir)
    assert record["error_type"] == "WorkerKilled" and f"process (PID {pid}) died without recording" in record["error"]
    if how != "single run":
        resumed = run_train(*args(0), "resume=true")
        assert resumed.returncode == 0, resumed.stderr
        assert status(job_dir) == Status.COMPLETED
