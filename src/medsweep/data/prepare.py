"""From a raw table to a :class:`Dataset`: features, target, patient groups, and a record of where the rows
came from and which columns were left out and why (:func:`prepare`); the development data of a job
(:func:`load_dataset`) and an external validation file read with its rules (:func:`load_external`).
The raw table comes from data.sources, the column rules from data.columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from medsweep.data.columns import (binarize, is_date_text, is_identifier_text, is_row_number, not_a_column,
                                   numeric_target, patients, refuse_out_of_range, refuse_target_copies,
                                   text_objects)
from medsweep.data.errors import DataError
from medsweep.data.sources import load_frame

log = logging.getLogger("medsweep")


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
    # Each sample's 0-based data row in the source (rows without a target are skipped, not renumbered).
    rows: Optional[np.ndarray] = None
    # The columns that are not features (target, patient id, dropped, ...), row for row with X.
    others: Optional[pd.DataFrame] = None

    def __post_init__(self) -> None:
        if self.rows is None:
            self.rows = np.arange(len(self.y))

    def column(self, name: str, key: str) -> pd.Series:
        """Any column of the rows used, a feature or not; ``key`` names the setting that asked for it."""
        if name in self.X.columns:
            return self.X[name]
        if self.others is not None and name in self.others.columns:
            return self.others[name]
        columns = list(self.X.columns) + (list(self.others.columns) if self.others is not None else [])
        raise DataError(f"{key} names {name!r}, which is not a column of the data; columns are: {', '.join(columns)}")

    def subset(self, idx: np.ndarray) -> "Dataset":
        """The same data restricted to rows ``idx`` (e.g. the development rows, without a hold-out)."""
        pick = lambda x: None if x is None else x.iloc[idx].reset_index(drop=True)  # noqa: E731
        return replace(self, X=pick(self.X), y=pick(self.y), groups=pick(self.groups), rows=self.rows[idx],
                       others=pick(self.others))

    @property
    def n_groups(self) -> int:
        return int(self.groups.nunique()) if self.groups is not None else len(self.y)


def prepare(frame: pd.DataFrame, data_cfg: Any, info: dict, check_copies: bool = True) -> Dataset:
    """Split a raw table into features, target and patient groups, as the ``data`` config says.
    ``check_copies``: refuse a feature that copies the target (off for an external file, whose features are
    the development data's)."""
    columns = list(map(str, frame.columns))
    frame = frame.set_axis(columns, axis=1)
    target, group = data_cfg.target, data_cfg.get("group")
    if target not in frame.columns:
        raise not_a_column("data.target", target, columns)
    if group and group not in frame.columns:
        raise not_a_column("data.group", group, columns)
    if group == target:
        raise DataError(f"data.group={group!r} is also data.target: the patient column must be another "
                        "column")
    site = data_cfg.get("site")
    if site and site not in frame.columns:
        raise not_a_column("data.site", site, columns)
    if site and site in (target, group):
        raise DataError(f"data.site={site!r} is also data.{'target' if site == target else 'group'}: the site "
                        "column must be another column")
    unknown = [c for c in data_cfg.drop if c not in frame.columns]
    if unknown:
        raise DataError(f"data.drop names column(s) {unknown} that the data does not have; "
                        f"columns are: {', '.join(columns)}")
    task = data_cfg.task
    if task == "regression" and data_cfg.get("positive"):
        raise DataError(f"data.positive={list(data_cfg.positive)} turns a target into classes, but "
                        "data.task=regression: set data.positive=null, or data.task=classification")

    missing_target = frame[target].isna()
    if missing_target.all():
        raise DataError(f"data.target={target!r} is entirely empty (all {len(frame)} rows missing): "
                        "choose the column that holds the outcome")
    # The original index is kept until the end, so that messages give the row of the file.
    if missing_target.any():  # (selecting every row would copy the whole table)
        frame = frame.loc[~missing_target]
    source_rows = np.flatnonzero(~missing_target.to_numpy())
    info = {**info, "dropped_rows_missing_target": int(missing_target.sum())}

    y = frame[target]
    classes = None
    if task == "classification":
        if data_cfg.get("positive"):
            y = binarize(y, list(data_cfg.positive), target)
        elif (pd.api.types.is_float_dtype(y) and (y % 1 != 0).any() and y.nunique() > 20):
            raise DataError(f"data.target={target!r} holds {y.nunique()} distinct decimal values (e.g. "
                            f"{y.iloc[0]!r}), a measurement rather than classes: use data.task=regression, "
                            "or data.positive=[...] to say which values count as positive")
        classes = sorted(y.unique().tolist())
        if len(classes) < 2:
            positive = f" (data.positive={list(data_cfg.positive)})" if data_cfg.get("positive") else ""
            raise DataError(f"data.target={target!r} has a single class ({classes[0]!r}) in all {len(y)} "
                            f"rows{positive}: classification needs at least two")
    else:
        y = numeric_target(y, target)
        refuse_out_of_range(y, f"data.target={target!r}")

    groups = patients(frame, group, data_cfg.get("group_pattern")) if group else None

    excluded = {target: "target"}
    if group:
        excluded[group] = "patient id (data.group)"
    if site:
        excluded[site] = "site (data.site): each site held out once, not a feature"
    for c in data_cfg.drop:
        excluded.setdefault(c, "dropped by config (data.drop)")
    for c in frame.columns:
        if c in excluded:
            continue
        col = frame[c]
        if col.isna().all():
            # Not an error: a column never filled in says nothing, and the other columns can still train.
            log.warning("Column %r is entirely empty: left out of the features", c)
            excluded[c] = "entirely empty"
        elif (pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype)
              or is_date_text(col)):
            excluded[c] = "date/time (not used as a feature)"
        elif not pd.api.types.is_numeric_dtype(col) and is_identifier_text(col):
            excluded[c] = "identifier (a distinct value in every row that has one)"
        elif is_row_number(col):
            excluded[c] = "identifier (row numbers: a distinct whole number in every row, without gaps)"
    X = frame[[c for c in frame.columns if c not in excluded]]
    if X.shape[1] == 0:
        raise DataError("no feature column is left after removing the target, patient id, dropped, empty and "
                        f"identifier columns; excluded: {', '.join(excluded)}")
    # Plain numpy dtypes for scikit-learn: numbers (nullable Int64 and booleans too) as float with NaN,
    # text as object arrays with NaN.
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    text = [c for c in X.columns if c not in numeric]
    X = X.astype({c: "float64" for c in numeric})
    if text:
        X = X.assign(**{c: text_objects(X[c]) for c in text})
    for c in numeric:
        refuse_out_of_range(X[c], f"column {c!r}")
    if check_copies:
        refuse_target_copies(X, frame[target], target)
        if data_cfg.get("positive"):   # the classes too: a 0/1 column equal to "num > 0"
            refuse_target_copies(X, y, target)
    if groups is not None:
        groups = groups.reset_index(drop=True)
    return Dataset(X=X.reset_index(drop=True), y=y.reset_index(drop=True), groups=groups, task=task,
                   target=target, classes=classes, info=info, excluded=excluded, rows=source_rows,
                   others=frame[list(excluded)].reset_index(drop=True))


