"""Experiment tracking with MLflow (``tracking=mlflow``): a sweep is a parent run, each of its jobs a child
run nested under it, written from the files the jobs wrote.

    python train.py -m model=als,parkinsons tracking=mlflow      # -> ./mlflow.db, a SQLite store
    mlflow ui --backend-store-uri sqlite:///mlflow.db             # browse it
    medsweep track multirun/2026-11-28/09-30-00                  # log a sweep that ran without tracking

One writer: only the sweep's own (parent) process talks to the store; jobs never do. Parallel workers never
race on SQLite, and jobs on nodes that cannot reach the store (submitit, Ray) are tracked all the same.
:class:`TrackMLflow` (a Hydra callback, registered by conf/tracking/mlflow.yaml) checks the store before any
job starts, logs each job once its metrics.json says it ended (a thread of the sweep's process watches the
job files, so logging overlaps the sweep), and when the sweep ends logs what is left, the summary files
and the sweep's status. Run ids are kept in ``<sweep dir>/tracking.json``: logging a job whose files have
not changed does nothing, a later result (a resume, a retry) updates the same run, and ``medsweep track``
run twice adds nothing. MLflow is imported only when tracking is used (tracking_mlflow.py).
"""

from __future__ import annotations

import atexit
import csv
import getpass
import hashlib
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from medsweep import escape
from medsweep.report.compare import rank_value, ranked_by
from medsweep.record.files import (FINAL_STATUSES, HISTORY_FILE, JOB_PLOTS, LOG_FILE, METRICS_FILE, MODEL_CARD_FILE,
                                MODEL_FILE, OPTUNA_FILE, PREDICTIONS_FILE, SAVED_CONFIG, SAVED_OVERRIDES, SUBGROUPS_FILE,
                                SUMMARY_FILES, SWEEP_CONFIG, SWEEP_FILE, TEST_PREDICTIONS_FILE, TRACKING_FILE, Status,
                                read_metrics)
from medsweep.record.files import list_jobs as _sweep_jobs
from medsweep.record.files import model_problem
from medsweep.record.outputs import now, write_json
from medsweep.config.schema import RUN_CONTROL_KEYS

log = logging.getLogger(__name__)

DEFAULT_DB = "mlflow.db"              # tracking.uri=null: sqlite:///<directory the sweep started from>/mlflow.db
DEFAULT_EXPERIMENT = "medsweep"
SINGLE_RUN_KEY = "run"                # a single run's entry in tracking.json's jobs
JOB_ARTIFACTS = (METRICS_FILE, PREDICTIONS_FILE, TEST_PREDICTIONS_FILE, HISTORY_FILE, SUBGROUPS_FILE, *JOB_PLOTS,
                 MODEL_CARD_FILE, MODEL_FILE, LOG_FILE)
CONFIG_ARTIFACTS = (SAVED_CONFIG, SAVED_OVERRIDES)   # uploaded into hydra/
SWEEP_ARTIFACTS = (*SUMMARY_FILES, SWEEP_FILE, SWEEP_CONFIG, OPTUNA_FILE)
# A job's config, flattened into params: what it trains. Run-control keys (schema.RUN_CONTROL_KEYS) may change
# on a resume and params cannot: they are not params.
PARAM_KEYS = ("model", "data", "trainer", "estimator", "eval", "seed", "data_dir")
STATS = ("mean", "std", "pooled", "lower", "upper")
RUN_STATUS = {Status.COMPLETED: "FINISHED", Status.FAILED: "FAILED", Status.TIMEOUT: "KILLED",
              Status.INTERRUPTED: "KILLED"}
SWEEP_STATUS = {Status.COMPLETED: "FINISHED", Status.FAILED: "FAILED", Status.INTERRUPTED: "KILLED",
                Status.RUNNING: "KILLED"}  # a sweep.json still "running" once its lock is free: killed
MAX_PARAM = 6000    # MLflow's limits on a param's and a tag's value
MAX_TAG = 8000
SETTLE_S = 0.5      # the watcher logs a job once its final metrics.json is this old (its log has its last line)
STATE_KEYS = ("uri", "experiment", "experiment_id", "parent", "jobs", "logged", "registered")

_ACTIVE: Optional["Tracker"] = None   # the tracker of the sweep this process runs (for log_job)


class TrackingError(Exception):
    """The tracking store cannot be reached or used (one line)."""


def one_line(text: Any, limit: int = 500) -> str:
    return escape.one_line(text, limit)


