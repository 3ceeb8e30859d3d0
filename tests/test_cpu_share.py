"""A job's CPU share travels in MEDSWEEP_CPU_SHARE, read in one place (medsweep.cpu.cpu_share); the thread
limit the process was started with (OMP_NUM_THREADS) is the fallback, and medsweep's joblib launcher passes
each job its share, with OMP_NUM_THREADS still set for BLAS."""

import os

import pytest

from hydra_plugins.medsweep_launcher._workers import worker_count
from medsweep.cpu import CPU_SHARE_ENV, cpu_share, cpu_share_set, usable_cores, worker_share


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv(CPU_SHARE_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return monkeypatch


def test_the_share_passed_wins_over_the_thread_limit(env):
    env.setenv("OMP_NUM_THREADS", "4")
    env.setenv(CPU_SHARE_ENV, "3")
    assert cpu_share() == 3


def test_without_a_share_the_thread_limit_then_every_core(env):
    assert cpu_share() == usable_cores()
    env.setenv("OMP_NUM_THREADS", "2")  # the user's limit, or Ray's for its task
    assert cpu_share() == 2
    env.setenv(CPU_SHARE_ENV, "not a number")
    assert cpu_share() == 2


def test_each_worker_gets_its_cores_divided_unless_the_sweep_has_a_share(env):
    assert worker_share(1) == usable_cores()
    assert worker_share(usable_cores() * 4) == 1
    env.setenv(CPU_SHARE_ENV, "5")
    assert worker_share(2) == 5


def test_a_share_set_for_a_block_is_restored_after_it(env):
    with cpu_share_set(7):
        assert cpu_share() == 7 and os.environ[CPU_SHARE_ENV] == "7"
    assert CPU_SHARE_ENV not in os.environ
    env.setenv(CPU_SHARE_ENV, "2")
    with cpu_share_set(7):
        assert cpu_share() == 7
    assert os.environ[CPU_SHARE_ENV] == "2"


def _job_threads(cfg) -> tuple:
    return os.environ.get(CPU_SHARE_ENV), cpu_share(), os.environ.get("OMP_NUM_THREADS")


@pytest.mark.slow
@pytest.mark.usefixtures("plugins_scanned", "hydra_restore_singletons")
def test_medsweeps_launcher_passes_each_job_its_share(hydra_sweep_runner, tmp_path, env):
    """Two jobs at once: each gets half the cores (one worker: all of them, in the sweep's process), in
    MEDSWEEP_CPU_SHARE and, for BLAS, in OMP_NUM_THREADS as loky sets it; the sweep's own environment is
    left as it was."""
    sweep = hydra_sweep_runner(calling_file=None, calling_module="hydra.test_utils.a_module",
                               task_function=_job_threads, config_path="configs", config_name="compose.yaml",
                               overrides=["hydra/launcher=medsweep_joblib", "hydra.launcher.n_jobs=2",
                                          "bar=1,2"], temp_dir=tmp_path)
    with sweep:
        shares = {job.return_value for batch in sweep.returns for job in batch}
    workers = worker_count(2, 2)
    threads = worker_share(workers)
    assert shares == {(str(threads), threads, str(threads) if workers > 1 else None)}
    assert CPU_SHARE_ENV not in os.environ
