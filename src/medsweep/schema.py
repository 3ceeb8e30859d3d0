"""The configuration schema: dataclasses Hydra checks types against, and the range checks it cannot do.

Types are checked by OmegaConf when Hydra composes a config (``trainer.epochs=abc`` fails there).
Ranges (``trainer.folds >= 2``) are checked by :func:`check_config`, which the sweeper runs on every
job's config before any job starts, and a single run runs before its output directory is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

TASKS = ("classification", "regression")
EMBEDDED_SOURCES = ("synthetic", "sklearn")


@dataclass
class TrainerConfig:
    epochs: int = 20
    folds: int = 5
    batch_size: int = 32


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
class LogregConfig:
    name: str = "logreg"
    C: float = 1.0
    class_weight: Optional[str] = None
    max_iter: int = 1000


@dataclass
class RandomForestConfig:
    name: str = "random_forest"
    n_estimators: int = 300
    max_depth: Optional[int] = None
    min_samples_leaf: int = 1
    max_features: Optional[str] = "sqrt"
    class_weight: Optional[str] = None


@dataclass
class HistGBDTConfig:
    name: str = "hist_gbdt"
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    max_depth: Optional[int] = None
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0


@dataclass
class MLPConfig:
    name: str = "mlp"
    hidden_layer_sizes: List[int] = field(default_factory=lambda: [64, 32])
    activation: str = "relu"
    alpha: float = 1e-4
    learning_rate_init: float = 1e-3


ESTIMATOR_SCHEMAS = {
    "logreg": LogregConfig,
    "random_forest": RandomForestConfig,
    "hist_gbdt": HistGBDTConfig,
    "mlp": MLPConfig,
}


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
    for name, node in ESTIMATOR_SCHEMAS.items():
        cs.store(group="schema/estimator", name=name, node=node)


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
    _check(errors, cfg.retries >= 0, "retries", cfg.retries, "must be an integer >= 0")
    _check(errors, cfg.timeout_min is None or cfg.timeout_min > 0, "timeout_min", cfg.timeout_min,
           "must be null (no limit) or a number of minutes > 0")
    _check(errors, cfg.debug.fail_attempts >= 0, "debug.fail_attempts", cfg.debug.fail_attempts, "must be >= 0")
    _check(errors, cfg.debug.epoch_sleep_s >= 0, "debug.epoch_sleep_s", cfg.debug.epoch_sleep_s, "must be >= 0")
    d = cfg.data
    _check(errors, d.task in TASKS, "data.task", d.task, f"must be one of {', '.join(TASKS)}")
    _check(errors, d.source in EMBEDDED_SOURCES, "data.source", d.source,
           f"must be one of {', '.join(EMBEDDED_SOURCES)}")
    _check(errors, d.positive is None or len(d.positive) > 0, "data.positive", d.positive,
           "must be null or a non-empty list of target values")

    e = cfg.estimator
    name = e.get("name")
    if name not in ESTIMATOR_SCHEMAS:
        errors.append(f"estimator.name={name!r} is not allowed: must be one of {', '.join(ESTIMATOR_SCHEMAS)}")
        return errors
    cw = e.get("class_weight", None)
    _check(errors, cw in (None, "balanced"), "estimator.class_weight", cw, "must be null or 'balanced'")
    if name == "logreg":
        _check(errors, e.C > 0, "estimator.C", e.C, "must be > 0")
        _check(errors, e.max_iter >= 1, "estimator.max_iter", e.max_iter, "must be >= 1")
    elif name == "random_forest":
        _check(errors, e.n_estimators >= 1, "estimator.n_estimators", e.n_estimators, "must be >= 1")
        _check(errors, e.max_depth is None or e.max_depth >= 1, "estimator.max_depth", e.max_depth,
               "must be null or >= 1")
        _check(errors, e.min_samples_leaf >= 1, "estimator.min_samples_leaf", e.min_samples_leaf, "must be >= 1")
        _check(errors, e.max_features in (None, "sqrt", "log2"), "estimator.max_features",
               e.max_features, "must be null (all features), 'sqrt' or 'log2'")
    elif name == "hist_gbdt":
        _check(errors, e.learning_rate > 0, "estimator.learning_rate", e.learning_rate, "must be > 0")
        _check(errors, e.max_leaf_nodes >= 2, "estimator.max_leaf_nodes", e.max_leaf_nodes, "must be >= 2")
        _check(errors, e.max_depth is None or e.max_depth >= 1, "estimator.max_depth", e.max_depth,
               "must be null or >= 1")
        _check(errors, e.min_samples_leaf >= 1, "estimator.min_samples_leaf", e.min_samples_leaf, "must be >= 1")
        _check(errors, e.l2_regularization >= 0, "estimator.l2_regularization", e.l2_regularization,
               "must be >= 0")
    elif name == "mlp":
        sizes = list(e.hidden_layer_sizes)
        _check(errors, len(sizes) > 0 and all(s >= 1 for s in sizes), "estimator.hidden_layer_sizes",
               sizes, "must be a non-empty list of layer sizes >= 1, e.g. [64,32]")
        _check(errors, e.activation in ("relu", "tanh", "logistic", "identity"), "estimator.activation",
               e.activation, "must be one of relu, tanh, logistic, identity")
        _check(errors, e.alpha >= 0, "estimator.alpha", e.alpha, "must be >= 0")
        _check(errors, e.learning_rate_init > 0, "estimator.learning_rate_init", e.learning_rate_init,
               "must be > 0")
    return errors


def check_config(cfg: Any) -> None:
    """Raise :class:`ConfigError` listing every out-of-range value of ``cfg``."""
    errors = config_errors(cfg)
    if errors:
        raise ConfigError("; ".join(errors))
