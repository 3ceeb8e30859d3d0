"""A job's record, ``metrics.json``, as typed data: the only code that knows the file's top-level keys.

A record is written as a job starts ("running", with the PID of its process), again as it ends (how it ended,
and for a completed job its results), and by the sweep or a watcher for a job whose process could not record
its own end (interrupted, killed). :class:`JobRecord` holds the keys a file has, in the order it has them:

- ``JobRecord.from_json(data)`` reads any file, old or new: a key it lacks reads as its default (and is not
  written back), a key this medsweep does not know is kept in ``extra``, a value of an unexpected type is kept
  as it is (a damaged file is described, never "repaired");
- ``record.to_json()`` gives back the same keys in the same order, so a file read and written unchanged stays
  byte-identical;
- ``record.updated(**fields)`` is the record with ``fields`` set: a key it had keeps its place, a new key goes
  at the end (as ``{**record, **fields}`` would);
- ``JobRecord(**fields)`` writes the keys given, in the order the fields are declared below, which is the
  order a job writes them.

No numpy, pandas or scikit-learn here: the sweep's parent process and the watchers read records while jobs run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, Optional

from medsweep.record.outputs import now, overwrite_json_in_place, sha256_of_file, write_json

METRICS_FILE = "metrics.json"


class Status(str, Enum):
    """A job's ``status`` in metrics.json (a str, so it is written and compared as the plain word)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    PRUNED = "pruned"                        # a search stopped it early (learn.training.FoldsStopped)
    SCREENED = "screened"                    # racing's first stage: scored its first folds, kept them, waits

    def __str__(self) -> str:
        return self.value


# Pruned (a search stopped the job early: racing, an Optuna pruner) is final, and never a failure. Screened is
# not final: the sweeper prunes the job or runs it on (job/race_screening.py); a resume runs it on.
FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.INTERRUPTED, Status.PRUNED)


