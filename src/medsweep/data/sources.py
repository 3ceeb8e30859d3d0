"""Where a model's raw table comes from: a file, a scikit-learn dataset, a file bundled with medsweep, or a
synthetic cohort.

Each source is one function ``(data_cfg, data_dir, cache) -> (frame, info)`` and one entry of
:data:`SOURCES`; ``info`` is the provenance every result shows (source, path, sha256, ...). A file
(``data.path``, or ``data_dir``/``data.file``) wins over ``data.source``, which names an embedded source.
Adding a source is one function and one entry here (and the name in config/schema.py's allowed
``data.source`` values, which tests/test_data.py checks against this table).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from medsweep.data import cache as data_cache
from medsweep.data.errors import DataError
from medsweep.data.read import DEFAULT_MAX_EXPANDED_MB, check_regular_file, read_table, scan_file
from medsweep.record.files import sha256_of_file

# Real datasets shipped in medsweep/data/datasets/ (CC BY 4.0; see NOTICE.md there), checked on every load.
BUNDLED = {
    "parkinsons.data": {
        "sha256": "a148d3c47503f4f5b3842d3f995548da333eb2b4401f6bb8a65832d008aca5d5",
        "licence": "CC BY 4.0", "citation": "UCI Machine Learning Repository, Parkinsons (Little et al. 2008)"},
    "cleveland_heart.csv": {
        "sha256": "a5195b7562ca4f48bda400649bfee2a7d7ed70ff72fb5cc0c486c68fd68f7f62",
        "licence": "CC BY 4.0", "citation": "UCI Machine Learning Repository, Heart Disease, Cleveland (Detrano et al. "
                                            "1989)"},
}
DATASETS = Path(__file__).resolve().parent / "datasets"


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


def _file(data_cfg: Any, data_dir: Optional[str], cache: Optional[Path]) -> tuple[pd.DataFrame, dict]:
    """A user's file. One of at least ``data_cache.MIN_BYTES`` (decompressed) is read through the
    parsed-table cache in folder ``cache`` (the same table, parsed once per cache; see cache.py)."""
    path = resolve_path(data_cfg, data_dir)
    check_regular_file(path, _setting(data_cfg, data_dir))
    stamp = data_cache.file_stamp(path)
    max_bytes = int(data_cfg.get("max_expanded_mb") or DEFAULT_MAX_EXPANDED_MB) * 10**6
    # Decompressed, not on disk: a small gzip file can hold a table every job would parse again.
    digest, size = scan_file(path, max_bytes)
    frame = None
    if cache is not None and size >= data_cache.MIN_BYTES:
        frame = data_cache.load(path, digest, stamp, data_cfg.na_values, data_cfg.get("delimiter"), cache)
    if frame is None:
        frame = read_table(path, data_cfg.na_values, data_cfg.get("delimiter"), max_bytes, scanned=True)
    if frame.shape[0] == 0:
        raise DataError(f"data file {path} has a header but no data rows")
    return frame, {"source": "file", "synthetic": False, "path": str(path.resolve()), "sha256": digest}


def _sklearn(data_cfg: Any, data_dir: Optional[str], cache: Optional[Path]) -> tuple[pd.DataFrame, dict]:
    from sklearn import datasets

    name = data_cfg.name
    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    elif name == "diabetes":
        bunch = datasets.load_diabetes(as_frame=True)
        frame = bunch.data.copy()
        frame["progression"] = bunch.target.to_numpy()
    else:
        raise DataError(f"data.name={name!r} has no bundled scikit-learn dataset: choose breast_cancer or diabetes")
    return frame, {"source": "sklearn", "synthetic": False, "path": None}


def _bundled(data_cfg: Any, data_dir: Optional[str], cache: Optional[Path]) -> tuple[pd.DataFrame, dict]:
    """A real dataset shipped with medsweep, refused unless its bytes are the published file's."""
    name = data_cfg.get("file")
    if name not in BUNDLED:
        raise DataError(f"data.source=bundled: data.file={name!r} is not shipped with medsweep; bundled files are "
                        f"{', '.join(BUNDLED)} (or use data.source=synthetic, or data.path=<file>)")
    path = DATASETS / name
    digest = sha256_of_file(path)
    if digest != BUNDLED[name]["sha256"]:
        raise DataError(f"bundled data file {path} has sha256 {digest}, not the published file's "
                        f"{BUNDLED[name]['sha256']}: the installation is damaged; reinstall medsweep")
    frame = read_table(path, data_cfg.na_values, data_cfg.get("delimiter"))
    return frame, {"source": "bundled", "synthetic": False, "path": str(path), "sha256": BUNDLED[name]["sha256"],
                   "licence": BUNDLED[name]["licence"], "citation": BUNDLED[name]["citation"]}


def _synthetic(data_cfg: Any, data_dir: Optional[str], cache: Optional[Path]) -> tuple[pd.DataFrame, dict]:
    from medsweep.data.synthetic import make_cohort

    frame = make_cohort(data_cfg.name, seed=data_cfg.seed, site=data_cfg.get("site"))  # data.site: a site column
    return frame, {"source": "synthetic", "synthetic": True, "path": None, "cohort_seed": int(data_cfg.seed)}


Loader = Callable[[Any, Optional[str], Optional[Path]], tuple[pd.DataFrame, dict]]
# name -> loader. "file" is chosen by data.path / data_dir; the others by data.source.
SOURCES: dict[str, Loader] = {"file": _file, "sklearn": _sklearn, "bundled": _bundled, "synthetic": _synthetic}
EMBEDDED = tuple(name for name in SOURCES if name != "file")


def _sha256_of_frame(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def load_frame(data_cfg: Any, data_dir: Optional[str] = None,
               cache: Optional[Path] = None) -> tuple[pd.DataFrame, dict]:
    """The raw table and where it came from (its provenance: source, name, path, sha256, rows, columns)."""
    source = "file" if resolve_path(data_cfg, data_dir) is not None else data_cfg.source
    if source not in SOURCES:
        raise DataError(f"data.source={source!r} is not allowed: must be one of {', '.join(EMBEDDED)}")
    frame, info = SOURCES[source](data_cfg, data_dir, cache)
    if "sha256" not in info:   # an embedded table: the digest of its values
        info["sha256"] = _sha256_of_frame(frame)
    return frame, {"name": data_cfg.name, **info, "rows": int(frame.shape[0]), "columns": int(frame.shape[1])}