# -- where -------------------------------------------------------------------------------------------------
def resolve_uri(uri: Optional[str], start_dir: Path) -> str:
    """The store's URI with every path made absolute against the directory the sweep started from, so that
    no job directory ever gets a store of its own. None -> a SQLite file ``mlflow.db`` there; a path to a
    ``.db`` file -> SQLite; MLflow's deprecated file store is refused."""
    start_dir = Path(start_dir)
    if uri is None or str(uri).strip() == "":
        return "sqlite:///" + str((start_dir / DEFAULT_DB).resolve())
    uri = str(uri).strip()
    if uri.startswith("sqlite:///"):
        rest = uri[len("sqlite:///"):]
        if rest in ("", ":memory:"):
            raise TrackingError(f"tracking.uri={uri} is not allowed: a sweep's store must outlive the sweep "
                                "(give a file, e.g. sqlite:///mlflow.db)")
        return "sqlite:///" + str((start_dir / rest).resolve())
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", uri)
    if scheme is None or scheme.group(1) == "file":
        path = Path(uri[len("file://"):] if scheme else uri).expanduser()
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            return "sqlite:///" + str((start_dir / path).resolve())
        raise TrackingError(f"tracking.uri={uri} is not allowed: MLflow's file store (a directory) is deprecated; "
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


# -- what a run holds, read from the files ---------------------------------------------------------------
def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _ms(stamp: Any) -> Optional[int]:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flatten(tree: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            _flatten(value, f"{prefix}.{key}", out)
    else:
        out[prefix] = _text(tree, MAX_PARAM)


def _override_key(override: str) -> str:
    return str(override).lstrip("+~").split("=", 1)[0]


def _history(job_dir: Path) -> list[tuple[str, float, int]]:
    """history.csv as metric steps: ``history/fold_<k>/<column>`` at step = epoch."""
    out = []
    try:
        with open(job_dir / HISTORY_FILE, newline="") as f:
            for row in csv.DictReader(f):
                fold, epoch = row.pop("fold", None), row.pop("epoch", None)
                row.pop("repeat", None)  # folds are numbered across repeats already
                if fold is None or epoch is None:
                    continue
                for column, value in row.items():
                    try:
                        out.append((f"history/fold_{int(fold)}/{column}", float(value), int(epoch)))
                    except (TypeError, ValueError):
                        continue
    except OSError:
        pass
    return out


def _warning_tags(record: dict) -> dict[str, str]:
    """Tags a reader of the MLflow UI cannot miss: ``warning.synthetic_data`` on a job trained on a synthetic
    cohort, ``warnings`` (how many) and ``warning.<kind>`` (its messages) from metrics.json's ``warnings``."""
    tags: dict[str, str] = {}
    if (record.get("data") or {}).get("synthetic"):
        tags["warning.synthetic_data"] = "SYNTHETIC data, not real patients: for testing the pipeline only"
    raw = record.get("warnings") or []
    items = raw if isinstance(raw, list) else [raw]
    if items:
        tags["warnings"] = str(len(items))
    for w in items:
        kind, message = (w.get("kind"), w.get("message")) if isinstance(w, dict) else ("warning", w)
        key = "warning." + re.sub(r"[^\w.-]", "_", str(kind or "warning"))[:200]
        text = one_line(message or "")
        tags[key] = f"{tags[key]} | {text}" if key in tags else text
    return tags


def job_run(job_dir: Path, record: dict, record_bytes: bytes, overrides: Optional[list] = None,
            num: Optional[str] = None, git: Optional[dict] = None) -> dict:
    """What a job's MLflow run holds, from the job's files: name, params, metrics (key, value, step), tags,
    artifacts, run status, start and end, each artifact's size and time, and signatures of the record and of
    the files (to log only what changed)."""
    job_dir = Path(job_dir)
    cfg = _yaml(job_dir / SAVED_CONFIG) or {}
    params: dict[str, str] = {}
    for key in PARAM_KEYS:
        if key in cfg:
            _flatten(cfg[key], key, params)
    if overrides is None:
        overrides = record.get("overrides")
    if overrides is None:
        overrides = _yaml(job_dir / CONFIG_ARTIFACTS[1]) or []
    params["overrides"] = _text(" ".join(str(o) for o in overrides
                                         if _override_key(o).split(".")[0] not in RUN_CONTROL_KEYS), MAX_PARAM)

    metrics: list[tuple[str, float, int]] = []
    for name, stats in (record.get("metrics") or {}).items():
        for stat in STATS:
            value = _number((stats or {}).get(stat))
            if value is not None:
                metrics.append((f"{name}.{stat}", value, 0))
        for i, value in enumerate((stats or {}).get("folds") or []):
            if _number(value) is not None:
                metrics.append((f"{name}.fold", float(value), i))
    calibration = (record.get("evaluation") or {}).get("calibration") or {}
    metrics += [(f"calibration.{k}", float(v), 0) for k, v in calibration.items() if _number(v) is not None]
    test = record.get("test") or {}
    for name, stats in (test.get("metrics") or {}).items():
        for stat in ("value", "lower", "upper"):
            value = _number((stats or {}).get(stat))
            if value is not None:
                metrics.append((f"test.{name}.{stat}", value, 0))
    if _number(record.get("duration_s")) is not None:
        metrics.append(("duration_s", float(record["duration_s"]), 0))
    metrics += _history(job_dir)

    status = str(record.get("status"))
    data = record.get("data") or {}
    data_cfg = cfg.get("data") or {}
    source = data.get("source") or ("file" if data_cfg.get("path") or cfg.get("data_dir") else data_cfg.get("source"))
    tags = {
        "status": status, "model": record.get("model"), "estimator": record.get("estimator"),
        "task": record.get("task"), "primary_metric": record.get("primary_metric"),
        "data_source": source, "data_sha256": data.get("sha256"), "data_path": data.get("path") or data_cfg.get("path"),
        "data_synthetic": data.get("synthetic"), "test_source": test.get("source"),
        "job_dir": str(job_dir.resolve()), "job_num": num, "attempts": record.get("attempts"),
        "model_sha256": record.get("model_sha256"), "retries": cfg.get("retries"), "timeout_min": cfg.get("timeout_min"),
        "n_samples": record.get("n_samples"), "n_features": record.get("n_features"), "n_groups": record.get("n_groups"),
        "error": one_line(record["error"]) if record.get("error") else None, "error_type": record.get("error_type"),
        "mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL",
        **(git or {}),
        **_warning_tags(record),
    }
    tags = {k: _text(v, MAX_TAG) for k, v in tags.items() if v is not None}

    # artifact path in the run -> (file, folder in the run), and each file's size and time
    artifacts = {name: (job_dir / name, None) for name in JOB_ARTIFACTS}
    artifacts.update({f"hydra/{rel.name}": (job_dir / rel, "hydra") for rel in CONFIG_ARTIFACTS})
    files = {}
    for name, (path, _) in list(artifacts.items()):
        try:
            st = path.stat()
            files[name] = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            del artifacts[name]
    label = " ".join(str(x) for x in (record.get("model"), record.get("estimator")) if x)
    return {
        "name": f"#{num} {label}" if num is not None else label or job_dir.name,
        "params": params, "metrics": metrics, "tags": tags, "artifacts": artifacts,
        "status": status, "run_status": RUN_STATUS.get(status, "RUNNING"),
        "start_ms": _ms(record.get("started_at")), "end_ms": _ms(record.get("finished_at")),
        "record_sig": hashlib.sha256(record_bytes).hexdigest()[:16], "files": files,
        "files_sig": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16],
    }


def list_jobs(sweep_dir: Path) -> list[dict]:
    """[{num, dir, overrides}] of a sweep, as the summary lists them (sweep.json, else numbered folders)."""
    return _sweep_jobs(Path(sweep_dir))[1]


def git_tags(directory: Path) -> dict[str, str]:
    """MLflow's git tags for the directory the sweep was started from, where it is in a git work tree."""
    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"mlflow.source.git.commit": commit, **({"git_dirty": str(bool(dirty)).lower()} if dirty is not None else {})}


