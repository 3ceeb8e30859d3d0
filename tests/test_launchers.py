"""Beyond one machine: submitit (local, SLURM) and Ray launchers (the Optuna search: test_optuna.py).

Real sweeps in subprocesses, each compared with a joblib run of the same jobs. A launcher whose plugin is
not installed is skipped with the reason; `pip install -e ".[dev]"` installs all of them.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from helpers import ROOT, metrics_of, run_train, wait_for
from hydra_plugins.medsweep_sweeper._interrupt import alive, descendants
from medsweep.cpu import usable_cores

pytestmark = pytest.mark.slow

JOBS = ["model=breast_cancer,diabetes,parkinsons", "estimator=logreg", "trainer=fast"]
JOB_FILES = ("metrics.json", "history.csv", "predictions.csv", "model.skops", "train.log")


def needs(module: str, extra: str):
    return pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[{extra}]'")



def status(job_dir):
    try:
        return metrics_of(job_dir)["status"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    sweep = tmp_path_factory.mktemp("joblib")
    proc = run_train("-m", *JOBS, f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr
    return sweep


RUN_CONTROL = ("retries=", "debug.")  # how a job is run, not what it trains


def trained(overrides: list) -> list:
    return [o for o in overrides if not o.startswith(RUN_CONTROL)]


def assert_same_as_joblib(sweep: Path, reference: Path) -> None:
    """Same job directories, same files, identical numbers (fold by fold) and predictions."""
    for n in range(3):
        ours, theirs = sweep / str(n), reference / str(n)
        for name in JOB_FILES:
            assert (ours / name).is_file(), f"{ours / name} is missing"
        assert (ours / ".hydra" / "config.yaml").is_file()
        a, b = metrics_of(theirs), metrics_of(ours)
        assert b["status"] == "completed"
        assert (b["model"], b["job_num"], trained(b["overrides"])) == (a["model"], a["job_num"], a["overrides"])
        assert b["metrics"] == a["metrics"], f"job {n} ({a['model']}): metrics differ from the joblib run"
        assert b["n_threads"] == 1  # the job's CPU share came from the launcher preset
        for name in ("predictions.csv", "history.csv"):
            assert (ours / name).read_bytes() == (theirs / name).read_bytes(), f"job {n}: {name} differs"
    ours, theirs = json.loads((sweep / "sweep.json").read_text()), json.loads((reference / "sweep.json").read_text())
    assert ours["status"] == "completed"
    assert [trained(j["overrides"]) for j in ours["jobs"]] == [j["overrides"] for j in theirs["jobs"]]
    if (reference / "summary.csv").is_file():
        assert (sweep / "summary.csv").is_file()


def test_default_launcher_is_medsweeps_joblib_launcher_capped_at_cores_and_jobs(tmp_path):
    # Three batches of one job: the cap (cores, and the sweep's 3 jobs) holds for every batch, logged once.
    proc = run_train("-m", "model=breast_cancer", "estimator=logreg", "trainer=fast", "seed=0,1,2",
                     "hydra.launcher.n_jobs=64", "hydra.sweeper.max_batch_size=1", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    workers = min(usable_cores(), 3)
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert (sweep["launcher"], sweep["n_jobs"]) == ("MedsweepJoblibLauncher", workers)
    output = proc.stdout + proc.stderr
    assert output.count(f"hydra.launcher.n_jobs=64 but this machine has {usable_cores()} cores") == 1
    assert output.count(f"Joblib.Parallel(n_jobs={workers},backend=loky,") == 3


def test_submitit_local_sweep_matches_joblib_and_retries(tmp_path, joblib_sweep):
    needs("hydra_plugins.hydra_submitit_launcher", "slurm")
    # Every job's first attempt fails (injected, transient) and is retried in its submitit process:
    # the retried jobs must still give exactly the joblib numbers.
    proc = run_train("-m", *JOBS, "retries=1", "debug.fail_attempts=1", "hydra/launcher=local",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".submitit").is_dir()  # each job really went through submitit
    assert json.loads((tmp_path / "sweep.json").read_text())["launcher"] == "LocalLauncher"
    assert_same_as_joblib(tmp_path, joblib_sweep)
    for n in range(3):
        assert metrics_of(tmp_path / str(n))["attempts"] == 2
        assert "injected failure of attempt 1" in (tmp_path / str(n) / "train.log").read_text()


def test_ray_local_cluster_sweep_matches_joblib(tmp_path, joblib_sweep):
    needs("hydra_plugins.hydra_ray_launcher", "ray")
    proc = run_train("-m", *JOBS, "hydra/launcher=ray_cluster", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert "Initializing ray" in proc.stderr + proc.stdout
    assert json.loads((tmp_path / "sweep.json").read_text())["launcher"] == "RayLauncher"
    assert_same_as_joblib(tmp_path, joblib_sweep)








@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the sweep's processes through /proc (Linux)")
def test_submitit_local_failed_jobs_do_not_stop_others_and_sigint_stops_the_sweep(tmp_path):
    needs("hydra_plugins.hydra_submitit_launcher", "slurm")
    # Jobs (folds, sleep per fold): 0 (3, 0) completes; 1 (3, 10 s) is still running when SIGINT comes;
    # 2 and 3 (40 folds for 32 patients) fail with a data error without stopping the others.
    args = ["-m", "model=parkinsons", "estimator=logreg", "trainer=fast", "trainer.folds=3,40",
            "debug.epoch_sleep_s=0,10", "hydra/launcher=local", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: [status(tmp_path / str(n)) for n in range(4)]
                         == ["completed", "running", "failed", "failed"])
        workers = descendants(proc.pid)
        assert workers
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert wait_for(lambda: not any(alive(p) for p in workers), timeout=5), "submitit processes left behind"
    assert [status(tmp_path / str(n)) for n in range(4)] == ["completed", "interrupted", "failed", "failed"]
    failed = metrics_of(tmp_path / "2")
    assert failed["error_type"] == "DataError" and "trainer.folds=40" in failed["error"]
    assert "Traceback (most recent call last)" in (tmp_path / "2" / "train.log").read_text()


@pytest.fixture
def compose_with_hydra():
    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)

    yield _compose
    GlobalHydra.instance().clear()


def _sbatch_script(compose_with_hydra, tmp_path, monkeypatch, *overrides, jobs_in_task=1):
    """The sbatch script medsweep's SLURM launcher would submit for the composed preset (no SLURM needed)."""
    from hydra.utils import instantiate
    from submitit.slurm.slurm import SlurmExecutor

    cfg = compose_with_hydra("hydra/launcher=slurm", *overrides, f"hydra.sweep.dir={tmp_path}")
    launcher = instantiate(cfg.hydra.launcher)
    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # "srun exists"
    executor = launcher._executor(jobs_in_task)
    return cfg, executor._executor._make_submission_file_text("python -m submitit.core._submit x", "uid")


