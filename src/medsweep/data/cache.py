"""The parsed-table cache: the jobs of a sweep parse a big data file once, then memory-map it.

A file of at least :data:`MIN_BYTES` is parsed by the first job that needs it, in a child process (the
parser's working memory goes back to the system when it exits), and stored as an uncompressed Arrow IPC
file in the cache folder (``data_cache``: by default ``.data_cache/`` in the sweep directory). The entry is
named by the file's sha256 and the read settings that change the parsed table (``data.na_values``,
``data.delimiter``) plus the pandas and pyarrow versions, so a changed file or setting never reads a stale
entry. Every job (the first included) then memory-maps the entry: float columns are stored with their NaN
as values, so pandas uses the mapped pages without copying them, and the jobs of a machine share one copy
in the page cache.

The table read back is the one ``read.read_table`` returned (values, NaN, dtypes, column order, text); the
warnings logged while parsing (a Latin-1 file) are stored with it and logged again by every job. An entry
is written under an unpredictable temporary name, created exclusively (never through a planted link), and
renamed, and built under a lock, so racing jobs parse once and a killed job leaves no partial entry; the
parsing process dies with the job that started it (``kill -9`` of a sweep leaves none behind). Any failure
of the cache falls back to parsing the file in the job, as without a cache, which also gives a bad file its
usual message.

An entry is trusted only as its builder wrote it: the builder records an HMAC-SHA256 of the entry's bytes
in ``<entry>.mac``, keyed by a random key the folder's owner keeps in ``<folder>/.key`` (mode 0600), and
every job checks the whole entry against it before using it (one read of the entry, as costly as the
sha256 of the data file each job computes anyway). A changed entry (a value rewritten, its metadata kept)
or one planted by another user of a shared folder, who cannot read the key, fails the check and is
rebuilt, with a warning. The key, the digest and the entry must be regular files of this user, never
links, and not writable by others (a mapped entry is checked once, then read for the job's life).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import mmap
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

import pandas as pd

log = logging.getLogger("medsweep")

# Smaller files are parsed by every job: a 32 MiB CSV parses in ~0.2 s, about what building an entry costs
# (a child process importing pandas); the bundled datasets and typical cohorts are far below it. Compared with
# what the file holds decompressed (data.read.scan_file): a 694 KB gzip file can hold 300 MB of text.
MIN_BYTES = 32 << 20
AUTO = "auto"                 # data_cache=auto: <sweep dir>/.data_cache in a multirun, no cache in a single run
FOLDER = ".data_cache"
SUFFIX = ".arrow"
FORMAT = 2                    # bumped when the entry's layout changes (2: entries carry a digest, .mac)
_META = b"medsweep"
_BAD_FILE, _CHANGED = 3, 4   # the child's exit status when the file is bad or changed: the job parses it itself
KEY_FILE = ".key"             # the folder's secret key for the entries' digests
MAC_SUFFIX = ".mac"           # <entry>.mac: the entry's HMAC-SHA256 (hex), written by its builder
_KEY_BYTES = 32
# Never through a link, never inherited, and never blocking on a planted FIFO (then refused: not a regular file).
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class CacheRefused(OSError):
    """A file of the cache that this user must not trust (a link, another user's, writable by others)."""


def cache_folder(setting: Optional[str], sweep_dir: Optional[Path] = None) -> Optional[Path]:
    """The folder ``data_cache`` names: None (off), ``auto`` (``<sweep_dir>/.data_cache``: every job of a
    multirun shares it; none without a ``sweep_dir``, i.e. in a single run, which reads its file once) or a
    folder, shared by every sweep that names it. ``sweep_dir``: the multirun's sweep directory, which the
    job layer knows (Hydra's runtime config); this package never asks Hydra."""
    if setting is None or str(setting).strip() == "":
        return None
    if str(setting) != AUTO:
        return Path(str(setting)).expanduser()
    return None if sweep_dir is None else Path(sweep_dir).expanduser() / FOLDER


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
    try:
        folder.mkdir(parents=True, exist_ok=True)
        key = folder_key(folder)
        frame = _open(entry, sha256, key, quiet=True)
        if frame is not None:
            return frame
        with _locked(entry.with_name(entry.name + ".lock")):
            frame = _open(entry, sha256, key)     # another job may have built it while this one waited
            if frame is None and _build(path, sha256, stamp, na_values, delimiter, entry, key):
                frame = _open(entry, sha256, key)
    except OSError as exc:
        log.warning("Data cache %s cannot be used (%s): the file is parsed by this job", folder, exc)
        return None
    return frame


def _open_own(path: Path, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """A descriptor of ``path``, opened without following a link, that must be a regular file of this user
    that nobody else can write (CacheRefused otherwise)."""
    try:
        fd = os.open(path, flags | _NOFOLLOW, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise CacheRefused(f"{path} is a symbolic link: the cache never follows one") from None
        raise exc
    st = os.fstat(fd)
    problem = ("is not a regular file" if not stat.S_ISREG(st.st_mode) else
               "belongs to another user" if hasattr(os, "getuid") and st.st_uid != os.getuid() else
               "is writable by others" if st.st_mode & 0o022 else
               "has other names (hard links)" if st.st_nlink != 1 else None)
    if problem:
        os.close(fd)
        raise CacheRefused(f"{path} {problem}: the cache does not trust it")
    return fd


def folder_key(folder: Path) -> bytes:
    """The folder's secret key for the entries' digests, made on first use (a random key written whole
    before it gets its name, so that racing jobs agree on one)."""
    path = folder / KEY_FILE
    if not os.path.lexists(path):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".key.", suffix=".tmp")
        try:
            os.write(fd, os.urandom(_KEY_BYTES))
            os.close(fd)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)   # never replaces a key: the first job's key wins
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fd = _open_own(path)
    try:
        key = os.read(fd, _KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != _KEY_BYTES:
        raise CacheRefused(f"{path} is not a key of {_KEY_BYTES} bytes: remove it")
    return key


def _mac(key: bytes, content: Any) -> str:
    return hmac.new(key, content, hashlib.sha256).hexdigest()


def _recorded_mac(entry: Path) -> str:
    fd = _open_own(entry.with_name(entry.name + MAC_SUFFIX))
    try:
        return os.read(fd, 200).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def _open(entry: Path, sha256: str, key: bytes, quiet: bool = False) -> Optional[pd.DataFrame]:
    """The memory-mapped table of a complete entry for this source whose content is the one its builder
    recorded; None if it is absent, changed or unreadable (such an entry is removed, to be rebuilt, unless
    ``quiet``: the check made before taking the lock only looks)."""
    import pyarrow as pa

    if not os.path.lexists(entry):
        return None
    try:
        fd = _open_own(entry)
        try:
            # The entry is checked and read through one mapping: what was checked is what the job reads.
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        if not hmac.compare_digest(_mac(key, mapped), _recorded_mac(entry)):
            raise ValueError("its content is not what its builder recorded (changed since it was built)")
        table = pa.ipc.open_file(pa.py_buffer(mapped)).read_all()
        table.validate()
        meta = json.loads(table.schema.metadata[_META])
        if meta["sha256"] != sha256 or meta["rows"] != table.num_rows:
            raise ValueError("the entry is not this file's")
        # One numpy array per column, viewing the mapped pages where the type allows (numbers without nulls).
        frame = table.to_pandas(split_blocks=True)
    except Exception as exc:  # noqa: BLE001 - changed, truncated, not Arrow, foreign, a link: rebuild it
        if not quiet:
            log.warning("Data cache entry %s is unreadable or untrusted (%s): rebuilt", entry,
                        " ".join(str(exc).split())[:200])
            with contextlib.suppress(OSError):
                entry.unlink()   # a link itself, never its target
        return None
    for message in meta.get("warnings", []):
        log.warning("%s", message)
    return frame


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on ``lock_path`` (released by the kernel if the holder dies); never through a link."""
    import fcntl

    fd = _open_own(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # drops the lock


def _build(path: Path, sha256: str, stamp: tuple, na_values: list, delimiter: Optional[str], entry: Path,
           key: bytes) -> bool:
    """Parse ``path`` into ``entry`` in a child process; True if the entry was written. A file that cannot
    be parsed leaves no entry: the job then parses it itself and fails with the usual message. The request
    (with the key) goes through the child's stdin, which other users cannot read, unlike its arguments."""
    request = json.dumps({"path": str(path), "sha256": sha256, "stamp": list(stamp), "na_values": [str(v) for v in na_values],
                          "delimiter": delimiter, "entry": str(entry), "key": key.hex(), "parent": os.getpid()})
    try:
        proc = subprocess.run([sys.executable, "-m", "medsweep.data.cache"], input=request,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        log.warning("Data cache: cannot start the parsing process (%s): the file is parsed by this job", exc)
        return False
    if proc.returncode not in (0, _BAD_FILE, _CHANGED):
        log.warning("Data cache: parsing %s in a child process failed (exit %d: %s): the file is parsed by this "
                    "job", path, proc.returncode, " ".join(proc.stderr.split())[-300:])
    return proc.returncode == 0


def _new_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new file in ``folder`` with an unpredictable name, created exclusively (mode 0600): never a
    file or link someone planted."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    return fd, Path(tmp)


def write_entry(frame: pd.DataFrame, sha256: str, entry: Path, warnings: list[str], key: bytes) -> None:
    """Store ``frame`` at ``entry`` atomically, with its digest in ``<entry>.mac``: float columns keep NaN
    as values (no validity bitmap), so they map without a copy; pandas' metadata restores every dtype."""
    import numpy as np
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, column in enumerate(frame.columns):
        if frame[column].dtype == np.float64:
            table = table.set_column(i, table.schema.field(i), pa.array(frame[column].to_numpy(), type=pa.float64()))
    meta = {"format": FORMAT, "sha256": sha256, "rows": int(frame.shape[0]), "warnings": warnings}
    # One record batch (pandas' text columns come in the parser's chunks): each column maps as one array.
    table = table.combine_chunks().replace_schema_metadata({**table.schema.metadata, _META: json.dumps(meta).encode()})
    fd, tmp = _new_file(entry.parent, entry.name)
    mac_fd, mac_tmp = None, None
    try:
        with open(fd, "w+b", closefd=False) as f, pa.PythonFile(f, mode="w") as sink, \
                pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=max(1, table.num_rows))
        # The digest of the bytes written, read back through the same descriptor.
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as written:
            digest = _mac(key, written)
        os.close(fd)
        fd = None
        mac_fd, mac_tmp = _new_file(entry.parent, entry.name + MAC_SUFFIX)
        with open(mac_fd, "w") as f:
            f.write(digest + "\n")
        # The digest first: a job never finds this entry with another entry's digest.
        os.replace(mac_tmp, entry.with_name(entry.name + MAC_SUFFIX))
        os.replace(tmp, entry)
    finally:
        if fd is not None:
            os.close(fd)
        for leftover in (tmp, mac_tmp):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _main(request: str) -> int:
    """The child process: parse the file as a job would, write the entry."""
    r = json.loads(request)
    # Killed with the job that started it (a sweep killed by SIGKILL takes its jobs and this with it).
    from medsweep.parent_death import die_with_parent

    die_with_parent(r["parent"])
    from medsweep.data.errors import DataError
    from medsweep.data.read import read_table

    collect = _Collect()
    log.addHandler(collect)
    log.propagate = False
    path = Path(r["path"])
    if list(file_stamp(path)) != r["stamp"]:
        return _CHANGED
    try:
        # The job scanned the file (NUL bytes, expanded size) before asking; the stamps show it is that file.
        frame = read_table(path, r["na_values"], r["delimiter"], scanned=True)
    except DataError:
        return _BAD_FILE
    if frame.shape[0] == 0:
        return _BAD_FILE
    if list(file_stamp(path)) != r["stamp"]:
        return _CHANGED
    write_entry(frame, r["sha256"], Path(r["entry"]), collect.messages, bytes.fromhex(r["key"]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.stdin.read()))