def _lock_pid(directory: Path) -> Optional[str]:
    from medsweep.record.lock import LOCK_FILE

    try:
        return (directory / LOCK_FILE).read_text().strip()
    except OSError:
        return None


def _ours(directory: Path) -> bool:
    """Whether ``directory`` is the sweep this process runs: medsweep's sweeper locks its directory with this
    process's id in the lock file (another sweep started in the same second writes to ``<dir>-1``); sweeps
    of other sweepers have no lock file."""
    if not (directory / SWEEP_FILE).is_file() and not any(p.name.isdigit() for p in directory.glob("[0-9]*")):
        return False
    pid = _lock_pid(directory)
    return pid is None or pid == str(os.getpid())


def _our_sweep_dir(requested: Path) -> Optional[Path]:
    """The directory the sweeper claimed for this process's sweep: ``requested`` or ``requested-<n>``."""
    candidate, n = requested, 0
    while candidate.is_dir():
        if _lock_pid(candidate) == str(os.getpid()) and (candidate / SWEEP_FILE).is_file():
            return candidate
        n += 1
        candidate = requested.with_name(f"{requested.name}-{n}")
    return None


# -- the tracker -------------------------------------------------------------------------------------------
class Tracker:
    """Logs one sweep directory (or one single run's directory) to one experiment of one MLflow store.
    Thread-safe: every use of the store holds one lock (the watcher thread, a caller of :func:`log_job`
    and the end of the sweep may all log)."""

    def __init__(self, uri: str, experiment: str = DEFAULT_EXPERIMENT, register_best: bool = False,
                 start_dir: Optional[Path] = None):
        self.uri, self.experiment, self.register_best = uri, experiment, register_best
        self.start_dir = Path(start_dir or os.getcwd())
        self.store: Any = None
        self.off: Optional[str] = None       # why tracking is off (the store could not be used at the start)
        self.broken: Optional[str] = None    # why logging stopped midway
        self.dir: Optional[Path] = None
        self.state: dict = {}
        self._previous: list[dict] = []
        self._status, self._message = "logging", ""
        self._lock = threading.RLock()          # every use of the store and of tracking.json
        self._connect_lock = threading.Lock()
        self._known_params: dict[str, set] = {}   # run key -> params its run has (checked this session)
        self._uploaded: dict[str, dict] = {}      # run key -> the files uploaded to its run (this session)
        self._saved_at, self._dirty = 0.0, False
        self._jobs: list[dict] = []               # the watched sweep's jobs, from its sweep.json
        self._parent_open = False
        self._mtimes: dict[str, int] = {}
        self._git: Optional[dict] = None
        self._atexit = False

    # store
    def connect(self) -> None:
        """Open the store (import MLflow, create the experiment, check it can be written); TrackingError
        where it cannot be used (then tracking stays off)."""
        with self._connect_lock:  # not the logging lock: log_job must not wait seconds for this
            if self.store is not None:
                return
            if self.off:
                raise TrackingError(self.off)
            try:
                from medsweep.tracking.mlflow_store import Store
            except ImportError as exc:
                self.off = f"MLflow is not installed ({exc}): pip install -e \".[mlflow]\""
                raise TrackingError(self.off) from None
            for attempt in (1, 2):  # two sweeps creating one SQLite store at once: the later one retries
                try:
                    self.store = Store(self.uri, self.experiment)
                    return
                except TrackingError as exc:
                    if attempt == 2 or "unreachable" in str(exc) or "not allowed" in str(exc):
                        self.off = str(exc)
                        raise
                    time.sleep(1.0)

    def _open(self) -> None:
        """connect(), where that was not tried yet; a failure leaves tracking off (self.off says why)."""
        if self.store is None and not self.off:
            try:
                self.connect()
            except TrackingError as exc:
                log.warning("MLflow tracking is off: %s", exc)

    def git(self) -> dict:
        """Tags every run gets: the git commit of the directory the sweep started from, and the user."""
        if self._git is None:
            try:
                user = {"mlflow.user": getpass.getuser()}
            except (KeyError, OSError):  # no name for this uid (a container)
                user = {}
            self._git = {**git_tags(self.start_dir), **user}
        return self._git

    def _break(self, exc: BaseException) -> None:
        if self.broken is None:
            self.broken = f"{type(exc).__name__}: {one_line(exc)}"
            log.warning("MLflow logging stopped: %s; log the rest later with `medsweep track %s`",
                        self.broken, self.dir)

    # tracking.json
    def attach(self, directory: Path) -> None:
        """Log ``directory`` (a sweep's or a single run's): read the run ids of this store from its tracking.json."""
        directory = Path(directory).resolve()
        with self._lock:
            if self.dir == directory:
                return
            self.dir = directory
            doc = _read_json(directory / TRACKING_FILE)
            doc = doc if isinstance(doc, dict) else {}
            records = [r for r in [doc, *(doc.get("previous") or [])] if isinstance(r, dict) and r.get("uri")]
            mine = next((r for r in records if r.get("uri") == self.uri and r.get("experiment") == self.experiment),
                        None)
            self._previous = [{k: r.get(k) for k in STATE_KEYS} for r in records if r is not mine]
            self.state = {k: (mine or {}).get(k) for k in STATE_KEYS}
            self.state.update(uri=self.uri, experiment=self.experiment)
            for key in ("jobs", "logged", "registered"):
                self.state[key] = dict(self.state[key] or {})
            if self.store is not None:
                if self.state["experiment_id"] not in (None, self.store.experiment_id):  # recreated since
                    self.state.update(parent=None, jobs={}, logged={}, registered={})
                self.state["experiment_id"] = self.store.experiment_id
            if self.off:
                self._status, self._message = "off", f"tracking was off: {self.off}; log it with: medsweep track {directory}"
            self._save()

    def _save(self, soon: bool = False) -> None:
        """Write tracking.json; with ``soon``, at most once a second (a new run's id is always written at
        once: that is what keeps a later run of medsweep track from adding it again)."""
        if self.dir is None:
            return
        if soon and time.monotonic() - self._saved_at < 1.0:
            self._dirty = True
            return
        self._saved_at, self._dirty = time.monotonic(), False
        doc = {"backend": "mlflow", "status": self._status, "message": self._message, **self.state,
               "ui": ui_command(self.uri), "updated_at": now(), "previous": self._previous}
        try:
            write_json(self.dir / TRACKING_FILE, doc)
        except OSError as exc:
            log.warning("Could not write %s: %s", self.dir / TRACKING_FILE, exc.strerror or exc)

    def flush(self) -> None:
        """Write tracking.json if a save was put off."""
        with self._lock:
            if self._dirty:
                self._save()

    # runs
    def _parent(self) -> str:
        """The sweep's parent run: the one recorded for this store, or a new one."""
        pid = self.state.get("parent")
        if pid and not self._parent_open and self.store.run_params(pid) is None:
            pid = None
        if pid is None:
            info = _read_json(self.dir / SWEEP_FILE) or {}
            try:
                name = str(self.dir.relative_to(self.start_dir.resolve()))
            except ValueError:
                name = str(self.dir)
            tags = {"sweep_dir": str(self.dir), "mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL",
                    **self.git()}
            pid = self.store.create_run(name, _ms(info.get("started_at")), tags)
            self.state["parent"] = pid
            self._save()
            params = {k: _text(info.get(k), MAX_PARAM) for k in ("command", "launcher", "n_jobs") if info.get(k) is not None}
            self.store.write(pid, params, [], {}, int(time.time() * 1000))
        elif not self._parent_open:
            self.store.reopen(pid)
        if not self._parent_open:
            self._parent_open = True
            if not self._atexit:
                atexit.register(self._abandoned)
                self._atexit = True
        return pid

    def _run_for(self, key: str, job: dict, nested: bool) -> tuple[str, bool]:
        """(run id, whether it is new) of a job: the recorded run where the store still has it."""
        run_id = self.state["jobs"].get(key)
        if run_id and key not in self._known_params:
            params = self.store.run_params(run_id)
            if params is None:
                run_id = None
            else:
                self._known_params[key] = set(params)
        if run_id:
            return run_id, False
        tags = {**job["tags"], **({"mlflow.parentRunId": self._parent()} if nested else {})}
        run_id = self.store.create_run(job["name"], job["start_ms"], tags)  # tags: cheaper here than in a batch
        self.state["jobs"][key] = run_id
        self.state["logged"].pop(key, None)
        self._known_params[key] = set()
        self._save()
        return run_id, True

    def log_job(self, key: str, job_dir: Path, overrides: Optional[list] = None, nested: bool = True) -> str:
        """Log one job from its files if it has ended; 'new', 'updated', 'unchanged' (logged already with these
        files), 'pending' (not ended), 'off' or 'error'."""
        job_dir = Path(job_dir)
        with self._lock:
            if self.store is None or self.broken or self.dir is None:
                return "off"
            try:
                record_bytes = (job_dir / METRICS_FILE).read_bytes()
                record = json.loads(record_bytes)
            except (OSError, ValueError):
                return "pending"
            if not isinstance(record, dict) or record.get("status") not in FINAL_STATUSES:
                return "pending"
            job = job_run(job_dir, record, record_bytes, overrides, key if nested else None, self.git())
            done = self.state["logged"].get(key) or {}
            if done.get("record") == job["record_sig"] and done.get("files") == job["files_sig"]:
                return "unchanged"
            for attempt in (1, 2):  # once more after a second: SQLite busy with another sweep's writes
                try:
                    new = self._write_job(key, job, nested)
                    break
                except Exception as exc:  # noqa: BLE001 - a store that fails stops logging, never the sweep
                    if attempt == 2:
                        self._break(exc)
                        return "error"
                    self._known_params.pop(key, None)
                    time.sleep(1.0)
            self.state["logged"][key] = {"status": job["status"], "record": job["record_sig"], "files": job["files_sig"]}
            self._uploaded[key] = job["files"]
            self._save(soon=True)
            return "new" if new else "updated"

    def _write_job(self, key: str, job: dict, nested: bool) -> bool:
        """Write what changed of a job's run since it was last logged (all of it for a new run); whether the
        run is new."""
        run_id, new = self._run_for(key, job, nested)
        done = self.state["logged"].get(key) or {}  # emptied for a new run
        if done.get("record") != job["record_sig"]:
            known = self._known_params[key]
            params = {k: v for k, v in job["params"].items() if k not in known}
            self.store.write(run_id, params, job["metrics"], {} if new else job["tags"],
                             job["end_ms"] or int(time.time() * 1000))
            known.update(params)
            if done:  # an error of an earlier result is no longer true
                self.store.delete_tags(run_id, [k for k in ("error", "error_type") if k not in job["tags"]])
        if done.get("files") != job["files_sig"]:
            uploaded = self._uploaded.get(key, {}) if done else {}  # what this process uploaded to this run
            self.store.upload(run_id, [file for name, file in job["artifacts"].items()
                                       if uploaded.get(name) != job["files"][name]])
        if done.get("record") != job["record_sig"]:
            self.store.end(run_id, job["run_status"], job["end_ms"])
        return new

    def log_finished(self) -> None:
        """The watcher's pass: log every job of the sweep whose final metrics.json has settled."""
        jobs = self._jobs
        if not jobs:
            info, jobs = _sweep_jobs(self.dir)
            if info.get("command"):  # sweep.json's list: written as the sweep starts, it does not change
                self._jobs = jobs
        for job in jobs:
            if self.broken:
                return
            key, job_dir = str(job["num"]), self.dir / job["dir"]
            try:
                st = (job_dir / METRICS_FILE).stat()
            except OSError:
                continue
            if self._mtimes.get(key) == st.st_mtime_ns or time.time() - st.st_mtime < SETTLE_S:
                continue
            if self.log_job(key, job_dir, job["overrides"]) not in ("off", "error"):
                self._mtimes[key] = st.st_mtime_ns

    def finish(self, directory: Path) -> Optional[dict]:
        """Log every job of a sweep that is over, its summary files and its status; register the best models
        if asked. What was done, or None where tracking is off."""
        with self._lock:
            if not self._attach_to_log(directory):
                return None
            jobs = list_jobs(self.dir)
            outcomes = Counter(self.log_job(str(j["num"]), self.dir / j["dir"], j["overrides"]) for j in jobs)
            if not self.broken:
                try:
                    self._end_parent(jobs)
                except Exception as exc:  # noqa: BLE001
                    self._break(exc)
            keyed = [(str(j["num"]), self.dir / j["dir"]) for j in jobs]
            return self._conclude(keyed, outcomes)

    def finish_single(self, run_dir: Path) -> Optional[dict]:
        """Log a single run (no -m) as a run of its own."""
        with self._lock:
            if not self._attach_to_log(run_dir):
                return None
            outcomes = Counter([self.log_job(SINGLE_RUN_KEY, self.dir, None, nested=False)])
            return self._conclude([(SINGLE_RUN_KEY, self.dir)], outcomes)

    def _attach_to_log(self, directory: Path) -> bool:
        """Open the store and attach ``directory``; False (the state saved) where tracking is off."""
        self._open()
        self.attach(directory)
        if self.off:
            self._save()
        return not self.off

    def _conclude(self, keyed: list[tuple[str, Path]], outcomes: Counter) -> dict:
        if self.register_best and not self.broken:
            try:
                self._register(keyed)
            except Exception as exc:  # noqa: BLE001
                self._break(exc)
        logged = sum(1 for key, _ in keyed if key in self.state["logged"])
        statuses = Counter(self.state["logged"][key]["status"] for key, _ in keyed if key in self.state["logged"])
        where = f"{self.uri}, experiment {self.experiment!r}"
        if self.broken:
            self._status = "incomplete"
            self._message = (f"MLflow logging stopped ({self.broken}): {logged} of {len(keyed)} jobs in {where}; "
                             f"finish with: medsweep track {self.dir}")
        else:
            self._status = "logged"
            counts = f" ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})" if statuses else ""
            parent = f" under parent run {self.state['parent']}" if self.state.get("parent") else ""
            self._message = f"MLflow: {logged} of {len(keyed)} jobs{counts} in {where}{parent}"
        self._save()
        return {"status": self._status, "message": self._message, "outcomes": dict(outcomes), "logged": logged,
                "jobs": len(keyed), "parent": self.state.get("parent"), "registered": self.state["registered"]}

    def _end_parent(self, jobs: list[dict]) -> None:
        pid = self._parent()
        info = _read_json(self.dir / SWEEP_FILE) or {}
        statuses = Counter()
        for job in jobs:
            entry = self.state["logged"].get(str(job["num"]))
            statuses[entry["status"] if entry else "missing"] += 1
        status = info.get("status")
        if status in SWEEP_STATUS:
            run_status = SWEEP_STATUS[status]
        else:  # no sweep.json (another sweeper): from its jobs
            status = Status.COMPLETED if set(statuses) <= {Status.COMPLETED} else Status.FAILED
            run_status = SWEEP_STATUS[status]
        metrics = [(f"jobs.{s}", float(statuses.get(s, 0)), 0) for s in (*map(str, FINAL_STATUSES), "missing")]
        metrics.append(("jobs.total", float(len(jobs)), 0))
        params = {k: _text(info.get(k), MAX_PARAM) for k in ("command", "launcher", "n_jobs") if info.get(k) is not None}
        params["jobs"] = str(len(jobs))
        known = self.store.run_params(pid) or {}
        params = {k: v for k, v in params.items() if k not in known}
        tags = {"status": str(status), "sweep_dir": str(self.dir), "resumes": str(len(info.get("resumes") or []))}
        end_ms = _ms(info.get("finished_at")) or int(time.time() * 1000)
        self.store.write(pid, params, metrics, tags, end_ms)
        self.store.upload(pid, [(self.dir / n, None) for n in SWEEP_ARTIFACTS if (self.dir / n).is_file()])
        self.store.end(pid, run_status, end_ms)
        self._parent_open = False

    def _register(self, keyed: list[tuple[str, Path]]) -> None:
        """Per disease model, the best completed job becomes a version of the registered model
        ``<experiment>-<model>``: best by the figure the leaderboard ranks by (the primary metric's pooled
        out-of-fold value; the mean over folds where a job of that model records no pooled value), in
        metrics.json's direction, the lower job first on a tie, so it is the leaderboard's first job."""
        candidates: dict[str, list[tuple[str, Path, dict]]] = {}
        for key, job_dir in keyed:
            record = read_metrics(job_dir)
            if not record or record.get("status") != Status.COMPLETED or key not in self.state["jobs"]:
                continue
            mean = _number(((record.get("metrics") or {}).get(record.get("primary_metric")) or {}).get("mean"))
            if mean is None or not math.isfinite(mean) or not (job_dir / MODEL_FILE).is_file():
                continue
            problem = model_problem(job_dir / MODEL_FILE, record)
            if problem:  # never register a model that is not the job's (an emptied or swapped file)
                log.warning("Job %s is not registered: %s", key, problem)
                continue
            candidates.setdefault(record.get("model"), []).append((key, job_dir, record))
        best: dict[str, tuple[float, str, Path, dict]] = {}
        for model, jobs in candidates.items():
            by = ranked_by([record for *_, record in jobs])  # as the leaderboard ranks them
            for key, job_dir, record in jobs:  # keyed is in job order: a tie keeps the lower job
                value, current = rank_value(record, by), best.get(model)
                greater = record.get("greater_is_better", True)
                if current is None or (value > current[0] if greater else value < current[0]):
                    best[model] = (value, key, job_dir, record)
        for model, (value, key, job_dir, record) in sorted(best.items()):
            name = registered_name(self.experiment, model)
            versions = record.get("versions") or {}
            requirements = [f"{d}=={v}" for d, v in versions.items() if v and d not in ("python", "hydra-core")]
            description = record.get("model_description") or model
            tags = {"job_dir": str(job_dir), "primary_metric": str(record.get("primary_metric")),
                    "primary_value": repr(value), "model_sha256": str(record.get("model_sha256"))}
            version = self.store.register(name, self.state["jobs"][key], job_dir / MODEL_FILE,
                                          job_dir / METRICS_FILE, requirements, description, tags)
            self.state["registered"][model] = {"name": name, "version": str(version), "job": key,
                                               "run_id": self.state["jobs"][key], record["primary_metric"]: value}
        self._save()

    def _abandoned(self) -> None:
        """At exit: a parent run left open (the sweep died before its end) is ended as failed."""
        if self._parent_open and not self.broken and self._lock.acquire(timeout=5):
            try:
                if self._parent_open and self.state.get("parent"):
                    self.store.end(self.state["parent"], "FAILED", int(time.time() * 1000))
            except Exception:  # noqa: BLE001 - nothing more to do at exit
                pass
            finally:
                self._lock.release()


