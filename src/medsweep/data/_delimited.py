"""Delimited text (CSV, TSV, ...; gzipped too): the rules :mod:`medsweep.data.read` applies to a text file.

Only ``data.na_values`` mark missing cells, UTF-8 (with or without BOM) else Latin-1, the delimiter is
``data.delimiter`` or sniffed, a NUL byte anywhere and more than ``data.max_expanded_mb`` once
decompressed are refused, and so are a column name given twice and extra fields holding values. Used
through read.py (whole file for training and external validation, in chunks for predict); the one place
in medsweep where users' text files are parsed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import logging
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np
import pandas as pd

from medsweep.data.errors import DataError, one_line, refuse_duplicate_columns, too_large

log = logging.getLogger("medsweep")

# Delimiters tried when data.delimiter is not set, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
# Names for delimiters that Hydra's override syntax makes awkward (data.delimiter=; does not parse).
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|", "space": " "}
HEAD_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC, _OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"   # .xlsx (and any zip); old .xls
_BLOCK = 1 << 20


def _sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits every sampled line into the same number (> 1) of fields, the most
    fields winning; ',' when none does (a one-column or ragged file then fails with a clear message)."""
    def score(candidate: str) -> tuple[bool, int]:
        widths = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        return len(set(widths)) == 1 and widths[0] > 1, widths[0] if widths else 0

    return max(DELIMITERS, key=score)


def separator(delimiter: Optional[str], lines: list[str]) -> str:
    """The delimiter to read with: ``data.delimiter`` (or its name), else the one sniffed from ``lines``."""
    return DELIMITER_NAMES.get(delimiter, delimiter) if delimiter else _sniff_delimiter(lines)


def text_head(path: Path, head: bytes) -> tuple[list[str], Optional[str]]:
    """The first lines of a (possibly gzipped) text file, for sniffing; refuses binary content."""
    compression = None
    if head.startswith(GZIP_MAGIC):
        compression = "gzip"
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(HEAD_BYTES)
        except (OSError, EOFError) as exc:
            raise DataError(f"data file {path} is a damaged gzip file ({one_line(exc)})") from None
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
    if len(head) == HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    if not any(line.strip() for line in lines):
        raise DataError(f"data file {path} is empty: it needs a header row and at least one data row")
    return lines[:50], compression


def _nul_error(path: Path, line: int) -> DataError:
    return DataError(f"data file {path} holds a NUL byte (a zero byte) on line {line} (data row {line - 1}): "
                     "text tables never hold one, and it would turn that value, and a numeric column with it, "
                     "into text; export the file again or remove the byte")


class _Hashing:
    """A binary file that adds every byte read from it to ``digest`` (gzip reads through it)."""

    def __init__(self, f: Any, digest: Any) -> None:
        self.f, self.digest = f, digest

    def read(self, n: int = -1) -> bytes:
        block = self.f.read(n)
        self.digest.update(block)
        return block


def scan(path: Path, compression: Optional[str], max_bytes: Optional[int], digest: Any = None) -> int:
    """The bytes of text the file holds once decompressed, found in one streaming pass that stops at
    ``max_bytes`` (a gzip bomb is never expanded in full) and refuses a NUL byte anywhere, naming its line
    (the head check sees only the first 64 KiB; pandas reads a NUL further on as text). ``digest`` (a
    hashlib object), when given, receives the file's bytes as stored, so the same pass gives its sha256."""
    size = lines = 0
    try:
        with open(path, "rb") as raw:
            source = raw if digest is None else _Hashing(raw, digest)
            f = gzip.GzipFile(fileobj=source, mode="rb") if compression == "gzip" else source
            for block in iter(lambda: f.read(_BLOCK), b""):
                nul = block.find(b"\x00")
                if nul >= 0:
                    raise _nul_error(path, lines + block.count(b"\n", 0, nul) + 1)
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise too_large(path, max_bytes)
                lines += block.count(b"\n")
            if digest is not None:   # bytes after the gzip stream, if any, are the file's too
                for block in iter(lambda: raw.read(_BLOCK), b""):
                    digest.update(block)
    except (OSError, EOFError) as exc:
        what = "is a damaged gzip file" if compression == "gzip" else "cannot be read"
        raise DataError(f"data file {path} {what} ({one_line(exc)})") from None
    return size


def read(path: Path, head: bytes, na_values: list, delimiter: Optional[str], max_bytes: Optional[int],
         scanned: bool) -> pd.DataFrame:
    """The whole text file as a table (see read.read_table)."""
    lines, compression = text_head(path, head)
    if not scanned:
        scan(path, compression, max_bytes)
    sep = separator(delimiter, lines)
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
                        f"({one_line(exc)}); set data.delimiter (comma, semicolon, tab, pipe) if that is "
                        "not the file's delimiter") from None
    refuse_duplicate_columns(path, header.iloc[0].tolist() if len(header) else [])
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


# -- in chunks (predict) ----------------------------------------------------------------------------------

def _encoding(path: Path, compression: Optional[str]) -> str:
    """UTF-8 (with or without BOM) when every byte decodes, else Latin-1 as :func:`read` decides; found in
    one streaming pass, since a bad byte in the last chunk must not change how the first was read."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as f:
            for block in iter(lambda: f.read(_BLOCK), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        log.warning("Data file %s is not UTF-8 text: read as Latin-1", path)
        return "latin-1"
    except (OSError, EOFError) as exc:
        raise DataError(f"data file {path} is a damaged gzip file ({one_line(exc)})") from None


def chunks(path: Path, head: bytes, na_values: list, delimiter: Optional[str], text_columns: list,
           chunk_rows: int) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The file's column names (checked now) and its rows, ``chunk_rows`` at a time (see read.read_chunks)."""
    lines, compression = text_head(path, head)
    sep = separator(delimiter, lines)
    kwargs = dict(sep=sep, compression=compression, encoding=_encoding(path, compression),
                  engine="python" if len(sep) > 1 else "c")

    def fail_reading(exc: BaseException) -> DataError:
        return DataError(f"data file {path} cannot be read as delimited text with delimiter {sep!r} "
                         f"({one_line(exc)}); the job read its data with data.delimiter="
                         f"{delimiter} (null: detected)")

    try:
        names = [str(c) for c in pd.read_csv(path, nrows=0, **kwargs).columns]
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, na_filter=False, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {path} is empty: it needs a header row and data rows") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise fail_reading(exc) from None
    refuse_duplicate_columns(path, header.iloc[0].tolist() if len(header) else [])

    def rows() -> Iterator[pd.DataFrame]:
        # Text features are read as the text written (a chunk of codes "1", "2" must not become numbers).
        # index_col=False: a trailing delimiter on every row must not turn the first field into row labels
        # (every column shifted onto its neighbour's name); the columns are read as the header names them.
        reader = pd.read_csv(path, chunksize=chunk_rows, na_values=list(na_values), keep_default_na=False,
                             dtype={c: str for c in text_columns if c in names}, index_col=False, **kwargs)
        try:
            yield from reader
        except (pd.errors.ParserError, ValueError, OSError, EOFError) as exc:
            raise fail_reading(exc) from None

    return names, rows()
