"""Run a batch of jobs in loky workers as Hydra's joblib launcher does (its ``execute_job``, its log
lines), and keep going when a worker process dies (killed by the OS for memory, ``kill -9``, a crash).

Joblib alone aborts the whole batch then: loky kills the other workers, later jobs never start, and the
sweep gets a traceback. Here the job the dead worker was running is recorded as failed (``WorkerKilled``,
with the signal), the jobs killed with it and those not started yet run again in a new pool, and the
results already returned are kept.

A job's own set-up is Hydra's, less what a worker need not repeat for each job: the plugin scan, a second
copy of the config's ``hydra`` node, pickling the sweep's config and Hydra's state once per job (_execute).

Hydra's internals are reached through the sweeper's _hydra_compat.py, joblib's and loky's through
_joblib_compat.py.
"""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra_plugins.medsweep_sweeper._hydra_compat import failed_job, plugin_registry, with_plugin_registry
from omegaconf import OmegaConf, open_dict

from medsweep.record.job_record import Status, read_record, write_record
from medsweep.record.sweep_dir import SweepDir, ran_by
from medsweep.cpu import cpu_share_set, worker_share

from . import _worker_deaths
from ._gpus import DevicePool, devices_visible
from ._joblib_compat import cloudpickle_dumps, process_joblib_cfg, terminated_worker_error

log = logging.getLogger(__name__)

# New pools in a row that broke before any job of the batch got a result: the jobs left are given up.
MAX_FRUITLESS_POOLS = 3


class WorkerKilled(RuntimeError):
    """The worker process running a job died (killed by the OS, or crashed) before the job finished."""


class _PickledOnce:
    """An argument that every job of a batch gets (the sweep's config, Hydra's singletons: ~60 KB): pickled
    once by the sweep process, not once per job as joblib would (~10 ms of the sweep process's CPU per job,
    taken from the workers on a machine as busy as its jobs). Each job still unpickles its own copy."""

    def __init__(self, obj: Any) -> None:
        self.data = cloudpickle_dumps(obj)  # as loky pickles a job's arguments

    def __reduce__(self) -> tuple:
        return pickle.loads, (self.data,)

    @staticmethod
    def load(obj: Any) -> Any:
        """The object itself, wherever the argument was not pickled (joblib runs n_jobs=1 in this process)."""
        return pickle.loads(obj.data) if isinstance(obj, _PickledOnce) else obj


def _execute(num: int, idx: int, overrides: Sequence[str], hydra_context: Any, config: Any, task_function: Any,
             singleton_state: Any, threads: int, devices: Optional[DevicePool] = None) -> tuple[int, JobReturn]:
    """Hydra's execute_job (hydra_joblib_launcher 1.2), tagged with the job's place in the batch (results come
    back unordered), without two of its costs: the plugin scan (_keep_plugins), and the HydraConfig it sets
    before calling run_job, which sets it again itself (a copy of the config's ``hydra`` node, ~4 ms). The job
    runs with its CPU share, ``threads`` (medsweep.cpu.cpu_share), and with this worker's GPUs of ``devices``
    (hydra.launcher.gpus_per_job: _gpus.py), which its record names."""
    config, singleton_state = _PickledOnce.load(config), _PickledOnce.load(singleton_state)
    setup_globals()
    Singleton.set_state(_keep_plugins(singleton_state))
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = "{}_{}".format(sweep_config.hydra.job.name, idx)
        sweep_config.hydra.job.num = idx
    with cpu_share_set(threads), devices_visible(devices) as seen:  # restored after the job (joblib runs a
        ret = run_job(hydra_context=hydra_context, config=sweep_config,  # one-worker sweep in its own process)
                      task_function=task_function, job_dir_key="hydra.sweep.dir",
                      job_subdir_key="hydra.sweep.subdir")
    if seen is not None:
        record_devices(Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir), seen)
    return num, ret


def record_devices(job_dir: Path, devices: List[str]) -> None:
    """``devices`` (the GPUs the job saw) added to the job's record, now final."""
    record = read_record(job_dir)
    if record is not None:
        write_record(job_dir, record.updated(devices=devices))


def _keep_plugins(singleton_state: dict) -> dict:
    """The sweep's singletons with this process's own plugin registry added. Hydra leaves it out of the
    state it sends (it does not pickle) and each job's ``Singleton.set_state`` then builds a new one,
    scanning every plugin module again and re-executing it (~90 ms of CPU per job, the largest part of a
    tiny job's overhead). The plugins installed do not change between the jobs of one process: the
    registry this process already has (built by the warm workers' server, else by its first job) serves
    every job."""
    plugins = plugin_registry()
    if plugins is None:
        return singleton_state
    return with_plugin_registry(singleton_state, plugins)


