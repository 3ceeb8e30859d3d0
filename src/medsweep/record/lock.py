"""One process at a time per sweep directory.

Two processes writing one sweep (a resume started while the sweep, or another resume, still runs) would
run the same jobs twice in the same directories and overwrite finished results. The sweep holds an OS
lock (``flock``) on ``<sweep dir>/sweep.lock`` for its whole life; the kernel drops it when the holder
exits, however it exits, so a crashed or killed sweep never blocks a later resume. The file holds the
holder's PID, for the message of the process that is refused. It is never opened through a link: a
``sweep.lock`` that is a symbolic link (or a hard link, or not a regular file) would have the PID written
into whatever it names, so the sweep is refused instead.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import Optional

from medsweep.record.files import LOCK_FILE

# Never through a link, never inherited, and never blocking on a planted FIFO (then refused: not a regular file).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class LockRefused(OSError):
    """``sweep.lock`` is not a plain file of its own: a link, or something else planted there."""


def _open_lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError:
        if os.path.islink(path):
            raise LockRefused(f"{path} is a symbolic link") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise LockRefused(f"{path} is not a regular file" if not stat.S_ISREG(st.st_mode) else
                          f"{path} has other names (hard links)")
    return fd


class SweepLock:
    def __init__(self, fd: int):
        self._fd: Optional[int] = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


def try_lock(sweep_dir: Path) -> Optional[SweepLock]:
    """The lock on ``sweep_dir``, or None where another process holds it. The descriptor is not inherited
    by the processes the sweep starts (close-on-exec), so it dies with this process. LockRefused where
    ``sweep.lock`` is a link or not a regular file: nothing is written through it."""
    fd = _open_lock(sweep_dir / LOCK_FILE)
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
        fd = os.open(sweep_dir / LOCK_FILE, os.O_RDONLY | _NOFOLLOW)
        try:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
    except OSError:
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "PID unknown"
