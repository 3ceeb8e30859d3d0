"""Where a job's files are written. Every file is written to a temporary name and renamed into place,
so a killed job never leaves a half-written file that a summary or a resume would trust."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # pandas is slow to import, and the sweep's parent process only reads JSON
    import pandas as pd

METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
PREDICTIONS_FILE = "predictions.csv"
MODEL_FILE = "model.skops"
SWEEP_FILE = "sweep.json"  # in the sweep directory, written by the sweeper: command, times, job list


def now() -> str:
    """The time stamps written into metrics.json and sweep.json: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto it when the block succeeds, removed otherwise."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_csv(path: Path, frame: "pd.DataFrame") -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_metrics(job_dir: Path) -> dict | None:
    """A job's metrics.json, or None where it has none (not started, or killed before writing)."""
    try:
        return json.loads((Path(job_dir) / METRICS_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
