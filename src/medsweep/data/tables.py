"""Where a model's data comes from: a synthetic cohort, a scikit-learn bundled dataset, or a file.

:func:`load_dataset` turns a ``data`` config into a :class:`Dataset`: features, target, patient
groups, and a record of where the rows came from and which columns were left out and why.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from medsweep.data import cache as data_cache
from medsweep.record.files import sha256_of_file  # noqa: F401 - data files' provenance; re-exported

log = logging.getLogger("medsweep")


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


# Delimiters tried when data.delimiter is not set, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
# Names for delimiters that Hydra's override syntax makes awkward (data.delimiter=; does not parse).
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "space": " "}
PARQUET_SUFFIXES = (".parquet", ".pq")
_HEAD_BYTES = 1 << 16
_PARQUET_MAGIC, _GZIP_MAGIC = b"PAR1", b"\x1f\x8b"
_ZIP_MAGIC, _OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"   # .xlsx (and any zip); old .xls
# The most a data file may hold once decompressed (data.max_expanded_mb, MB = 10**6 bytes; schema.py repeats
# it). A 694 KB gzip file of 300 MB text took 7.4 GB to parse: a small file is not a small table.
DEFAULT_MAX_EXPANDED_MB = 2048
# Feature values must lie within float32's range: tree estimators compute in float32, and larger values
# overflow scaling (1e308 squared is inf) into NaN.
MAX_ABS_VALUE = float(np.finfo(np.float32).max)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits every sampled line into the same number (> 1) of fields, the most
    fields winning; ',' when none does (a one-column or ragged file then fails with a clear message)."""
    def score(candidate: str) -> tuple[bool, int]:
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        return len(set(widths)) == 1 and widths[0] > 1, widths[0] if widths else 0

    return max(DELIMITERS, key=score)


def _text_head(path: Path, head: bytes) -> tuple[list[str], Optional[str]]:
    """The first lines of a (possibly gzipped) text file, for sniffing; refuses binary content."""
    compression = None
    if head.startswith(_GZIP_MAGIC):
        compression = "gzip"
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(_HEAD_BYTES)
        except (OSError, EOFError) as exc:
            raise DataError(f"data file {path} is a damaged gzip file ({_one_line(exc)})") from None
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
        raise DataError(f"data file {path} is an Excel workbook or ZIP archive, not a table: "
                        "save it as CSV (or Parquet) and point data.path at that")
    # NUL bytes and other control characters do not occur in CSV text (UTF-8 or Latin-1).
    controls = sum(b < 32 and b not in (9, 10, 13) for b in head)
    if controls > 0.01 * len(head):
        raise DataError(f"data file {path} is not a text table (binary content): allowed are CSV or other "
                        "delimited text (UTF-8 or Latin-1) and Parquet")
    if b"\x00" in head:
        raise _nul_error(path, head.count(b"\n", 0, head.find(b"\x00")) + 1)
    lines = head.decode("utf-8", errors="replace").splitlines()
    if len(head) == _HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    if not any(line.strip() for line in lines):
        raise DataError(f"data file {path} is empty: it needs a header row and at least one data row")
    return lines[:50], compression


def _nul_error(path: Path, line: int) -> DataError:
    return DataError(f"data file {path} holds a NUL byte (a zero byte) on line {line} (data row {line - 1}): "
                     "text tables never hold one, and it would turn that value, and a numeric column with it, "
                     "into text; export the file again or remove the byte")


def _too_large(path: Path, max_bytes: int) -> DataError:
    mb = max_bytes // 10**6
    return DataError(f"data file {path} expands to more than {mb} MB when read (data.max_expanded_mb={mb}, "
                     "the most one data file may hold once decompressed; a small compressed file expanding far "
                     "beyond it is a decompression bomb): raise data.max_expanded_mb if the table is really "
                     "that large")