class _Absent:
    """The default of every field: the key is not in the record (a field left at it is not written)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()

# What a reader gets for a key the record does not have (None for every key not listed).
_READ_DEFAULTS: dict[str, Any] = {"metrics": dict, "warnings": list, "evaluation": dict, "operating_point": dict,
                                  "data": dict, "features": dict, "versions": dict, "splits": dict,
                                  "unused_settings": list}


@dataclass(eq=False)
class JobRecord:
    # What the job is: written from its config as it starts.
    model: Optional[str] = ABSENT
    estimator: Optional[str] = ABSENT
    task: Optional[str] = ABSENT
    primary_metric: Optional[str] = ABSENT
    folds: Optional[int] = ABSENT
    epochs: Optional[int] = ABSENT
    batch_size: Optional[int] = ABSENT
    seed: Optional[int] = ABSENT
    job_num: Optional[int] = ABSENT          # its directory's name: a resumed job keeps its first number
    overrides: Optional[list] = ABSENT       # the job's command-line overrides (run-control keys left out)
    job_dir: Optional[str] = ABSENT
    # What a completed job found (job.pipeline.train's results).
    greater_is_better: Optional[bool] = ABSENT
    metrics: dict = ABSENT                   # name -> {folds, mean, std, pooled, lower, upper, ...}
    operating_point: dict = ABSENT
    warnings: list = ABSENT                  # [{kind, message}] for a reviewer
    model_sha256: Optional[str] = ABSENT     # of model.skops: a loader refuses any other file
    model_description: Optional[str] = ABSENT
    evaluation: dict = ABSENT                # calibration, decision curve, subgroups, ...
    n_samples: Optional[int] = ABSENT
    n_features: Optional[int] = ABSENT
    n_groups: Optional[int] = ABSENT
    splitter: Optional[str] = ABSENT
    splits: dict = ABSENT                    # which patients were in which fold: fingerprint, folds, repeats
    test: Optional[dict] = ABSENT            # the hold-out or external patients, scored once by the final model
    classes: Optional[list] = ABSENT
    positive: Optional[list] = ABSENT
    data: dict = ABSENT                      # where the data came from, its sha256, rows, columns
    features: dict = ABSENT
    unused_settings: list = ABSENT
    n_threads: Optional[int] = ABSENT
    sample_size: Optional[dict] = ABSENT     # Riley et al.'s minimum sample size: each criterion, met or not
    missing_data: Optional[dict] = ABSENT    # per feature: share missing overall, by class, by site; imputation
    devices: Optional[list] = ABSENT         # GPU ids the job saw (CUDA_VISIBLE_DEVICES) where its launcher gave some
    # How the job ran and ended.
    error: Optional[str] = ABSENT
    error_type: Optional[str] = ABSENT
    status: Optional[Status] = ABSENT
    attempts: Optional[int] = ABSENT
    pid: Optional[int] = ABSENT              # with host: a resume refuses while this process still runs the job
    host: Optional[str] = ABSENT
    started_at: Optional[str] = ABSENT
    finished_at: Optional[str] = ABSENT
    duration_s: Optional[float] = ABSENT
    pruned: Optional[dict] = ABSENT          # a pruned job: why ({reason, ...}: the search that stopped it)
    selection: Optional[dict] = ABSENT       # select.constraints' verdict (evaluate/constraints.py check)
    versions: dict = ABSENT                  # python, medsweep and the packages that trained the model
    sites: dict = ABSENT                     # data.site: per-site metrics and their meta-analysis
    instability: dict = ABSENT               # eval.instability: bootstrap refits, MAPE, optimism-corrected
    # Keys this medsweep does not know (a newer or older medsweep's), kept so that nothing is lost.
    extra: dict = field(default_factory=dict)
    # The keys the record has, in the order they are written.
    keys: tuple = field(default=(), repr=False)

    def __post_init__(self) -> None:
        present = list(self.keys) or [f for f in _KEYS if getattr(self, f) is not ABSENT]
        for name in _KEYS:
            if getattr(self, name) is ABSENT:
                default = _READ_DEFAULTS.get(name)
                object.__setattr__(self, name, default() if default else None)
        self.keys = tuple(present)

    # -- reading and writing -----------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "JobRecord":
        """The record of a metrics.json's content (any mapping; see the module's docstring)."""
        known = {k: (_status(v) if k == "status" else v) for k, v in data.items() if k in _KEY_SET}
        extra = {k: v for k, v in data.items() if k not in _KEY_SET}
        return cls(**known, extra=extra, keys=tuple(data))

    def to_json(self) -> dict[str, Any]:
        """The record as metrics.json holds it: its keys, in its order."""
        return {k: (getattr(self, k) if k in _KEY_SET else self.extra[k]) for k in self.keys}

    def updated(self, **fields: Any) -> "JobRecord":
        """A copy with ``fields`` set (known keys only): keys the record has keep their place, new ones go last."""
        unknown = [k for k in fields if k not in _KEY_SET]
        if unknown:
            raise TypeError(f"JobRecord has no field {', '.join(unknown)}")
        copy = dataclasses.replace(self, extra=dict(self.extra))
        for k, v in fields.items():
            setattr(copy, k, v)
        copy.keys = self.keys + tuple(k for k in fields if k not in self.keys)
        return copy

    def filled(self, **fields: Any) -> "JobRecord":
        """The record with ``fields`` (known keys) in front, its own values winning: ``{**fields, **record}``.
        The sweep records a job it stopped with what it knows of it (number, overrides, directory) first."""
        base = JobRecord().updated(**fields)
        return JobRecord.from_json({**base.to_json(), **self.to_json()})

    def has(self, key: str) -> bool:
        """Whether the file has ``key`` (a field left at its default is not written)."""
        return key in self.keys

    # -- what readers ask -----------------------------------------------------------------------------------
    @property
    def final(self) -> bool:
        """The job has ended (completed, failed, timeout, interrupted, pruned): the record will not change by
        itself."""
        return self.status in FINAL_STATUSES

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher primary metric is better: True where the record does not say (records older than
        the key), else its value as true or false (a recorded null reads as false)."""
        return bool(self.greater_is_better) if self.has("greater_is_better") else True

    @property
    def completed(self) -> bool:
        return self.status == Status.COMPLETED

    @property
    def running(self) -> bool:
        return self.status == Status.RUNNING

    def primary(self) -> dict:
        """The primary metric's statistics ({mean, pooled, lower, upper, folds, ...}); {} where there are none."""
        metrics = self.metrics if isinstance(self.metrics, dict) else {}
        value = metrics.get(self.primary_metric or "") if isinstance(self.primary_metric, str) else None
        return value if isinstance(value, dict) else {}

    def results(self) -> dict[str, Any]:
        """What the job found, without what differs between any two runs of the same job (RUN_SPECIFIC):
        what a reproduction of the job is compared on."""
        return {k: v for k, v in self.to_json().items() if k not in RUN_SPECIFIC}

    def ended(self, status: Status, error: str, error_type: str) -> "JobRecord":
        """This record of a job that did not record its own end, ended now by someone else (the sweep, a
        launcher, a watcher) as ``status`` with ``error``."""
        return self.updated(status=status, error=error, error_type=error_type, finished_at=now())


