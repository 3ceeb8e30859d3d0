"""Hydra's submitit launcher on SLURM (same options: ``hydra.launcher.partition=cpu`` ...), with what a sweep
of medsweep jobs needs (``hydra/launcher=slurm``):

- packing: ``jobs_per_task`` jobs in one array task, run on a warm pool of ``cpus_per_task`` workers in
  its allocation (_packing.py, _slurm_task.py): far fewer tasks, and one Python start-up per task;
- ``gpus_per_job``: each task asks for its jobs' GPUs (``--gres=gpu:n``), and each worker sees its own;
- a task SLURM ends (``scancel``, its time limit, a node failure) fails only its own jobs: each one it was
  running is recorded ``timeout`` (past the time limit) or ``failed`` (``SlurmCancelled``), jobs it had
  finished keep their results, the other tasks' jobs theirs, and the sweep goes on (_slurm_watch.py:
  without SLURM's accounting database too);
- an interrupted sweep (Ctrl+C, SIGTERM) cancels its tasks still queued or running.

Imported by Hydra's plugin scan in every process: submitit is imported inside the methods, and this module
is empty where the submitit plugin is not installed (``pip install "medsweep[slurm]"``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

from medsweep.record.job_record import Status, read_record, write_record

from ._gpus import check_gpus_per_job
from ._packing import check_jobs_per_task, pool_size, task_chunks

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
except ImportError:  # the [slurm] extra is not installed: no launcher to offer
    SlurmLauncher = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)

OWN_KEYS = ("jobs_per_task", "gpus_per_job")


class SlurmTaskEnded(RuntimeError):
    """SLURM ended the array task running this job (scancel, time limit, node failure) before it finished."""


if SlurmLauncher is not None:

    class MedsweepSlurmLauncher(SlurmLauncher):  # type: ignore[misc,valid-type]
        def __init__(self, jobs_per_task: Any = 1, gpus_per_job: Any = 0, **params: Any) -> None:
            super().__init__(**params)
            self.jobs_per_task = check_jobs_per_task(jobs_per_task)
            self.gpus_per_job = check_gpus_per_job(gpus_per_job)

        def _executor(self, jobs_in_task: int) -> Any:
            """submitit's executor with the launcher's options, as Hydra's submitit launcher builds it; a
            task's GPUs are its workers'."""
            import submitit
            from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

            params = dict(self.params)
            if self.gpus_per_job and not params.get("gres"):
                workers = 1 if jobs_in_task == 1 else pool_size(params.get("cpus_per_task"), jobs_in_task)
                params["gres"] = f"gpu:{self.gpus_per_job * workers}"
            executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                             slurm_max_num_timeout=params.pop("max_num_timeout"))
            shared = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(**{k if k in shared else f"slurm_{k}": v for k, v in params.items()})
            return executor

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            from . import _slurm_watch
            from ._slurm_task import ArrayTask

            assert self.config is not None and len(job_overrides) > 0
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            chunks = task_chunks(len(job_overrides), self.jobs_per_task)
            log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
            for idx, overrides in enumerate(job_overrides):
                log.info(f"\t#{initial_job_idx + idx} : {' '.join(filter_overrides(overrides))}")
            task = ArrayTask(self.config, self.hydra_context, self.task_function, self.params.get("cpus_per_task"),
                             self.gpus_per_job)
            executor = self._executor(max(len(c) for c in chunks))
            state = Singleton.get_state()
            args = [[(list(job_overrides[n]), initial_job_idx + n) for n in chunk] for chunk in chunks]
            jobs = executor.map_array(task, args, [state] * len(args))
            log.info("Submitted %d job(s) as %d SLURM array task(s) (%s jobs per task): job %s", len(job_overrides),
                     len(jobs), self.jobs_per_task, jobs[0].job_id.split("_")[0])
            try:
                last_states = _slurm_watch.wait(jobs)
            except BaseException:  # Ctrl+C, SIGTERM: no task runs on for nobody
                _slurm_watch.cancel(jobs)
                raise
            returns: List[JobReturn] = []
            for job, chunk in zip(jobs, chunks):
                returns += self._task_returns(job, [list(job_overrides[n]) for n in chunk],
                                              last_states.get(job.job_id))
            return returns

        def _task_returns(self, job: Any, overrides: List[List[str]], last_state: Optional[str]) -> List[JobReturn]:
            """The results of one array task; for a task that ended without them, each job's own record."""
            from . import _slurm_watch

            if not job.paths.result_pickle.exists() and last_state in (None, "COMPLETED"):
                time.sleep(2)  # ended well: a shared filesystem may show its result file late
            if job.paths.result_pickle.exists():
                try:
                    return list(job.results()[0])
                except Exception as exc:  # noqa: BLE001 - the task itself failed: its jobs as recorded
                    why = f"the array task failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                    return [self._lost_job(o, None, why) for o in overrides]
            ending = _slurm_watch.slurm_ending(job.stderr(), last_state)
            why = ending.line if ending else f"the array task ended without a result (last state {last_state})"
            return [self._lost_job(o, ending, why) for o in overrides]

        def _lost_job(self, overrides: List[str], ending: Any, why: str) -> JobReturn:
            """A job of a task that ended without returning: what its record says where it finished, else
            recorded now as timed out (SLURM's time limit) or failed."""
            from hydra_plugins.medsweep_sweeper._hydra_compat import failed_job

            job_dir = _job_dir(self.config, overrides)
            record = read_record(job_dir) if job_dir else None
            if record is not None and record.status in (Status.COMPLETED, Status.PRUNED):
                return JobReturn(overrides=overrides, status=JobStatus.COMPLETED,
                                 working_dir=str(job_dir))
            if record is not None and record.status in (Status.FAILED, Status.TIMEOUT) and record.error:
                return failed_job(overrides, SlurmTaskEnded(record.error), working_dir=str(job_dir))
            timeout = bool(ending and ending.timeout)
            error = (f"SLURM time limit ({self.params.get('timeout_min')} min): {why}" if timeout
                     else f"SLURM ended the job's array task: {why}" if ending else why)
            kind = "SlurmTimeLimit" if timeout else "SlurmCancelled" if ending else "SlurmTaskLost"
            if record is not None:  # running, or "interrupted" by SLURM's SIGTERM
                write_record(job_dir, record.ended(Status.TIMEOUT if timeout else Status.FAILED, error, kind))
                log.error("Job %s (%s): %s; recorded as %s", job_dir.name, " ".join(filter_overrides(overrides)),
                          error, "timeout" if timeout else "failed")
            return failed_job(overrides, SlurmTaskEnded(error), working_dir=str(job_dir) if job_dir else None)


def _job_dir(config: Any, overrides: Sequence[str]) -> Optional[Path]:
    """The job's directory: in the sweep's, the subdir medsweep's sweeper gives each job."""
    subdir = next((o.split("=", 1)[1] for o in overrides if o.startswith("hydra.sweep.subdir=")), None)
    return None if subdir is None else Path(str(config.hydra.sweep.dir)) / subdir
