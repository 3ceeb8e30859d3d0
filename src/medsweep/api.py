"""medsweep from Python (a notebook, a script): sweeps as pandas DataFrames, and a sweep run from Python.

    import medsweep
    df = medsweep.run_sweep(["model=breast_cancer", "estimator=logreg,mlp", "seed=0,1,2"], n_jobs=2)
    df = medsweep.load_sweep("multirun/2026-11-28/09-30-00")     # one row per job
    folds = medsweep.load_folds("multirun/2026-11-28/09-30-00")  # job, repeat, fold, metric, value
    job = medsweep.load_job("multirun/2026-11-28/09-30-00/3")    # record, predictions, config
    summary = medsweep.summarize_sweep("multirun/2026-11-28/09-30-00")  # the leaderboard rows; writes nothing

Everything is read back from the files the jobs wrote, through record (SweepDir, JobPaths, JobRecord) and the
summary's reader (report.reading.read_job: a damaged file is a row with status ``damaged`` and its error, never
an exception). The top layer: nothing in medsweep imports it; ``medsweep/__init__.py`` exports it lazily.
"""

from __future__ import annotations

import collections
import datetime
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence, TextIO

import pandas as pd

from medsweep.record.outputs import read_csv
from medsweep.record.files import SAVED_CONFIG, JobPaths
from medsweep.record.job_record import JobRecord, load_record, record_warnings
from medsweep.record.sweep_dir import SweepDir
from medsweep.report.reading import read_job

__all__ = ["load_sweep", "load_folds", "load_job", "run_sweep", "summarize_sweep", "Job", "SweepFailed"]

# A metric's figures in metrics.json, each a column <metric>_<figure> of load_sweep.
FIGURES = ("mean", "std", "pooled", "lower", "upper")
# Lines of the sweep's console kept for the error of a failed run_sweep.
TAIL_LINES = 40


# -- reading ------------------------------------------------------------------------------------------------

def _sweep(sweep_dir: str | os.PathLike) -> SweepDir:
    path = Path(sweep_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"no such sweep directory: {path}")
    return SweepDir(path)


def _jobs(sweep: SweepDir) -> list[tuple[dict, Optional[JobRecord], list, Optional[str]]]:
    """(listed job, record or None, overrides, damage or None) of every job of the sweep, in number order."""
    _, jobs = sweep.jobs()
    out = []
    for job in jobs:
        record, overrides, damage = read_job(sweep, job)
        out.append((job, record, [str(o) for o in overrides or []], damage))
    return out