class _Watcher(threading.Thread):
    """In the sweep's process: opens the store (unless that was done already), then logs each job as soon
    as it has ended, so logging overlaps the sweep instead of following it."""

    def __init__(self, tracker: Tracker, requested: Path, interval_s: float = 0.25):
        super().__init__(name="medsweep-mlflow", daemon=True)
        self.tracker, self.requested, self.interval_s = tracker, requested, interval_s
        self._stopped = threading.Event()

    def run(self) -> None:
        tracker = self.tracker
        try:
            tracker.connect()
            tracker.git()
        except TrackingError as exc:
            log.warning("MLflow tracking is off for this sweep: %s. The sweep runs; log it later with "
                        "`medsweep track <sweep dir>`", exc)
        try:
            while not self._stopped.is_set():
                if tracker.dir is None:
                    found = _our_sweep_dir(self.requested)
                    if found is not None:
                        tracker.attach(found)
                if tracker.dir is not None:
                    if tracker.off or tracker.broken:
                        return
                    tracker.log_finished()
                    tracker.flush()
                self._stopped.wait(self.interval_s)
        except Exception as exc:  # noqa: BLE001 - the end of the sweep logs whatever this missed
            log.debug("MLflow watcher stopped: %s", exc)

    def stop(self) -> None:
        self._stopped.set()
        self.join()


