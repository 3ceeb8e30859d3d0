"""How much of the CPU a job may use. No heavy imports: the sweep's parent process uses it too."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity and taskset respected, unlike os.cpu_count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_share() -> int:
    """Threads this job may use: what the launcher gave its worker (loky sets OMP_NUM_THREADS), else all."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return usable_cores()
