"""How :func:`medsweep.data.prepare.prepare` judges the columns of a table: the target (classes, numbers,
data.positive), the patient ids (data.group, data.group_pattern), and the columns that are not features
(dates, identifiers, row numbers, copies of the target) or not usable (numbers beyond float32's range).
Each rule is a function of a column, refused with a :class:`DataError` that names the column and the row.
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from typing import Optional

import numpy as np
import pandas as pd

from medsweep.data.errors import DataError

log = logging.getLogger("medsweep")

# Feature values must lie within float32's range: tree estimators compute in float32, and larger values
# overflow scaling (1e308 squared is inf) into NaN.
MAX_ABS_VALUE = float(np.finfo(np.float32).max)


def is_date_text(col: pd.Series) -> bool:
    """Text that reads as dates (CSV files carry dates as text), judged on the first 1,000 filled rows."""
    if pd.api.types.is_numeric_dtype(col):
        return False
    values = col.dropna().astype(str).head(1000)  # a sample: parsing dates value by value is slow
    if values.empty or not values.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def is_identifier_text(col: pd.Series) -> bool:
    """A distinct text value in every row that has one (a few missing ids do not make it a feature)."""
    filled = int(col.notna().sum())
    return filled >= 0.5 * len(col) and col.nunique() == filled


def not_a_column(key: str, name: str, columns: list[str]) -> DataError:
    """`key` names a column the data lacks: say which exist, and the likely intended one."""
    close = difflib.get_close_matches(name, columns, n=1) or [c for c in columns if c.lower() == name.lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if len(columns) == 1:
        hint += "; the file was read as one column: set data.delimiter if it uses another delimiter"
    return DataError(f"{key}={name!r} is not a column of the data{hint}; columns are: {', '.join(columns)}")


def patients(frame: pd.DataFrame, column: str, pattern: Optional[str]) -> pd.Series:
    values = frame[column]
    if values.isna().all():
        raise DataError(f"data.group={column!r} is entirely empty: it must name the patient of every row "
                        "(or set data.group=null if each row is a different patient)")
    if values.isna().any():
        rows = values.index[values.isna()]
        raise DataError(f"data.group={column!r} is missing in {len(rows)} row(s) "
                        f"(first: data row {rows[0] + 1}): every row needs its patient, or its rows could "
                        "sit on both sides of a fold")
    # Whole-number ids read as floats (1.0) are shown as written (1).
    if pd.api.types.is_float_dtype(values) and (values % 1 == 0).all():
        values = values.astype("int64")
    ids = values.astype(str)
    if not pattern:
        return ids
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise DataError(f"data.group_pattern={pattern!r} is not a regular expression ({exc})") from None
    extracted = ids.map(lambda s: (m := regex.match(s)) and (m.group(1) if m.groups() else m.group(0)))
    bad = ids[extracted.isna()]
    if len(bad) == len(ids) and ids.nunique() < len(ids):
        # A model's pattern written for another id column (parkinsons: `name`) when the user points
        # data.group at a plain patient column, which repeats per patient: it already is the patient.
        # A column unique per row is a recording id the pattern should have cut: refusing it keeps a
        # patient's recordings from landing on both sides of a fold.
        log.warning("data.group_pattern=%r matches no value of column %r (e.g. %r): its values are used "
                    "as the patient ids as they are", pattern, column, ids.iloc[0])
        return ids
    if len(bad):
        raise DataError(f"data.group_pattern={pattern!r} does not match {len(bad)} value(s) of column "
                        f"{column!r}, e.g. {bad.iloc[0]!r}: fix the pattern or those ids")
    return extracted


def binarize(y: pd.Series, positive: list, target: str) -> pd.Series:
    """1 where the target is one of the positive values, 0 elsewhere."""
    shown = sorted(y.unique().tolist(), key=str)
    if pd.api.types.is_numeric_dtype(y):
        try:
            wanted = [float(p) for p in positive]
        except (TypeError, ValueError):
            raise DataError(f"data.positive={positive} does not match numeric target {target!r}: "
                            f"its values are {shown}") from None
        values = y.astype(float)
    else:
        wanted, values = [str(p) for p in positive], y.astype(str)
    present = set(values.unique())
    missing = [p for p, w in zip(positive, wanted) if w not in present]
    if len(missing) == len(wanted):
        raise DataError(f"data.positive={positive}: none of these values occur in target {target!r}; "
                        f"its values are {shown}")
    if missing:
        # A file may lack one severity grade (Cleveland num=3, say): not an error, but worth a line.
        log.warning("data.positive value(s) %s never occur in target %r (values: %s)", missing, target, shown)
    return values.isin(wanted).astype(int).rename(target)


def numeric_target(y: pd.Series, target: str) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(y):
        bad = y[pd.to_numeric(y, errors="coerce").isna()]
        raise DataError(f"data.target={target!r} is not numeric ({bad.iloc[0]!r} in data row "
                        f"{bad.index[0] + 1}), but data.task=regression needs numbers: add that value to "
                        "data.na_values if it marks a missing value, or use data.task=classification")
    return y.astype(float)


def is_row_number(col: pd.Series) -> bool:
    """Whole numbers, one per row, counting up without gaps (an exported index, a record number)."""
    if len(col) < 20 or pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
        return False
    if col.isna().any():
        return False
    # numpy, not pandas: this runs on every column of every job. Integers stay exact (ids above 2**53).
    values = col.to_numpy(dtype=np.int64 if pd.api.types.is_integer_dtype(col) else float)
    if values.max() - values.min() != len(values) - 1 or (values % 1 != 0).any():
        return False
    return len(np.unique(values)) == len(values)


def text_objects(col: pd.Series) -> pd.Series:
    """A text column as an object array with NaN where missing. Text read from a file becomes one Python
    string per distinct value, shared by its rows (one per row took ~55 bytes a row, a quarter of a float
    feature matrix for two text columns)."""
    if isinstance(col.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        values = np.append(np.asarray(uniques, dtype=object), np.nan)   # code -1 (missing) picks the NaN
        return pd.Series(values[codes], index=col.index, name=col.name, dtype=object)
    col = col.astype(object)
    return col.where(col.notna(), np.nan)


def _name_key(name: str) -> str:
    """A column name as a reader sees it: without spaces, invisible (format) characters or case."""
    name = unicodedata.normalize("NFKC", str(name))
    return "".join(ch for ch in name if not ch.isspace() and unicodedata.category(ch) != "Cf").casefold()


def _same_values(col: pd.Series, y: pd.Series) -> bool:
    """``col`` holds the target's values in every row (numbers compared as numbers, text as text)."""
    numeric = pd.api.types.is_numeric_dtype(col)
    if col.isna().any() or numeric != pd.api.types.is_numeric_dtype(y):
        return False
    for rows in (slice(0, 1000), slice(None)):   # most columns differ within the first rows: stop there
        a, b = col.iloc[rows].to_numpy(), y.iloc[rows].to_numpy()
        same = np.array_equal(a.astype(float), b.astype(float)) if numeric else (a.astype(str) == b.astype(str)).all()
        if not same:
            return False
    return True


