"""Which keys of a job's config control how it is run, and which say what it trains: the one definition.

``resume``, ``dry_run`` and ``verbose`` are keys of every job's config (Hydra composes one config for the
command and its jobs), yet they describe the command: a job run with ``resume=true`` trains what it trained
before. Everything that compares, records or tracks what a job trains asks here:

- the sweeper records each job's overrides in sweep.json without the command's keys (COMMAND_KEYS);
- a resume compares a job's saved config with the one it would run without RUN_CONTROL_KEYS (a resume may
  change the retries, the time limit, the tracking);
- tracking logs TRAINED_KEYS as a run's params (MLflow params cannot change, run-control keys may), and the
  overrides that set no run-control key.

No imports: the sweep's parent process and tracking read this before anything heavy.
"""

from __future__ import annotations

from typing import Any, Iterable

# Keys of the command, not of any job: left out of the overrides sweep.json lists for each job.
COMMAND_KEYS = ("resume", "dry_run", "verbose", "tracking")
# Keys that change how a job is run, not what it trains: race (racing may stop a job, never changes its numbers)
# and select (which job is called best) train nothing either.
RUN_CONTROL_KEYS = ("resume", "dry_run", "retries", "timeout_min", "debug", "verbose", "tracking", "data_cache",
                    "optuna_trial", "race", "select")
# What a job trains: every other key of its config (schema.Config's fields).
TRAINED_KEYS = ("model", "data", "trainer", "estimator", "eval", "seed", "data_dir", "preprocess")
# Keys added to what a job trains whose default does what medsweep did before it had them: a config saved
# without them trains the same as one with that value, so a sweep started before they existed resumes.
ADDED_WITH_OLD_DEFAULT = {("eval", "metrics"): [], ("eval", "sample_size"): {"c_statistic": 0.7, "r2": 0.2},
                          ("preprocess", "impute"): "median"}
# Sections added whole (a config saved before them has none): read as empty, then filled as above.
ADDED_SECTIONS = ("preprocess",)


def override_key(override: Any) -> str:
    """The top-level key an override sets: ``+tracking.uri=x`` -> ``tracking``, ``~debug`` -> ``debug``."""
    return str(override).lstrip("+~").split("=", 1)[0].split(".", 1)[0]


def is_run_control(override: Any) -> bool:
    """Whether an override sets a run-control key (not what the job trains)."""
    return override_key(override) in RUN_CONTROL_KEYS


def job_overrides(overrides: Iterable[Any]) -> list:
    """A job's overrides as sweep.json records them: without the command's keys (COMMAND_KEYS)."""
    return [o for o in overrides if override_key(o) not in COMMAND_KEYS]


def trained_config(tree: dict) -> dict:
    """A job's config (a plain tree, as saved in .hydra/config.yaml) without Hydra's node and the run-control
    keys: what the job trains; a key of ADDED_WITH_OLD_DEFAULT that it lacks, with that default."""
    trained = {k: v for k, v in tree.items() if k != "hydra" and k not in RUN_CONTROL_KEYS}
    for section in ADDED_SECTIONS:
        trained.setdefault(section, {})
    for (section, key), default in ADDED_WITH_OLD_DEFAULT.items():
        if isinstance(trained.get(section), dict) and key not in trained[section]:
            trained[section] = {**trained[section], key: default}
    return trained
