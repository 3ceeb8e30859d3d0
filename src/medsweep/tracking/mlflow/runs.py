"""What an MLflow run holds, read from the files a job (or a sweep) wrote: name, params, metrics, tags,
artifacts and status. Pure: no MLflow, no store; the tracker writes what this returns."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Optional

from medsweep.config.run_control import TRAINED_KEYS, is_run_control
from medsweep.record.files import FINAL_STATUSES, JobPaths, Status
from medsweep.record.job_record import JobRecord
from medsweep.record.sweep_dir import SweepDir
from medsweep.tracking.backend import one_line

# A job's config, flattened into params: what it trains (run_control.TRAINED_KEYS), not the run-control
# keys, which may change on a resume while params cannot.
PARAM_KEYS = TRAINED_KEYS
STATS = ("mean", "std", "pooled", "lower", "upper")
# MLflow has no "pruned": such a run ends KILLED (what Optuna's MLflow callback does with a pruned trial), with
# the tags status=pruned and pruned=<why>.
RUN_STATUS = {Status.COMPLETED: "FINISHED", Status.FAILED: "FAILED", Status.TIMEOUT: "KILLED",
              Status.INTERRUPTED: "KILLED", Status.PRUNED: "KILLED"}
SWEEP_STATUS = {Status.COMPLETED: "FINISHED", Status.FAILED: "FAILED", Status.INTERRUPTED: "KILLED",
                Status.RUNNING: "KILLED"}  # a sweep.json still "running" once its lock is free: killed
MAX_PARAM = 6000    # MLflow's limits on a param's and a tag's value
MAX_TAG = 8000
# What started the runs, in MLflow's source tags: the command an installed medsweep has (train.py is only in a
# clone, and runs the same app).
SOURCE_TAGS = {"mlflow.source.name": "medsweep run", "mlflow.source.type": "LOCAL"}


# -- what a run holds, read from the files ---------------------------------------------------------------
def _yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, ValueError, yaml.YAMLError):
        return None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def ms(stamp: Any) -> Optional[int]:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


def number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def clip(value: Any, limit: int) -> str:
    """A param's or a tag's value: a string as it is, anything else as JSON; cut to MLflow's ``limit``."""
    out = value if isinstance(value, str) else json.dumps(value, default=str)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _flatten(tree: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            _flatten(value, f"{prefix}.{key}", out)
    else:
        out[prefix] = clip(tree, MAX_PARAM)


def job_artifacts(job: JobPaths) -> dict[str, tuple[Path, Optional[str]]]:
    """A job's files uploaded to its run: artifact path in the run -> (file, folder in the run); its saved
    config in hydra/."""
    return {**{path.name: (path, None) for path in job.outputs},
            **{f"hydra/{path.name}": (path, "hydra") for path in (job.saved_config, job.saved_overrides)}}


def sweep_artifacts(sweep: SweepDir) -> tuple[Path, ...]:
    """A sweep's files uploaded to its parent run: its summaries, sweep.json, its config and Optuna's results
    (with several objectives, its Pareto front too)."""
    return (*sweep.summary_files, sweep.sweep_file, sweep.config_file, sweep.optuna_file, sweep.pareto_file)


def _history(job: JobPaths) -> list[tuple[str, float, int]]:
    """history.csv as metric steps: ``history/fold_<k>/<column>`` at step = epoch."""
    out = []
    try:
        with open(job.history, newline="") as f:
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


def _warning_tags(record: JobRecord) -> dict[str, str]:
    """Tags a reader of the MLflow UI cannot miss: ``warning.synthetic_data`` on a job trained on a synthetic
    cohort, ``warnings`` (how many) and ``warning.<kind>`` (its messages) from metrics.json's ``warnings``."""
    tags: dict[str, str] = {}
    if (record.data or {}).get("synthetic"):
        tags["warning.synthetic_data"] = "SYNTHETIC data, not real patients: for testing the pipeline only"
    raw = record.warnings or []
    items = raw if isinstance(raw, list) else [raw]
    if items:
        tags["warnings"] = str(len(items))
    for w in items:
        kind, message = (w.get("kind"), w.get("message")) if isinstance(w, dict) else ("warning", w)
        key = "warning." + re.sub(r"[^\w.-]", "_", str(kind or "warning"))[:200]
        text = one_line(message or "")
        tags[key] = f"{tags[key]} | {text}" if key in tags else text
    return tags


def job_run(job_dir: Path, record: JobRecord | Mapping[str, Any], record_bytes: bytes,
            overrides: Optional[list] = None, num: Optional[str] = None, git: Optional[dict] = None) -> dict:
    """What a job's MLflow run holds, from the job's files (``record``: its metrics.json, read): name, params,
    metrics (key, value, step), tags, artifacts, run status, start and end, each artifact's size and time, and
    signatures of the record and of the files (to log only what changed)."""
    job = JobPaths(Path(job_dir))
    record = record if isinstance(record, JobRecord) else JobRecord.from_json(record)
    cfg = _yaml(job.saved_config) or {}
    params: dict[str, str] = {}
    for key in PARAM_KEYS:
        if key in cfg:
            _flatten(cfg[key], key, params)
    if overrides is None:
        overrides = record.overrides
    if overrides is None:
        overrides = _yaml(job.saved_overrides) or []
    params["overrides"] = clip(" ".join(str(o) for o in overrides
                                         if not is_run_control(o)), MAX_PARAM)

    metrics: list[tuple[str, float, int]] = []
    for name, stats in (record.metrics or {}).items():
        for stat in STATS:
            value = number((stats or {}).get(stat))
            if value is not None:
                metrics.append((f"{name}.{stat}", value, 0))
        for i, value in enumerate((stats or {}).get("folds") or []):
            if number(value) is not None:
                metrics.append((f"{name}.fold", float(value), i))
    calibration = (record.evaluation or {}).get("calibration") or {}
    metrics += [(f"calibration.{k}", float(v), 0) for k, v in calibration.items() if number(v) is not None]
    test = record.test or {}
    for name, stats in (test.get("metrics") or {}).items():
        for stat in ("value", "lower", "upper"):
            value = number((stats or {}).get(stat))
            if value is not None:
                metrics.append((f"test.{name}.{stat}", value, 0))
    if number(record.duration_s) is not None:
        metrics.append(("duration_s", float(record.duration_s), 0))
    metrics += _history(job)

    status = str(record.status)
    data = record.data or {}
    data_cfg = cfg.get("data") or {}
    source = data.get("source") or ("file" if data_cfg.get("path") or cfg.get("data_dir") else data_cfg.get("source"))
    tags = {
        "status": status, "model": record.model, "estimator": record.estimator,
        "task": record.task, "primary_metric": record.primary_metric,
        "data_source": source, "data_sha256": data.get("sha256"), "data_path": data.get("path") or data_cfg.get("path"),
        "data_synthetic": data.get("synthetic"), "test_source": test.get("source"),
        "job_dir": str(job.folder.resolve()), "job_num": num, "attempts": record.attempts,
        "model_sha256": record.model_sha256, "retries": cfg.get("retries"), "timeout_min": cfg.get("timeout_min"),
        "n_samples": record.n_samples, "n_features": record.n_features, "n_groups": record.n_groups,
        "error": one_line(record.error) if record.error else None, "error_type": record.error_type,
        "pruned": one_line(str(record.pruned.get("reason"))) if isinstance(record.pruned, dict) else None,
        **SOURCE_TAGS,
        **(git or {}),
        **_warning_tags(record),
    }
    tags = {k: clip(v, MAX_TAG) for k, v in tags.items() if v is not None}

    artifacts = job_artifacts(job)
    files = {}  # each artifact's size and time
    for name, (path, _) in list(artifacts.items()):
        try:
            st = path.stat()
            files[name] = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            del artifacts[name]
    label = " ".join(str(x) for x in (record.model, record.estimator) if x)
    return {
        "name": f"#{num} {label}" if num is not None else label or job.folder.name,
        "params": params, "metrics": metrics, "tags": tags, "artifacts": artifacts,
        "status": status, "run_status": RUN_STATUS.get(status, "RUNNING"),
        "start_ms": ms(record.started_at), "end_ms": ms(record.finished_at),
        "record_sig": hashlib.sha256(record_bytes).hexdigest()[:16], "files": files,
        "files_sig": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16],
    }


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