# -- the Hydra callback ------------------------------------------------------------------------------------
def _tracker_from(config: DictConfig) -> Optional[Tracker]:
    settings = config.get("tracking")
    if settings is None:
        return None
    start_dir = Path(str(config.hydra.runtime.cwd or os.getcwd()))
    if settings.get("backend", "mlflow") != "mlflow":
        raise TrackingError(f"tracking.backend={settings.backend!r} is not allowed: must be mlflow")
    tracker = Tracker(resolve_uri(settings.get("uri"), start_dir), str(settings.get("experiment") or DEFAULT_EXPERIMENT),
                      bool(settings.get("register_best")), start_dir)
    return tracker


def _refuse(reason: str) -> None:
    sys.stderr.write(f"MLflow tracking store unusable and tracking.required=true, nothing was run: {reason}\n")
    # SystemExit, not an exception: Hydra turns callback exceptions into warnings.
    raise SystemExit(1)


class TrackMLflow(Callback):
    """Registered by conf/tracking/mlflow.yaml. Runs only in the sweep's own process (no on_job_* hooks:
    jobs never touch the store)."""

    def __init__(self) -> None:
        self.tracker: Optional[Tracker] = None
        self._watcher: Optional[_Watcher] = None

    # Launchers pickle Hydra's callbacks with every job they send to a worker: what a worker gets is a
    # bare instance (no store, no thread), which does nothing there.
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def _start(self, config: DictConfig) -> Optional[Tracker]:
        try:
            self.tracker = _tracker_from(config)
        except TrackingError as exc:
            if config.tracking.get("required"):
                _refuse(str(exc))
            log.warning("MLflow tracking is off: %s", exc)
            self.tracker = None
        if self.tracker is not None and config.tracking.get("required"):
            try:
                self.tracker.connect()
            except TrackingError as exc:
                _refuse(str(exc))
        return self.tracker

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        global _ACTIVE
        if config.get("dry_run") or self._start(config) is None:
            return
        requested = Path(str(config.hydra.sweep.dir))
        if not requested.is_absolute():
            requested = self.tracker.start_dir / requested
        self._watcher = _Watcher(self.tracker, requested)
        self._watcher.start()
        _ACTIVE = self.tracker

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        global _ACTIVE
        tracker, _ACTIVE = self.tracker, None
        if tracker is None:
            return
        if self._watcher is not None:
            self._watcher.stop()
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if not sweep_dir.is_absolute():
            sweep_dir = tracker.start_dir / sweep_dir
        if not sweep_dir.is_dir() or not _ours(sweep_dir):
            return  # stopped before it had a directory
        _report(tracker.finish(sweep_dir), tracker)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.config.schema import config_errors

        if not config_errors(config):  # else CheckConfig stops the run
            self._start(config)

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        tracker = self.tracker
        if tracker is None:
            return
        try:
            tracker.connect()
        except TrackingError as exc:
            log.warning("MLflow tracking is off for this run: %s", exc)
        run_dir = Path(str(config.hydra.runtime.output_dir))
        if (run_dir / METRICS_FILE).is_file():
            _report(tracker.finish_single(run_dir), tracker)


