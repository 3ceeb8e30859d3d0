"""The parsed-table cache: the jobs of a sweep parse a big data file once, then memory-map it.

A file of at least :data:`MIN_BYTES` is parsed by the first job that needs it, in a child process (the
parser's working memory goes back to the system when it exits), and stored as an uncompressed Arrow IPC
file in the cache folder (``data_cache``: by default ``.data_cache/`` in the sweep directory). The entry is
named by the file's sha256 and the read settings that change the parsed table (``data.na_values``,
``data.delimiter``) plus the pandas and pyarrow versions, so a changed file or setting never reads a stale
entry. Every job (the first included) then memory-maps the entry: float columns are stored with their NaN
as values, so pandas uses the mapped pages without copying them, and the jobs of a machine share one copy
in the page cache.

The table read back is the one ``read_table`` returned (values, NaN, dtypes, column order, text); the
warnings logged while parsing (a Latin-1 file) are stored with it and logged again by every job. An entry
is written under a temporary name and renamed, and built under a lock, so racing jobs parse once and a
killed job leaves no partial entry; an entry that cannot be read is rebuilt. Any failure of the cache falls
back to parsing the file in the job, as without a cache, which also gives a bad file its usual message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

import pandas as pd

log = logging.getLogger("medsweep")

# Smaller files are parsed by every job: a 32 MiB CSV parses in ~0.2 s, about what building an entry costs
# (a child process importing pandas); the bundled datasets and typical cohorts are far below it. Compared with
# what the file holds decompressed (data.expanded_size): a 694 KB gzip file can hold 300 MB of text.
MIN_BYTES = 32 << 20
AUTO = "auto"                 # data_cache=auto: <sweep dir>/.data_cache in a multirun, no cache in a single run
FOLDER = ".data_cache"
SUFFIX = ".arrow"
FORMAT = 1                    # bumped when the entry's layout changes
_META = b"medsweep"
_BAD_FILE, _CHANGED = 3, 4   # the child's exit status when the file is bad or changed: the job parses it itself


def cache_folder(setting: Optional[str]) -> Optional[Path]:
    """The folder ``data_cache`` names: None (off), ``auto`` (the sweep directory's ``.data_cache`` in a
    multirun: every job of the sweep shares it; none in a single run, which reads its file once) or a
    folder, shared by every sweep that names it."""
    if setting is None or str(setting).strip() == "":
        return None
    if str(setting) != AUTO:
        return Path(str(setting)).expanduser()
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
            return None
        return Path(HydraConfig.get().sweep.dir).expanduser() / FOLDER
    except Exception:  # noqa: BLE001 - no Hydra context (a job run by hand): no cache
        return None


def file_stamp(path: Path) -> tuple:
    """What changes when a file is rewritten: its size and modification time."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def entry_name(sha256: str, na_values: list, delimiter: Optional[str]) -> str:
    """The entry's file name: the source's sha256 and everything else that changes the parsed table."""
    import pyarrow as pa

    settings = {"format": FORMAT, "na_values": [str(v) for v in na_values],
                "delimiter": None if delimiter is None else str(delimiter),
                "pandas": pd.__version__, "pyarrow": pa.__version__}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return f"{sha256}-{digest}{SUFFIX}"


def load(path: Path, sha256: str, stamp: tuple, na_values: list, delimiter: Optional[str],
         folder: Path) -> Optional[pd.DataFrame]:
    """The parsed table of ``path`` from the cache in ``folder``, building the entry if needed; None when the
    cache cannot be used (the caller then parses the file itself). ``stamp`` (size, mtime) is the file's as it
    was hashed: a file that changes before it is parsed is not cached under the old sha256."""
    entry = folder / entry_name(sha256, na_values, delimiter)
    frame = _open(entry, sha256)
    if frame is not None:
        return frame
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(entry.with_name(entry.name + ".lock")):
            frame = _open(entry, sha256)     # another job may have built it while this one waited
            if frame is None and _build(path, sha256, stamp, na_values, delimiter, entry):
                frame = _open(entry, sha256)
    except OSError as exc:
        log.warning("Data cache %s cannot be used (%s): the file is parsed by this job", folder, exc)
        return None
    return frame


