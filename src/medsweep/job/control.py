"""What can stop a job from outside its training code: time limits, interrupts, injected faults."""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional


class JobTimeout(Exception):
    """The job ran past its time limit (timeout_min)."""


class TransientError(RuntimeError):
    """A failure worth retrying (raised by debug.fail_attempts to rehearse one)."""


class Deadline:
    """A per-job time limit. In the main thread SIGALRM interrupts a long fit; elsewhere (some launchers
    run jobs in threads) the limit is checked after every epoch."""

    def __init__(self, minutes: Optional[float]):
        self.seconds = None if minutes is None else float(minutes) * 60
        self.end = None if self.seconds is None else time.monotonic() + self.seconds

    def check(self) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise JobTimeout(f"job ran past its time limit of timeout_min={self.seconds / 60:g} minutes")

    @contextmanager
    def enforced(self) -> Iterator[None]:
        if self.end is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_alarm(signum, frame):
            raise JobTimeout(f"job ran past its time limit of timeout_min={self.seconds / 60:g} minutes")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(self.end - time.monotonic(), 1e-3))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def epoch_hook(deadline: Deadline, sleep_s: float) -> Callable[[], None]:
    """Run after every epoch: the optional rehearsal sleep, then the time-limit check."""

    def hook() -> None:
        if sleep_s:
            time.sleep(sleep_s)
        deadline.check()

    return hook
