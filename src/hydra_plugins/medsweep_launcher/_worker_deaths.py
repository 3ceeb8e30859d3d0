"""Which worker processes died by themselves (killed by the OS, crashed), as opposed to those that loky
killed after them.

When a worker dies, loky marks its pool broken and SIGKILLs every other worker (their queues may be left
in a dirty state), so every running job dies, and with the same exit status. Loky does that in
``kill_workers``, one ``process_executor.kill_process_tree(process)`` call per worker, the dead one
included. Looking at each process just before that call tells them apart: one that has already exited
died first, and its exit code says how; one still running is loky's collateral. Loky documents no hook
for this; ``install`` wraps that one module-level function (and says so where it is missing).
"""

from __future__ import annotations

import logging
import signal

log = logging.getLogger(__name__)

# pid -> exit code of each worker found dead when loky cleaned up its broken pool (negative: the signal)
_died_first: dict[int, int] = {}


def install() -> bool:
    """Start recording; False where this loky has no ``kill_process_tree`` to wrap."""
    try:
        from joblib.externals.loky import process_executor
    except ImportError:
        return False
    original = getattr(process_executor, "kill_process_tree", None)
    if original is None:
        log.warning("joblib's loky has no process_executor.kill_process_tree: a job whose worker is killed "
                    "cannot be told from the jobs stopped with it; all of them are run again")
        return False
    if getattr(original, "medsweep_records", False):
        return True

    def kill_process_tree(process, *args, **kwargs):
        code = process.exitcode  # runs in loky's manager thread, before it kills the process
        if code is not None:
            _died_first[process.pid] = code
        return original(process, *args, **kwargs)

    kill_process_tree.medsweep_records = True
    process_executor.kill_process_tree = kill_process_tree
    return True


def take() -> dict[int, int]:
    """The workers that died by themselves since the last call: pid -> exit code."""
    found = dict(_died_first)
    _died_first.clear()
    return found


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