def _results(joblib_cfg: dict, launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
             nums: List[int], singleton_state: dict) -> Iterator[tuple[int, JobReturn]]:
    """(place in batch, JobReturn) of each job in ``nums`` as soon as it finishes."""
    from joblib import Parallel, delayed

    config, state = _PickledOnce(launcher.config), _PickledOnce(singleton_state)
    threads = worker_share(joblib_cfg["n_jobs"])  # what each job of the pool may use
    devices = getattr(launcher, "device_pool", None)
    results = Parallel(**joblib_cfg, return_as="generator_unordered")(
        delayed(_execute)(n, initial_job_idx + n, job_overrides[n], launcher.hydra_context, config,
                          launcher.task_function, state, threads, devices)
        for n in nums)
    try:
        yield from results
    finally:
        results.close()  # on an interrupt too: joblib then stops its workers, as it does for Hydra's launcher


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
           workers: int) -> List[JobReturn]:
    setup_globals()
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    joblib_cfg = {**launcher.joblib, "n_jobs": workers, "backend": "loky"}  # loky, as Hydra's launcher has it
    process_joblib_cfg(joblib_cfg)
    # Hydra's two lines in one (every joblib setting: at debug level)
    log.debug("Joblib.Parallel({})".format(",".join(f"{k}={v}" for k, v in joblib_cfg.items())))
    log.info("Joblib.Parallel(n_jobs={},backend={},...) is launching {} jobs, sweep output dir : {}".format(
        joblib_cfg["n_jobs"], joblib_cfg["backend"], len(job_overrides), sweep_dir))
    for line in job_listing(job_overrides, initial_job_idx):
        log.info(line)
    singleton_state = Singleton.get_state()
    with _worker_deaths.recorded() as take_deaths:
        return _run_pools(launcher, joblib_cfg, job_overrides, initial_job_idx, singleton_state, take_deaths)


# A batch of more jobs than this is listed by its first LISTED jobs and one line for the rest.
LISTED = 2


def job_listing(job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[str]:
    """Hydra's listing of a batch (`#3 : model=als seed=1`), each job numbered as its directory (the sweep's
    ``hydra.sweep.subdir``: a resume's jobs keep theirs); beyond LISTED + 2 jobs, the first LISTED and one line
    naming the overrides that vary (every job's are in its .hydra/overrides.yaml)."""
    jobs = [filter_overrides(o) for o in job_overrides]
    nums = []
    for idx, overrides in enumerate(job_overrides):
        subdir = [o.partition("=")[2] for o in overrides if o.startswith("hydra.sweep.subdir=")]
        nums.append(subdir[-1] if subdir else str(initial_job_idx + idx))
    listed = jobs if len(jobs) <= LISTED + 2 else jobs[:LISTED]
    lines = ["\t#{} : {}".format(n, " ".join(o)) for n, o in zip(nums, listed)]
    if len(listed) < len(jobs):
        values: dict[str, set] = {}
        present: dict[str, int] = {}
        for job in jobs:
            for key, value in dict(o.partition("=")[::2] for o in job).items():
                values.setdefault(key, set()).add(value)
                present[key] = present.get(key, 0) + 1
        vary = [k for k, v in values.items() if len(v) > 1 or present[k] < len(jobs)]  # or some jobs lack it
        lines.append("\t... {} more (#{} to #{}){}; each job's overrides in <job>/.hydra/overrides.yaml".format(
            len(jobs) - LISTED, nums[LISTED], nums[-1], f", varying {' '.join(vary)}" if vary else ""))
    return lines


def _run_pools(launcher: Any, joblib_cfg: dict, job_overrides: Sequence[Sequence[str]], initial_job_idx: int,
               singleton_state: dict, take_deaths: Callable[[], dict[int, int]]) -> List[JobReturn]:
    """Every job's result: a pool broken by a dead worker is replaced by a new one for the jobs left."""
    pool_broken = terminated_worker_error()
    returns: dict[int, JobReturn] = {}
    pending, fruitless = list(range(len(job_overrides))), 0
    while pending:
        since, before = time.time(), len(returns)
        try:
            for num, ret in _results(joblib_cfg, launcher, job_overrides, initial_job_idx, pending,
                                     singleton_state):
                returns[num] = ret
        except pool_broken:
            died = take_deaths()
            for num in pending:
                if num not in returns:
                    killed = _killed_job(launcher, job_overrides[num], initial_job_idx + num, died, since)
                    if killed is not None:
                        returns[num] = killed
        pending = [n for n in pending if n not in returns]
        fruitless = 0 if len(returns) > before else fruitless + 1
        if pending and fruitless >= MAX_FRUITLESS_POOLS:
            log.error("Worker processes died %d times in a row before any job finished: %d job(s) not run",
                      fruitless, len(pending))
            for num in pending:
                returns[num] = failed_job(list(job_overrides[num]), WorkerKilled(
                    f"worker processes died {fruitless} times in a row before this job could finish"))
            pending = []
        elif pending:
            log.warning("Restarting the workers: %d job(s) left to run, jobs stopped with the dead worker "
                        "included", len(pending))
    return [returns[n] for n in range(len(job_overrides))]


def _killed_job(launcher: Any, overrides: Sequence[str], idx: int, died: dict[int, int],
                since: float) -> JobReturn | None:
    """The failed result of a job whose worker died by itself while running it (its metrics.json, written
    since the pool started, says "running" with that worker's pid): recorded in metrics.json. None for a
    job the pool lost otherwise (killed with it by loky, or not started): it is run again."""
    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
    with open_dict(cfg):
        cfg.hydra.job.num = idx
    job = SweepDir(Path(str(cfg.hydra.sweep.dir))).job(cfg.hydra.sweep.subdir)  # as Hydra's run_job makes it
    job_dir = job.folder
    record = ran_by(job, died, since)
    if record is None:
        return None
    error = f"worker process {_worker_deaths.describe(died[record.pid])}"
    write_record(job_dir, record.ended(Status.FAILED, error, "WorkerKilled"))
    log.error("Job %s (%s): %s; recorded as failed", job_dir.name, " ".join(filter_overrides(overrides)), error)
    return failed_job(OmegaConf.to_container(cfg.hydra.overrides.task), WorkerKilled(error), cfg=cfg,
                      working_dir=str(job_dir), task_name=cfg.hydra.job.name)
