"""Is a job recorded as running still running? Its metrics.json says "running" with the PID of the
process running it; that process may have died (killed with its sweep, killed by the OS) or may still run
(a job whose sweep process was killed, on a launcher whose jobs outlive it). A PID can be reused by a
later process: it counts only if that process started before the job did. A record naming another host
(its "host", where the job wrote one) is not checked: that PID means nothing here."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Optional

from medsweep.record.job_record import JobRecord

# /proc start times are in clock ticks since boot, boot time in whole seconds, started_at to the second.
_SLACK_S = 2.0


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    try:  # a zombie is dead but still listed until reaped
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _started(pid: int) -> Optional[float]:
    """When process ``pid`` started (seconds since the epoch); None where /proc cannot say."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def still_running(record: Optional[JobRecord]) -> bool:
    """True where ``record`` says "running" and its process is alive and is the one that started the job."""
    if record is None or not record.running:
        return False
    pid = record.pid
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if record.has("host") and record.host != socket.gethostname():
        return False  # a PID of another machine (SLURM, a Ray cluster) cannot be checked from here
    if not alive(pid):
        return False
    started = _started(pid)
    try:
        job_started = datetime.fromisoformat(str(record.started_at)).timestamp()
    except ValueError:
        return True
    return started is None or started <= job_started + _SLACK_S