def test_slurm_preset_gives_each_job_its_resources(compose_with_hydra, tmp_path, monkeypatch):
    needs("hydra_plugins.hydra_submitit_launcher", "slurm")
    cfg, script = _sbatch_script(compose_with_hydra, tmp_path, monkeypatch, "hydra.launcher.partition=gpu",
                                 "hydra.launcher.account=lab", "hydra.launcher.timeout_min=120")
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_ == "hydra_plugins.medsweep_launcher.slurm_launcher.MedsweepSlurmLauncher"
    assert cfg.hydra.job.env_set.OMP_NUM_THREADS == str(launcher_cfg.cpus_per_task)
    for line in ("--partition=gpu", "--account=lab", "--time=120", "--cpus-per-task=4", "--mem=8GB"):
        assert f"#SBATCH {line}" in script
    assert "--gpus-per-node" not in script and "--gres" not in script


def test_slurm_preset_asks_for_each_tasks_gpus(compose_with_hydra, tmp_path, monkeypatch):
    needs("hydra_plugins.hydra_submitit_launcher", "slurm")
    _, one = _sbatch_script(compose_with_hydra, tmp_path, monkeypatch, "hydra.launcher.gpus_per_job=1")
    assert "#SBATCH --gres=gpu:1" in one
    # packed: a pool of cpus_per_task workers, each its own GPU
    _, packed = _sbatch_script(compose_with_hydra, tmp_path, monkeypatch, "hydra.launcher.gpus_per_job=1",
                               "hydra.launcher.jobs_per_task=10", jobs_in_task=10)
    assert "#SBATCH --gres=gpu:4" in packed and "#SBATCH --cpus-per-task=4" in packed


def test_packing_1000_jobs_submits_a_few_dozen_array_tasks():
    from hydra_plugins.medsweep_launcher._packing import check_jobs_per_task, task_chunks

    chunks = task_chunks(1000, 40)
    assert len(chunks) == 25  # the number of array tasks the launcher submits
    assert [n for c in chunks for n in c] == list(range(1000))  # every job once, in order
    assert {len(c) for c in chunks} == {40}
    assert [len(c) for c in task_chunks(25, 10)] == [9, 8, 8]  # evenly: no task left with a remainder of 5
    assert len(task_chunks(1000, 1)) == 1000 and task_chunks(0, 5) == []
    with pytest.raises(ValueError, match=r"hydra.launcher.jobs_per_task=0: must be a whole number >= 1"):
        check_jobs_per_task(0)