def _report(result: Optional[dict], tracker: Tracker) -> None:
    if result is None:
        return
    if result["status"] == "logged":
        log.info("%s. See: %s", result["message"], ui_command(tracker.uri))
    else:
        log.warning(result["message"])


def log_job(job_dir: Path) -> str:
    """Log one job of the sweep this process runs, now (e.g. from the sweeper's progress poller as the job
    ends). Safe to call any number of times: a job whose files have not changed is not logged again, a later
    result updates its run. 'off' where this process tracks no sweep."""
    tracker = _ACTIVE
    job_dir = Path(job_dir).resolve()
    if tracker is None or tracker.store is None:
        return "off"
    with tracker._lock:
        if tracker.dir is None and _ours(job_dir.parent):
            tracker.attach(job_dir.parent)
        if tracker.dir != job_dir.parent or not job_dir.name.isdigit():
            return "off"
        return tracker.log_job(job_dir.name, job_dir)


# -- a sweep that ran without tracking: medsweep track -----------------------------------------------------
def describe(directory: Path) -> Optional[str]:
    """One line on the tracking of a sweep (or a single run) for its summary, from its tracking.json; None
    where it was not tracked. Imports no MLflow. The summary written at the end of a sweep comes before the
    sweep's last jobs and its parent run are logged: tracking.json then says "logging"."""
    doc = _read_json(Path(directory) / TRACKING_FILE)
    if not isinstance(doc, dict) or not doc.get("status"):
        return None
    if doc["status"] != "logging":
        return doc.get("message") or f"MLflow tracking: {doc['status']}"
    parent = f", parent run {doc['parent']}" if doc.get("parent") else ""
    return (f"MLflow: experiment {doc.get('experiment')!r} in {doc.get('uri')}{parent}; "
            f"{len(doc.get('logged') or {})} jobs logged as they ended, the rest when the sweep ends "
            f"(a sweep stopped before its end: medsweep track {Path(directory).resolve()})")


