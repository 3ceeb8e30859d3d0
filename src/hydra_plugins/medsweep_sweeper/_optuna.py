"""The Optuna side of ``hparams_search=optuna``: the search space from Hydra's sweep syntax, the settings'
checks, the study in its journal file, telling a trial from its job's record, and the search's results files.

Optuna is imported inside the functions: Hydra's plugin scan imports every module of this package in every
process, and a grid sweep neither needs nor has to have Optuna.

The study is kept in ``<sweep dir>/optuna.journal``: Optuna's JournalStorage with a file backend. It is one
append-only file of operations, written under a file lock, so the sweep (which asks and tells) and the jobs of
a pruned search (which report their folds, from other processes or other machines sharing the directory) can
write it at once, and a sweep killed mid-write loses at most its last line. SQLite would need SQLAlchemy (and
the alembic migrations Optuna runs on it), locks the whole database per write, and is unsafe on the network
filesystems SLURM sweeps write to. ``optuna-dashboard <sweep dir>/optuna.journal`` shows it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Optional, Sequence

from medsweep.record.job_record import JobRecord, Status
from medsweep.record.outputs import atomic_path

STORAGE_FILE = "optuna.journal"
SAMPLERS = ("tpe", "random", "nsgaii")
PRUNERS = ("auto", "wilcoxon", "none")
OVERRIDES_ATTR = "medsweep_overrides"   # a trial's job overrides, kept in the study (a resume rebuilds them)
OBJECTIVES_ATTR = "medsweep_objectives"  # the study's objectives (a resume with others is refused)
RERUN_ATTR = "medsweep_rerun_of"  # the pruned trial whose parameters a trial runs again (race.rerun_pruned=true)


# -- the search space --------------------------------------------------------------------------------------

def distribution(override: Any) -> Any:
    """The Optuna distribution of a sweep override: ``choice(a,b)`` categorical (as Hydra encodes each value),
    ``range(a,b[,step])`` the integers (or numbers) from a below b, ``interval(a,b)`` uniform on [a, b] (integers
    for ``int(interval(...))``), ``tag(log, ...)`` on a log scale; ``shuffle(...)`` as the unshuffled sweep."""
    import optuna.distributions as d
    from hydra.core.override_parser.types import Transformer

    key, value = override.key_or_group, override.value()
    if override.is_choice_sweep():
        return d.CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise ValueError(f"{key}={override.get_value_element_as_str()} is not allowed: the range is empty")
        step = value.step
        if all(isinstance(v, int) for v in (value.start, value.stop, step)):
            return d.IntDistribution(min(values), max(values), step=abs(step))
        return d.FloatDistribution(min(values), max(values), step=abs(step))
    if override.is_interval_sweep():
        start, end, log = value.start, value.end, "log" in value.tags
        if not start < end or (log and start <= 0):
            raise ValueError(f"{key}: interval({start}, {end}) is not allowed: it needs start < end"
                             + (" and start > 0 on a log scale" if log else ""))
        if isinstance(start, int) and isinstance(end, int):
            return d.IntDistribution(start, end, log=log)
        return d.FloatDistribution(float(start), float(end), log=log)
    raise ValueError(f"{key}: {override.input_line} is not a search dimension: use choice, range or interval")


def search_space(overrides: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
    """(key -> distribution of each sweep override, the overrides every trial gets as they are). A later
    override of a key replaces an earlier one: the command line replaces the config's ``params``."""
    space: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for override in overrides:
        key = override.key_or_group
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            space[key] = distribution(override)
        else:
            fixed[key] = override.input_line
    return space, list(fixed.values())


def value_text(value: Any) -> str:
    """A sampled value as an override writes it (a choice's value is already Hydra's encoding of it)."""
    return repr(value) if isinstance(value, float) else str(value)


def trial_overrides(params: dict, fixed: Sequence[str]) -> list[str]:
    return [*fixed, *(f"{key}={value_text(value)}" for key, value in params.items())]


def corners(space: dict[str, Any]) -> list[dict]:
    """Parameter sets that put every dimension at each of its ends (every value of a choice), the others at
    their low end: what the range checks see before the first trial (a check of a value's range fails at an end)."""
    def ends(dist: Any) -> list:
        return list(dist.choices) if hasattr(dist, "choices") else [dist.low, dist.high]

    low = {key: ends(dist)[0] for key, dist in space.items()}
    out, seen = [], set()
    for key, dist in space.items():
        for value in ends(dist):
            params = {**low, key: value}
            marker = tuple(value_text(v) for v in params.values())
            if marker not in seen:
                seen.add(marker)
                out.append(params)
    return out


# -- settings ---------------------------------------------------------------------------------------------

def pruning(pruner: Any, n_objectives: int) -> bool:
    return pruner.name == "wilcoxon" or (pruner.name == "auto" and n_objectives == 1)


