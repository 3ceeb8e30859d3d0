"""The on-disk format of a job and of a sweep: every file name, the job's status, and the only reader and
writer of ``metrics.json``. Everything that reads or writes these files imports them from here.

No heavy imports: the sweep's parent process reads these files while jobs run elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from medsweep.record.outputs import overwrite_json_in_place, write_json

# In a job's directory
METRICS_FILE = "metrics.json"            # status, metrics, provenance: read and written only here
HISTORY_FILE = "history.csv"             # fold, epoch, train_loss, val_<primary metric>
PREDICTIONS_FILE = "predictions.csv"     # out-of-fold predictions
TEST_PREDICTIONS_FILE = "test_predictions.csv"  # the final model on the hold-out or external patients
MODEL_FILE = "model.skops"               # the final pipeline
SUBGROUPS_FILE = "subgroups.csv"         # per subgroup: counts, primary metric and intervals
LEARNING_CURVE_FILE = "learning_curve.png"
ROC_FILE = "roc.png"
CALIBRATION_FILE = "calibration.png"
DECISION_CURVE_FILE = "decision_curve.png"
# In the order report.html shows them side by side.
JOB_PLOTS = (ROC_FILE, CALIBRATION_FILE, DECISION_CURVE_FILE, LEARNING_CURVE_FILE)
# A job recorded completed without one of these is run again by a resume.
REQUIRED_FILES = (METRICS_FILE, HISTORY_FILE, PREDICTIONS_FILE, MODEL_FILE)
MODEL_CARD_FILE = "model_card.md"        # what the model is, how it was validated, how to reproduce it
LOG_FILE = "train.log"                   # the job's log (Hydra names it after hydra.job.name=train)
SAVED_CONFIG = Path(".hydra") / "config.yaml"  # written by Hydra: what the job ran
SAVED_OVERRIDES = SAVED_CONFIG.parent / "overrides.yaml"
SAVED_HYDRA = SAVED_CONFIG.parent / "hydra.yaml"

# In a sweep's directory
SWEEP_FILE = "sweep.json"                # written by the sweeper: command, times, job list
SWEEP_CONFIG = "multirun.yaml"           # the sweep's own config
TRACKING_FILE = "tracking.json"          # tracking=mlflow: the store, experiment, run ids, what was logged
LOCK_FILE = "sweep.lock"                 # held (flock) by the one process running the sweep; holds its PID
OPTUNA_FILE = "optimization_results.yaml"  # written by Hydra's Optuna sweeper
SUMMARY_FILES = ("summary.csv", "summary.json", "summary.md", "summary.png", "report.html")


@dataclass(frozen=True)
class JobPaths:
    """Every path of one job, in its directory ``folder`` (as submitit's JobPaths): code asks this object for
    a job's file instead of joining names by hand."""

    folder: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))

    @property
    def metrics(self) -> Path:
        return self.folder / METRICS_FILE

    @property
    def history(self) -> Path:
        return self.folder / HISTORY_FILE

    @property
    def predictions(self) -> Path:
        return self.folder / PREDICTIONS_FILE

    @property
    def test_predictions(self) -> Path:
        return self.folder / TEST_PREDICTIONS_FILE

    @property
    def model(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def subgroups(self) -> Path:
        return self.folder / SUBGROUPS_FILE

    @property
    def learning_curve(self) -> Path:
        return self.folder / LEARNING_CURVE_FILE

    @property
    def roc(self) -> Path:
        return self.folder / ROC_FILE

    @property
    def calibration(self) -> Path:
        return self.folder / CALIBRATION_FILE

    @property
    def decision_curve(self) -> Path:
        return self.folder / DECISION_CURVE_FILE

    @property
    def plots(self) -> tuple[Path, ...]:
        """The job's plots that exist or may exist, in the order report.html shows them (JOB_PLOTS)."""
        return tuple(self.folder / name for name in JOB_PLOTS)

    @property
    def model_card(self) -> Path:
        return self.folder / MODEL_CARD_FILE

    @property
    def log(self) -> Path:
        return self.folder / LOG_FILE

    @property
    def saved_config(self) -> Path:
        return self.folder / SAVED_CONFIG

    @property
    def saved_overrides(self) -> Path:
        return self.folder / SAVED_OVERRIDES

    @property
    def saved_hydra(self) -> Path:
        return self.folder / SAVED_HYDRA

    def missing(self) -> list[str]:
        """The files every completed job has (REQUIRED_FILES) that this one lacks: a resume runs it again."""
        return [name for name in REQUIRED_FILES if not (self.folder / name).is_file()]

    def metrics_written_since(self, since: float) -> bool:
        """Whether metrics.json was written at or after ``since`` (time.time()): a record of this run, not one
        left by an earlier run of the sweep."""
        try:
            return self.metrics.stat().st_mtime >= since
        except OSError:
            return False


class Status(str, Enum):
    """A job's ``status`` in metrics.json (a str, so it is written and compared as the plain word)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:
        return self.value


FINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.INTERRUPTED)


def load_metrics(job_dir: Path) -> dict:
    """A job's metrics.json; FileNotFoundError where there is none, ValueError where it is not JSON."""
    return json.loads((Path(job_dir) / METRICS_FILE).read_text())


def read_metrics(job_dir: Path) -> dict | None:
    """A job's metrics.json, or None where it has none (not started, or killed before writing)."""
    try:
        return load_metrics(job_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def write_metrics(job_dir: Path, record: dict[str, Any]) -> None:
    """Write (atomically) a job's metrics.json."""
    write_json(Path(job_dir) / METRICS_FILE, record)


def overwrite_metrics_in_place(job_dir: Path, record: dict[str, Any]) -> bool:
    """metrics.json rewritten within the space it has (see outputs.overwrite_json_in_place): a full disk."""
    return overwrite_json_in_place(Path(job_dir) / METRICS_FILE, record)


def list_jobs(sweep_dir: Path) -> tuple[dict, list[dict]]:
    """(sweep info, [{num, dir, overrides}]): sweep.json's job list when there is one, else the numbered
    directories with their .hydra/overrides.yaml (sweeps run by another sweeper, such as Optuna's, which
    writes no sweep.json). A job whose listed ``dir`` is not a folder inside the sweep also has ``damage``
    (why, one line). Raises ValueError naming sweep.json where its job list is unusable."""
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        sweep = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):  # ValueError: claimed, but the sweep died before writing it
        sweep = None
    except OSError as exc:  # a folder, or unreadable
        raise ValueError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if sweep is not None and not isinstance(sweep, dict):
        raise ValueError(f"{path} holds a JSON {type(sweep).__name__}, not a sweep's record (an object with a job list)")
    if sweep:
        jobs = _listed_jobs(path, sweep.get("jobs"))
    else:
        sweep = {}
        jobs = [{"num": int(p.name), "dir": p.name, "overrides": None}
                for p in Path(sweep_dir).iterdir() if p.name.isascii() and p.name.isdigit() and p.is_dir()]
    jobs.sort(key=lambda j: j["num"])
    info = {k: sweep.get(k) for k in ("command", "started_at", "finished_at", "launcher", "n_jobs")}
    return info, jobs


def _listed_jobs(path: Path, entries: Any) -> list[dict]:
    """sweep.json's job list, checked: each entry an object with a whole ``num`` (listed once)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: \"jobs\" is {repr(entries)[:80]}, not a list of jobs")
    jobs, seen = [], set()
    for i, entry in enumerate(entries):
        num = entry.get("num") if isinstance(entry, dict) else None
        if isinstance(num, str) and num.isascii() and num.isdigit():
            num = int(num)
        if not isinstance(num, int) or isinstance(num, bool) or num < 0:
            raise ValueError(f"{path}: job entry {i} ({repr(entry)[:80]}) has no job number "
                             "(\"num\": a whole number >= 0)")
        if num in seen:
            raise ValueError(f"{path}: job {num} is listed twice")
        seen.add(num)
        job = {"num": num, "dir": entry.get("dir", str(num)), "overrides": entry.get("overrides")}
        folder = job["dir"]
        parts = Path(str(folder)).parts
        if not isinstance(folder, (str, int)) or isinstance(folder, bool) or not parts or ".." in parts \
                or Path(str(folder)).is_absolute():
            job["damage"] = f"{SWEEP_FILE}: dir {repr(folder)[:80]} of job {num} is not a folder inside the sweep"
        job["dir"] = str(folder)
        jobs.append(job)
    return jobs


def record_warnings(record: dict) -> list[dict]:
    """metrics.json's ``warnings`` as [{"kind", "message"}] of text, whatever the file holds (absent: none;
    a bare string or an odd entry: kind "warning" and its text)."""
    raw = record.get("warnings") or []
    return [{"kind": str(w.get("kind") or "warning"), "message": str(w.get("message") or "")}
            if isinstance(w, dict) else {"kind": "warning", "message": str(w)}
            for w in (raw if isinstance(raw, list) else [raw])]


def sha256_of_file(path: Path) -> str:
    """The sha256 of a file's bytes (data files in metrics.json's provenance, model.skops's model_sha256)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_problem(path: Path, record: dict) -> str | None:
    """Why the model file ``path`` (a job's model.skops, or its copy in a registered MLflow model) is not the
    model the job saved (None when it is): unreadable, or its sha256 is not the job's metrics.json's
    ``model_sha256`` (replaced by another job's, emptied, corrupted), or the record has none to check it
    against (a job of an older medsweep). Every loader of a job's model asks this first."""
    recorded = record.get("model_sha256")
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


def not_ours(path: Path, marker: str, ignore: tuple[str, ...] = (), marker_is_dir: bool = False) -> Optional[str]:
    """Why medsweep must not write into ``path``: it exists and is not a directory, or it holds files (other
    than ``ignore``) but not ``marker`` (sweep.json of a sweep, .hydra/ of a single run), so it is the user's
    own folder (a typo'd path); None for a new or empty folder, or one of medsweep's."""
    if not os.path.lexists(path):
        return None
    if not path.is_dir():
        return "exists and is not a directory"
    if (path / marker).is_dir() if marker_is_dir else (path / marker).exists():
        return None
    try:
        names = sorted(name for name in os.listdir(path) if name not in ignore)
    except OSError as exc:
        return f"cannot be listed ({exc.strerror})"
    if not names:
        return None
    return "already holds " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
