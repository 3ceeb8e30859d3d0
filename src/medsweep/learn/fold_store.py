"""A job's finished folds kept on disk, so that a job stopped after its first folds (racing's screening,
job/race_screening.py) goes on later from where it stopped instead of training them again.

One file per fold, ``<job>/.folds/fold_<n>.npz``: the fold model's outputs on its test rows, its threshold and
its training history, with what they belong to (the job's ``key``: its config; the data file's sha256; the
test rows). A fold is reused only where all of these match; the fold's metrics and prediction rows are
computed again from the outputs, by the code that computed them the first time, so a job that goes on gives
exactly the numbers of one that never stopped. Read with ``allow_pickle=False``: a file put there by someone
else can fail to load, never run code.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from medsweep.record.outputs import atomic_path

FOLDER = ".folds"


@dataclass
class SavedFold:
    out: np.ndarray            # predict_proba (classification) or predict (regression) on the test rows
    threshold: Optional[float]  # the fold's decision threshold (None: none)
    history: list[dict]        # the fold's training history rows


class FoldStore:
    """The saved folds of one job (``folder``: its directory); ``key`` says which config they were trained with."""

    def __init__(self, job_dir: Path, key: str):
        self.folder = Path(job_dir) / FOLDER
        self.key = key

    def _path(self, fold: int) -> Path:
        return self.folder / f"fold_{fold:03d}.npz"

    def save(self, fold: int, rows: np.ndarray, data_sha256: Optional[str], saved: SavedFold) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"key": self.key, "data": data_sha256, "threshold": saved.threshold, "history": saved.history}
        with atomic_path(self._path(fold)) as tmp:
            with open(tmp, "wb") as fh:  # a file object: numpy would add ".npz" to a path
                np.savez(fh, out=np.asarray(saved.out), rows=np.asarray(rows),
                         meta=np.array(json.dumps(meta, default=float)))

    def load(self, fold: int, rows: np.ndarray, data_sha256: Optional[str]) -> Optional[SavedFold]:
        """Fold ``fold``'s outputs, where they were saved for this key, this data file and these test rows;
        None otherwise (never saved, another config's, unreadable)."""
        path = self._path(fold)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(str(npz["meta"]))
                if meta.get("key") != self.key or meta.get("data") != data_sha256:
                    return None
                if not np.array_equal(npz["rows"], np.asarray(rows)):
                    return None
                out = np.array(npz["out"])
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            return None
        return SavedFold(out=out, threshold=meta.get("threshold"), history=list(meta.get("history") or []))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
