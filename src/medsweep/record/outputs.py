"""How files are written: to a temporary name, then renamed into place, so a killed job never leaves a
half-written file that a summary or a resume would trust. (Which files there are: files.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from medsweep.escape import csv_restored, csv_safe

if TYPE_CHECKING:  # pandas is slow to import, and the sweep's parent process only reads JSON
    import pandas as pd


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
    """``frame`` as CSV, each text cell a spreadsheet would evaluate as a formula neutralised (escape.csv_safe:
    ``=1+1`` is written ``'=1+1``; numbers as they are)."""
    with atomic_path(path) as tmp:
        csv_safe(frame).to_csv(tmp, index=False)


def read_csv(path: Path, **kwargs: Any) -> "pd.DataFrame":
    """A CSV medsweep wrote (predictions, subgroups, summary) with text cells as they were before
    neutralising: a patient ``=1+1`` is read as ``=1+1``, as the data file and metrics.json have it."""
    import pandas as pd

    return csv_restored(pd.read_csv(path, **kwargs))


def overwrite_json_in_place(path: Path, data: Any) -> bool:
    """The last resort on a full disk, where the atomic write cannot create its temporary file: rewrite
    ``path`` within the disk blocks it already holds. Done only when the new content fits in them, so the
    write needs no new space and cannot stop halfway; returns whether it was done."""
    content = (json.dumps(data, indent=2, default=str) + "\n").encode()
    try:
        with open(path, "r+b") as f:
            if len(content) > os.fstat(f.fileno()).st_blocks * 512:
                return False
            f.write(content)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
        return True
    except OSError:
        return False


def sha256_of_file(path: Path) -> str:
    """The sha256 of a file's bytes (data files in metrics.json's provenance, model.skops's model_sha256)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
