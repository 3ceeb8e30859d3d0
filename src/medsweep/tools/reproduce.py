"""Re-run a completed job from its saved config into a new directory and compare the results
(``medsweep reproduce``; its arguments: medsweep.cli.reproduce):

    medsweep reproduce multirun/2026-11-28/09-30-00/0 [--out DIR]

First the data must be what the job trained on (the file's sha256, or the embedded data's frame hash, as
metrics.json recorded it); then the job runs in this process (``run_job``, as train.py runs it) into
``<job dir>-reproduced-<time>`` or ``--out``, never into the original; then every result in metrics.json
(each metric fold by fold with its pooled value and interval, the operating point, the evaluation, the
hold-out or external score) is compared with the original's. Exit 0 when identical, 1 listing each
difference, 2 when it cannot be reproduced (not completed, data changed, config no longer valid): then
:func:`reproduce` raises :class:`ReproduceError` before anything is written.
"""

from __future__ import annotations

import importlib.resources
import logging
import math
import shutil
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from medsweep.config.schema import Config, ConfigError, check_config
from medsweep.cpu import cpu_share_set
from medsweep.data.errors import DataError
from medsweep.data.sources import load_frame, resolve_path
from medsweep.estimators import REGISTRY
from medsweep.record.files import METRICS_FILE, SAVED_CONFIG, JobPaths, sha256_of_file
from medsweep.record.job_record import JobRecord, load_record, model_problem, read_record, status_text

# Descriptive provenance (a citation's wording, where the file lies) is not a result: of the data, the
# rows, columns and content hash are compared.
DATA_COMPARED = ("sha256", "rows", "columns", "dropped_rows_missing_target")

log = logging.getLogger("medsweep")


class ReproduceError(ValueError):
    """The job cannot be reproduced as it is (one line)."""


@dataclass
class Reproduction:
    out_dir: Path
    differences: list[str]
    filled: list[str] = field(default_factory=list)      # keys the saved config predates, with their value
    versions: list[str] = field(default_factory=list)    # packages whose version differs from the job's


# -- the config --------------------------------------------------------------------------------------------

def _typed(saved: Any) -> DictConfig:
    """``saved`` merged onto the schema (types checked as Hydra checks them), estimator by its own schema."""
    cfg = OmegaConf.merge(OmegaConf.structured(Config), saved)
    name = saved.estimator.get("name") if "estimator" in saved else None
    if name not in REGISTRY:
        raise ConfigError(f"estimator.name={name!r} is not allowed: must be one of {', '.join(REGISTRY)}")
    cfg.estimator = OmegaConf.merge(OmegaConf.structured(REGISTRY[name].Params), saved.estimator)
    return cfg


def _current_defaults(job_dir: Path, overrides: list[str]) -> DictConfig:
    """The config this medsweep composes for the job's overrides, from the config folder the job was composed
    from (hydra.yaml records it)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from medsweep.config.schema import register_configs

    saved_hydra = JobPaths(job_dir).saved_hydra
    hydra_cfg = yaml.safe_load(saved_hydra.read_text()) if saved_hydra.is_file() else {}
    sources = ((hydra_cfg or {}).get("hydra", {}).get("runtime", {}).get("config_sources") or [])
    main = next((s for s in sources if s.get("provider") == "main" and s.get("schema") in ("file", "pkg")), {})
    conf = main.get("path")
    if conf and main.get("schema") == "pkg":  # pkg://medsweep.conf (medsweep run, train.py): the package's folder
        try:
            conf = str(importlib.resources.files(conf))
        except (ModuleNotFoundError, TypeError, ValueError):
            conf = None
    if not conf or not Path(conf).is_dir():
        raise ReproduceError(f"{saved_hydra} names no config folder that exists ({conf}), so keys the "
                             "saved config lacks cannot be filled")
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            return compose(config_name="train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def saved_config(job_dir: Path) -> tuple[DictConfig, list[str], list[str]]:
    """(config, overrides, filled): the config the job ran, typed and range-checked by this medsweep's schema.
    Keys the schema gained after the job ran (absent from its config.yaml) get the value this medsweep's
    config folder gives for the job's overrides; ``filled`` lists them as key=value."""
    job = JobPaths(job_dir)
    path = job.saved_config
    if not path.is_file():
        raise ReproduceError(f"job {job_dir} has no {SAVED_CONFIG}: the config it ran is read from there")
    overrides = yaml.safe_load(job.saved_overrides.read_text()) if job.saved_overrides.is_file() else []
    try:
        saved = OmegaConf.load(path)
        cfg = _typed(saved)
        filled = []
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            current = _current_defaults(job_dir, list(overrides or []))
            for key in missing:
                value = OmegaConf.select(current, key)
                OmegaConf.update(cfg, key, value, merge=False)
                filled.append(f"{key}={'null' if value is None else value}")
        check_config(cfg)
    except (OmegaConfBaseException, ConfigError) as exc:
        raise ReproduceError(f"{path} is not a valid config for this medsweep: {str(exc).splitlines()[0]}") from None
    return cfg, list(overrides or []), filled


