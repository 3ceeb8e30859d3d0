"""Worker processes that stop when the sweep process dies, even by ``kill -9`` (Linux).

Loky's workers are forked from the forkserver (_warm_workers.py), not from the sweep process. The
forkserver itself leaves its loop only when the sweep's end of a pipe closes, and not while it is still
importing; its workers never notice: they take the next queued job and run it for nobody. So each link
of the chain asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``): the
forkserver when the sweep process dies, each worker when the forkserver dies. The kernel sends it when the
*thread* that forked the process exits: the forkserver forks workers from its only thread, and
``start_warm_workers`` starts the forkserver only from the sweep's main thread, which lives as long as the
sweep. SIGKILL, not SIGTERM: an orphaned job has nobody to report to, and the resume re-runs it (its
metrics.json still says "running", with a PID that is dead).

Elsewhere (no prctl) nothing changes: the forkserver still ends with the sweep, its workers do not.
"""

from __future__ import annotations

import os

from medsweep.parent_death import die_with_parent

# Set by start_warm_workers for the forkserver: the PID of the sweep process it must die with.
PARENT_ENV = "MEDSWEEP_FORKSERVER_PARENT"

__all__ = ["PARENT_ENV", "children_die_with_this_process", "die_with_parent"]


_forking: list[int] = []  # the PID of the process about to fork (set in the parent, read in the child)


def _before_fork() -> None:
    _forking[:] = [os.getpid()]


def _after_fork_in_child() -> None:
    if _forking:
        die_with_parent(_forking[0])


def children_die_with_this_process() -> None:
    """Every process forked from this one from now on (the forkserver's workers) dies with it."""
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