def _scan_text(path: Path, compression: Optional[str], max_bytes: Optional[int]) -> int:
    """The bytes of text the file holds once decompressed, found in one streaming pass that stops at
    ``max_bytes`` (a gzip bomb is never expanded in full) and refuses a NUL byte anywhere, naming its line
    (the head check sees only the first 64 KiB; pandas reads a NUL further on as text)."""
    opener = gzip.open if compression == "gzip" else open
    size = lines = 0
    try:
        with opener(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                nul = block.find(b"\x00")
                if nul >= 0:
                    raise _nul_error(path, lines + block.count(b"\n", 0, nul) + 1)
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise _too_large(path, max_bytes)
                lines += block.count(b"\n")
    except (OSError, EOFError) as exc:
        what = "is a damaged gzip file" if compression == "gzip" else "cannot be read"
        raise DataError(f"data file {path} {what} ({_one_line(exc)})") from None
    return size


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError as exc:
        raise DataError(f"data file {path} cannot be opened: {exc.strerror or _one_line(exc)}") from None
    if not head.strip():
        raise DataError(f"data file {path} is empty: it needs a header row and at least one data row")
    return head


def expanded_size(path: Path, max_bytes: Optional[int]) -> int:
    """What the file holds once decompressed, in bytes: its text (checked as :func:`_scan_text` does) or a
    Parquet file's decoded table (estimated from its metadata). More than ``max_bytes`` is refused."""
    head = _head(path)
    if head.startswith(_PARQUET_MAGIC):
        return _parquet_size(path, max_bytes)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return len(head)   # read_table refuses it with its own message
    _, compression = _text_head(path, head)
    return _scan_text(path, compression, max_bytes)


def read_table(path: Path, na_values: list, delimiter: Optional[str] = None, max_bytes: Optional[int] = None,
               scanned: bool = False) -> pd.DataFrame:
    """Read a CSV/TSV/delimited text file or a Parquet file; the file is only read.

    Every problem reading it (empty, binary, not Parquet, ragged rows, a column name given twice, a NUL
    byte, more than ``max_bytes`` once decompressed, ...) is a :class:`DataError` naming the file and what is
    wrong. ``scanned``: :func:`expanded_size` has checked the text already. ``path`` must be a regular file
    (see :func:`load_frame`): a FIFO would block the open below.
    """
    head = _head(path)
    if head.startswith(_PARQUET_MAGIC):
        if not scanned:
            _parquet_size(path, max_bytes)
        frame = _read_parquet(path)
        return _missing_markers_to_nan(frame, na_values)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        raise DataError(f"data file {path} is named {path.suffix} but is not a Parquet file "
                        "(no PAR1 header): rename it to .csv if it is text, or export it again as Parquet")

    lines, compression = _text_head(path, head)
    if not scanned:
        _scan_text(path, compression, max_bytes)
    sep = DELIMITER_NAMES.get(delimiter, delimiter) if delimiter else _sniff_delimiter(lines)
    # Only data.na_values mark missing cells (pandas' own list would also swallow real categories like
    # "None"), so CSV and Parquet copies of a table read the same.
    kwargs = dict(sep=sep, na_values=list(na_values), keep_default_na=False, compression=compression,
                  engine="python" if len(sep) > 1 else "c")
    try:
        try:
            encoding = "utf-8-sig"
            frame = pd.read_csv(path, encoding=encoding, **kwargs)
        except UnicodeDecodeError:
            # Spreadsheet exports on Windows are often cp1252/Latin-1, which decodes any byte.
            log.warning("Data file %s is not UTF-8 text: read as Latin-1", path)
            encoding = "latin-1"
            frame = pd.read_csv(path, encoding=encoding, **kwargs)
        if not isinstance(frame.index, pd.RangeIndex):
            # Rows with more fields than the header has names: pandas made the first field(s) row labels
            # and shifted every column onto its neighbour's name.
            _refuse_extra_fields(path, frame)
            frame = pd.read_csv(path, encoding=encoding, index_col=False, **kwargs)
        # pandas renames a repeated name (target, target.1), which would make a copy of the target a
        # feature: the header row itself, read as data with the same delimiter, encoding, quoting and
        # compression, holds the names as written (a column really called "x.1" is not a copy of "x").
        header = pd.read_csv(path, encoding=encoding, header=None, nrows=1, dtype=str, na_filter=False,
                             **{k: v for k, v in kwargs.items() if k not in ("na_values", "keep_default_na")})
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {path} is empty: it needs a header row and at least one data row"
                        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"data file {path} cannot be read as delimited text with delimiter {sep!r} "
                        f"({_one_line(exc)}); set data.delimiter (comma, semicolon, tab, pipe) if that is "
                        "not the file's delimiter") from None
    _refuse_duplicate_columns(path, header.iloc[0].tolist() if len(header) else [])
    return frame