def _open(entry: Path, sha256: str) -> Optional[pd.DataFrame]:
    """The memory-mapped table of a complete entry for this source; None if it is absent or unreadable
    (a damaged entry is removed, to be rebuilt)."""
    import pyarrow as pa

    if not entry.is_file():
        return None
    try:
        table = pa.ipc.open_file(pa.memory_map(str(entry), "r")).read_all()
        table.validate()
        meta = json.loads(table.schema.metadata[_META])
        if meta["sha256"] != sha256 or meta["rows"] != table.num_rows:
            raise ValueError("the entry is not this file's")
        # One numpy array per column, viewing the mapped pages where the type allows (numbers without nulls).
        frame = table.to_pandas(split_blocks=True)
    except Exception as exc:  # noqa: BLE001 - truncated, not Arrow, foreign: rebuild it
        log.warning("Data cache entry %s is unreadable (%s): rebuilt", entry, " ".join(str(exc).split())[:200])
        with contextlib.suppress(OSError):
            entry.unlink()
        return None
    for message in meta.get("warnings", []):
        log.warning("%s", message)
    return frame


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on ``lock_path`` (released by the kernel if the holder dies)."""
    import fcntl

    with open(lock_path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build(path: Path, sha256: str, stamp: tuple, na_values: list, delimiter: Optional[str], entry: Path) -> bool:
    """Parse ``path`` into ``entry`` in a child process; True if the entry was written. A file that cannot
    be parsed leaves no entry: the job then parses it itself and fails with the usual message."""
    request = json.dumps({"path": str(path), "sha256": sha256, "stamp": list(stamp), "na_values": [str(v) for v in na_values],
                          "delimiter": delimiter, "entry": str(entry)})
    try:
        proc = subprocess.run([sys.executable, "-m", "medsweep.data_cache", request], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        log.warning("Data cache: cannot start the parsing process (%s): the file is parsed by this job", exc)
        return False
    if proc.returncode not in (0, _BAD_FILE, _CHANGED):
        log.warning("Data cache: parsing %s in a child process failed (exit %d: %s): the file is parsed by this "
                    "job", path, proc.returncode, " ".join(proc.stderr.split())[-300:])
    return proc.returncode == 0


def write_entry(frame: pd.DataFrame, sha256: str, entry: Path, warnings: list[str]) -> None:
    """Store ``frame`` at ``entry`` atomically: float columns keep NaN as values (no validity bitmap), so
    they map without a copy; pandas' metadata restores every dtype."""
    import numpy as np
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, column in enumerate(frame.columns):
        if frame[column].dtype == np.float64:
            table = table.set_column(i, table.schema.field(i), pa.array(frame[column].to_numpy(), type=pa.float64()))
    meta = {"format": FORMAT, "sha256": sha256, "rows": int(frame.shape[0]), "warnings": warnings}
    # One record batch (pandas' text columns come in the parser's chunks): each column maps as one array.
    table = table.combine_chunks().replace_schema_metadata({**table.schema.metadata, _META: json.dumps(meta).encode()})
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=max(1, table.num_rows))
        os.replace(tmp, entry)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _main(request: str) -> int:
    """The child process: parse the file as a job would, write the entry."""
    from medsweep.data import DataError, read_table

    r = json.loads(request)
    collect = _Collect()
    log.addHandler(collect)
    log.propagate = False
    path = Path(r["path"])
    if list(file_stamp(path)) != r["stamp"]:
        return _CHANGED
    try:
        frame = read_table(path, r["na_values"], r["delimiter"])
    except DataError:
        return _BAD_FILE
    if frame.shape[0] == 0:
        return _BAD_FILE
    if list(file_stamp(path)) != r["stamp"]:
        return _CHANGED
    write_entry(frame, r["sha256"], Path(r["entry"]), collect.messages)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
