"""Live progress of a sweep, read from the jobs' metrics.json files, so it works with any launcher."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional, TextIO

from medsweep.escape import one_line
from medsweep.record.files import FINAL_STATUSES as FINAL
from medsweep.record.files import METRICS_FILE, Status, read_metrics


def job_line(num: int, m: dict) -> str:
    """`#3 completed  model=als estimator=mlp  roc_auc 0.781 (0.712-0.850)`, or the error of a failed job."""
    overrides = " ".join(str(o) for o in m.get("overrides") or []) or "(defaults)"
    text = f"#{num} {m.get('status')}  {overrides}"
    metric = (m.get("metrics") or {}).get(m.get("primary_metric") or "", {})
    if m.get("status") == Status.COMPLETED and metric.get("mean") is not None:
        value = metric.get("pooled", metric["mean"])
        interval = f" ({metric['lower']:.3f}-{metric['upper']:.3f})" if metric.get("lower") is not None else ""
        text += f"  {m['primary_metric']} {value:.3f}{interval}"
    elif m.get("error"):
        text += f"  {one_line(m.get('error_type') or 'error', 80)}: {one_line(m['error'], 200)}"
    return text


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Polls the job directories of the jobs being run and reports done / total, running, failed,
    elapsed and an estimate of the time left: a redrawn bar on a terminal, a line per change elsewhere."""

    def __init__(self, sweep_dir: Path, nums: list[int], stream: Optional[TextIO] = None,
                 interval_s: float = 0.5):
        self.sweep_dir, self.nums = sweep_dir, list(nums)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval_s = interval_s
        self.final: dict[int, str] = {}
        self.started = time.monotonic()
        # A resumed job's metrics.json from an earlier run is not news: only files written since count.
        self.since = time.time() - 1.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="medsweep-progress", daemon=True)
        self._last = ""
        self._last_print = 0.0

    def start(self) -> "Progress":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()
        self._show(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def poll(self) -> Counter:
        running = 0
        for num in self.nums:
            if num in self.final:
                continue
            path = self.sweep_dir / str(num) / METRICS_FILE
            try:
                fresh = path.stat().st_mtime >= self.since
            except FileNotFoundError:
                fresh = False
            metrics = read_metrics(path.parent) if fresh else None
            status = metrics.get("status") if metrics else None
            if status in FINAL:
                self.final[num] = status
                self._finished(num, metrics)
                tracking = sys.modules.get("medsweep.tracking.core")  # loaded only with tracking=mlflow
                if tracking is not None:
                    tracking.log_job(self.sweep_dir / str(num))  # returns at once until the store is open
            elif status == Status.RUNNING:
                running += 1
        counts = Counter(self.final.values())
        counts["running"] = running
        return counts

    def _finished(self, num: int, metrics: dict) -> None:
        """One line per finished job: the console's record of the sweep (each job's log is in its train.log)."""
        self.stream.write(("\r\033[K" if self.tty else "") + "[medsweep] " + job_line(num, metrics) + "\n")
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
        counts = self.poll() if not force else self._counts()
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

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._show()