def refuse_target_copies(X: pd.DataFrame, y: pd.Series, target: str) -> None:
    """A feature that is the target under another name (`" y"`, `"y\u200b"`, or any name holding its values)
    scores a perfect model that means nothing: refused, naming it."""
    key = _name_key(target)
    for c in X.columns:
        if _name_key(c) == key:
            raise DataError(f"column {c!r} has the name of data.target={target!r} but for spaces, case or "
                            "invisible characters: a copy of the target cannot be a feature; delete it from the "
                            "file or add it to data.drop")
        if _same_values(X[c], y):
            raise DataError(f"column {c!r} holds the values of data.target={target!r} in every row: a copy of the "
                            "target cannot be a feature; delete it from the file or add it to data.drop")


def refuse_out_of_range(values: pd.Series, what: str) -> None:
    """inf, or a number beyond float32's range, in a numeric column: a data error naming it and the row
    (estimators would fail without naming either, or compute NaN)."""
    a = values.to_numpy(dtype=float)
    bad = np.abs(a) > MAX_ABS_VALUE
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what} holds {float(a[first]):g} in data row {values.index[first] + 1} ({int(bad.sum())} row(s) "
                        f"in all): allowed are finite numbers within +-{MAX_ABS_VALUE:.3g} (float32's range, in "
                        "which tree estimators compute); mark missing values with data.na_values or fix the file")

