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

from medsweep.record.files import Status

from ._interrupt import alive

# /proc start times are in clock ticks since boot, boot time in whole seconds, started_at to the second.
_SLACK_S = 2.0


def _started(pid: int) -> Optional[float]:
    """When process ``pid`` started (seconds since the epoch); None where /proc cannot say."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def still_running(record: dict) -> bool:
    """True where ``record`` (a job's metrics.json) says "running" and its process is alive and is the
    one that started the job."""
    pid = record.get("pid")
    if record.get("status") != Status.RUNNING or not isinstance(pid, int) or pid <= 0:
        return False
    if record.get("host", socket.gethostname()) != socket.gethostname():
        return False  # a PID of another machine (SLURM, a Ray cluster) cannot be checked from here
    if not alive(pid):
        return False
    started = _started(pid)
    try:
        job_started = datetime.fromisoformat(str(record.get("started_at"))).timestamp()
    except ValueError:
        return True
    return started is None or started <= job_started + _SLACK_S
