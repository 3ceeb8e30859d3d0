"""The data package's one exception (a data file or a ``data`` setting that cannot be used), and the
refusals that both file formats (delimited text, Parquet) share."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


class DataError(ValueError):
    """The data cannot be used as configured (a missing column, a single class, ...)."""


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (a library's message may span several), for a one-line error."""
    return " ".join(str(exc).split()) or type(exc).__name__


def too_large(path: Path, max_bytes: int) -> DataError:
    mb = max_bytes // 10**6
    return DataError(f"data file {path} expands to more than {mb} MB when read (data.max_expanded_mb={mb}, "
                     "the most one data file may hold once decompressed; a small compressed file expanding far "
                     "beyond it is a decompression bomb): raise data.max_expanded_mb if the table is really "
                     "that large")


def refuse_duplicate_columns(path: Path, names: list) -> None:
    """A name given to several columns of the file, as written in it (not as pandas renamed them)."""
    # An empty name is not a name: pandas calls each such column "Unnamed: <i>", none can be chosen
    # by data.target, data.group or data.drop, and an exported index has one.
    counts = Counter(str(n) for n in names if str(n) != "")
    repeated = [f"{n!r} ({k} times)" for n, k in counts.items() if k > 1]
    if repeated:
        raise DataError(f"data file {path} has duplicate column names: {', '.join(repeated)}; every column "
                        "needs a unique name (a second copy would be read as another column, e.g. a copy of "
                        "the target as a feature): rename or delete the copies in the file")
