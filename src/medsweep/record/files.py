"""The on-disk format of a job and of a sweep: every file name, and JobPaths, every path of one job.
Everything that reads or writes these files imports their names from here; metrics.json's content (the job's
status, its results) is job_record.py's, re-exported here for the modules that read it as a dict.

No heavy imports: the sweep's parent process reads these files while jobs run elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# Re-exported: this module was medsweep.job_files, whose model_problem an older registered MLflow model's
# pyfunc file imports (medsweep._renamed), and whose other names scripts may import.
from medsweep.record.job_record import (FINAL_STATUSES, METRICS_FILE, Status, load_metrics,  # noqa: F401
                                        model_problem, read_metrics, record_warnings)
from medsweep.record.outputs import sha256_of_file  # noqa: F401 - re-exported: data files' provenance

# In a job's directory (METRICS_FILE, metrics.json: status, metrics, provenance, is job_record.py's)
HISTORY_FILE = "history.csv"             # fold, epoch, train_loss, val_<primary metric>
PREDICTIONS_FILE = "predictions.csv"     # out-of-fold predictions
TEST_PREDICTIONS_FILE = "test_predictions.csv"  # the final model on the hold-out or external patients
MODEL_FILE = "model.skops"               # the final pipeline
SUBGROUPS_FILE = "subgroups.csv"         # per subgroup: counts, primary metric and intervals
SUBGROUPS_PLOT_FILE = "subgroups.png"    # forest plot of subgroups.csv
LEARNING_CURVE_FILE = "learning_curve.png"
ROC_FILE = "roc.png"
CALIBRATION_FILE = "calibration.png"
DECISION_CURVE_FILE = "decision_curve.png"
FOREST_PLOT_FILE = "forest_plot.png"     # data.site: each measure per site, pooled, prediction interval
INSTABILITY_PLOT_FILE = "instability.png"  # eval.instability: prediction and calibration instability
# In the order report.html shows them side by side.
JOB_PLOTS = (ROC_FILE, CALIBRATION_FILE, DECISION_CURVE_FILE, LEARNING_CURVE_FILE, SUBGROUPS_PLOT_FILE)
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
    def subgroups_plot(self) -> Path:
        return self.folder / SUBGROUPS_PLOT_FILE

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
    def forest_plot(self) -> Path:
        return self.folder / FOREST_PLOT_FILE

    @property
    def instability_plot(self) -> Path:
        return self.folder / INSTABILITY_PLOT_FILE

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
    def outputs(self) -> tuple[Path, ...]:
        """The files a job may write (besides Hydra's .hydra/): what tracking uploads to the job's run. A new
        output file is a name here and the line of job/artifacts.py that writes it."""
        return (self.metrics, self.predictions, self.test_predictions, self.history, self.subgroups, *self.plots,
                self.model_card, self.model, self.log, self.forest_plot, self.instability_plot)

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