# -- the data ----------------------------------------------------------------------------------------------

def _check_file(path: Optional[str], recorded: Optional[str], what: str) -> Path:
    if not path or not recorded:
        raise ReproduceError(f"{METRICS_FILE} records no path or sha256 of {what}, so it cannot be checked")
    if not Path(path).is_file():
        raise ReproduceError(f"{what} {path} no longer exists")
    actual = sha256_of_file(Path(path))
    if actual != recorded:
        raise ReproduceError(f"{what} {path} has changed since the job ran: sha256 {actual}, the job's was "
                             f"{recorded}")
    return Path(path)


def check_data(cfg: DictConfig, record: JobRecord) -> None:
    """Refuse when the data is not what the job trained (and tested) on. A file named by a relative path or
    data_dir is pinned to the absolute path the job read, so the check and the run read the same file from
    any directory."""
    info = record.data or {}
    if resolve_path(cfg.data, cfg.get("data_dir")) is not None:
        cfg.data.path = str(_check_file(info.get("path"), info.get("sha256"), "data file"))
    else:
        # Embedded (synthetic, scikit-learn, bundled): the frame hash (or checked file hash) data.py computes.
        try:
            _, now = load_frame(cfg.data, None)
        except DataError as exc:
            raise ReproduceError(f"embedded data {cfg.data.name!r} cannot be loaded: {exc}") from None
        if now.get("sha256") != info.get("sha256"):
            raise ReproduceError(f"embedded data {cfg.data.name!r} (data.source={cfg.data.source}) has changed "
                                 f"since the job ran: sha256 {now.get('sha256')}, the job's was {info.get('sha256')}")
    test = record.test or {}
    if test.get("source") == "external":
        cfg.data.test_path = str(_check_file(test.get("path"), test.get("sha256"), "external validation file"))


# -- running -----------------------------------------------------------------------------------------------

def choose_out_dir(job_dir: Path, out: Optional[Path]) -> Path:
    """``out``, or ``<job dir>-reproduced-<time>``: a new directory, never the job's own or one inside it."""
    job = job_dir.resolve()
    if out is None:
        base = f"{job}-reproduced-{time.strftime('%Y%m%d-%H%M%S')}"
        out, n = Path(base), 0
        while out.exists():
            n += 1
            out = Path(f"{base}-{n}")
        return out
    target = out.resolve()
    if target == job or job in target.parents:
        raise ReproduceError(f"--out {out} is the job's directory or inside it: the reproduction is written to a "
                             "new directory, so that the original stays as it was")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ReproduceError(f"--out {out} already exists and is not an empty folder: choose a new directory")
    return target


@contextmanager
def _job_logging(out_dir: Path, n_threads: Optional[int]) -> Iterator[None]:
    """What train.py's Hydra run gives a job: its log in train.log (INFO and up); and the thread count the
    job ran with (the CPU share, which the estimators' thread settings come from: medsweep.cpu)."""
    handler = logging.FileHandler(JobPaths(out_dir).log)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root, level = logging.getLogger(), log.level
    root.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with cpu_share_set(n_threads) if n_threads else nullcontext():
            yield
    finally:
        root.removeHandler(handler)
        handler.close()
        log.setLevel(level)


