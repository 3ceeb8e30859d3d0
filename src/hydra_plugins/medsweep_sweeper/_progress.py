"""Live progress of a sweep, read from the jobs' metrics.json files, so it works with any launcher."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional, TextIO

from medsweep.job_files import FINAL_STATUSES as FINAL
from medsweep.job_files import METRICS_FILE, Status, read_metrics


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
            elif status == Status.RUNNING:
                running += 1
        counts = Counter(self.final.values())
        counts["running"] = running
        return counts

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
