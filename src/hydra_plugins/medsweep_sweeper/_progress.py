"""Live progress of a sweep, from record.watch.JobWatch (the one poller of the jobs' records, so it works with
any launcher): a line per finished job, and done / total, running, failed, elapsed and the time left.

Whatever else must follow the jobs as they end (tracking logs each job's run) is given to :class:`Progress` as a
subscriber of the same watch; :func:`job_subscribers` finds them among the sweep's Hydra callbacks."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, TextIO

from medsweep.escape import one_line
from medsweep.record.files import JobPaths
from medsweep.record.job_record import FINAL_STATUSES as FINAL
from medsweep.record.job_record import JobRecord, Status
from medsweep.record.watch import JobWatch, Subscriber

# The method of a Hydra callback that wants each job of a sweep as it ends: on_job_recorded(job_dir, record).
SUBSCRIBER_METHOD = "on_job_recorded"


def job_subscribers(callbacks: Any) -> list[Subscriber]:
    """The sweep's Hydra callbacks (``hydra_context.callbacks``, or a list of callback objects) that define
    ``on_job_recorded(job_dir, record)``, as subscribers of the job watch."""
    objects: Iterable[Any] = getattr(callbacks, "callbacks", callbacks) or ()
    subscribers = []
    for callback in objects:
        method = getattr(callback, SUBSCRIBER_METHOD, None)
        if callable(method):
            subscribers.append(lambda num, job, record, method=method: method(job.folder, record))
    return subscribers


def job_line(num: int, record: JobRecord | dict) -> str:
    """`#3 completed  model=als estimator=mlp  roc_auc 0.781 (0.712-0.850)`, or the error of a failed job."""
    if not isinstance(record, JobRecord):
        record = JobRecord.from_json(record)
    overrides = " ".join(str(o) for o in record.overrides or []) or "(defaults)"
    text = f"#{num} {record.status}  {overrides}"
    metric = record.primary()
    if record.completed and metric.get("mean") is not None:
        value = metric.get("pooled", metric["mean"])
        interval = f" ({metric['lower']:.3f}-{metric['upper']:.3f})" if metric.get("lower") is not None else ""
        text += f"  {record.primary_metric} {value:.3f}{interval}"
    elif record.error:
        text += f"  {one_line(record.error_type or 'error', 80)}: {one_line(record.error, 200)}"
    return text


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Reports the jobs ``nums`` of ``sweep_dir`` as they end, from a JobWatch it starts and stops: a redrawn bar
    on a terminal, a line per change elsewhere. ``subscribers`` are told of each job as it ends too."""

    def __init__(self, sweep_dir: Path, nums: list[int], stream: Optional[TextIO] = None,
                 interval_s: float = 0.5, subscribers: Sequence[Subscriber] = ()):
        self.sweep_dir, self.nums = sweep_dir, list(nums)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.watch = JobWatch(sweep_dir, nums, interval_s)
        self.watch.subscribe(self._finished)
        for subscriber in subscribers:
            self.watch.subscribe(subscriber)
        self.watch.after_poll(self._show)
        self.final = self.watch.final
        self.started = time.monotonic()
        self._last = ""
        self._last_print = 0.0

    def start(self) -> "Progress":
        self.watch.start()
        return self

    def stop(self) -> None:
        self.watch.stop()
        self._show(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def poll(self) -> Counter:
        return self.watch.poll()

    def _finished(self, num: int, job: JobPaths, record: JobRecord) -> None:
        """One line per finished job: the console's record of the sweep (each job's log is in its train.log)."""
        self.stream.write(("\r\033[K" if self.tty else "") + "[medsweep] " + job_line(num, record) + "\n")
        self.stream.flush()

    def line(self, counts: Counter) -> str:
        total, done = len(self.nums), len(self.final)
        elapsed = time.monotonic() - self.started
        left = f"~{_clock(elapsed / done * (total - done))} left" if 0 < done < total else ""
        outcomes = ", ".join(f"{counts[s]} {s}" for s in FINAL if counts[s] or s in (Status.COMPLETED, Status.FAILED))
        text = (f"{done}/{total} jobs done ({outcomes}), "
                f"{counts['running']} running, {_clock(elapsed)} elapsed {left}").rstrip()
        if self.tty:
            width = 24
            filled = int(width * done / total) if total else width
            text = f"[{'#' * filled}{'.' * (width - filled)}] {text}"
        return "[medsweep] " + text

    def _show(self, force: bool = False) -> None:
        """Redraw (after each poll of the watch), or on ``force`` the final count (nothing running any more)."""
        counts = self._counts() if force else self.watch.counts()
        text = self.line(counts)
        key = text.split(", ")[0] + str(counts["running"])  # redraw on a change, not on every tick
        if self.tty:
            self.stream.write("\r\033[K" + text)
        elif force or key != self._last or time.monotonic() - self._last_print > 30:
            self.stream.write(text + "\n")
            self._last_print = time.monotonic()
        self._last = key
        self.stream.flush()

    def _counts(self) -> Counter:
        counts = Counter(self.final.values())
        counts["running"] = 0
        return counts