def test_why_slurm_ended_a_task_is_read_from_its_error_stream():
    from hydra_plugins.medsweep_launcher._slurm_watch import slurm_ending

    err = ("submitit WARNING (2026-12-02 06:12:53) - Bypassing signal SIGTERM\n"
           "slurmstepd: error: *** STEP 5.0 ON vm CANCELLED AT 2026-12-02T06:12:55 DUE TO TIME LIMIT ***\n"
           "slurmstepd: error: *** JOB 5 ON vm CANCELLED AT 2026-12-02T06:12:55 DUE TO TIME LIMIT ***\n")
    ending = slurm_ending(err)
    assert ending.timeout and ending.line == "JOB 5 ON vm CANCELLED AT 2026-12-02T06:12:55 DUE TO TIME LIMIT"
    cancelled = slurm_ending("slurmstepd: error: *** JOB 7 ON vm CANCELLED AT 2026-12-02T06:14:01 ***")
    assert not cancelled.timeout and "CANCELLED AT" in cancelled.line
    assert not slurm_ending("*** JOB 8 ON vm CANCELLED AT 2026-12-02T06:14:01 DUE TO NODE FAILURE ***").timeout
    assert slurm_ending("", "TIMEOUT").timeout and slurm_ending("", "COMPLETED") is None
    assert slurm_ending("a traceback", None) is None


@pytest.mark.parametrize("overrides", [
    # the issue's commands, with the plugins' own presets
    ("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=120"),
    ("hydra/launcher=submitit_local",),
    ("hydra/launcher=ray",),
    ("hydra/launcher=ray_cluster", "hydra.launcher.ray.init.address=auto"),
])
def test_plugin_launcher_names_still_compose(compose_with_hydra, overrides):
    needs("hydra_plugins.hydra_submitit_launcher", "slurm")
    if "ray" in overrides[0]:
        needs("hydra_plugins.hydra_ray_launcher", "ray")
    cfg = compose_with_hydra(*overrides)
    assert cfg.hydra.launcher._target_.startswith("hydra_plugins.hydra_")


def test_a_worker_keeps_its_plugin_registry_from_job_to_job():
    # Hydra's execute_job rebuilds the registry for each job (a scan re-executing every plugin module);
    # medsweep's launcher hands each job the registry its process already has, with the same plugins.
    from hydra.core.plugins import Plugins
    from hydra.core.singleton import Singleton
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    from hydra_plugins.medsweep_launcher._core import _keep_plugins

    plugins = Plugins.instance()
    state = Singleton.get_state()  # what the sweep process sends with each job: no plugin registry
    assert Plugins not in state["instances"]
    Singleton.set_state(_keep_plugins(state))  # what a job does first
    assert Plugins.instance() is plugins
    assert "MedsweepJoblibLauncher" in {c.__name__ for c in plugins.discover(Launcher)}
    assert "MedsweepSweeper" in {c.__name__ for c in plugins.discover(Sweeper)}


def _worker_facts(cfg) -> tuple:
    return os.getpid(), "medsweep.job.runner" in sys.modules  # imported by the server it was forked from


@pytest.mark.usefixtures("hydra_restore_singletons")
def test_jobs_run_in_warm_workers_and_loky_is_left_as_it_was(hydra_sweep_runner, tmp_path):
    """Jobs run in workers forked from the pre-imported server (what a job imports is already there), and
    loky's process-wide start method is back to what it was once the sweep has ended."""
    from joblib.externals.loky.backend import context

    if usable_cores() < 2:
        pytest.skip("one core: one worker, and joblib runs the jobs in the sweep's own process")
    before = context.get_start_method()
    sweep = hydra_sweep_runner(calling_file=None, calling_module="hydra.test_utils.a_module",
                               task_function=_worker_facts, config_path="configs", config_name="compose.yaml",
                               overrides=["hydra/launcher=medsweep_joblib", "hydra.launcher.n_jobs=2",
                                          "bar=1,2,3,4"], temp_dir=tmp_path)
    with sweep:
        facts = [job.return_value for batch in sweep.returns for job in batch]
    assert all(preloaded for _, preloaded in facts) and os.getpid() not in {p for p, _ in facts}
    assert context.get_start_method() == before
