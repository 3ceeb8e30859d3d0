"""Where an MLflow store is: the URI policy (every path absolute against the directory the sweep started
from; SQLite by default; MLflow's deprecated file store refused), how to look at it, and the Model Registry
name of a disease model's best jobs.

The default store is ``multirun/mlflow.db`` under the directory the sweep starts from (its artifacts beside
it, ``multirun/mlartifacts/``): with the sweeps it records, in the folder Hydra already writes them to (and
that a checkout ignores), not at the top of the working directory. MLflow's own ``MLFLOW_TRACKING_URI``,
where set, is used instead."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from medsweep.tracking.backend import TrackingError

DEFAULT_DB = "multirun/mlflow.db"     # tracking.uri=null: sqlite:///<directory the sweep started from>/multirun/mlflow.db
URI_VARIABLE = "MLFLOW_TRACKING_URI"  # MLflow's own: where set, the store of tracking.uri=null
DEFAULT_EXPERIMENT = "medsweep"


def resolve_uri(uri: Optional[str], start_dir: Path) -> str:
    """The store's URI with every path made absolute against the directory the sweep started from, so that
    no job directory ever gets a store of its own. None -> ``$MLFLOW_TRACKING_URI`` where set, else a SQLite
    file ``multirun/mlflow.db`` there; a path to a ``.db`` file -> SQLite; MLflow's deprecated file store is
    refused."""
    start_dir = Path(start_dir)
    key = "tracking.uri"
    if uri is None or str(uri).strip() == "":
        uri, key = os.environ.get(URI_VARIABLE, "").strip(), URI_VARIABLE
    if uri == "":
        return "sqlite:///" + str((start_dir / DEFAULT_DB).resolve())
    uri = str(uri).strip()
    if uri.startswith("sqlite:///"):
        rest = uri[len("sqlite:///"):]
        if rest in ("", ":memory:"):
            raise TrackingError(f"{key}={uri} is not allowed: a sweep's store must outlive the sweep "
                                "(give a file, e.g. sqlite:///mlflow.db)")
        return "sqlite:///" + str((start_dir / rest).resolve())
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", uri)
    if scheme is None or scheme.group(1) == "file":
        path = Path(uri[len("file://"):] if scheme else uri).expanduser()
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            return "sqlite:///" + str((start_dir / path).resolve())
        raise TrackingError(f"{key}={uri} is not allowed: MLflow's file store (a directory) is deprecated; "
                            "use sqlite:///<file>.db or a server, http://host:5000")
    return uri.rstrip("/") if scheme.group(1) in ("http", "https") else uri


def ui_command(uri: str) -> str:
    """How to look at the store."""
    if uri.startswith(("http://", "https://")):
        return uri
    return f"mlflow ui --backend-store-uri {uri}"


def registered_name(experiment: str, model: str) -> str:
    """The Model Registry name of a disease model's best jobs: ``<experiment>-<model>``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{experiment}-{model}")

