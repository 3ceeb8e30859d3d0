"""The tracking line of a sweep's summary, read from the tracking.json that tracking=mlflow keeps in the sweep
directory. Here, in report, so that the summary reads the file without importing the tracking package (which
sits above report): the file is the contract between the two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from medsweep.record.sweep_dir import SweepDir


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def tracking_line(directory: Path) -> Optional[str]:
    """One line on the tracking of a sweep (or a single run) for its summary, from its tracking.json; None
    where it was not tracked. The summary written at the end of a sweep comes before the sweep's last jobs and
    its parent run are logged: tracking.json then says "logging". TypeError where tracking.json is not as
    medsweep writes it (e.g. "logged": 5)."""
    doc = _read_json(SweepDir(directory).tracking_file)
    if not isinstance(doc, dict) or not doc.get("status"):
        return None
    if doc["status"] != "logging":
        return doc.get("message") or f"MLflow tracking: {doc['status']}"
    parent = f", parent run {doc['parent']}" if doc.get("parent") else ""
    return (f"MLflow: experiment {doc.get('experiment')!r} in {doc.get('uri')}{parent}; "
            f"{len(doc.get('logged') or {})} jobs logged as they ended, the rest when the sweep ends "
            f"(a sweep stopped before its end: medsweep track {Path(directory).resolve()})")
