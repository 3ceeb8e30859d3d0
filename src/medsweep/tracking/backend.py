"""What a tracking backend implements: the Hydra callback (callback.py) and ``medsweep track`` (offline.py)
talk to a store only through this interface, so a second backend (another tracking server) is one class
beside :class:`medsweep.tracking.mlflow.tracker.Tracker`, one :class:`~medsweep.tracking.callback.Track`
subclass that builds it, and one YAML under conf/tracking/.

The contract every backend keeps: only the sweep's own (parent) process calls it, from the files the jobs
wrote (jobs never touch a store); logging is idempotent (a job whose files have not changed is not logged
again, a later result updates what was logged); a store that fails stops the logging, never the sweep.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Optional

from medsweep import escape
from medsweep.record.sweep_dir import SweepDir

# What job_ended answers: logged for the first time, logged again with a later result, logged already with
# these files, not ended yet, nothing logged (tracking off or stopped, or not a job of this sweep), failed.
JOB_OUTCOMES = ("new", "updated", "unchanged", "pending", "off", "error")


class TrackingError(Exception):
    """The tracking store cannot be reached or used (one line)."""


def one_line(text: Any, limit: int = 500) -> str:
    """An error or a message as one line of a tag or a warning."""
    return escape.one_line(text, limit)


class Backend(ABC):
    """One sweep directory (or one single run's directory) logged to one store. Thread-safe: a thread that
    watches the jobs and the end of the sweep may call it at once.

    The results of :meth:`sweep_ended` and :meth:`run_ended` are ``{"status": "logged" | "incomplete" |
    "off", "message": one line, "outcomes": {outcome: number of jobs}, ...}``, or None where tracking is off.
    """

    name = "tracking"        # in messages: "<name> tracking is off ..."

    @abstractmethod
    def connect(self) -> None:
        """Open the store now (before any job starts where the store is required); TrackingError where it
        cannot be used, and tracking stays off."""

    @abstractmethod
    def where(self) -> str:
        """How a person looks at what was logged (a command or an address)."""

    @property
    @abstractmethod
    def active(self) -> bool:
        """False once tracking is off or has stopped midway: watching the jobs is then pointless."""

    @abstractmethod
    def sweep_started(self, sweep_dir: Path) -> None:
        """The sweep this process runs has claimed ``sweep_dir``: log its jobs there from now on. Also
        gathers what every run gets (e.g. the git commit): called off the sweep's main thread."""

    @abstractmethod
    def job_ended(self, job_dir: Path) -> str:
        """Log one job of the sweep now, from its files (one of JOB_OUTCOMES). Any number of calls: what a
        watcher of finished jobs subscribes."""

    def flush(self) -> None:
        """Write out whatever a backend put off while jobs ended in quick succession (e.g. its state file)."""

    @abstractmethod
    def sweep_ended(self, sweep_dir: Path) -> Optional[dict]:
        """Log every job of a sweep that is over (what job_ended has not), its summary and its status."""

    @abstractmethod
    def run_ended(self, run_dir: Path) -> Optional[dict]:
        """Log a single run (no -m) as a run of its own."""


# -- which sweep this process runs ---------------------------------------------------------------------------
def _lock_pid(directory: Path) -> Optional[str]:
    try:
        return SweepDir(directory).lock_file.read_text().strip()
    except OSError:
        return None


def ours(directory: Path) -> bool:
    """Whether ``directory`` is the sweep this process runs: medsweep's sweeper locks its directory with this
    process's id in the lock file (another sweep started in the same second writes to ``<dir>-1``); sweeps
    of other sweepers have no lock file."""
    if not SweepDir(directory).sweep_file.is_file() and not any(p.name.isdigit() for p in directory.glob("[0-9]*")):
        return False
    pid = _lock_pid(directory)
    return pid is None or pid == str(os.getpid())


def our_sweep_dir(requested: Path) -> Optional[Path]:
    """The directory the sweeper claimed for this process's sweep: ``requested`` or ``requested-<n>``."""
    candidate, n = requested, 0
    while candidate.is_dir():
        if _lock_pid(candidate) == str(os.getpid()) and SweepDir(candidate).sweep_file.is_file():
            return candidate
        n += 1
        candidate = requested.with_name(f"{requested.name}-{n}")
    return None
