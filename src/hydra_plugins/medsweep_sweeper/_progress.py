"""Live progress of a sweep, from record.watch.JobWatch (the one poller of the jobs' records, so it works with
any launcher): done / total, running, failed, elapsed and the time left, and a line for each job that did not
complete (its status and error type; the error itself is listed once, at the end, by the sweeper).

On a terminal the progress is a bar redrawn in place (tqdm): every line printed while it runs, the sweep's own
log lines included (tqdm's logging redirect), is written above it, never glued to it. Elsewhere (a CI log, a
pipe) the output is lines only: one when a job does not complete, and a count every HEARTBEAT_S while jobs
run. Completed jobs are listed in the leaderboard at the end; ``verbose=true`` also prints a line for each
(and every job's log lines, so it draws no bar).

The jobs' own warnings reach the console through their train.log (the workers print nothing while the bar is
drawn: job.callbacks.CheckConfig), once per sweep, each naming the jobs that gave it (_job_warnings.py).

Whatever else must follow the jobs as they end (tracking logs each job's run) is given to :class:`Progress` as a
subscriber of the same watch; :func:`job_subscribers` finds them among the sweep's Hydra callbacks."""

from __future__ import annotations

import contextlib
import io
import os
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

from ._job_warnings import JobWarnings

# The method of a Hydra callback that wants each job of a sweep as it ends: on_job_recorded(job_dir, record).
SUBSCRIBER_METHOD = "on_job_recorded"
# Off a terminal, a progress line this often while jobs run (a CI log shows the sweep is alive), and the final
# count after them; a shorter sweep prints none (the leaderboard's first line counts its jobs).
HEARTBEAT_S = 120.0


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


def varying(jobs: Sequence[Sequence[str]]) -> set[str]:
    """The override keys whose value is not the same in every job (what tells the jobs apart)."""
    values: dict[str, set] = {}
    for job in jobs:
        keys = dict(str(o).partition("=")[::2] for o in job)
        for key in set(values) | set(keys):
            values.setdefault(key, set()).add(keys.get(key))
    return {k for k, v in values.items() if len(v) > 1}


def job_line(num: int, record: JobRecord | dict, shown: Optional[set[str]] = None, error: bool = True) -> str:
    """`#3 completed  model=als estimator=mlp  roc_auc 0.781 (0.712-0.850)`, or the error of a job that did not
    complete (``error=False``: its type only). ``shown``: the override keys to show (None: all)."""
    if not isinstance(record, JobRecord):
        record = JobRecord.from_json(record)
    overrides = [str(o) for o in record.overrides or []]
    if shown is not None:
        overrides = [o for o in overrides if o.partition("=")[0] in shown]
    text = f"#{num} {record.status}  {' '.join(overrides) or '(defaults)'}".rstrip()
    metric = record.primary()
    if record.completed and metric.get("mean") is not None:
        value = metric.get("pooled", metric["mean"])
        interval = f" ({metric['lower']:.3f}-{metric['upper']:.3f})" if metric.get("lower") is not None else ""
        text += f"  {record.primary_metric} {value:.3f}{interval}"
    elif record.error and error:
        text += f"  {one_line(record.error_type or 'error', 80)}: {one_line(record.error, 200)}"
    elif record.error:
        text += f"  {one_line(record.error_type or 'error', 80)} (its error: at the end)"
    return text


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _AboveBar:
    """A text stream whose lines are written above the progress bar drawn on ``bar_stream`` (tqdm clears it,
    the line is written, the bar redrawn), so that nothing printed on the same terminal is glued to it."""

    def __init__(self, wrapped: Any, bar_stream: Any) -> None:
        self._wrapped, self._bar_stream, self._buffer = wrapped, bar_stream, ""

    def write(self, text: str) -> int:
        from tqdm import tqdm

        lines, _, self._buffer = (self._buffer + text).rpartition("\n")
        if lines or _:
            with tqdm.external_write_mode(file=self._bar_stream):
                self._wrapped.write(lines + "\n")
                self._wrapped.flush()
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self.write("\n")

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ...: the wrapped stream's
        return getattr(self._wrapped, name)