def _refuse_extra_fields(path: Path, frame: pd.DataFrame) -> None:
    """A trailing delimiter on every data row (``3.87,1.29,1.45,`` under ``y,x1,x2``, a common export
    artefact) leaves the extra fields empty: the columns are then read as the header names them. Extra
    fields holding values are refused: which column they belong to is not written anywhere."""
    extra = frame.index.nlevels
    tail = frame.iloc[:, -extra:]
    blank = tail.isna() | tail.apply(lambda c: c.astype(str).str.strip().eq(""))
    if not blank.to_numpy().all():
        row = int(np.flatnonzero(~blank.to_numpy().all(axis=1))[0])
        raise DataError(f"data file {path}: data row {row + 1} has {extra} field(s) more than the header's "
                        f"{frame.shape[1]} column names, holding values ({tail.iloc[row].tolist()!r} at the end): "
                        "every row needs exactly one field per name; add the missing name(s) to the header or "
                        "remove the extra field(s)")


def _refuse_duplicate_columns(path: Path, names: list) -> None:
    """A name given to several columns of the file, as written in it (not as pandas renamed them)."""
    # An empty name is not a name: pandas calls each such column "Unnamed: <i>", none can be chosen
    # by data.target, data.group or data.drop, and an exported index has one.
    counts = Counter(str(n) for n in names if str(n) != "")
    repeated = [f"{n!r} ({k} times)" for n, k in counts.items() if k > 1]
    if repeated:
        raise DataError(f"data file {path} has duplicate column names: {', '.join(repeated)}; every column "
                        "needs a unique name (a second copy would be read as another column, e.g. a copy of "
                        "the target as a feature): rename or delete the copies in the file")


def _parquet_metadata(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq

        return pq.read_metadata(path)
    except ImportError:
        raise DataError(f"data file {path} is Parquet, which needs pyarrow: pip install pyarrow") from None
    except (OSError, ValueError, TypeError) as exc:  # pyarrow's errors derive from these
        raise DataError(f"data file {path} is not a readable Parquet file ({_one_line(exc)})") from None


def _parquet_size(path: Path, max_bytes: Optional[int]) -> int:
    """What a Parquet file's table takes once decoded, from its metadata: rows x each column's width (8
    bytes per text cell) plus the stored data (the text itself). Its own sizes count encoded pages: a
    million equal numbers take a few KB there."""
    meta = _parquet_metadata(path)
    try:
        fields = list(meta.schema.to_arrow_schema())
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"data file {path} is not a readable Parquet file ({_one_line(exc)})") from None
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    for f in fields:
        try:
            width = max(1, f.type.bit_width // 8)
        except ValueError:   # variable width (text, binary, nested)
            width = 8
        size += meta.num_rows * width
    if max_bytes is not None and size > max_bytes:
        raise _too_large(path, max_bytes)
    return size


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.types as pat

    # pyarrow writes a schema with a repeated name (pandas refuses to): check the names as stored.
    try:
        schema = _parquet_metadata(path).schema.to_arrow_schema()
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"data file {path} is not a readable Parquet file ({_one_line(exc)})") from None
    _refuse_duplicate_columns(path, schema.names)
    # A list, struct or map cell becomes a Python list or dict, which no step after this can compare or count.
    nested = [f"{f.name!r} ({f.type})" for f in schema if pat.is_nested(f.type)]
    if nested:
        raise DataError(f"data file {path} has nested Parquet column(s) {', '.join(nested)}: allowed are flat "
                        "columns (numbers, text, booleans, dates); flatten them into one column per value")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"data file {path} is not a readable Parquet file ({_one_line(exc)})") from None


def _missing_markers_to_nan(frame: pd.DataFrame, na_values: list) -> pd.DataFrame:
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


def resolve_path(data_cfg: Any, data_dir: Optional[str]) -> Optional[Path]:
    """The file a job trains on: ``data.path``, else ``data_dir``/``data.file``, else None (embedded)."""
    for key, value in (("data.path", data_cfg.get("path")), ("data_dir", data_dir)):
        if value is not None and not str(value).strip():
            raise DataError(f"{key}={value!r} is empty: give a file{' ' if key == 'data.path' else ' folder '}"
                            f"or null (an unset shell variable would otherwise train on the model's embedded data)")
    if data_cfg.get("path"):
        return Path(data_cfg.path).expanduser()
    if data_dir:
        if not data_cfg.get("file"):
            raise DataError(f"data_dir={data_dir!r} is set but model {data_cfg.name!r} names no data.file; "
                            "set data.path=<file> for this model")
        return Path(data_dir).expanduser() / data_cfg.file
    return None


def _setting(data_cfg: Any, data_dir: Optional[str]) -> str:
    """The override that chose the file, for messages."""
    if data_cfg.get("path"):
        return f"data.path={data_cfg.path}"
    return f"data_dir={data_dir} with data.file={data_cfg.file}"


