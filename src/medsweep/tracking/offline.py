"""``medsweep track <dir>``: log a sweep (or a single run) that has ended, to the store it was tracked to
before or to one given. Its arguments are parsed by medsweep.cli.track; this is the library function."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from medsweep.record.files import METRICS_FILE, SWEEP_FILE, JobPaths
from medsweep.record.sweep_dir import SweepDir
from medsweep.record.lock import holder, try_lock
from medsweep.tracking.backend import TrackingError
from medsweep.tracking.mlflow.runs import read_json
from medsweep.tracking.mlflow.tracker import Tracker
from medsweep.tracking.mlflow.uri import DEFAULT_EXPERIMENT, resolve_uri


def track(directory: Path, uri: Optional[str] = None, experiment: Optional[str] = None,
          register_best: bool = False) -> dict:
    """Log a sweep (or a single run's directory) that is over. Without ``uri``/``experiment``: the store and
    experiment it was tracked to last, else ./mlflow.db and "medsweep". What was done (the backend's
    result) with the ``uri`` and ``experiment`` used; TrackingError where it cannot be logged."""
    directory = Path(directory).resolve()
    job, sweep = JobPaths(directory), SweepDir(directory)
    single = job.metrics.is_file()
    if not single and not sweep.sweep_file.is_file() and not any(
            p.is_dir() and p.name.isdigit() for p in directory.iterdir()):
        raise TrackingError(f"{directory} is neither a sweep directory ({SWEEP_FILE} or numbered job folders) nor "
                            f"a run's directory ({METRICS_FILE})")
    recorded = read_json(sweep.tracking_file)
    recorded = recorded if isinstance(recorded, dict) else {}
    cwd = Path.cwd()
    resolved = resolve_uri(uri if uri is not None else recorded.get("uri"), cwd)
    name = experiment or (recorded.get("experiment") if resolved == recorded.get("uri") else None) or DEFAULT_EXPERIMENT
    tracker = Tracker(resolved, name, register_best, cwd)
    lock = None
    if not single:
        lock = try_lock(directory)  # a sweep still running (or being resumed) logs itself
        if lock is None:
            raise TrackingError(f"{directory} is in use by a running sweep ({holder(directory)}); it is tracked when "
                                "it ends if it runs with tracking=mlflow, else track it once it has ended")
    try:
        tracker.connect()
        result = tracker.run_ended(directory) if single else tracker.sweep_ended(directory)
    finally:
        if lock is not None:
            lock.release()
    assert result is not None
    return {**result, "uri": resolved, "experiment": name}