def track(directory: Path, uri: Optional[str] = None, experiment: Optional[str] = None,
          register_best: bool = False) -> dict:
    """Log a sweep (or a single run's directory) that is over. Without ``uri``/``experiment``: the store and
    experiment it was tracked to last, else ./mlflow.db and "medsweep"."""
    directory = Path(directory).resolve()
    single = (directory / METRICS_FILE).is_file()
    if not single and not (directory / SWEEP_FILE).is_file() and not any(
            p.is_dir() and p.name.isdigit() for p in directory.iterdir()):
        raise TrackingError(f"{directory} is neither a sweep directory ({SWEEP_FILE} or numbered job folders) nor "
                            f"a run's directory ({METRICS_FILE})")
    recorded = _read_json(directory / TRACKING_FILE)
    recorded = recorded if isinstance(recorded, dict) else {}
    cwd = Path.cwd()
    resolved = resolve_uri(uri if uri is not None else recorded.get("uri"), cwd)
    name = experiment or (recorded.get("experiment") if resolved == recorded.get("uri") else None) or DEFAULT_EXPERIMENT
    tracker = Tracker(resolved, name, register_best, cwd)
    lock = None
    if not single:
        from medsweep.record.lock import holder, try_lock

        lock = try_lock(directory)  # a sweep still running (or being resumed) logs itself
        if lock is None:
            raise TrackingError(f"{directory} is in use by a running sweep ({holder(directory)}); it is tracked when "
                                "it ends if it runs with tracking=mlflow, else track it once it has ended")
    try:
        tracker.connect()
        result = tracker.finish_single(directory) if single else tracker.finish(directory)
    finally:
        if lock is not None:
            lock.release()
    assert result is not None
    return {**result, "uri": resolved, "experiment": name}


