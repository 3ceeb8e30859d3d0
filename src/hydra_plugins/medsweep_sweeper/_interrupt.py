"""Ctrl+C and SIGTERM for a whole sweep: stop starting jobs, stop running ones, leave no process behind."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from medsweep.record.liveness import alive

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class SweepInterrupted(KeyboardInterrupt):
    """Raised in the sweep's main thread by SIGINT or SIGTERM. A KeyboardInterrupt, so that joblib
    aborts its workers exactly as it does on Ctrl+C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = EXIT_CODES[signum]


@contextmanager
def signals_interrupt_sweep() -> Iterator[None]:
    def handler(signum, frame):
        raise SweepInterrupted(signum)

    previous = {s: signal.signal(s, handler) for s in EXIT_CODES}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def ignore_signals() -> None:
    """While cleaning up after an interrupt: a second Ctrl+C must not cut the cleanup short."""
    for s in EXIT_CODES:
        signal.signal(s, signal.SIG_IGN)


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux /proc; empty elsewhere)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _ignores_sigint(pid: int) -> bool:
    """True for a process that ignores SIGINT (the forkserver workers are forked from does)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def stop_children(grace_s: float = 3.0) -> list[int]:
    """SIGINT every descendant process (a job records itself as interrupted; one that ignores SIGINT gets
    SIGTERM), SIGKILL what is left after ``grace_s`` (looked up again: a pool may have started a process
    meanwhile); returns the PIDs stopped.
    Resource trackers are left to exit by themselves when this process does: they ignore signals, and
    they clean up the workers' shared memory."""
    def ours() -> list[int]:
        return [p for p in descendants(os.getpid()) if not _is_resource_tracker(p)]

    pids = ours()
    deaf = [p for p in pids if _ignores_sigint(p)]
    _signal_all([p for p in pids if p not in deaf], signal.SIGINT)
    _signal_all(deaf, signal.SIGTERM)
    left = _wait_gone(pids, grace_s)
    late = [p for p in ours() if p not in pids]
    if left or late:
        _signal_all(left + late, signal.SIGKILL)
        _wait_gone(left + late, 2.0)
    # Reap what we can so no zombie outlives us either.
    for pid in pids + late:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return pids + late
