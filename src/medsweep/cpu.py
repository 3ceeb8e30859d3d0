"""How much of the CPU a job may use. No heavy imports: the sweep's parent process uses it too.

A job's CPU share travels in medsweep's own environment variable, MEDSWEEP_CPU_SHARE: set by medsweep's
joblib launcher for each job it runs (``cpu_share_set``), and by the launcher presets that give a job its
CPUs. ``cpu_share`` is the one place that reads it. OMP_NUM_THREADS stays what it is for BLAS and OpenMP
(the launchers set it as before); it is read only where no share was passed: a limit put on the process
by the user, or by a launcher that sets nothing else (Ray sets it to a task's ``num_cpus``).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator, Optional

CPU_SHARE_ENV = "MEDSWEEP_CPU_SHARE"


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity and taskset respected, unlike os.cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _threads_in(variable: str) -> Optional[int]:
    try:
        return max(1, int(os.environ[variable]))
    except (KeyError, ValueError):
        return None


def _share_given() -> Optional[int]:
    """The share passed to this process (MEDSWEEP_CPU_SHARE), else the thread limit it was started with
    (OMP_NUM_THREADS); None where neither is set."""
    return _threads_in(CPU_SHARE_ENV) or _threads_in("OMP_NUM_THREADS")


def cpu_share() -> int:
    """Threads this job may use: the share its launcher passed (MEDSWEEP_CPU_SHARE), else the thread limit
    its process was started with (OMP_NUM_THREADS: the user's, or Ray's), else every usable core."""
    return _share_given() or usable_cores()


def worker_share(workers: int) -> int:
    """The share of each of ``workers`` jobs run at once from this process: its own share where it was
    given one (a sweep inside a SLURM allocation, ``OMP_NUM_THREADS=2 python train.py -m ...``), else its
    usable cores divided among them (what loky gives each worker for OpenMP and BLAS)."""
    return _share_given() or max(1, usable_cores() // max(1, workers))


@contextmanager
def cpu_share_set(threads: int) -> Iterator[None]:
    """Within the block, ``cpu_share()`` is ``threads``, in this process and in those it starts; the
    previous value is restored after it."""
    previous = os.environ.get(CPU_SHARE_ENV)
    os.environ[CPU_SHARE_ENV] = str(threads)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CPU_SHARE_ENV, None)
        else:
            os.environ[CPU_SHARE_ENV] = previous
