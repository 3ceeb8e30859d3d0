"""The configuration schema: dataclasses Hydra checks types against, and the range checks it cannot do.

Types are checked by OmegaConf when Hydra composes a config (``trainer.epochs=abc`` fails there).
Ranges (``trainer.folds >= 2``) are checked by :func:`check_config`, which the sweeper runs on every
job's config before any job starts, and a single run runs before its output directory is made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from medsweep.estimators import REGISTRY

TASKS = ("classification", "regression")
MAX_SEED = 2**32 - 1
EMBEDDED_SOURCES = ("synthetic", "sklearn")


@dataclass
class TrainerConfig:
    # Values in conf/trainer/*.yaml.
    epochs: int = MISSING
    folds: int = MISSING
    batch_size: int = MISSING


@dataclass
class DataConfig:
    name: str = MISSING
    # Where the data comes from when no file is given: a synthetic cohort or a dataset bundled with
    # scikit-learn. `path` (or `data_dir` + `file`) switches to a file.
    source: str = "synthetic"
    file: Optional[str] = None
    path: Optional[str] = None
    target: str = MISSING
    task: str = "classification"
    group: Optional[str] = None
    group_pattern: Optional[str] = None
    drop: List[str] = field(default_factory=list)
    positive: Optional[List[Any]] = None
    # Cells read as missing in text files (and in text columns of Parquet files); nothing else is.
    na_values: List[str] = field(default_factory=lambda: ["", "?", "NA", "N/A", "n/a", "NaN", "nan", "NULL",
                                                          "null", "#N/A"])
    delimiter: Optional[str] = None
    # Seed of the synthetic cohort; separate from the training seed so that `seed=0,1,2` varies the
    # splits and the estimator, not the patients.
    seed: int = 0


@dataclass
class ModelConfig:
    name: str = MISSING
    description: str = ""


@dataclass
class DebugConfig:
    # Fault injection, to rehearse failures: the first N attempts of each job raise a transient error.
    fail_attempts: int = 0
    # Sleep this long after every epoch, so that a job is slow enough to interrupt or time out.
    epoch_sleep_s: float = 0.0


@dataclass
class Config:
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    trainer: TrainerConfig = MISSING
    estimator: Any = MISSING
    seed: int = 0
    # Folder holding the real files named by each model's `data.file`.
    data_dir: Optional[str] = None
    # Re-run a failed job up to this many more times (configuration and data errors are not retried).
    retries: int = 0
    # Per-job time limit in minutes (null: none).
    timeout_min: Optional[float] = None
    # Multirun into an existing hydra.sweep.dir: run only the jobs without a completed result.
    resume: bool = False
    # Print the jobs a sweep would run and stop.
    dry_run: bool = False
    debug: DebugConfig = field(default_factory=DebugConfig)


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="medsweep_schema", node=Config)
    # Outside the `estimator` group so that `estimator=glob(*)` and --help list only real options.
    for name, estimator in REGISTRY.items():
        cs.store(group="schema/estimator", name=name, node=estimator.Params)


class ConfigError(ValueError):
    """A configuration value outside its allowed range."""


def _check(errors: list, ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        errors.append(f"{key}={value!r} is not allowed: {allowed}")


def config_errors(cfg: Any) -> list[str]:
    """Every out-of-range value of a composed config, one message each (empty when valid)."""
    errors: list[str] = []
    t = cfg.trainer
    _check(errors, t.folds >= 2, "trainer.folds", t.folds, "must be an integer >= 2")
    _check(errors, t.epochs >= 1, "trainer.epochs", t.epochs, "must be an integer >= 1")
    _check(errors, t.batch_size >= 1, "trainer.batch_size", t.batch_size, "must be an integer >= 1")
    # numpy seeds are 32-bit unsigned: anything else fails deep inside a job.
    _check(errors, 0 <= cfg.seed <= MAX_SEED, "seed", cfg.seed, f"must be an integer from 0 to {MAX_SEED}")
    _check(errors, cfg.retries >= 0, "retries", cfg.retries, "must be an integer >= 0")
    _check(errors, cfg.timeout_min is None or 0 < cfg.timeout_min < math.inf, "timeout_min", cfg.timeout_min,
           "must be null (no limit) or a finite number of minutes > 0")
    _check(errors, cfg.debug.fail_attempts >= 0, "debug.fail_attempts", cfg.debug.fail_attempts, "must be >= 0")
    _check(errors, 0 <= cfg.debug.epoch_sleep_s < math.inf, "debug.epoch_sleep_s", cfg.debug.epoch_sleep_s,
           "must be a finite number >= 0")
    d = cfg.data
    _check(errors, d.task in TASKS, "data.task", d.task, f"must be one of {', '.join(TASKS)}")
    _check(errors, d.source in EMBEDDED_SOURCES, "data.source", d.source,
           f"must be one of {', '.join(EMBEDDED_SOURCES)}")
    _check(errors, 0 <= d.seed <= MAX_SEED, "data.seed", d.seed, f"must be an integer from 0 to {MAX_SEED}")
    _check(errors, d.positive is None or len(d.positive) > 0, "data.positive", d.positive,
           "must be null or a non-empty list of target values")

    name = cfg.estimator.get("name")
    if name not in REGISTRY:
        errors.append(f"estimator.name={name!r} is not allowed: must be one of {', '.join(REGISTRY)}")
    else:
        errors += REGISTRY[name].range_errors(cfg.estimator)
    return errors


def check_config(cfg: Any) -> None:
    """Raise :class:`ConfigError` listing every out-of-range value of ``cfg``."""
    errors = config_errors(cfg)
    if errors:
        raise ConfigError("; ".join(errors))
