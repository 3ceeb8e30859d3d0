"""The jobs' own warnings on the sweep's console: read from each finished job's train.log, printed once per sweep
each, naming the jobs that gave it (`jobs #0-#11: trainer.epochs=50 is not used by estimator ...`).

The workers print nothing on the console while the sweep draws its progress (job.callbacks.CheckConfig), so
their lines are never glued to it; the job's log file has every line. Left out here: what the console shows
elsewhere, the warnings the job recorded in metrics.json (listed in the leaderboard) and the error of a job
that did not complete (the sweeper lists it at the end), and the traceback written to the log after it.
"""

from __future__ import annotations

import re

from medsweep.escape import one_line
from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord, record_warnings
from medsweep.record.sweep_dir import job_numbers

# A line of Hydra's job log format ("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s") at WARNING or above.
_LINE = re.compile(r"^\[[^\]]*\]\[[^\]]*\]\[(WARNING|ERROR|CRITICAL)\] - (.*)$")
# The most distinct warnings shown; beyond, one line says how many more (each job's train.log has them all).
MAX_SHOWN = 20
# A log file read up to this size (a runaway log is not read whole at the end of a sweep).
MAX_LOG_BYTES = 4 << 20


def log_warnings(job: JobPaths, record: JobRecord) -> list[str]:
    """The WARNING and ERROR lines of a finished job's train.log that the console shows nowhere else."""
    try:
        with open(job.log, "rb") as f:
            text = f.read(MAX_LOG_BYTES).decode("utf-8", "replace")
    except OSError:
        return []
    recorded = {w["message"] for w in record_warnings(record)}
    out = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        message = match.group(2).strip()
        if (not message or message in recorded or message.startswith("Traceback")
                or (record.error and not record.completed and str(record.error) in message)):
            continue
        out.append(one_line(message, 300))
    return out


class JobWarnings:
    """Collects the warnings of the jobs as they end (``add``) and gives one line per distinct message with
    the jobs that gave it (``lines``), in the order first seen. ``relay=False`` (verbose: the workers printed
    their lines themselves) collects nothing."""

    def __init__(self, relay: bool = True):
        self.relay = relay
        self.jobs: dict[str, list[int]] = {}

    def add(self, num: int, job: JobPaths, record: JobRecord) -> None:
        if not self.relay:
            return
        for message in dict.fromkeys(log_warnings(job, record)):
            self.jobs.setdefault(message, []).append(num)

    def lines(self) -> list[str]:
        items = list(self.jobs.items())
        lines = [f"{'job' if len(nums) == 1 else 'jobs'} {job_numbers(nums)}: {message}"
                 for message, nums in items[:MAX_SHOWN]]
        if len(items) > MAX_SHOWN:
            lines.append(f"... {len(items) - MAX_SHOWN} more distinct warnings in the jobs' train.log")
        return lines
