"""Which worker processes died by themselves (killed by the OS, crashed), as opposed to those that loky
killed after them.

When a worker dies, loky marks its pool broken and SIGKILLs every other worker (their queues may be left
in a dirty state), so every running job dies, and with the same exit status. Loky does that in
``kill_workers``, one ``process_executor.kill_process_tree(process)`` call per worker, the dead one
included. Looking at each process just before that call tells them apart: one that has already exited
died first, and its exit code says how; one still running is loky's collateral. Loky documents no hook
for this; ``recorded`` has that one module-level function wrapped while a launch runs
(_joblib_compat.before_loky_kills_a_worker, and says so where it is missing).
"""

from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ._joblib_compat import before_loky_kills_a_worker

log = logging.getLogger(__name__)


@contextmanager
def recorded() -> Iterator[Callable[[], dict[int, int]]]:
    """While the block runs (one launch), record each worker found dead when loky cleans up a broken pool.
    Yields ``take``: the workers that died by themselves since its last call, pid -> exit code (negative:
    the signal)."""
    died_first: dict[int, int] = {}

    def look(process: Any) -> None:
        code = process.exitcode  # runs in loky's manager thread, before it kills the process
        if code is not None:
            died_first[process.pid] = code

    def take() -> dict[int, int]:
        found = dict(died_first)
        died_first.clear()
        return found

    with before_loky_kills_a_worker(look) as hooked:
        if not hooked:
            log.warning("joblib's loky has no process_executor.kill_process_tree: a job whose worker is killed "
                        "cannot be told from the jobs stopped with it; all of them are run again")
        yield take


def describe(exit_code: int) -> str:
    """'killed by SIGKILL (out of memory?)', 'killed by SIGSEGV', 'exited with code 3'."""
    if exit_code >= 0:
        return f"exited with code {exit_code}"
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = f"signal {-exit_code}"
    # The Linux OOM killer sends SIGKILL, and so does `kill -9`.
    return f"killed by {name}" + (" (out of memory?)" if -exit_code == signal.SIGKILL else "")
