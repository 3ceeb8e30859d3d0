"""Parquet: the rules :mod:`medsweep.data.read` applies to a Parquet file.

The decoded size is estimated from the metadata before anything is decoded, names are checked as stored
(pyarrow writes a repeated name), nested columns are refused, and ``data.na_values`` become missing in
text columns as read_csv makes them, so that a Parquet copy of a CSV export trains the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

import pandas as pd

from medsweep.data.errors import DataError, one_line, refuse_duplicate_columns, too_large

MAGIC = b"PAR1"
SUFFIXES = (".parquet", ".pq")


def _unreadable(path: Path, exc: BaseException) -> DataError:
    return DataError(f"data file {path} is not a readable Parquet file ({one_line(exc)})")


def _metadata(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq

        return pq.read_metadata(path)
    except ImportError:
        raise DataError(f"data file {path} is Parquet, which needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, TypeError) as exc:  # pyarrow's errors derive from these
        raise _unreadable(path, exc) from None


def size(path: Path, max_bytes: Optional[int]) -> int:
    """What a Parquet file's table takes once decoded, from its metadata: rows x each column's width (8
    bytes per text cell) plus the stored data (the text itself). Its own sizes count encoded pages: a
    million equal numbers take a few KB there."""
    meta = _metadata(path)
    try:
        fields = list(meta.schema.to_arrow_schema())
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    for f in fields:
        try:
            width = max(1, f.type.bit_width // 8)
        except ValueError:   # variable width (text, binary, nested)
            width = 8
        total += meta.num_rows * width
    if max_bytes is not None and total > max_bytes:
        raise too_large(path, max_bytes)
    return total


def read(path: Path, na_values: list) -> pd.DataFrame:
    """The whole Parquet file as a table (see read.read_table)."""
    import pyarrow.types as pat

    # pyarrow writes a schema with a repeated name (pandas refuses to): check the names as stored.
    try:
        schema = _metadata(path).schema.to_arrow_schema()
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    refuse_duplicate_columns(path, schema.names)
    # A list, struct or map cell becomes a Python list or dict, which no step after this can compare or count.
    nested = [f"{f.name!r} ({f.type})" for f in schema if pat.is_nested(f.type)]
    if nested:
        raise DataError(f"data file {path} has nested Parquet column(s) {', '.join(nested)}: allowed are flat "
                        "columns (numbers, text, booleans, dates); flatten them into one column per value")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    return missing_markers_to_nan(frame, na_values)


def missing_markers_to_nan(frame: pd.DataFrame, na_values: list) -> pd.DataFrame:
    """What read_csv does for text: data.na_values become missing, and a text column whose other values
    are all numbers becomes numeric, so that a Parquet copy of a CSV export trains the same."""
    markers = [str(v) for v in na_values]
    frame = frame.copy()
    for c in frame.columns:
        col = frame[c]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        col = col.where(~col.astype(str).isin(markers) & col.notna())
        numbers = pd.to_numeric(col, errors="coerce")
        frame[c] = numbers if numbers.notna().sum() == col.notna().sum() and col.notna().any() else col
    return frame


def chunks(path: Path, na_values: list, text_columns: list,
           chunk_rows: int) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The file's column names (checked now) and its rows, ``chunk_rows`` at a time (see read.read_chunks)."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        names = [str(n) for n in parquet.schema_arrow.names]
    except (OSError, ValueError, TypeError) as exc:
        raise _unreadable(path, exc) from None
    refuse_duplicate_columns(path, names)
    markers = [str(v) for v in na_values]
    text = [c for c in text_columns if c in names]

    def rows() -> Iterator[pd.DataFrame]:
        try:
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                frame = batch.to_pandas()
                # Markers become missing as read does; text features keep their text, not numbers that
                # one chunk's values happen to parse as.
                out = missing_markers_to_nan(frame.drop(columns=text), markers)
                for c in text:
                    col = frame[c]
                    out[c] = col.where(~col.astype(str).isin(markers) & col.notna())
                yield out[frame.columns]
        except (OSError, ValueError, TypeError) as exc:
            raise _unreadable(path, exc) from None

    return names, rows()
