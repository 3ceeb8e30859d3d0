"""Where a model's data comes from: a synthetic cohort, a scikit-learn bundled dataset, or a file.

:func:`load_dataset` turns a ``data`` config into a :class:`Dataset`: features, target, patient
groups, and a record of where the rows came from and which columns were left out and why.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd


class DataError(ValueError):
    """The data cannot be used as configured (a missing column, a single class, ...)."""


@dataclass
class Dataset:
    X: pd.DataFrame
    y: pd.Series
    groups: Optional[pd.Series]
    task: str
    target: str
    # Class labels as they appear in y (sorted); None for regression.
    classes: Optional[list] = None
    # Provenance shown with every result: source, name, path, sha256, synthetic, rows, columns.
    info: dict = field(default_factory=dict)
    # Columns that are not features, with the reason.
    excluded: dict = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return int(self.groups.nunique()) if self.groups is not None else len(self.y)


def _sha256_of_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha256_of_frame(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _load_sklearn(name: str) -> pd.DataFrame:
    from sklearn import datasets

    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return frame
    if name == "diabetes":
        bunch = datasets.load_diabetes(as_frame=True)
        frame = bunch.data.copy()
        frame["progression"] = bunch.target.to_numpy()
        return frame
    raise DataError(f"data.name={name!r} has no bundled scikit-learn dataset: choose breast_cancer or diabetes")


def read_table(path: Path, na_values: list, delimiter: Optional[str] = None) -> pd.DataFrame:
    """Read a CSV/TSV/delimited text file or a Parquet file; the file is only read."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    # sep=None lets the python engine sniff the delimiter (comma, semicolon, tab, ...).
    return pd.read_csv(path, sep=delimiter, engine="python" if delimiter is None else "c",
                       na_values=list(na_values), keep_default_na=True)


def resolve_path(data_cfg: Any, data_dir: Optional[str]) -> Optional[Path]:
    """The file a job trains on: ``data.path``, else ``data_dir``/``data.file``, else None (embedded)."""
    if data_cfg.get("path"):
        return Path(data_cfg.path).expanduser()
    if data_dir:
        if not data_cfg.get("file"):
            raise DataError(f"data_dir={data_dir!r} is set but model {data_cfg.name!r} names no data.file; "
                            "set data.path=<file> for this model")
        return Path(data_dir).expanduser() / data_cfg.file
    return None


def load_frame(data_cfg: Any, data_dir: Optional[str] = None) -> tuple[pd.DataFrame, dict]:
    """The raw table and where it came from."""
    path = resolve_path(data_cfg, data_dir)
    if path is not None:
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        frame = read_table(path, data_cfg.na_values, data_cfg.get("delimiter"))
        info = {"source": "file", "synthetic": False, "path": str(path.resolve()), "sha256": _sha256_of_file(path)}
    elif data_cfg.source == "sklearn":
        frame = _load_sklearn(data_cfg.name)
        info = {"source": "sklearn", "synthetic": False, "path": None}
    else:
        from medsweep.synthetic import make_cohort

        frame = make_cohort(data_cfg.name, seed=data_cfg.seed)
        info = {"source": "synthetic", "synthetic": True, "path": None, "cohort_seed": int(data_cfg.seed)}
    if path is None:
        info["sha256"] = _sha256_of_frame(frame)
    info = {"name": data_cfg.name, **info, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])}
    return frame, info


def _patients(frame: pd.DataFrame, column: str, pattern: Optional[str]) -> pd.Series:
    ids = frame[column].astype(str)
    if not pattern:
        return ids
    regex = re.compile(pattern)
    extracted = ids.map(lambda s: (m := regex.match(s)) and (m.group(1) if m.groups() else m.group(0)))
    bad = ids[extracted.isna()]
    if len(bad):
        raise DataError(f"data.group_pattern={pattern!r} does not match {len(bad)} value(s) of column "
                        f"{column!r}, e.g. {bad.iloc[0]!r}")
    return extracted


def _binarize(y: pd.Series, positive: list, target: str) -> pd.Series:
    """1 where the target is one of the positive values, 0 elsewhere."""
    if pd.api.types.is_numeric_dtype(y):
        try:
            wanted = [float(p) for p in positive]
        except (TypeError, ValueError):
            raise DataError(f"data.positive={positive} does not match numeric target {target!r}") from None
        values = y.astype(float)
    else:
        wanted, values = [str(p) for p in positive], y.astype(str)
    present = set(values.unique())
    missing = [p for p in wanted if p not in present]
    if missing:
        raise DataError(f"data.positive={positive}: value(s) {missing} never occur in target {target!r}; "
                        f"its values are {sorted(present, key=str)}")
    return values.isin(wanted).astype(int).rename(target)


def prepare(frame: pd.DataFrame, data_cfg: Any, info: dict) -> Dataset:
    """Split a raw table into features, target and patient groups, as the ``data`` config says."""
    columns = list(map(str, frame.columns))
    frame = frame.set_axis(columns, axis=1)
    target, group = data_cfg.target, data_cfg.get("group")
    if target not in frame.columns:
        raise DataError(f"data.target={target!r} is not a column of the data; columns are: {', '.join(columns)}")
    if group and group not in frame.columns:
        raise DataError(f"data.group={group!r} is not a column of the data; columns are: {', '.join(columns)}")
    unknown = [c for c in data_cfg.drop if c not in frame.columns]
    if unknown:
        raise DataError(f"data.drop names column(s) {unknown} that the data does not have; "
                        f"columns are: {', '.join(columns)}")

    missing_target = frame[target].isna()
    if missing_target.any():
        frame = frame.loc[~missing_target].reset_index(drop=True)
    info = {**info, "dropped_rows_missing_target": int(missing_target.sum())}

    y = frame[target]
    task = data_cfg.task
    classes = None
    if task == "classification":
        if data_cfg.get("positive"):
            y = _binarize(y, list(data_cfg.positive), target)
        classes = sorted(y.unique().tolist())
        if len(classes) < 2:
            raise DataError(f"data.target={target!r} has a single class ({classes[0]!r}): "
                            "classification needs at least two")
    else:
        if not pd.api.types.is_numeric_dtype(y):
            raise DataError(f"data.target={target!r} is not numeric (e.g. {y.iloc[0]!r}), "
                            "but data.task=regression needs numbers; use data.task=classification")
        y = y.astype(float)

    groups = _patients(frame, group, data_cfg.get("group_pattern")) if group else None

    excluded = {target: "target"}
    if group:
        excluded[group] = "patient id (data.group)"
    for c in data_cfg.drop:
        excluded.setdefault(c, "dropped by config (data.drop)")
    for c in frame.columns:
        if c in excluded:
            continue
        col = frame[c]
        if col.isna().all():
            excluded[c] = "entirely empty"
        elif not pd.api.types.is_numeric_dtype(col) and col.nunique() == len(col):
            excluded[c] = "identifier (a distinct value in every row)"
    X = frame[[c for c in frame.columns if c not in excluded]]
    if X.shape[1] == 0:
        raise DataError("no feature column is left after removing the target, patient id and dropped columns")
    # Text columns as plain object arrays with NaN, which every scikit-learn transformer accepts.
    text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if text:
        X = X.astype({c: object for c in text})
        X[text] = X[text].where(X[text].notna(), np.nan)
    return Dataset(X=X, y=y.reset_index(drop=True), groups=groups, task=task, target=target,
                   classes=classes, info=info, excluded=excluded)


def load_dataset(data_cfg: Any, data_dir: Optional[str] = None) -> Dataset:
    frame, info = load_frame(data_cfg, data_dir)
    return prepare(frame, data_cfg, info)