_SPECIAL_FILES = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def _check_regular_file(path: Path, setting: str) -> None:
    """The path is a regular file (or a link to one), judged from its metadata: nothing is opened, since
    opening a FIFO waits for a writer and a device (/dev/zero) never ends."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        where = "" if path.is_absolute() else f" (looked for {path.resolve()})"
        raise DataError(f"{setting}: file not found{where}; check the path "
                        "(a relative path is relative to the folder train.py is run from)") from None
    except OSError as exc:
        raise DataError(f"data file {path} cannot be opened: {exc.strerror or _one_line(exc)}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{setting}: {path.resolve()} is a folder, not a file; "
                        "point data.path at a CSV or Parquet file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise DataError(f"{setting}: {path} exists but is {kind}, not a regular file; allowed is a regular "
                        "file holding CSV or other delimited text, gzipped text or Parquet: save the data to "
                        "such a file and point data.path at it")


# Real datasets shipped in medsweep/datasets/ (CC BY 4.0; see NOTICE.md there), checked on every load.
BUNDLED = {
    "parkinsons.data": {
        "sha256": "a148d3c47503f4f5b3842d3f995548da333eb2b4401f6bb8a65832d008aca5d5",
        "licence": "CC BY 4.0", "citation": "UCI Machine Learning Repository, Parkinsons (Little et al. 2008)"},
    "cleveland_heart.csv": {
        "sha256": "a5195b7562ca4f48bda400649bfee2a7d7ed70ff72fb5cc0c486c68fd68f7f62",
        "licence": "CC BY 4.0", "citation": "UCI Machine Learning Repository, Heart Disease, Cleveland (Detrano et al. "
                                            "1989)"},
}


def _bundled_file(data_cfg: Any) -> tuple[Path, dict]:
    name = data_cfg.get("file")
    if name not in BUNDLED:
        raise DataError(f"data.source=bundled: data.file={name!r} is not shipped with medsweep; bundled files are "
                        f"{', '.join(BUNDLED)} (or use data.source=synthetic, or data.path=<file>)")
    path = Path(__file__).resolve().parent / "datasets" / name
    digest = sha256_of_file(path)
    if digest != BUNDLED[name]["sha256"]:
        raise DataError(f"bundled data file {path} has sha256 {digest}, not the published file's "
                        f"{BUNDLED[name]['sha256']}: the installation is damaged; reinstall medsweep")
    return path, BUNDLED[name]


def load_frame(data_cfg: Any, data_dir: Optional[str] = None,
               cache: Optional[Path] = None) -> tuple[pd.DataFrame, dict]:
    """The raw table and where it came from. A file of at least ``data_cache.MIN_BYTES`` is read through the
    parsed-table cache in folder ``cache`` (the same table, parsed once per cache; see data_cache.py)."""
    path = resolve_path(data_cfg, data_dir)
    if path is not None:
        _check_regular_file(path, _setting(data_cfg, data_dir))
        stamp = data_cache.file_stamp(path)
        digest = sha256_of_file(path)
        max_bytes = int(data_cfg.get("max_expanded_mb") or DEFAULT_MAX_EXPANDED_MB) * 10**6
        # Decompressed, not on disk: a small gzip file can hold a table every job would parse again.
        size = expanded_size(path, max_bytes)
        frame = None
        if cache is not None and size >= data_cache.MIN_BYTES:
            frame = data_cache.load(path, digest, stamp, data_cfg.na_values, data_cfg.get("delimiter"), cache)
        if frame is None:
            frame = read_table(path, data_cfg.na_values, data_cfg.get("delimiter"), max_bytes, scanned=True)
        if frame.shape[0] == 0:
            raise DataError(f"data file {path} has a header but no data rows")
        info = {"source": "file", "synthetic": False, "path": str(path.resolve()), "sha256": digest}
    elif data_cfg.source == "sklearn":
        frame = _load_sklearn(data_cfg.name)
        info = {"source": "sklearn", "synthetic": False, "path": None}
    elif data_cfg.source == "bundled":
        path, bundled = _bundled_file(data_cfg)
        frame = read_table(path, data_cfg.na_values, data_cfg.get("delimiter"))
        info = {"source": "bundled", "synthetic": False, "path": str(path), "sha256": bundled["sha256"],
                "licence": bundled["licence"], "citation": bundled["citation"]}
    else:
        from medsweep.data.synthetic import make_cohort

        frame = make_cohort(data_cfg.name, seed=data_cfg.seed)
        info = {"source": "synthetic", "synthetic": True, "path": None, "cohort_seed": int(data_cfg.seed)}
    if path is None:
        info["sha256"] = _sha256_of_frame(frame)
    info = {"name": data_cfg.name, **info, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])}
    return frame, info


def _is_date_text(col: pd.Series) -> bool:
    """Text that reads as dates (CSV files carry dates as text), judged on the first 1,000 filled rows."""
    if pd.api.types.is_numeric_dtype(col):
        return False
    values = col.dropna().astype(str).head(1000)  # a sample: parsing dates value by value is slow
    if values.empty or not values.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _is_identifier_text(col: pd.Series) -> bool:
    """A distinct text value in every row that has one (a few missing ids do not make it a feature)."""
    filled = int(col.notna().sum())
    return filled >= 0.5 * len(col) and col.nunique() == filled


def _not_a_column(key: str, name: str, columns: list[str]) -> DataError:
    """`key` names a column the data lacks: say which exist, and the likely intended one."""
    close = difflib.get_close_matches(name, columns, n=1) or [c for c in columns if c.lower() == name.lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if len(columns) == 1:
        hint += "; the file was read as one column: set data.delimiter if it uses another delimiter"
    return DataError(f"{key}={name!r} is not a column of the data{hint}; columns are: {', '.join(columns)}")


def _patients(frame: pd.DataFrame, column: str, pattern: Optional[str]) -> pd.Series:
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


def _binarize(y: pd.Series, positive: list, target: str) -> pd.Series:
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


def _numeric_target(y: pd.Series, target: str) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(y):
        bad = y[pd.to_numeric(y, errors="coerce").isna()]
        raise DataError(f"data.target={target!r} is not numeric ({bad.iloc[0]!r} in data row "
                        f"{bad.index[0] + 1}), but data.task=regression needs numbers: add that value to "
                        "data.na_values if it marks a missing value, or use data.task=classification")
    return y.astype(float)


def _is_row_number(col: pd.Series) -> bool:
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


def _text_objects(col: pd.Series) -> pd.Series:
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


def _refuse_target_copies(X: pd.DataFrame, y: pd.Series, target: str) -> None:
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


def _refuse_out_of_range(values: pd.Series, what: str) -> None:
    """inf, or a number beyond float32's range, in a numeric column: a data error naming it and the row
    (estimators would fail without naming either, or compute NaN)."""
    a = values.to_numpy(dtype=float)
    bad = np.abs(a) > MAX_ABS_VALUE
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what} holds {float(a[first]):g} in data row {values.index[first] + 1} ({int(bad.sum())} row(s) "
                        f"in all): allowed are finite numbers within +-{MAX_ABS_VALUE:.3g} (float32's range, in "
                        "which tree estimators compute); mark missing values with data.na_values or fix the file")


def prepare(frame: pd.DataFrame, data_cfg: Any, info: dict, check_copies: bool = True) -> Dataset:
    """Split a raw table into features, target and patient groups, as the ``data`` config says.
    ``check_copies``: refuse a feature that copies the target (off for an external file, whose features are
    the development data's)."""
    columns = list(map(str, frame.columns))
    frame = frame.set_axis(columns, axis=1)
    target, group = data_cfg.target, data_cfg.get("group")
    if target not in frame.columns:
        raise _not_a_column("data.target", target, columns)
    if group and group not in frame.columns:
        raise _not_a_column("data.group", group, columns)
    if group == target:
        raise DataError(f"data.group={group!r} is also data.target: the patient column must be another "
                        "column")
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
            y = _binarize(y, list(data_cfg.positive), target)
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
        y = _numeric_target(y, target)
        _refuse_out_of_range(y, f"data.target={target!r}")

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
            # Not an error: a column never filled in says nothing, and the other columns can still train.
            log.warning("Column %r is entirely empty: left out of the features", c)
            excluded[c] = "entirely empty"
        elif (pd.api.types.is_datetime64_any_dtype(col) or isinstance(col.dtype, pd.PeriodDtype)
              or _is_date_text(col)):
            excluded[c] = "date/time (not used as a feature)"
        elif not pd.api.types.is_numeric_dtype(col) and _is_identifier_text(col):
            excluded[c] = "identifier (a distinct value in every row that has one)"
        elif _is_row_number(col):
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
        X = X.assign(**{c: _text_objects(X[c]) for c in text})
    for c in numeric:
        _refuse_out_of_range(X[c], f"column {c!r}")
    if check_copies:
        _refuse_target_copies(X, frame[target], target)
        if data_cfg.get("positive"):   # the classes too: a 0/1 column equal to "num > 0"
            _refuse_target_copies(X, y, target)
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
            raise _not_a_column("data.test_group", test_group, columns)
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
