"""Watching jobs end, in two ways.

:class:`JobWatch`, the one poller of a sweep's finished jobs: it reads the jobs' records (metrics.json) as they
change and tells each subscriber once per job as it ends, whatever launcher runs the jobs. The sweeper's
progress display subscribes to it; so can tracking (log each job's run as it ends) and anything else that must
follow a sweep, instead of polling the files itself.

:func:`watch`, for a job whose process dies without recording how it ended, even when nobody else would notice:
a single run, ``medsweep reproduce``, or a sweep running its job in its own process. A process killed by a
signal (SIGSEGV in a parser under an address-space limit, SIGKILL from the OOM killer) cannot write its own
metrics.json, which then says "running" for ever. A launcher's workers are watched by the sweep (their deaths
are recorded by the launcher or the sweeper); for the other cases the job starts a small watcher process
holding the read end of a pipe whose only write end the job's process holds. The pipe closes when that process
ends, however it ends; the watcher then finds metrics.json still "running" with the job's PID only if the job
never recorded its end, and records it as failed. A job that ends normally closes its end itself after its last
record, and the watcher exits without writing.

The watcher process imports only what reads and writes metrics.json (no pandas): it starts in a few tens of ms.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Optional

from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord, Status, read_record, write_record
from medsweep.record.sweep_dir import SweepDir

log = logging.getLogger(__name__)

# Told of each job as it ends: its number, its paths and its final record.
Subscriber = Callable[[int, JobPaths, JobRecord], None]


class JobWatch:
    """Polls the records of jobs ``nums`` in ``sweep_dir`` (every ``interval_s`` once started) and tells each
    subscriber once per job as it ends. Only records written since the watch began count: a resumed job's
    record of an earlier run is not news. A subscriber that raises is said in the log, never stops the watch."""

    def __init__(self, sweep_dir: Path, nums: Iterable[int], interval_s: float = 0.5):
        self.sweep = SweepDir(sweep_dir)
        self.nums = list(nums)
        self.interval_s = interval_s
        self.final: dict[int, str] = {}     # job -> how it ended
        self.running = 0                    # jobs recorded "running" at the last poll
        self.since = time.time() - 1.0
        self._subscribers: list[Subscriber] = []
        self._after_poll: list[Callable[[], None]] = []
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medsweep-job-watch", daemon=True)

    def subscribe(self, callback: Subscriber) -> None:
        """``callback(num, job paths, record)`` once for each job as it ends (from the watch's thread)."""
        self._subscribers.append(callback)

    def after_poll(self, callback: Callable[[], None]) -> None:
        """``callback()`` after each timed poll (a display redraws)."""
        self._after_poll.append(callback)

    def poll(self) -> Counter:
        """Read the records of the jobs not ended yet; tell the subscribers of those that have. How many jobs
        ended each way, and ``running``."""
        with self._poll_lock:
            running = 0
            for num in self.nums:
                if num in self.final:
                    continue
                job = self.sweep.job(num)
                record = read_record(job.folder) if job.metrics_written_since(self.since) else None
                if record is not None and record.final:
                    self.final[num] = record.status
                    self._tell(num, job, record)
                elif record is not None and record.running:
                    running += 1
            self.running = running
            return self.counts()

    def counts(self) -> Counter:
        counts = Counter(self.final.values())
        counts["running"] = self.running
        return counts

    def _tell(self, num: int, job: JobPaths, record: JobRecord) -> None:
        for callback in self._subscribers:
            try:
                callback(num, job, record)
            except Exception as exc:  # noqa: BLE001 - a subscriber's problem is its own, not the sweep's
                log.warning("%s on job %s raised %s: %s", getattr(callback, "__qualname__", callback), num,
                            type(exc).__name__, exc)

    def start(self) -> "JobWatch":
        self._thread.start()
        return self

    def stop(self) -> Counter:
        """Stop polling, after one last poll (jobs that ended since the last tick are told too)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.poll()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()
            for callback in self._after_poll:
                callback()

_started: list[subprocess.Popen] = []  # watchers not yet reaped (reaped as later ones start)


class Watcher:
    def __init__(self, write_end: int) -> None:
        self._fd: Optional[int] = write_end

    def close(self) -> None:
        """The job has recorded its end: the watcher exits without writing."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def watch(job_dir: Path) -> Optional[Watcher]:
    """Start a watcher for the job run by this process in ``job_dir``; None where it cannot start (the
    job runs all the same, unwatched)."""
    _started[:] = [p for p in _started if p.poll() is None]
    read_end, write_end = os.pipe()  # not inherited by the processes the job starts (PEP 446)
    try:
        _started.append(subprocess.Popen(
            [sys.executable, "-m", "medsweep.record.watch", str(os.getpid()), str(job_dir)], stdin=read_end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True))  # not stopped by the terminal's Ctrl+C with the job: it must outlive it
    except OSError:
        os.close(write_end)
        return None
    finally:
        os.close(read_end)
    return Watcher(write_end)


def record_if_lost(pid: int, job_dir: Path) -> bool:
    """After the process ``pid`` ended: record its job failed if metrics.json still says it runs it."""
    record = read_record(job_dir)
    if record is None or not record.running or record.pid != pid:
        return False
    error = (f"the job's process (PID {pid}) died without recording a result: killed by a signal or crashed "
             "(a crash such as SIGSEGV in a parser, or out of memory?); see its train.log for how far it got")
    write_record(job_dir, record.ended(Status.FAILED, error, "WorkerKilled"))
    return True


def _main(pid: int, job_dir: Path) -> int:
    while os.read(0, 4096):  # until EOF: the job's process has ended or closed its end
        pass
    record_if_lost(pid, job_dir)
    return 0


if __name__ == "__main__":
    sys.exit(_main(int(sys.argv[1]), Path(sys.argv[2])))
