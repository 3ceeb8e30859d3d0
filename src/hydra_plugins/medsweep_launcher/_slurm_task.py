"""What one SLURM array task runs (pickled by submitit, called on the compute node): its medsweep jobs.

One job: in the task's own process, as Hydra's submitit launcher runs it. Several (packed): on a warm
pool of one worker per CPU of the allocation, through medsweep's joblib launcher, so a job's failure, or
its worker's death, fails only that job, and each job keeps its own directory, log and record.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, run_job, setup_globals
from omegaconf import open_dict, read_write

from ._packing import pool_env_overrides, pool_size

log = logging.getLogger(__name__)

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MEDSWEEP_CPU_SHARE")


class ArrayTask:
    """The callable submitit runs in each array task. No ``checkpoint`` method on purpose: submitit would
    then requeue the whole task on SLURM's early-warning signal (USR2, ``signal_delay_s`` before the time
    limit), running its jobs again."""

    def __init__(self, config: Any, hydra_context: Any, task_function: Any, cpus_per_task: Optional[int],
                 gpus_per_job: int) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.cpus_per_task = cpus_per_task
        self.gpus_per_job = gpus_per_job

    def __call__(self, jobs: Sequence[Tuple[List[str], int]], singleton_state: dict) -> List[JobReturn]:
        # SLURM's warning before the time limit: let the jobs run on; at the limit SLURM stops the task and
        # the sweep records its unfinished jobs as timed out.
        signal.signal(signal.SIGUSR2, lambda *_: log.warning("SLURM: the task's time limit is near"))
        Singleton.set_state(singleton_state)
        setup_globals()
        if len(jobs) == 1:
            return [self._run_here(*jobs[0])]
        return self._run_pool(jobs)

    def _run_here(self, overrides: List[str], idx: int) -> JobReturn:
        import submitit

        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(sweep_config.hydra.job):
            sweep_config.hydra.job.id = submitit.JobEnvironment().job_id
            sweep_config.hydra.job.num = idx
        ret = run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=sweep_config,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        seen = os.environ.get("CUDA_VISIBLE_DEVICES")
        if self.gpus_per_job and seen:  # the task's own GPUs (SLURM's allocation), recorded as the pool does
            from ._core import record_devices

            record_devices(Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir),
                           seen.split(","))
        return ret

    def _run_pool(self, jobs: Sequence[Tuple[List[str], int]]) -> List[JobReturn]:
        from .medsweep_launcher import MedsweepJoblibLauncher

        workers = pool_size(self.cpus_per_task, len(jobs))
        threads = max(1, (self.cpus_per_task or 1) // workers)
        for var in THREAD_VARS:  # the workers' BLAS and estimators: their share, not the allocation's
            os.environ[var] = str(threads)
        with read_write(self.config.hydra.overrides):
            self.config.hydra.overrides.hydra.extend(pool_env_overrides(threads))
        pool = MedsweepJoblibLauncher(n_jobs=workers, gpus_per_job=self.gpus_per_job, backend=None,
                                      prefer="processes", require=None, verbose=0, timeout=None,
                                      pre_dispatch="2*n_jobs", batch_size="auto", temp_folder=None,
                                      max_nbytes=None, mmap_mode="r")
        pool.setup(hydra_context=self.hydra_context, task_function=self.task_function, config=self.config)
        # the jobs of a task are consecutive in their batch (_packing.task_chunks): numbered from the first
        return list(pool.launch([o for o, _ in jobs], initial_job_idx=jobs[0][1]))