def _override_values(overrides: Iterable[str]) -> dict[str, Any]:
    """{key: value} of a job's overrides, each value typed as Hydra parses it (``seed=3`` -> 3,
    ``estimator.alpha=1e-3`` -> 0.001, ``x=true`` -> True, ``model=als`` -> "als"); a value Hydra gives as a
    list or mapping is kept as its text."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    values = {}
    for text in overrides:
        key, _, raw = text.partition("=")
        key = key.lstrip("+~")
        try:
            value = parser.parse_override(text).value()
        except Exception:  # noqa: BLE001 - an override Hydra would not parse alone: its text
            value = raw
        values[key] = value if value is None or isinstance(value, (bool, int, float, str)) else raw
    return values


def _typed(column: pd.Series) -> pd.Series:
    """An override column in the type its values have: Int64, float, boolean, or text (mixed kinds)."""
    kinds = {type(v) for v in column if v is not None and not (isinstance(v, float) and pd.isna(v))}
    if kinds == {bool}:
        return column.astype("boolean")
    if kinds == {int}:
        return column.astype("Int64")
    if kinds and kinds <= {int, float}:
        return column.astype(float)
    return column.map(lambda v: None if v is None else str(v)).astype(object)


def load_sweep(sweep_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per job of ``sweep_dir``, indexed by job number (``job``).

    Columns: each key set by the jobs' overrides (``seed``, ``estimator.alpha``, ...; typed: Int64, float,
    boolean or text, as the override says), ``model``, ``estimator``, ``task``, ``status`` (completed, failed,
    timeout, interrupted, pruned, running, missing, damaged), ``primary_metric``, for every metric its
    ``<metric>_mean``, ``_std``, ``_pooled``, ``_lower``, ``_upper`` (NaN where the job has none: no interval
    with ``eval.n_boot=0``), the final model's hold-out or external score ``test_source`` and
    ``test_<metric>``, ``test_<metric>_lower``, ``test_<metric>_upper``, ``seed``, ``folds``, ``synthetic``,
    ``n_warnings``, ``duration_s``, ``error_type``, ``error``, and the paths ``dir``, ``metrics_path``,
    ``predictions_path``, ``model_path``, ``log_path`` (absolute, as text). The overrides as typed are also in
    ``df.attrs["swept"]``: the keys whose value differs between jobs."""
    sweep = _sweep(sweep_dir)
    rows, settings = [], []
    for job, record, overrides, damage in _jobs(sweep):
        rec = record or JobRecord()
        paths = JobPaths(sweep.path.resolve() / job["dir"])
        status = "damaged" if damage else (str(rec.status) if rec.status else "missing")
        row: dict[str, Any] = {
            "job": job["num"], "model": rec.model, "estimator": rec.estimator, "task": rec.task,
            "status": status, "primary_metric": rec.primary_metric}
        for name, figures in (rec.metrics or {}).items():
            for k in FIGURES:
                row[f"{name}_{k}"] = figures.get(k)
        test = rec.test or {}
        row["test_source"] = test.get("source")
        for name, figures in (test.get("metrics") or {}).items():
            row[f"test_{name}"] = figures.get("value")
            row[f"test_{name}_lower"] = figures.get("lower")
            row[f"test_{name}_upper"] = figures.get("upper")
        row.update(seed=rec.seed, folds=rec.folds,
                   synthetic=(rec.data or {}).get("synthetic") if rec.data else None,
                   n_warnings=len(record_warnings(rec)), duration_s=rec.duration_s,
                   error_type="DamagedFile" if damage else rec.error_type, error=damage or rec.error,
                   dir=str(paths.folder), metrics_path=str(paths.metrics), predictions_path=str(paths.predictions),
                   model_path=str(paths.model), log_path=str(paths.log))
        rows.append(row)
        settings.append(_override_values(overrides))
    frame = pd.DataFrame(rows)
    keys = list(dict.fromkeys(k for s in settings for k in s))
    swept = [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="job"))
    for key in reversed(keys):
        column = _typed(pd.Series([s.get(key) for s in settings], dtype=object))
        if key in frame.columns:  # model, estimator, seed: the record's value, else the override's
            frame[key] = frame[key].where(frame[key].notna(), column)
        else:
            frame.insert(1, key, column)
    frame = frame.astype({"seed": "Int64", "folds": "Int64", "n_warnings": "Int64", "synthetic": "boolean"})
    frame = frame[["job", *keys, *(c for c in frame.columns if c not in keys and c != "job")]].set_index("job")
    frame.attrs["swept"] = swept
    return frame


