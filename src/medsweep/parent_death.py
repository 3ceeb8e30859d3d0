"""A process that dies with its parent, even when the parent is killed by ``kill -9`` (Linux): the
kernel sends it SIGKILL when its parent exits (``prctl(PR_SET_PDEATHSIG)``). Used by every helper process
medsweep starts that must not outlive what started it (the data-cache builder; the launcher's forkserver
and its workers). Elsewhere (no prctl) it does nothing and says so."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> bool:
    """SIGKILL this process when ``parent`` (which must be its parent) exits; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before prctl: no signal will ever come
        os.kill(os.getpid(), signal.SIGKILL)
    return True
