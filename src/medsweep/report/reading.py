"""What a summary reads from a sweep directory: each listed job's record (metrics.json, as a JobRecord) and
overrides, checked for damage (a hand-edited, foreign or corrupted file is said, never trusted), and the
search's optuna_results.yaml. The only module of the summary that opens a job's files; the table is built from
what it returns. Paths come from record (SweepDir, JobPaths), keys from JobRecord's attributes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import yaml

from medsweep.escape import one_line
from medsweep.record.files import METRICS_FILE, OPTUNA_FILE, SAVED_OVERRIDES, SWEEP_FILE, JobPaths
from medsweep.record.job_record import JobRecord, Status, load_metrics
from medsweep.record.sweep_dir import SweepDir

log = logging.getLogger("medsweep")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster for 1,000 jobs


def _yaml(path: Path) -> Any:
    """A YAML file's content (safe loader: a ``!!python/...`` tag is an error), None where there is none;
    ValueError naming the file where it cannot be read or parsed."""
    try:
        return yaml.load(path.read_text(), Loader=_Loader)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"not readable YAML: {one_line(exc, 160)}") from None


def shown(x: Any) -> str:
    """A value from a damaged file, short enough for a one-line message."""
    return one_line(repr(x), 80)


# What a summary reads from a record, by JobRecord attribute: the types medsweep writes (None is allowed for
# each; a key the file lacks is not checked).
_RECORD_KINDS = {"model": str, "estimator": str, "task": str, "primary_metric": str, "error_type": str,
                "greater_is_better": bool, "folds": int, "seed": int, "duration_s": float, "overrides": list,
                "metrics": dict, "test": dict, "data": dict, "splits": dict}
assert all(hasattr(JobRecord(), name) for name in _RECORD_KINDS), "a checked attribute JobRecord does not have"
_FIGURES = ("mean", "std", "pooled", "lower", "upper", "value")
_KIND_NAMES = {str: "text", bool: "true or false", int: "a whole number", float: "a number", list: "a list",
               dict: "a mapping"}


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is int:  # whole numbers that fit the CSV's integer columns
        return isinstance(value, int) and abs(value) < 2**63
    if kind is float:  # any JSON number a float can hold (NaN and infinities included: shown empty)
        return isinstance(value, float) or (isinstance(value, int) and abs(value) < 1e300)
    return isinstance(value, kind)


def _record_damage(record: JobRecord) -> Optional[str]:
    """What in a record is not as medsweep writes it, among the keys a summary reads (None: nothing), as "key
    is value, not what". JobRecord keeps an unexpected value as it was read, so it is checked here."""
    status = record.status
    if status is not None and not isinstance(status, Status):
        return f"status is {shown(status)}, not one of {', '.join(map(str, Status))}"
    for name, kind in _RECORD_KINDS.items():
        value = getattr(record, name)
        if record.has(name) and value is not None and not _is(value, kind):
            return f"{name} is {shown(value)}, not {_KIND_NAMES[kind]}"
    for where, table in (("metrics", record.metrics), ("test.metrics", (record.test or {}).get("metrics"))):
        if table is not None and not isinstance(table, dict):
            return f"{where} is {shown(table)}, not a mapping"
        for name, figures in (table or {}).items():
            if not isinstance(figures, dict):
                return f"{where}.{name} is {shown(figures)}, not a mapping of figures"
            for k in _FIGURES:
                if figures.get(k) is not None and not _is(figures[k], float):
                    return f"{where}.{name}.{k} is {shown(figures[k])}, not a number"
    return None


def read_job(sweep: SweepDir, job: dict) -> tuple[Optional[JobRecord], Optional[list], Optional[str]]:
    """(record or None, overrides or None, damage or None) of one listed job (SweepDir.jobs); damage
    names the file (relative to the sweep), the key and the value. A damaged job keeps its overrides where they
    are readable, so that the summary says which configuration it was."""
    if job.get("damage"):
        return None, None, job["damage"]
    paths = JobPaths(sweep.path / job["dir"])  # the listed dir: sweep.json may name another than the number
    job_dir = paths.folder
    if job_dir.exists() and not job_dir.is_dir():
        return None, None, f"{job['dir']} is a file, not a job folder"
    overrides, damage = job["overrides"], None
    if overrides is not None and not isinstance(overrides, list):
        overrides, damage = None, f"{SWEEP_FILE}: overrides of job {job['num']} are {shown(overrides)}, not a list"
    elif overrides is None:
        overrides_file = f"{job['dir']}/{SAVED_OVERRIDES}"
        try:
            overrides = _yaml(paths.saved_overrides)
        except ValueError as exc:
            overrides, damage = None, f"{overrides_file}: {exc}"
        if overrides is not None and not isinstance(overrides, list):
            kind = _KIND_NAMES.get(type(overrides), type(overrides).__name__)
            overrides, damage = None, f"{overrides_file} holds {kind}, not a list of overrides"
    metrics_file = f"{job['dir']}/{METRICS_FILE}"
    try:
        data = load_metrics(job_dir)
    except FileNotFoundError:
        data = None
    except (OSError, ValueError) as exc:  # written atomically: a hand-edited, foreign or corrupted file
        return None, overrides, f"{metrics_file} unreadable: {exc.strerror if isinstance(exc, OSError) else exc}"
    if data is not None and not isinstance(data, dict):
        return None, overrides, f"{metrics_file}: holds a JSON {type(data).__name__}, not a job's record"
    record = None if data is None else JobRecord.from_json(data)
    why = None if record is None else _record_damage(record)
    if why:
        return None, overrides, f"{metrics_file}: {why}"
    if damage:
        return None, overrides, damage
    if overrides is None and record is not None:
        overrides = record.overrides
    return record, overrides, None


def read_search(sweep: SweepDir) -> Optional[dict]:
    """optuna_results.yaml of a search (hparams_search=optuna), None where there is none or it is not as the
    Optuna sweeper writes it (a warning says so: the summary is written without the best trial)."""
    try:
        opt = _yaml(sweep.optuna_file)
    except ValueError as exc:
        log.warning("%s: %s; the search's best trial is left out of the summary", OPTUNA_FILE, exc)
        return None
    if isinstance(opt, dict) and not isinstance(opt.get("best_params") or {}, dict):
        log.warning("%s: best_params is %s, not a mapping; the search's best trial is left out of the summary",
                    OPTUNA_FILE, shown(opt["best_params"]))
        return None
    return opt if isinstance(opt, dict) else None
