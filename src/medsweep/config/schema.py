"""The configuration schema: dataclasses Hydra checks types against, and the range checks it cannot do.

Types are checked by OmegaConf when Hydra composes a config (``trainer.epochs=abc`` fails there).
Ranges (``trainer.folds >= 2``) are checked by :func:`check_config`, which the sweeper runs on every
job's config before any job starts, and a single run runs before its output directory is made.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from medsweep.config import run_control
from medsweep.estimators import REGISTRY

TASKS = ("classification", "regression")
IMPUTERS = ("median", "iterative", "indicator")  # preprocess.IMPUTERS (schema.py does not import scikit-learn)
MAX_SEED = 2**32 - 1
EMBEDDED_SOURCES = ("synthetic", "sklearn", "bundled")
# Upper bounds of keys that only cost time above them (eval.n_boot=1e8 or retries=1e9 passed before):
# - bootstrap resamples: the Monte Carlo error of a 95% limit shrinks as 1/sqrt(n_boot): ~2.7 sd/sqrt(n_boot),
#   0.0003 at 100,000 for a ROC-AUC of standard error 0.03, below the third decimal shown. 1,000 resamples
#   take ~0.75 s per 3,000 rows, so 1e8 meant ~21 h per job (and again per subgroup and never-seen patients).
# - retries re-run a whole job after a transient failure (a killed worker, a lost node); one that failed 11
#   times is not transient, and a sweep should end.
MAX_N_BOOT = 100_000
MAX_RETRIES = 10
# eval.instability refits the whole pipeline once per resample: 2,000 refits are hours for a slow estimator.
MAX_INSTABILITY = 2000
# race.test: the one-sided paired test that stops a job (job/racing.py says why the first is the default).
RACE_TESTS = ("corrected_ttest", "wilcoxon")


@dataclass
class TrainerConfig:
    # Values in conf/trainer/*.yaml.
    epochs: int = MISSING
    folds: int = MISSING
    batch_size: int = MISSING
    repeats: int = MISSING
    holdout: Optional[float] = MISSING


@dataclass
class DataConfig:
    name: str = MISSING
    # Where the data comes from when no file is given: a synthetic cohort, a dataset bundled with
    # scikit-learn, or a real file shipped with medsweep (`file`). `path` (or `data_dir` + `file`) switches to a file.
    source: str = "synthetic"
    file: Optional[str] = None
    path: Optional[str] = None
    # An external validation file (another hospital): read like `path`, scored once by the final model.
    test_path: Optional[str] = None
    # The external file's patient column when its name differs from `group`'s (null: `group`'s name).
    test_group: Optional[str] = None
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
    # The most one data file may hold once decompressed, in MB (10**6 bytes): bounds a decompression bomb.
    # The same default as data.DEFAULT_MAX_EXPANDED_MB (schema.py does not import pandas).
    max_expanded_mb: int = 2048
    # Seed of the synthetic cohort; separate from the training seed so that `seed=0,1,2` varies the
    # splits and the estimator, not the patients.
    seed: int = 0
    # The site (hospital) column: internal-external cross-validation, each site held out once (trainer.folds
    # and trainer.repeats are then not used), per-site metrics and their meta-analysis. null: off.
    site: Optional[str] = None


@dataclass
class ModelConfig:
    name: str = MISSING
    description: str = ""


# The run's own settings: types here, values (with what they mean) in conf/train.yaml.
@dataclass
class DebugConfig:
    fail_attempts: int = MISSING
    epoch_sleep_s: float = MISSING


@dataclass
class SampleSizeConfig:
    # The minimum sample size (evaluate/sample_size.py) assumes the model will perform this well.
    c_statistic: float = MISSING
    r2: float = MISSING


@dataclass
class EvalConfig:
    n_boot: int = MISSING
    threshold: str = MISSING
    threshold_folds: int = MISSING
    dca_thresholds: List[float] = MISSING
    subgroups: List[str] = MISSING
    subgroup_bins: int = MISSING
    subgroup_min_patients: int = MISSING
    subgroup_min_events: int = MISSING
    interval: str = MISSING
    metrics: List[str] = MISSING
    meta_analysis: str = MISSING
    instability: int = MISSING
    sample_size: SampleSizeConfig = field(default_factory=SampleSizeConfig)


@dataclass
class PreprocessConfig:
    impute: str = MISSING


@dataclass
class TrackingConfig:
    backend: str = MISSING
    uri: Optional[str] = MISSING
    experiment: str = MISSING
    register_best: bool = MISSING
    required: bool = MISSING


@dataclass
class OptunaTrialConfig:
    # Set by hparams_search=optuna's sweeper on each trial of a pruned search (null otherwise): the job reports
    # each fold to trial ``number`` of ``study`` in the journal file ``storage`` (relative: in the sweep
    # directory), which says what to report and how to prune (job/optuna_pruning.py).
    storage: str = MISSING
    study: str = MISSING
    number: int = MISSING


@dataclass
class RaceConfig:
    # Racing over folds (job/racing.py); values in conf/train.yaml.
    enabled: bool = MISSING
    min_folds: int = MISSING
    alpha: float = MISSING
    test: str = MISSING
    rerun_pruned: bool = MISSING


@dataclass
class SelectConfig:
    # Which job is "best" (evaluate/constraints.py); values in conf/train.yaml.
    metric: Optional[str] = MISSING
    constraints: List[str] = MISSING
    on: str = MISSING


@dataclass
class Config:
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    trainer: TrainerConfig = MISSING
    estimator: Any = MISSING
    seed: int = MISSING
    data_dir: Optional[str] = MISSING
    data_cache: Optional[str] = MISSING
    retries: int = MISSING
    timeout_min: Optional[float] = MISSING
    resume: bool = MISSING
    dry_run: bool = MISSING
    verbose: bool = MISSING
    eval: EvalConfig = MISSING
    debug: DebugConfig = MISSING
    tracking: Optional[TrackingConfig] = None
    preprocess: PreprocessConfig = MISSING
    # An OptunaTrialConfig's fields, or null. Typed Any: Hydra cannot set a dict on a null structured node.
    optuna_trial: Any = None
    race: RaceConfig = MISSING
    select: SelectConfig = MISSING


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="medsweep_schema", node=Config)
    # Outside the `estimator` group so that `estimator=glob(*)` and --help list only real options.
    for name, estimator in REGISTRY.items():
        cs.store(group="schema/estimator", name=name, node=estimator.Params)


# Keys that change how a job is run, not what it trains (resume, dry_run, verbose, retries, ...): defined once,
# in run_control.py; kept importable from here.
RUN_CONTROL_KEYS = run_control.RUN_CONTROL_KEYS


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
    _check(errors, t.repeats >= 1, "trainer.repeats", t.repeats, "must be an integer >= 1")
    _check(errors, t.holdout is None or 0 < t.holdout <= 0.5, "trainer.holdout", t.holdout,
           "must be null (no hold-out) or the share of patients set aside, > 0 and <= 0.5")
    # numpy seeds are 32-bit unsigned: anything else fails deep inside a job.
    _check(errors, 0 <= cfg.seed <= MAX_SEED, "seed", cfg.seed, f"must be an integer from 0 to {MAX_SEED}")
    _check(errors, 0 <= cfg.retries <= MAX_RETRIES, "retries", cfg.retries, f"must be an integer from 0 to {MAX_RETRIES}")
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
    _check(errors, not (t.holdout and d.test_path), "trainer.holdout", t.holdout,
           f"cannot be combined with data.test_path={d.test_path!r}: validate on a hold-out or on an external file")
    _check(errors, d.positive is None or len(d.positive) > 0, "data.positive", d.positive,
           "must be null or a non-empty list of target values")
    # An empty value (an unset shell variable: data.path=$FILE) would silently train on the embedded data.
    for key, value in (("data.path", d.path), ("data.test_path", d.test_path), ("data_dir", cfg.data_dir),
                       ("data.test_group", d.get("test_group")), ("data.site", d.get("site"))):
        _check(errors, value is None or str(value).strip() != "", key, value,
               "must be null or name a " + ("folder" if key == "data_dir" else "column" if key in ("data.test_group", "data.site")
                                            else "file") + ", not be empty")
    _check(errors, d.get("max_expanded_mb", 1) >= 1, "data.max_expanded_mb", d.get("max_expanded_mb"),
           "must be an integer >= 1 (MB, the most one data file may hold once decompressed)")
    if d.group_pattern is not None:
        try:
            re.compile(d.group_pattern)
        except re.error as exc:
            errors.append(f"data.group_pattern={d.group_pattern!r} is not allowed: not a regular expression ({exc})")

    errors += _eval_errors(cfg.eval)
    errors += _preprocess_errors(cfg)
    trial = cfg.get("optuna_trial")
    wanted = sorted(f.name for f in dataclasses.fields(OptunaTrialConfig))
    _check(errors, trial is None or (hasattr(trial, "keys") and sorted(trial.keys()) == wanted
                                     and isinstance(trial.get("number"), int) and trial.get("number") >= 0),
           "optuna_trial", trial, "is set by hparams_search=optuna: null, or {storage, study, number (>= 0)}")
    errors += _race_select_errors(cfg)

    name = cfg.estimator.get("name")
    if name not in REGISTRY:
        errors.append(f"estimator.name={name!r} is not allowed: must be one of {', '.join(REGISTRY)}")
    else:
        errors += REGISTRY[name].range_errors(cfg.estimator)
    return errors


def _eval_errors(ev: Any) -> list[str]:
    from medsweep.learn.operating_point import parse_threshold_rule  # numpy only: cheap in the sweep's parent

    errors: list[str] = []
    _check(errors, ev.n_boot == 0 or 100 <= ev.n_boot <= MAX_N_BOOT, "eval.n_boot", ev.n_boot,
           f"must be 0 (no intervals) or an integer >= 100 (fewer resamples give unstable 95% limits) and "
           f"<= {MAX_N_BOOT} (more only cost time)")
    try:
        parse_threshold_rule(ev.threshold)
    except ValueError as exc:
        errors.append(f"eval.threshold={ev.threshold} is not allowed: {exc}")
    _check(errors, ev.threshold_folds >= 2, "eval.threshold_folds", ev.threshold_folds, "must be an integer >= 2")
    dca = list(ev.dca_thresholds)
    _check(errors, len(dca) == 2 and all(math.isfinite(t) for t in dca) and 0 < dca[0] < dca[1] < 1,
           "eval.dca_thresholds", dca, "must be [from, to] with 0 < from < to < 1, e.g. [0.05,0.95]")
    _check(errors, ev.subgroup_bins >= 2, "eval.subgroup_bins", ev.subgroup_bins, "must be an integer >= 2")
    _check(errors, ev.subgroup_min_patients >= 1, "eval.subgroup_min_patients", ev.subgroup_min_patients,
           "must be an integer >= 1")
    _check(errors, ev.subgroup_min_events >= 1, "eval.subgroup_min_events", ev.subgroup_min_events,
           "must be an integer >= 1")
    _check(errors, ev.interval in ("percentile", "bca"), "eval.interval", ev.interval,
           "must be percentile or bca")
    from medsweep.evaluate.meta_analysis import METHODS  # numpy only

    _check(errors, ev.get("meta_analysis", METHODS[0]) in METHODS, "eval.meta_analysis", ev.get("meta_analysis"),
           f"must be one of {', '.join(METHODS)} (tau2 by REML or DerSimonian-Laird; -hk: Hartung-Knapp interval)")
    _check(errors, ev.get("instability", 0) == 0 or 10 <= ev.get("instability", 0) <= MAX_INSTABILITY,
           "eval.instability", ev.get("instability"),
           f"must be 0 (off) or the number of bootstrap refits, 10-{MAX_INSTABILITY} (Riley & Collins: >= 200)")
    from medsweep.evaluate.metrics import available_metrics  # numpy only

    for name in ev.get("metrics") or ():
        _check(errors, name in available_metrics(), "eval.metrics", name,
               f"must be metrics of the registry: {', '.join(available_metrics())}")
    return errors


def _preprocess_errors(cfg: Any) -> list[str]:
    """preprocess.impute and eval.sample_size (read with .get: a config saved before them has neither)."""
    errors: list[str] = []
    impute = (cfg.get("preprocess") or {}).get("impute", "median")
    _check(errors, impute in IMPUTERS, "preprocess.impute", impute, f"must be one of {', '.join(IMPUTERS)}")
    size = cfg.eval.get("sample_size") or {}
    c = size.get("c_statistic", 0.7)
    _check(errors, isinstance(c, (int, float)) and 0.5 < c < 1, "eval.sample_size.c_statistic", c,
           "must be > 0.5 and < 1 (the C statistic the model is anticipated to reach)")
    r2 = size.get("r2", 0.2)
    _check(errors, isinstance(r2, (int, float)) and 0 < r2 < 1, "eval.sample_size.r2", r2,
           "must be > 0 and < 1 (the adjusted R2 a regression is anticipated to reach)")
    return errors


def wilcoxon_min_pairs(alpha: float) -> int:
    """The fewest pairs on which an exact one-sided Wilcoxon signed-rank test can reach p < ``alpha`` (its
    smallest p on n pairs is 1/2^n)."""
    return math.floor(math.log2(1.0 / alpha)) + 1


def _race_select_errors(cfg: Any) -> list[str]:
    """race.* and select.* (absent in a config composed before they existed: nothing to check)."""
    from medsweep.evaluate.constraints import constraint_errors  # numpy only

    errors: list[str] = []
    race = cfg.get("race")
    if race is not None:
        t = cfg.trainer
        _check(errors, race.test in RACE_TESTS, "race.test", race.test, f"must be one of {', '.join(RACE_TESTS)}")
        _check(errors, 0 < race.alpha < 0.5, "race.alpha", race.alpha, "must be a level > 0 and < 0.5")
        _check(errors, race.min_folds >= 2, "race.min_folds", race.min_folds, "must be an integer >= 2")
        # Racing on: a minimum above the folds a job has would never let it stop (checked only then, so that
        # trainer.folds=2 needs no race.min_folds).
        _check(errors, not race.enabled or race.min_folds <= t.folds * t.repeats, "race.min_folds", race.min_folds,
               f"must be <= trainer.folds x trainer.repeats ({t.folds * t.repeats}) with race.enabled=true")
        # The exact one-sided p of a signed-rank test on n pairs is at least 1/2^n: below that many folds no job
        # could ever stop (with race.alpha=0.05: 5 folds).
        least = wilcoxon_min_pairs(race.alpha) if 0 < race.alpha < 0.5 else 0
        if race.enabled and race.test == "wilcoxon" and race.min_folds < least:
            errors.append(f"race.min_folds={race.min_folds} is not allowed with race.test=wilcoxon: the exact "
                          f"one-sided p of n pairs is at least 1/2^n, so below {least} folds no job could stop "
                          f"at race.alpha={race.alpha}; use race.min_folds>={least} or race.test=corrected_ttest")
    select = cfg.get("select")
    if select is not None:
        errors += constraint_errors(select.metric, list(select.constraints), select.on, cfg.data.task,
                                    cfg.eval.n_boot)
    return errors


def check_config(cfg: Any) -> None:
    """Raise :class:`ConfigError` listing every out-of-range value of ``cfg``."""
    errors = config_errors(cfg)
    if errors:
        raise ConfigError("; ".join(errors))
