"""A job's log file on a full disk: each line that cannot be written is dropped without a word, instead of
Python's logging printing a traceback on stderr for every one (which would flood a sweep's console: the
job's own message says "disk full" once, metrics.json records it). Any other logging error is still
reported as Python reports it.

Scoped to the job's file handlers (Hydra gives each job its own), instead of ``logging.raiseExceptions =
False``, which would silence every logging error of the process from then on: of the next jobs of a worker,
and of the sweep's own process where a job runs in it (one worker, a single run).
"""

from __future__ import annotations

import errno
import logging
import sys
from typing import Optional

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _quiet_when_disk_full(handler: logging.Handler) -> None:
    report = handler.handleError  # the class's: prints "--- Logging error ---" and a traceback

    def handle_error(record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]  # handleError is called from inside the handler's except block
        if isinstance(error, OSError) and error.errno in DISK_FULL:
            return
        report(record)

    handle_error.quiet_when_disk_full = True  # type: ignore[attr-defined]
    handler.handleError = handle_error  # type: ignore[method-assign]


def quiet_log_files_when_disk_full(logger: Optional[logging.Logger] = None) -> None:
    """Make the file handlers of ``logger`` (the root logger: where Hydra puts the job's log file) drop a
    line they cannot write for lack of space, silently. Call it when the job starts, before its first
    line; calling it again changes nothing."""
    for handler in (logger or logging.getLogger()).handlers:
        if isinstance(handler, logging.FileHandler) and not getattr(handler.handleError, "quiet_when_disk_full",
                                                                    False):
            _quiet_when_disk_full(handler)
