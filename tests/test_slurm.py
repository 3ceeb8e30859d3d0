"""Sweeps on a real SLURM (`hydra/launcher=slurm`): CI starts a one-node cluster on its machine with
`.ci/slurm.sh start`; where no SLURM answers `sinfo`, these tests skip, saying so.

Few, tiny jobs (breast_cancer, 2 folds, no bootstrap), one CPU each: the time-limit test needs SLURM's
minimum limit of a minute (and its check every 30 s), so its sweep starts first, in the background, on one
of the node's two CPUs, and is checked after the others, which run beside it on the other CPU; the packed
pool of two workers runs last, when the node is free.
"""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, metrics_of, run_train, wait_for

pytestmark = pytest.mark.slow

TINY = ["model=breast_cancer", "trainer.folds=2", "eval.n_boot=0"]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
         "hydra.launcher.timeout_min=5"]


def _slurm_answers() -> str:
    """'' where a SLURM controller answers with an idle or busy node, else why not."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "SLURM is not installed (CI starts one: bash .ci/slurm.sh start, as root)"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo does not answer ({exc})"
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.rstrip("*") in ("idle", "mix", "alloc") for s in states):
        return f"no SLURM node is up (sinfo: {(out.stdout + out.stderr).strip()[:200] or 'nothing'})"
    return ""


REASON = _slurm_answers()
if REASON:
    pytestmark = [pytest.mark.slow, pytest.mark.skip(reason=REASON)]
else:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="pip install -e '.[slurm]'")


def status(job_dir: Path):
    try:
        return metrics_of(job_dir)["status"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def sweep(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), "-m", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def array_task(sweep_dir: Path, task: int) -> str:
    """The SLURM id ('12_1') of array task ``task`` of the sweep's (only) array: submitit's folder names it."""
    found = []
    assert wait_for(lambda: found.extend(sweep_dir.glob(f".submitit/*_{task}")) or found, timeout=60)
    return found[0].name


def tasks_ended(sweep_dir: Path) -> bool:
    """None of the sweep's array tasks is queued or running (other tests' tasks may be)."""
    ids = {p.name.split("_")[0] for p in sweep_dir.glob(".submitit/[0-9]*")}
    out = subprocess.run(["squeue", "-h", "-t", "PD,R,CG", "-o", "%i"], capture_output=True, text=True).stdout
    return not any(line.split("_")[0] in ids for line in out.split())


@pytest.fixture(scope="module")
def past_time_limit(tmp_path_factory):
    """A sweep whose one job (an MLP sleeping 30 s an epoch) outlives SLURM's time limit of 1 minute;
    started at once (the module's first test), checked by the last."""
    sweep_dir = tmp_path_factory.mktemp("timeout")
    proc = sweep(*TINY, *SLURM, "hydra.launcher.timeout_min=1", "estimator=mlp", "trainer.epochs=5",
                 "debug.epoch_sleep_s=30", f"hydra.sweep.dir={sweep_dir}")
    yield sweep_dir, proc
    if proc.poll() is None:
        proc.kill()


@pytest.fixture(scope="module")
def joblib_reference(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("joblib")
    proc = run_train("-m", *TINY, "seed=0,1,2", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    return sweep_dir


def test_slurm_sweep_packed_matches_joblib_fold_by_fold_with_console_and_summaries(past_time_limit, joblib_reference,
                                                                                   tmp_path):
    # three jobs packed two to a task: two array tasks, every job in its own directory, the same numbers
    proc = run_train("-m", *TINY, "seed=0,1,2", *SLURM, "hydra.launcher.jobs_per_task=2",
                     f"hydra.sweep.dir={tmp_path}", timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Submitted 3 job(s) as 2 SLURM array task(s)" in proc.stderr + proc.stdout
    assert len({p.name.split("_")[0] for p in (tmp_path / ".submitit").glob("[0-9]*_*")}) == 1  # one array
    assert sorted(p.name.split("_")[1] for p in (tmp_path / ".submitit").glob("[0-9]*_*")) == ["0", "1"]
    for n in range(3):
        ours, theirs = metrics_of(tmp_path / str(n)), metrics_of(joblib_reference / str(n))
        assert ours["status"] == "completed" and ours["seed"] == theirs["seed"] == n
        assert ours["metrics"] == theirs["metrics"], f"job {n}: metrics differ from the joblib run"
        assert ours["n_threads"] == 1
        assert (tmp_path / str(n) / "train.log").is_file() and (tmp_path / str(n) / "predictions.csv").read_bytes() \
            == (joblib_reference / str(n) / "predictions.csv").read_bytes()
    # the console: the progress count and the summary, as with joblib (completed jobs get no line of their own)
    out = proc.stdout + proc.stderr
    assert "Sweep " in out and "3 jobs (3 completed)" in out
    assert f"Report: {tmp_path / 'report.html'}" in out
    for name in ("summary.csv", "summary.md", "sweep.json"):
        assert (tmp_path / name).is_file()
    assert json.loads((tmp_path / "sweep.json").read_text())["status"] == "completed"


def test_scancel_of_one_array_task_fails_only_its_job(past_time_limit, tmp_path):
    proc = sweep(*TINY, *SLURM, "estimator=mlp", "trainer.epochs=3", "debug.epoch_sleep_s=0,20",
                 f"hydra.sweep.dir={tmp_path}")
    try:
        assert wait_for(lambda: status(tmp_path / "1") == "running", timeout=120), "job 1 never started"
        subprocess.run(["scancel", array_task(tmp_path, 1)], check=True)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-3000:]
    cancelled, other = metrics_of(tmp_path / "1"), metrics_of(tmp_path / "0")
    assert cancelled["status"] == "failed" and cancelled["error_type"] == "SlurmCancelled"
    assert "CANCELLED AT" in cancelled["error"]
    assert other["status"] == "completed"
    assert "1 of 2 jobs failed" in out + err and "SLURM ended the job's array task" in out + err
    assert json.loads((tmp_path / "sweep.json").read_text())["status"] == "failed"


def test_resume_after_a_killed_sweep_runs_the_rest(past_time_limit, tmp_path):
    # one job a batch: the sweep is killed (kill -9) while its first job runs; later batches never start
    args = [*TINY, "seed=0,1", *SLURM, "hydra.sweeper.max_batch_size=1", f"hydra.sweep.dir={tmp_path}"]
    proc = sweep(*args)
    assert wait_for(lambda: status(tmp_path / "0") == "running", timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert wait_for(lambda: tasks_ended(tmp_path), timeout=120)  # the job's array task finishes by itself
    assert status(tmp_path / "0") == "completed" and status(tmp_path / "1") is None
    resumed = run_train("-m", *args, "resume=true", timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "1 of 2 jobs to run" in resumed.stdout + resumed.stderr
    assert all(status(tmp_path / str(n)) == "completed" for n in range(2))


def test_job_past_its_slurm_time_limit_is_recorded_as_timeout(past_time_limit):
    sweep_dir, proc = past_time_limit
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 1, err[-3000:]
    record = metrics_of(sweep_dir / "0")
    assert record["status"] == "timeout", record
    assert record["error_type"] == "SlurmTimeLimit" and "TIME LIMIT" in record["error"]
    assert json.loads((sweep_dir / "sweep.json").read_text())["status"] == "failed"


def test_a_killed_worker_of_a_packed_task_fails_only_its_job(tmp_path):
    # Runs after the time-limit sweep has ended: a pool of two workers takes the node's two CPUs. Four jobs
    # in one task; the worker running a slow one is killed (kill -9, as the OOM killer does).
    proc = sweep(*TINY, "estimator=mlp", "trainer.epochs=2", "debug.epoch_sleep_s=0,2", "seed=0,1", *SLURM,
                 "hydra.launcher.cpus_per_task=2", "hydra.launcher.jobs_per_task=4", f"hydra.sweep.dir={tmp_path}")
    try:
        slow = [tmp_path / "2", tmp_path / "3"]  # debug.epoch_sleep_s=2: 2 epochs x 2 folds x 2 s
        assert wait_for(lambda: any(status(d) == "running" for d in slow), timeout=120), "no slow job started"
        victim = next(d for d in slow if status(d) == "running")
        subprocess.run(["kill", "-9", str(metrics_of(victim)["pid"])], check=True)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err[-3000:]
    killed = metrics_of(victim)
    assert killed["status"] == "failed" and killed["error_type"] == "WorkerKilled"
    others = [n for n in range(4) if tmp_path / str(n) != victim]
    assert all(status(tmp_path / str(n)) == "completed" for n in others), [status(tmp_path / str(n)) for n in others]
    assert "1 of 4 jobs failed" in out + err
