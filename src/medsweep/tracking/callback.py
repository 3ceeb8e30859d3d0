"""The Hydra callback of experiment tracking (registered by conf/tracking/mlflow.yaml). It runs only in the
sweep's own process: it checks the store before any job starts, logs each job once its metrics.json says it
ended, and when the sweep ends logs what is left, the summary files and the sweep's status. Under medsweep's
sweeper a job's end comes from the sweep's one watcher of finished jobs (``on_job_recorded``, which the
sweeper subscribes); under another sweeper (Optuna's) a thread of this callback looks at the job files. No on_job_* hooks: jobs never touch
the store, so parallel workers never race on SQLite, and jobs on nodes that cannot reach the store
(submitit, Ray) are tracked all the same.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from medsweep.record.files import JobPaths
from medsweep.record.sweep_dir import SweepDir
from medsweep.tracking.backend import Backend, TrackingError, our_sweep_dir, ours

log = logging.getLogger(__name__)

SETTLE_S = 0.5      # a job is logged once its final metrics.json is this old (its log has its last line)


class _JobPoller(threading.Thread):
    """In the sweep's process: opens the store (unless that was done already), then tells the backend of
    each job as soon as it has ended, so logging overlaps the sweep instead of following it."""

    def __init__(self, backend: Backend, requested: Path, interval_s: float = 0.25):
        super().__init__(name="medsweep-tracking", daemon=True)
        self.backend, self.requested, self.interval_s = backend, requested, interval_s
        self._stopped = threading.Event()
        self.subscribed = threading.Event()  # the sweeper tells of each job: this thread only opens the store
        self._jobs: list[dict] = []
        self._mtimes: dict[str, int] = {}   # job -> the metrics.json last handed to the backend

    def run(self) -> None:
        backend, sweep_dir = self.backend, None
        try:
            backend.connect()
        except TrackingError as exc:
            log.warning("%s tracking is off for this sweep: %s. The sweep runs; log it later with "
                        "`medsweep track <sweep dir>`", backend.name, exc)
        try:
            while not self._stopped.is_set():
                if sweep_dir is None:
                    sweep_dir = our_sweep_dir(self.requested)
                    if sweep_dir is not None:
                        backend.sweep_started(sweep_dir)
                if sweep_dir is not None:
                    if not backend.active:
                        return
                    if not self.subscribed.is_set():
                        self._look(sweep_dir)
                    backend.flush()
                self._stopped.wait(self.interval_s)
        except Exception as exc:  # noqa: BLE001 - the end of the sweep logs whatever this missed
            log.debug("Tracking's watcher stopped: %s", exc)

    def _look(self, sweep_dir: Path) -> None:
        """One look at the jobs: each one whose metrics.json changed and has settled goes to the backend."""
        sweep, jobs = SweepDir(sweep_dir), self._jobs
        if not jobs:
            info, jobs = sweep.jobs()
            if info.get("command"):  # sweep.json's list: written as the sweep starts, it does not change
                self._jobs = jobs
        for job in jobs:
            if not self.backend.active:
                return
            key, paths = str(job["num"]), sweep.job(job["dir"])
            try:
                st = paths.metrics.stat()
            except OSError:
                continue
            if self._mtimes.get(key) == st.st_mtime_ns or time.time() - st.st_mtime < SETTLE_S:
                continue
            if self.backend.job_ended(paths.folder) not in ("off", "error"):
                self._mtimes[key] = st.st_mtime_ns

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _refuse(label: str, reason: str) -> None:
    sys.stderr.write(f"{label} tracking store unusable and tracking.required=true, nothing was run: {reason}\n")
    # SystemExit, not an exception: Hydra turns callback exceptions into warnings.
    raise SystemExit(1)


def _report(result: Optional[dict], backend: Backend) -> None:
    if result is None:
        return
    if result["status"] == "logged":
        log.info("%s. See: %s", result["message"], backend.where())
    else:
        log.warning(result["message"])


class Track(Callback):
    """Tracking of a sweep or a single run through a :class:`Backend` that :meth:`make_backend` builds from
    the config's ``tracking`` settings. The callback keeps its backend itself (no module global): a watcher of
    finished jobs logs a job by calling ``self.backend.job_ended(job_dir)``."""

    label = "Experiment"   # in messages: "<label> tracking is off: ..."

    def __init__(self) -> None:
        self.backend: Optional[Backend] = None
        self._poller: Optional[_JobPoller] = None

    def make_backend(self, settings: DictConfig, start_dir: Path) -> Backend:
        raise NotImplementedError

    # Launchers pickle Hydra's callbacks with every job they send to a worker: what a worker gets is a
    # bare instance (no store, no thread), which does nothing there.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def _start(self, config: DictConfig) -> Optional[Backend]:
        settings = config.get("tracking")
        try:
            start_dir = Path(str(config.hydra.runtime.cwd or os.getcwd()))
            self.backend = self.make_backend(settings, start_dir) if settings is not None else None
        except TrackingError as exc:
            if config.tracking.get("required"):
                _refuse(self.label, str(exc))
            log.warning("%s tracking is off: %s", self.label, exc)
            self.backend = None
        if self.backend is not None and config.tracking.get("required"):
            try:
                self.backend.connect()
            except TrackingError as exc:
                _refuse(self.label, str(exc))
        return self.backend

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("dry_run") or self._start(config) is None:
            return
        self._poller = _JobPoller(self.backend, self._sweep_dir(config))
        self._poller.start()

    def on_job_recorded(self, job_dir: Path, record: Any) -> None:
        """A job's final record, from medsweep's sweeper (its watcher of finished jobs): logged now, if the
        store is open yet; else at the sweep's end."""
        poller = self._poller
        if poller is None or self.backend is None:
            return
        poller.subscribed.set()
        if self.backend.active:
            self.backend.job_ended(Path(job_dir))  # 'off' while the store is not open yet

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        backend = self.backend
        if backend is None:
            return
        if self._poller is not None:
            self._poller.stop()
        sweep_dir = self._sweep_dir(config)
        if not sweep_dir.is_dir() or not ours(sweep_dir):
            return  # stopped before it had a directory
        _report(backend.sweep_ended(sweep_dir), backend)

    @staticmethod
    def _sweep_dir(config: DictConfig) -> Path:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        start_dir = Path(str(config.hydra.runtime.cwd or os.getcwd()))
        return sweep_dir if sweep_dir.is_absolute() else start_dir / sweep_dir

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.config.schema import config_errors

        if not config_errors(config):  # else CheckConfig stops the run
            self._start(config)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        backend = self.backend
        if backend is None:
            return
        try:
            backend.connect()
        except TrackingError as exc:
            log.warning("%s tracking is off for this run: %s", self.label, exc)
        run_dir = Path(str(config.hydra.runtime.output_dir))
        if JobPaths(run_dir).metrics.is_file():
            _report(backend.run_ended(run_dir), backend)


class TrackMLflow(Track):
    """``tracking=mlflow`` (conf/tracking/mlflow.yaml): the MLflow backend."""

    label = "MLflow"

    def make_backend(self, settings: DictConfig, start_dir: Path) -> Backend:
        from medsweep.tracking.mlflow.tracker import Tracker
        from medsweep.tracking.mlflow.uri import DEFAULT_EXPERIMENT, resolve_uri

        if settings.get("backend", "mlflow") != "mlflow":
            raise TrackingError(f"tracking.backend={settings.backend!r} is not allowed: must be mlflow")
        experiment = str(settings.get("experiment") or DEFAULT_EXPERIMENT)
        return Tracker(resolve_uri(settings.get("uri"), start_dir), experiment, bool(settings.get("register_best")),
                       start_dir)