def _width(stream: TextIO) -> int:
    """0 where the terminal reports its size (the bar follows it), else 100 (and 20 rows: tqdm draws nothing on
    a terminal of 0 rows)."""
    try:
        return 0 if os.get_terminal_size(stream.fileno()).columns > 0 else 100
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 100


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Reports the jobs ``nums`` of ``sweep_dir`` as they end, from a JobWatch it starts and stops: a redrawn bar
    on a terminal, lines elsewhere (module docstring). ``overrides``: every job's overrides (by number), to
    show only what tells the jobs apart; ``verbose``: a line for every job, never a bar. ``subscribers`` are
    told of each job as it ends too."""

    def __init__(self, sweep_dir: Path, nums: list[int], stream: Optional[TextIO] = None,
                 interval_s: float = 0.5, subscribers: Sequence[Subscriber] = (),
                 overrides: Optional[Sequence[Sequence[str]]] = None, verbose: bool = False):
        self.sweep_dir, self.nums = sweep_dir, list(nums)
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.tty = self.stream.isatty() and not verbose
        self.shown = varying(overrides) if overrides is not None and len(overrides) > 1 else None
        self.warnings = JobWarnings(relay=not verbose)
        self.not_completed: dict[int, JobRecord] = {}  # failed, timeout, interrupted: listed at the end
        self.watch = JobWatch(sweep_dir, nums, interval_s)
        self.watch.subscribe(self._finished)
        for subscriber in subscribers:
            self.watch.subscribe(subscriber)
        self.watch.after_poll(self._show)
        self.final = self.watch.final
        self.started = time.monotonic()
        self._last_print = self.started
        self._heartbeats = 0
        self._bar: Any = None
        self._redirect: Optional[contextlib.ExitStack] = None

    def start(self) -> "Progress":
        if self.tty:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            width = _width(self.stream)  # a terminal that reports no size (a pty, ``script``): 100 columns
            self._bar = tqdm(total=len(self.nums), file=self.stream, desc="[medsweep]", unit="job",
                             dynamic_ncols=not width, ncols=width or None, nrows=20 if width else None,
                             bar_format="{desc} {bar} "
                             "{n_fmt}/{total_fmt} jobs, {elapsed} elapsed, ~{remaining} left{postfix}")
            self._redirect = contextlib.ExitStack()
            self._redirect.enter_context(logging_redirect_tqdm())  # the sweep's log lines above the bar
            # and whatever else this process prints on the terminal meanwhile: the launcher's lines (its logging
            # is configured again for each batch, onto sys.stdout), Python's warnings
            if _is_terminal(sys.stdout):
                self._redirect.enter_context(contextlib.redirect_stdout(_AboveBar(sys.stdout, self.stream)))
            self._redirect.enter_context(contextlib.redirect_stderr(_AboveBar(sys.stderr, self.stream)))
        self.watch.start()
        return self

    def stop(self) -> None:
        self.watch.stop()
        self._show(force=True)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._redirect is not None:
            self._redirect.close()
            self._redirect = None
        for line in self.warnings.lines():
            self._write("[medsweep] " + line)

    def poll(self) -> Counter:
        return self.watch.poll()

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last_print = time.monotonic()

    def _finished(self, num: int, job: JobPaths, record: JobRecord) -> None:
        """A line for a job that did not complete, without its error (every job with ``verbose``); its
        warnings noted."""
        self.warnings.add(num, job, record)
        if not (record.completed or record.status == Status.PRUNED):
            self.not_completed[num] = record
        if self.verbose or num in self.not_completed:
            self._write("[medsweep] " + job_line(num, record, self.shown, error=False))

    def not_completed_lines(self) -> list[str]:
        """Each job that did not complete, with its error: the one place the sweep's console says it."""
        return ["  " + job_line(n, r, self.shown) for n, r in sorted(self.not_completed.items())]

    def line(self, counts: Counter) -> str:
        total, done = len(self.nums), len(self.final)
        elapsed = time.monotonic() - self.started
        left = f"~{_clock(elapsed / done * (total - done))} left" if 0 < done < total else ""
        text = (f"{done}/{total} jobs done ({self._outcomes(counts)}), "
                f"{counts['running']} running, {_clock(elapsed)} elapsed {left}").rstrip()
        return "[medsweep] " + text

    @staticmethod
    def _outcomes(counts: Counter) -> str:
        return ", ".join(f"{counts[s]} {s}" for s in FINAL if counts[s] or s in (Status.COMPLETED, Status.FAILED))

    def _show(self, force: bool = False) -> None:
        """After each poll of the watch: the bar's count, or (off a terminal) a line after HEARTBEAT_S without
        one; on ``force`` the final count (nothing running any more; off a terminal only after such lines)."""
        counts = self._counts() if force else self.watch.counts()
        if self._bar is not None:
            self._bar.set_postfix_str(f"{counts['running']} running, {self._outcomes(counts)}", refresh=False)
            self._bar.update(len(self.final) - self._bar.n)
        elif (force and self._heartbeats) or time.monotonic() - self._last_print >= HEARTBEAT_S:
            self._write(self.line(counts))
            self._heartbeats += 1

    def _counts(self) -> Counter:
        counts = Counter(self.final.values())
        counts["running"] = 0
        return counts