def setting_errors(conf: Any, objectives: Sequence[Any], space: dict) -> list[str]:
    """Every out-of-range setting of the search, one line each naming the key, the value and what is allowed."""
    errors = []

    def check(ok: bool, key: str, value: Any, allowed: str) -> None:
        if not ok:
            errors.append(f"hydra.sweeper.{key}={value!r} is not allowed: {allowed}")

    check(conf.n_trials >= 1, "n_trials", conf.n_trials, "must be an integer >= 1")
    check(conf.n_jobs >= 1, "n_jobs", conf.n_jobs, "must be an integer >= 1 (trials asked for and run at once)")
    check(conf.sampler.name in SAMPLERS, "sampler.name", conf.sampler.name, f"must be one of {', '.join(SAMPLERS)}")
    check(conf.pruner.name in PRUNERS, "pruner.name", conf.pruner.name, f"must be one of {', '.join(PRUNERS)}")
    check(0 < conf.pruner.p_threshold < 1, "pruner.p_threshold", conf.pruner.p_threshold, "must be > 0 and < 1")
    check(conf.pruner.n_startup_steps >= 0, "pruner.n_startup_steps", conf.pruner.n_startup_steps,
          "must be an integer >= 0 (folds every trial scores before it may be pruned)")
    check(not (conf.pruner.name == "wilcoxon" and len(objectives) > 1), "pruner.name", conf.pruner.name,
          "Optuna prunes single-objective studies only: with several objectives use none (or auto)")
    if pruning(conf.pruner, len(objectives)) and objectives and not objectives[0].per_fold:
        errors.append(f"hydra.sweeper.objectives: {objectives[0].name} has no per-fold value to prune on: put a "
                      "metric first, or set hydra.sweeper.pruner.name=none")
    if not space:
        errors.append("hydra.sweeper.params holds no search dimension (choice, range or interval): nothing to "
                      "search; give one, e.g. 'estimator.C=tag(log, interval(1e-3, 1e2))'")
    return errors


# -- the study --------------------------------------------------------------------------------------------

def storage(sweep_dir: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(Path(sweep_dir) / STORAGE_FILE)))


def sampler(name: str, seed: Optional[int]) -> Any:
    """The sampler ``name``, seeded. TPE with constant_liar: the trials of one batch are asked for before any
    of them is told, and would otherwise crowd into one spot."""
    import optuna.samplers as s

    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "nsgaii":
        return s.NSGAIISampler(seed=seed)
    return s.TPESampler(seed=seed, constant_liar=True)


def create_study(sweep_dir: Path, name: str, objectives: Sequence[Any], sampler_: Any) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage(sweep_dir), study_name=name, sampler=sampler_,
                                directions=[o.direction for o in objectives])
    study.set_user_attr(OBJECTIVES_ATTR, [str(o) for o in objectives])
    return study


def load_study(sweep_dir: Path, name: str, sampler_: Any) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage(sweep_dir), sampler=sampler_)


def in_memory_study(objectives: Sequence[Any], sampler_: Any) -> Any:
    """A study that nothing keeps: the dry run's first proposals (those a new study with this seed makes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=sampler_, directions=[o.direction for o in objectives])


def tell(study: Any, number: int, record: Optional[JobRecord], objectives: Sequence[Any]) -> str:
    """Tell trial ``number`` how its job ended, from the job's record: its objectives' values (COMPLETE),
    PRUNED, or FAIL (failed, timed out, lost, or a completed job without a value of every objective). Returns
    the state told, and why where it failed."""
    from optuna.trial import TrialState

    from medsweep.job.search_objectives import objective_values

    status = record.status if record is not None else None
    if status == Status.COMPLETED:
        values, missing = objective_values(record, objectives)
        if not missing:
            study.tell(number, values, skip_if_finished=True)
            return "complete"
        why = f"its record has no value of {', '.join(missing)}"
    elif status == Status.PRUNED:
        study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        return "pruned"
    else:
        why = f"its job ended {status or 'without a record'}"
    study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    return f"failed: {why}"


def enqueue_reruns(study: Any) -> list[int]:
    """race.rerun_pruned=true on a resume: each PRUNED trial that no trial reruns yet is enqueued again with its
    parameters, as a new trial (a finished trial is never told again: Optuna's own RetryFailedTrialCallback
    retries a failed trial the same way), marked with RERUN_ATTR; the study's next asks hand them out before
    any new proposal. Returns the pruned trials' numbers, in order."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    rerun = {t.user_attrs.get(RERUN_ATTR) for t in trials}
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.number not in rerun]
    for t in pruned:
        study.enqueue_trial(dict(t.params), user_attrs={RERUN_ATTR: t.number})
    return [t.number for t in pruned]


# -- results ----------------------------------------------------------------------------------------------

def _params(trial: Any) -> dict:
    return {key: (value if not isinstance(value, float) or math.isfinite(value) else None)
            for key, value in trial.params.items()}


def results(study: Any, objectives: Sequence[Any]) -> dict:
    """optimization_results.yaml: the study, its objectives, its trials by state and either the best trial
    (one objective: best_params as the trial's overrides set them, best_value, best_job) or the Pareto front
    (several: each trial on it with its job, values and params)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    out: dict[str, Any] = {
        "name": study.study_name, "storage": STORAGE_FILE,
        "objectives": [str(o) for o in objectives],
        "n_trials": {state.name.lower(): sum(t.state == state for t in trials)
                     for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)},
    }
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return out
    if len(objectives) == 1:
        best = study.best_trial
        out.update(best_params=_params(best), best_value=float(best.value), best_job=best.number)
    else:
        out["pareto_front"] = [{"job": t.number, "values": {o.name: float(v) for o, v in zip(objectives, t.values)},
                                "params": _params(t)}
                               for t in sorted(study.best_trials, key=lambda t: t.number)]
    return out


def write_pareto_csv(path: Path, front: list[dict], objectives: Sequence[Any]) -> None:
    """pareto_front.csv: one row per trial on the front (job, each objective's value, each parameter)."""
    keys = list(dict.fromkeys(k for row in front for k in row["params"]))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["job", *(o.name for o in objectives), *keys])
        for row in front:
            writer.writerow([row["job"], *(row["values"][o.name] for o in objectives),
                             *(value_text(row["params"].get(k, "")) for k in keys)])
