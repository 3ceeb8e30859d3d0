"""One process at a time per sweep directory.

Two processes writing one sweep (a resume started while the sweep, or another resume, still runs) would
run the same jobs twice in the same directories and overwrite finished results. The sweep holds an OS
lock (``flock``) on ``<sweep dir>/sweep.lock`` for its whole life; the kernel drops it when the holder
exits, however it exits, so a crashed or killed sweep never blocks a later resume. The file holds the
holder's PID, for the message of the process that is refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Optional

from medsweep.job_files import LOCK_FILE


class SweepLock:
    def __init__(self, fd: int):
        self._fd: Optional[int] = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


def try_lock(sweep_dir: Path) -> Optional[SweepLock]:
    """The lock on ``sweep_dir``, or None where another process holds it. The descriptor is not inherited
    by the processes the sweep starts (Python opens it close-on-exec), so it dies with this process."""
    fd = os.open(sweep_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:  # a full disk: the lock holds all the same, only the PID is not shown to others
        pass
    return SweepLock(fd)


def holder(sweep_dir: Path) -> str:
    """'PID 1234' of the process holding the lock, as it wrote it."""
    try:
        pid = (sweep_dir / LOCK_FILE).read_text().strip()
    except OSError:
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "PID unknown"