def load_dataset(data_cfg: Any, data_dir: Optional[str] = None, cache: Optional[Path] = None) -> Dataset:
    frame, info = load_frame(data_cfg, data_dir, cache)
    return prepare(frame, data_cfg, info)


def _external_patients(data_cfg: Any, columns: list[str]) -> tuple[Optional[str], Optional[str]]:
    """The external file's patient column and the pattern deriving the patient from it: data.test_group when
    set (data.group_pattern, written for the development ids, then applies only if it is the same column),
    else data.group's column, which the file must then have."""
    group, test_group = data_cfg.get("group"), data_cfg.get("test_group")
    if test_group:
        if test_group not in columns:
            raise not_a_column("data.test_group", test_group, columns)
        return test_group, data_cfg.get("group_pattern") if test_group == group else None
    if group and group not in columns:
        raise DataError(f"the file has no patient column {group!r} (data.group): name its patient column with "
                        "data.test_group=<column> (a column with a distinct value in every row if each row is "
                        f"a different patient); columns are: {', '.join(columns)}")
    return group, data_cfg.get("group_pattern")


def load_external(data_cfg: Any, data_dir: Optional[str], development: Dataset,
                  cache: Optional[Path] = None) -> Dataset:
    """The external validation file ``data.test_path``, read and prepared with the development data's rules
    (target, missing-value markers, the dropped columns it has; its patient column is data.test_group, else
    data.group's), with exactly the development data's
    features in the same order and kinds. Fails in one line naming every feature the file lacks, or a
    feature whose kind differs (text where numbers were)."""
    path = data_cfg.test_path
    external_cfg = OmegaConf.merge(data_cfg, {"path": path, "test_path": None})
    try:
        frame, info = load_frame(external_cfg, None, cache)
        # Another site's file needs the features and the target only: a column dropped for training may be
        # absent, and its patient column may have another name (data.test_group).
        columns = list(map(str, frame.columns))
        group, pattern = _external_patients(data_cfg, columns)
        external_cfg = OmegaConf.merge(external_cfg, {"group": group, "group_pattern": pattern,
                                                      "drop": [c for c in data_cfg.drop if c in columns]})
        if data_cfg.get("site") and data_cfg.site not in columns:   # another site's file needs no site column
            external_cfg = OmegaConf.merge(external_cfg, {"site": None})
        external = prepare(frame, external_cfg, info, check_copies=False)
    except DataError as exc:
        raise DataError(f"data.test_path (external validation file): {exc}") from None
    columns = set(external.X.columns) | set(external.others.columns)
    missing = [c for c in development.X.columns if c not in columns]
    if missing:
        raise DataError(f"data.test_path={path!r} lacks column(s) the model needs: {', '.join(missing)}")
    X = pd.DataFrame({c: external.column(c, "data.test_path") for c in development.X.columns})
    for c in development.X.columns:
        numeric = pd.api.types.is_numeric_dtype(development.X[c])
        if numeric and not pd.api.types.is_numeric_dtype(X[c]):
            raise DataError(f"data.test_path={path!r}: column {c!r} holds text ({X[c].dropna().iloc[0]!r}) where "
                            "the development data had numbers")
        X[c] = X[c].astype("float64") if numeric else X[c].astype(object).where(X[c].notna(), np.nan)
    if external.classes is not None:
        unknown = [c for c in external.classes if c not in development.classes]
        if unknown:
            raise DataError(f"data.test_path={path!r}: target {external.target!r} has class(es) {unknown} that the "
                            f"development data does not have ({development.classes})")
    extra = sorted(c for c in external.X.columns if c not in development.X.columns)
    if extra:
        log.info("data.test_path: column(s) not used by the model, ignored: %s", ", ".join(extra))
    return replace(external, X=X, classes=development.classes, excluded={})