def load_folds(sweep_dir: str | os.PathLike) -> pd.DataFrame:
    """Every metric of every fold of every job of ``sweep_dir``, long: columns ``job``, ``repeat``, ``fold``,
    ``metric``, ``value``. ``fold`` is numbered over all rounds as in the job's predictions.csv and
    history.csv (0 .. folds x repeats - 1), ``repeat`` = fold // folds. Jobs without fold values (failed,
    damaged) have no rows."""
    rows = []
    for job, record, _, _ in _jobs(_sweep(sweep_dir)):
        if record is None:
            continue
        k = (record.splits or {}).get("folds") or record.folds
        for name, figures in (record.metrics or {}).items():
            for i, value in enumerate(figures.get("folds") or []):
                rows.append((job["num"], i // k if k else 0, i, name, value))
    frame = pd.DataFrame(rows, columns=["job", "repeat", "fold", "metric", "value"])
    return frame.astype({"job": "int64", "repeat": "int64", "fold": "int64", "value": float})


@dataclass
class Job:
    """One job, read from its directory: ``record`` (metrics.json as a JobRecord: ``record.metrics``,
    ``record.status``, ...), ``paths`` (JobPaths: every file of the job), ``config`` (the composed config it
    ran, .hydra/config.yaml, as an OmegaConf DictConfig; None where absent), ``predictions`` (the out-of-fold
    predictions, predictions.csv), ``history`` (history.csv) and ``test_predictions`` (hold-out or external;
    each None where the job has no such file)."""

    record: JobRecord
    paths: JobPaths
    config: Any
    predictions: Optional[pd.DataFrame]
    history: Optional[pd.DataFrame]
    test_predictions: Optional[pd.DataFrame]

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per metric: mean, std, pooled, lower, upper (NaN where absent)."""
        table = {name: {k: figures.get(k) for k in FIGURES} for name, figures in (self.record.metrics or {}).items()}
        return pd.DataFrame.from_dict(table, orient="index", columns=list(FIGURES), dtype=float)


def _csv(path: Path) -> Optional[pd.DataFrame]:
    return read_csv(path) if path.is_file() else None


def load_job(job_dir: str | os.PathLike, num: Optional[int] = None) -> Job:
    """Job ``job_dir`` (a job's directory), or job ``num`` of the sweep ``job_dir``. Raises FileNotFoundError
    where the directory holds no metrics.json, ValueError where it is not a job's record."""
    folder = SweepDir(Path(job_dir)).job(num).folder if num is not None else Path(job_dir)
    paths = JobPaths(folder)
    record = load_record(folder)
    config = None
    if (folder / SAVED_CONFIG).is_file():
        from omegaconf import OmegaConf

        config = OmegaConf.load(folder / SAVED_CONFIG)
    return Job(record=record, paths=paths, config=config, predictions=_csv(paths.predictions),
               history=_csv(paths.history), test_predictions=_csv(paths.test_predictions))


def summarize_sweep(sweep_dir: str | os.PathLike, write: bool = False) -> pd.DataFrame:
    """The sweep's summary rows (what summary.csv holds: rank, primary metric with its pooled value and
    interval, the comparison with the best, BBC-CV, warnings, ...), indexed by job. Reads only, unless
    ``write=True``: then summary.csv/.json/.md/.png and report.html are rewritten, as ``medsweep summarize``
    does. The rest of the summary (sweep, selection, across_seeds) is in ``df.attrs``."""
    from medsweep.report.summarize import summarize_sweep as summarize

    summary = summarize(_sweep(sweep_dir).path, write=write)
    frame = pd.DataFrame(summary["jobs"]).set_index("job")
    frame.attrs.update({k: v for k, v in summary.items() if k != "jobs"})
    return frame


# -- running ------------------------------------------------------------------------------------------------

class SweepFailed(RuntimeError):
    """A sweep run by :func:`run_sweep` exited non-zero. ``returncode``, ``sweep_dir``, ``console`` (the
    last lines it printed), and ``results``: load_sweep of what it wrote (None where it wrote no job)."""

    def __init__(self, returncode: int, sweep_dir: Path, console: str, results: Optional[pd.DataFrame]):
        self.returncode, self.sweep_dir, self.console, self.results = returncode, sweep_dir, console, results
        what = f"exited with code {returncode}" if returncode else "ran no job"
        super().__init__(f"the sweep in {sweep_dir} {what}; its last lines:\n{console}")


def sweep_command() -> list[str]:
    """The command a sweep runs as, before ``-m`` and the overrides: this Python's ``medsweep run``."""
    return [sys.executable, "-m", "medsweep", "run"]


def _new_sweep_dir() -> Path:
    """multirun/<date>/<time> under the working directory, as the command line names it; -1, -2, ... when
    taken."""
    stamp = datetime.datetime.now()
    base = Path.cwd() / "multirun" / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H-%M-%S")
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = base, 0
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")


def run_sweep(overrides: Sequence[str] | str, sweep_dir: Optional[str | os.PathLike] = None,
              n_jobs: Optional[int] = None, *, check: bool = True, echo: bool = True,
              stream: Optional[TextIO] = None, env: Optional[dict] = None) -> pd.DataFrame:
    """Run a sweep with the command line's overrides (``["model=als,parkinsons", "seed=0,1"]``, or one string
    split as a shell would) in a new process, ``python -m medsweep run -m <overrides>``, and return
    :func:`load_sweep` of it.

    ``sweep_dir``: where it writes (default: a new ``multirun/<date>/<time>`` under the working directory);
    ``n_jobs``: jobs at once (``hydra.launcher.n_jobs``). The sweep's console is printed as it runs to
    ``stream`` (default sys.stdout: a notebook's cell output) unless ``echo=False``. Where the sweep exits
    non-zero (a job failed, an invalid override, an interrupt), SweepFailed is raised with its last lines
    and what it wrote (``.results``); ``check=False`` returns the DataFrame instead."""
    import shlex

    args = shlex.split(overrides) if isinstance(overrides, str) else [str(o) for o in overrides]
    if any(a.startswith("hydra.sweep.dir=") for a in args):
        raise ValueError("pass the sweep's directory as sweep_dir=..., not as a hydra.sweep.dir override")
    folder = Path(sweep_dir) if sweep_dir is not None else _new_sweep_dir()
    command = [*sweep_command(), "-m", *args, f"hydra.sweep.dir={folder.resolve()}"]
    if n_jobs is not None:
        command.append(f"hydra.launcher.n_jobs={int(n_jobs)}")
    out = stream or sys.stdout
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                          errors="replace", env=env) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            if echo:
                out.write(line)
                out.flush()
        code = process.wait()
    try:
        results: Optional[pd.DataFrame] = load_sweep(folder)
    except (FileNotFoundError, ValueError):  # a damaged sweep.json: named in the error below
        results = None
    if results is not None and results.empty:  # nothing was run (an invalid override)
        results = None
        if sweep_dir is None and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # the directory made for it, left empty
    if (code != 0 and check) or results is None:
        raise SweepFailed(code, folder, "\n".join(tail), results)
    return results