# -- the sweep's (parent) run --------------------------------------------------------------------------------
SWEEP_PARAMS = ("command", "launcher", "n_jobs")   # from sweep.json: how the sweep was started


def sweep_params(info: dict) -> dict[str, str]:
    return {k: clip(info.get(k), MAX_PARAM) for k in SWEEP_PARAMS if info.get(k) is not None}


def sweep_run(sweep_dir: Path, info: dict, statuses: Counter, n_jobs: int) -> dict:
    """What the parent run holds once the sweep is over, from its sweep.json (``info``) and the statuses of
    its jobs as logged (``missing``: not logged): params, metrics, tags, run status, end and artifacts."""
    status = info.get("status")
    if status not in SWEEP_STATUS:  # no sweep.json (another sweeper): from its jobs
        status = Status.COMPLETED if set(statuses) <= {Status.COMPLETED} else Status.FAILED
    metrics = [(f"jobs.{s}", float(statuses.get(s, 0)), 0) for s in (*map(str, FINAL_STATUSES), "missing")]
    metrics.append(("jobs.total", float(n_jobs), 0))
    return {
        "params": {**sweep_params(info), "jobs": str(n_jobs)}, "metrics": metrics,
        "tags": {"status": str(status), "sweep_dir": str(sweep_dir), "resumes": str(len(info.get("resumes") or []))},
        "run_status": SWEEP_STATUS[status], "end_ms": ms(info.get("finished_at")),
        "artifacts": [(path, None) for path in sweep_artifacts(SweepDir(sweep_dir)) if path.is_file()],
    }
