"""The one reader of users' data files: CSV / TSV / other delimited text (gzipped too) and Parquet.

Training and external validation read a whole file (:func:`read_table`, through data.sources), predict
reads one in chunks (:func:`read_chunks`); both with the same rules, so a file predicts as it trained:
the format is told by content (Parquet's PAR1 header, gzip's magic bytes), not by name; only
``data.na_values`` mark missing cells; text is UTF-8 (with or without BOM) else Latin-1; the delimiter is
``data.delimiter`` or sniffed; a column name given twice, binary content, a NUL byte and a file expanding
beyond ``data.max_expanded_mb`` are refused. Every problem is a :class:`DataError` in one line naming the
file and what is wrong. The rules of each format are in _delimited.py and _parquet.py.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Iterator, Optional

import pandas as pd

from medsweep.data import _delimited, _parquet
from medsweep.data._parquet import SUFFIXES as PARQUET_SUFFIXES
from medsweep.data.errors import DataError, one_line
from medsweep.record.files import sha256_of_file

# The most a data file may hold once decompressed (data.max_expanded_mb, MB = 10**6 bytes; schema.py repeats
# it). A 694 KB gzip file of 300 MB text took 7.4 GB to parse: a small file is not a small table.
DEFAULT_MAX_EXPANDED_MB = 2048
# Rows predict reads, predicts and writes at a time: ~50 MB of a wide table, and few enough calls to the
# model that a million rows take seconds.
CHUNK_ROWS = 50_000

_SPECIAL_FILES = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                  (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: Path, setting: str) -> None:
    """The path is a regular file (or a link to one), judged from its metadata: nothing is opened, since
    opening a FIFO waits for a writer and a device (/dev/zero) never ends. ``setting`` names what chose the
    path, for messages (``data.path=...``)."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        where = "" if path.is_absolute() else f" (looked for {path.resolve()})"
        raise DataError(f"{setting}: file not found{where}; check the path (a relative path is relative to "
                        "the folder medsweep is run from: the working directory)") from None
    except OSError as exc:
        raise DataError(f"data file {path} cannot be opened: {exc.strerror or one_line(exc)}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{setting}: {path.resolve()} is a folder, not a file; "
                        "point data.path at a CSV or Parquet file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise DataError(f"{setting}: {path} exists but is {kind}, not a regular file; allowed is a regular "
                        "file holding CSV or other delimited text, gzipped text or Parquet: save the data to "
                        "such a file and point data.path at it")


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(_delimited.HEAD_BYTES)
    except OSError as exc:
        raise DataError(f"data file {path} cannot be opened: {exc.strerror or one_line(exc)}") from None
    if not head.strip():
        raise DataError(f"data file {path} is empty: it needs a header row and at least one data row")
    return head


def _misnamed_parquet(path: Path) -> DataError:
    return DataError(f"data file {path} is named {path.suffix} but is not a Parquet file "
                     "(no PAR1 header): rename it to .csv if it is text, or export it again as Parquet")


def scan_file(path: Path, max_bytes: Optional[int]) -> tuple[str, int]:
    """The file's sha256 (its provenance) and what it holds once decompressed, in bytes: its text, checked
    for NUL bytes in the same single pass, or a Parquet file's decoded table (estimated from its metadata).
    More than ``max_bytes`` is refused. After it, :func:`read_table` may skip its own scan (``scanned``)."""
    head = _head(path)
    if head.startswith(_parquet.MAGIC):
        return sha256_of_file(path), _parquet.size(path, max_bytes)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return sha256_of_file(path), len(head)   # read_table refuses it with its own message
    _, compression = _delimited.text_head(path, head)
    digest = hashlib.sha256()
    size = _delimited.scan(path, compression, max_bytes, digest)
    return digest.hexdigest(), size


def read_table(path: Path, na_values: list, delimiter: Optional[str] = None, max_bytes: Optional[int] = None,
               scanned: bool = False) -> pd.DataFrame:
    """Read a CSV/TSV/delimited text file or a Parquet file; the file is only read.

    Every problem reading it (empty, binary, not Parquet, ragged rows, a column name given twice, a NUL
    byte, more than ``max_bytes`` once decompressed, ...) is a :class:`DataError` naming the file and what is
    wrong. ``scanned``: :func:`scan_file` has checked the file already. ``path`` must be a regular file
    (see :func:`check_regular_file`): a FIFO would block the open below.
    """
    head = _head(path)
    if head.startswith(_parquet.MAGIC):
        if not scanned:
            _parquet.size(path, max_bytes)
        return _parquet.read(path, na_values)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        raise _misnamed_parquet(path)
    return _delimited.read(path, head, na_values, delimiter, max_bytes, scanned)


def read_chunks(path: Path, na_values: list, delimiter: Optional[str] = None, text_columns: list = (),
                chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The file's column names (checked now) and its rows, ``chunk_rows`` at a time, read as
    :func:`read_table` reads them, so memory stays bounded however long the file is. ``text_columns`` are
    read as the text written (a chunk of codes "1", "2" must not become numbers). No size limit: a chunk
    never holds more than ``chunk_rows`` rows."""
    check_regular_file(path, f"data file {path}")
    head = _head(path)
    if head.startswith(_parquet.MAGIC):
        return _parquet.chunks(path, na_values, list(text_columns), chunk_rows)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        raise _misnamed_parquet(path)
    return _delimited.chunks(path, head, na_values, delimiter, list(text_columns), chunk_rows)