_KEYS = tuple(f.name for f in dataclasses.fields(JobRecord) if f.name not in ("extra", "keys"))
_KEY_SET = frozenset(_KEYS)

# Keys that differ between any two runs of the same job, not results. (Models are saved with zip time stamps,
# so model_sha256 differs from run to run even when the model is the same.)
RUN_SPECIFIC = frozenset({"status", "job_dir", "job_num", "overrides", "model_sha256", "started_at", "finished_at",
                          "duration_s", "attempts", "pid", "versions", "n_threads", "devices"})


def _status(value: Any) -> Any:
    """A known status as a Status (written as the same word); anything else as it was read."""
    try:
        return Status(value)
    except (ValueError, TypeError):
        return value


def as_record(record: JobRecord | Mapping[str, Any]) -> JobRecord:
    """A record; a dict is a metrics.json's content (as an older registered MLflow model's pyfunc file
    passes it)."""
    return record if isinstance(record, JobRecord) else JobRecord.from_json(record)


def status_text(status: Any) -> Any:
    """A status as its file has it (a known status as its plain word, not the Status member), for messages
    and files; a value that is not a status as read."""
    return status.value if isinstance(status, Status) else status


def record_warnings(record: JobRecord | Mapping[str, Any]) -> list[dict]:
    """The record's ``warnings`` as [{"kind", "message"}] of text, whatever the file holds (absent: none;
    a bare string or an odd entry: kind "warning" and its text)."""
    raw = as_record(record).warnings or []
    return [{"kind": str(w.get("kind") or "warning"), "message": str(w.get("message") or "")}
            if isinstance(w, dict) else {"kind": "warning", "message": str(w)}
            for w in (raw if isinstance(raw, list) else [raw])]


def model_problem(path: Path, record: JobRecord | Mapping[str, Any]) -> str | None:
    """Why the model file ``path`` (a job's model.skops, or its copy in a registered MLflow model) is not the
    model the job saved (None when it is): unreadable, or its sha256 is not the job's metrics.json's
    ``model_sha256`` (replaced by another job's, emptied, corrupted), or the record has none to check it
    against (a job of an older medsweep). Every loader of a job's model asks this first."""
    recorded = as_record(record).model_sha256
    if not recorded:
        return f"the job's {METRICS_FILE} records no model_sha256, so {path} cannot be checked"
    try:
        digest = sha256_of_file(path)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    if digest != recorded:
        return (f"{path} is not the model the job saved (sha256 {digest}, its {METRICS_FILE} records "
                f"{recorded}): it was replaced or corrupted")
    return None


# -- the file ----------------------------------------------------------------------------------------------

def load_metrics(job_dir: Path) -> dict:
    """A job's metrics.json as a dict (for readers not yet on JobRecord); FileNotFoundError where there is
    none, ValueError where it is not JSON."""
    return json.loads((Path(job_dir) / METRICS_FILE).read_text())


def read_metrics(job_dir: Path) -> dict | None:
    """A job's metrics.json as a dict, or None where it has none (not started, or killed before writing)."""
    try:
        return load_metrics(job_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def load_record(job_dir: Path) -> JobRecord:
    """A job's record; FileNotFoundError where it has none, ValueError where it is not a JSON object."""
    data = load_metrics(job_dir)
    if not isinstance(data, dict):
        raise ValueError(f"{Path(job_dir) / METRICS_FILE} holds a JSON {type(data).__name__}, not a job's record")
    return JobRecord.from_json(data)


def read_record(job_dir: Path) -> Optional[JobRecord]:
    """A job's record, or None where it has none (not started, killed before writing) or it is unreadable."""
    try:
        return load_record(job_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def write_record(job_dir: Path, record: JobRecord) -> None:
    """Write (atomically) a job's metrics.json."""
    write_json(Path(job_dir) / METRICS_FILE, record.to_json())


def overwrite_record_in_place(job_dir: Path, record: JobRecord) -> bool:
    """metrics.json rewritten within the space it has (outputs.overwrite_json_in_place): a full disk."""
    return overwrite_json_in_place(Path(job_dir) / METRICS_FILE, record.to_json())