def _differences(a: Any, b: Any, where: str, tolerance: float) -> list[str]:
    """Every value of the job's record ``a`` that the reproduction ``b`` does not match (numbers within
    ``tolerance``; fields the job did not record are not compared)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key, value in a.items():
            path = f"{where}.{key}" if where else str(key)
            if key not in b:
                out.append(f"{path}: {value!r} in the job, absent in the reproduction")
            else:
                out += _differences(value, b[key], path, tolerance)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} values in the job, {len(b)} in the reproduction"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]", tolerance)]
    if _is_number(a) and _is_number(b):
        if (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= tolerance:
            return []
        return [f"{where}: {a!r} in the job, {b!r} in the reproduction"]
    return [] if a == b else [f"{where}: {a!r} in the job, {b!r} in the reproduction"]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _recorded(record: JobRecord, key: str) -> Any:
    """A key of the record as its file has it; "" where it has none."""
    return getattr(record, key) if record.has(key) else ""


def compare_records(original: JobRecord, reproduced: JobRecord, tolerance: float = 0.0) -> list[str]:
    """The differences between two completed jobs' results (run-specific fields left out)."""
    if not reproduced.completed:
        return [f"status: {status_text(original.status)!r} in the job, {status_text(reproduced.status)!r} in the "
                f"reproduction ({_recorded(reproduced, 'error_type')}: {_recorded(reproduced, 'error')})"]
    if original.has("data") and isinstance(original.data, dict):
        original = original.updated(data={k: v for k, v in original.data.items() if k in DATA_COMPARED})
    # What differs between two runs of a job is not compared (JobRecord.results).
    return _differences(original.results(), reproduced.to_json(), "", tolerance)


def version_changes(original: JobRecord, reproduced: JobRecord) -> list[str]:
    old, new = original.versions or {}, reproduced.versions or {}
    return [f"{name} {old[name]} (job) -> {new.get(name)} (now)" for name in old if old[name] != new.get(name)]


def reproduce(job_dir: Path, out: Optional[Path] = None, tolerance: float = 0.0) -> Reproduction:
    """Check, re-run and compare (see the module's docstring). Raises :class:`ReproduceError` before
    anything is written when the job cannot be reproduced."""
    from medsweep.job.runner import run_job  # scikit-learn, matplotlib: only once the checks pass

    job_dir = Path(job_dir)
    job = JobPaths(job_dir)
    try:
        record = load_record(job_dir)
    except (FileNotFoundError, NotADirectoryError):
        raise ReproduceError(f"{job_dir} is not a job directory: it has no {METRICS_FILE}") from None
    except ValueError as exc:
        raise ReproduceError(f"{job.metrics} is not valid JSON ({exc})") from None
    if not record.completed:
        raise ReproduceError(f"job {job_dir} did not complete (status {status_text(record.status)!r}): there are "
                             "no results to compare with; run it again with `medsweep run`")
    problem = model_problem(job.model, record) if record.model_sha256 else None
    if problem:  # the results belong to a model that is no longer there: the job's record is not intact
        raise ReproduceError(f"{problem}; a job whose files were changed is not reproduced")
    cfg, overrides, filled = saved_config(job_dir)
    check_data(cfg, record)
    out_dir = choose_out_dir(job_dir, out)
    copy = JobPaths(out_dir)  # the reproduction is itself a job directory
    copy.saved_config.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, copy.saved_config)
    if job.saved_overrides.is_file():
        shutil.copyfile(job.saved_overrides, copy.saved_overrides)
    with _job_logging(out_dir, record.n_threads):
        try:
            run_job(cfg, out_dir, overrides)
        except Exception:  # recorded in its metrics.json (and train.log); compared below
            pass
    reproduced = read_record(out_dir)
    if reproduced is None or not reproduced.keys:  # none, or an empty one
        reproduced = JobRecord(status=None, error=f"no {METRICS_FILE} was written")
    return Reproduction(out_dir=out_dir, differences=compare_records(record, reproduced, tolerance), filled=filled,
                        versions=version_changes(record, reproduced))
