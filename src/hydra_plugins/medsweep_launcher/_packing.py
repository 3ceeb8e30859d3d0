"""How a SLURM launch packs medsweep jobs into array tasks (``hydra.launcher.jobs_per_task``).

Every array task starts a fresh Python that imports scikit-learn, pandas and matplotlib (seconds of CPU)
and goes through the scheduler (a queue wait, a launch); a job of the embedded cohorts takes half a second.
Packing runs ``jobs_per_task`` jobs in one task, on a warm pool of ``cpus_per_task`` workers inside its
allocation (medsweep's joblib launcher: a worker's death fails only its own job).
"""

from __future__ import annotations

from typing import List

from hydra.errors import CompactHydraException


class PackingError(CompactHydraException, ValueError):
    """A launcher option that cannot work, said in one line before any job starts."""


def check_jobs_per_task(value: object) -> int:
    """``hydra.launcher.jobs_per_task`` as an int >= 1, else a one-line error naming the key and value."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PackingError(f"hydra.launcher.jobs_per_task={value!r}: must be a whole number >= 1 (jobs run in "
                           "one SLURM array task; 1: one task per job)")
    return value


def task_chunks(n_jobs: int, jobs_per_task: int) -> List[range]:
    """The jobs (0 .. n_jobs-1) of each array task: consecutive runs of ``jobs_per_task``, spread evenly so
    that no task is left with a remainder of one or two (25 jobs by 10: 9, 8, 8, not 10, 10, 5)."""
    jobs_per_task = check_jobs_per_task(jobs_per_task)
    if n_jobs <= 0:
        return []
    tasks = -(-n_jobs // jobs_per_task)
    base, extra = divmod(n_jobs, tasks)
    chunks, start = [], 0
    for t in range(tasks):
        size = base + (1 if t < extra else 0)
        chunks.append(range(start, start + size))
        start += size
    return chunks


def pool_size(cpus_per_task: int | None, jobs_in_task: int) -> int:
    """Workers of a packed task: one per CPU of its allocation, never more than its jobs."""
    return max(1, min(cpus_per_task or 1, jobs_in_task))


def pool_env_overrides(threads: int) -> List[str]:
    """Hydra overrides for the jobs of a packed task: the preset gives each job the task's CPUs
    (``hydra.job.env_set``); in a pool of one worker per CPU each job gets ``threads``."""
    return [f"++hydra.job.env_set.MEDSWEEP_CPU_SHARE={threads}", f"++hydra.job.env_set.OMP_NUM_THREADS={threads}"]
