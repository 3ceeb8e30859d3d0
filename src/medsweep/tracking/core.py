"""What is left of tracking.py once it was split (backend.py, mlflow/, callback.py, offline.py; the command's
arguments in medsweep.cli.track): the summary's tracking line, until the report reads tracking.json itself.
Imports no MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from medsweep.record.files import TRACKING_FILE
from medsweep.tracking.mlflow.runs import read_json


def describe(directory: Path) -> Optional[str]:
    """One line on the tracking of a sweep (or a single run) for its summary, from its tracking.json; None
    where it was not tracked. Imports no MLflow. The summary written at the end of a sweep comes before the
    sweep's last jobs and its parent run are logged: tracking.json then says "logging"."""
    doc = read_json(Path(directory) / TRACKING_FILE)
    if not isinstance(doc, dict) or not doc.get("status"):
        return None
    if doc["status"] != "logging":
        return doc.get("message") or f"MLflow tracking: {doc['status']}"
    parent = f", parent run {doc['parent']}" if doc.get("parent") else ""
    return (f"MLflow: experiment {doc.get('experiment')!r} in {doc.get('uri')}{parent}; "
            f"{len(doc.get('logged') or {})} jobs logged as they ended, the rest when the sweep ends "
            f"(a sweep stopped before its end: medsweep track {Path(directory).resolve()})")


def log_job(job_dir: Path) -> str:
    """Kept only while the sweeper's progress still calls it (when this module is loaded): it logs nothing.
    A job is logged by the tracking callback's backend, ``Track.backend.job_ended(job_dir)``, which its
    poller (or a watcher of finished jobs it subscribes to) calls as the job ends."""
    return "off"
