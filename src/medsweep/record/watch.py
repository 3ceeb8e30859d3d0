"""A job whose process dies without recording how it ended is recorded as failed, even when nobody else
would notice: a single run, ``medsweep reproduce``, or a sweep running its job in its own process.

A process killed by a signal (SIGSEGV in a parser under an address-space limit, SIGKILL from the OOM killer)
cannot write its own metrics.json, which then says "running" for ever. A launcher's workers are watched by
the sweep (their deaths are recorded by the launcher or the sweeper); for the other cases the job starts a
small watcher process holding the read end of a pipe whose only write end the job's process holds. The
pipe closes when that process ends, however it ends; the watcher then finds metrics.json still "running"
with the job's PID only if the job never recorded its end, and records it as failed. A job that ends
normally closes its end itself after its last record, and the watcher exits without writing.

The watcher imports only what reads and writes metrics.json (no pandas): it starts in a few tens of ms.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

from medsweep.record.files import Status, read_metrics, write_metrics
from medsweep.record.outputs import now

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
    record = read_metrics(job_dir)
    if not record or record.get("status") != Status.RUNNING or record.get("pid") != pid:
        return False
    error = (f"the job's process (PID {pid}) died without recording a result: killed by a signal or crashed "
             "(a crash such as SIGSEGV in a parser, or out of memory?); see its train.log for how far it got")
    write_metrics(job_dir, {**record, "status": Status.FAILED, "error": error, "error_type": "WorkerKilled",
                            "finished_at": now()})
    return True


def _main(pid: int, job_dir: Path) -> int:
    while os.read(0, 4096):  # until EOF: the job's process has ended or closed its end
        pass
    record_if_lost(pid, job_dir)
    return 0


if __name__ == "__main__":
    sys.exit(_main(int(sys.argv[1]), Path(sys.argv[2])))
