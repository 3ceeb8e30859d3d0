"""Conditions under which a sweep cannot go on, and their one-line reasons: a full disk (every later job
would fail the same way), a launcher that gave up on its batch (submitit when a job's process is killed,
Ray when a worker crashes, joblib's own timeout). The sweep then stops as on Ctrl+C, but exits 1."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Optional

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class SweepStopped(Exception):
    """No new job starts; running ones are stopped and recorded. ``reason``: one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def disk_full(exc: Optional[BaseException]) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def disk_full_reason(where: Path, exc: OSError) -> str:
    """'disk full (No space left on device) writing <where>: filesystem <mount> has 0 KiB free'."""
    try:
        stats = os.statvfs(where if where.exists() else _mount_point(where))
        free = f"{stats.f_bavail * stats.f_frsize // 1024} KiB free"
    except OSError:
        free = "free space unknown"
    target = exc.filename or where
    return f"disk full ({os.strerror(exc.errno)}) writing {target}: filesystem {_mount_point(where)} has {free}"


def launcher_reason(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"the launcher gave up on its batch ({type(exc).__name__}: {first})"