def main(argv: Optional[list[str]] = None, prog: str = "python -m medsweep.tracking.core") -> int:
    from medsweep.cli import EXIT_ERROR, EXIT_OK, Parser, fail

    parser = Parser(prog=prog, description="Log a sweep (or a single run) that has ended to an MLflow tracking "
                    "store: a parent run for the sweep, a child run per job. Running it again adds nothing; "
                    "runs whose job changed since (a resume) are updated.")
    parser.add_argument("directory", type=Path, help="the sweep's directory (or a single run's)")
    parser.add_argument("--uri", help="tracking store: sqlite:///<file>.db or http://host:5000 (default: the store "
                        f"it was tracked to, else sqlite:///{DEFAULT_DB} in the current directory)")
    parser.add_argument("--experiment", help=f"MLflow experiment (default: as tracked before, else {DEFAULT_EXPERIMENT})")
    parser.add_argument("--register-best", action="store_true",
                        help="register each disease model's best completed job in the Model Registry")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        return fail(f"{args.directory} is not a directory")
    try:
        result = track(args.directory, args.uri, args.experiment, args.register_best)
    except TrackingError as exc:
        return fail(exc)
    outcomes = result["outcomes"]
    print(f"{result['message']} ({outcomes.get('new', 0)} new, {outcomes.get('updated', 0)} updated, "
          f"{outcomes.get('unchanged', 0)} unchanged)")
    for model, entry in sorted(result["registered"].items()):
        print(f"  registered {model}: {entry['name']} version {entry['version']} (job {entry['job']})")
    print(f"See: {ui_command(result['uri'])}")
    return EXIT_OK if result["status"] == "logged" else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
