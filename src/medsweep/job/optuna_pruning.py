"""Optuna's pruning across folds: a trial of ``hparams_search=optuna`` reports each fold's score to its study
as an intermediate value (step = the fold's number, all rounds' folds in order) and stops when
WilcoxonPruner finds it worse than the study's best trial on the same folds.

The sweeper tells the job where its trial is through ``optuna_trial`` (config/schema.py: the journal file
in the sweep directory, the study's name, the trial's number); the study itself says which metric to report
and the pruner's settings (its user attribute PRUNER_ATTR). A job without ``optuna_trial`` (every job outside
a pruned search) gets no hook. The job only reads and reports to its own
trial: the sweeper alone asks for trials and tells their results. A trial that is no longer running (a
finished trial's job re-run by ``medsweep reproduce``) is left alone.

Stopping raises learn.training.FoldsStopped: the job is recorded "pruned" with ``pruned: {reason, pruner,
metric, p_threshold, n_startup_steps, folds_scored, study, trial}`` and the sweeper tells the trial PRUNED.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

from medsweep.learn.stops import FoldsStopped

log = logging.getLogger(__name__)

FoldHook = Callable[[int, dict], None]


PRUNER_ATTR = "medsweep_pruner"  # the study's {metric, p_threshold, n_startup_steps}, set by the sweeper


def open_trial(storage_file: Path, study_name: str, number: int) -> Any:
    """(trial ``number`` of the study in the journal ``storage_file``, with the WilcoxonPruner and metric the
    study's PRUNER_ATTR says, that metric, the pruner's settings); None where that trial is not running
    (finished already, no such study or trial, or a study without a pruner)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if not storage_file.is_file():
        log.warning("Optuna pruning off: the study's storage %s is not there", storage_file)
        return None
    storage = JournalStorage(JournalFileBackend(str(storage_file)))
    try:
        study_id = storage.get_study_id_from_name(study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    except KeyError as exc:
        log.warning("Optuna pruning off: %s", exc)
        return None
    settings = storage.get_study_user_attrs(study_id).get(PRUNER_ATTR)
    if not settings or storage.get_trial(trial_id).state != optuna.trial.TrialState.RUNNING:
        return None  # no pruner, or told already: a re-run of a finished trial (medsweep reproduce), not the trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # WilcoxonPruner's, every job
        pruner = optuna.pruners.WilcoxonPruner(p_threshold=settings["p_threshold"],
                                               n_startup_steps=settings["n_startup_steps"])
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=pruner)
    return optuna.trial.Trial(study, trial_id), settings


def optuna_pruning_hooks(cfg: Any, out_dir: Path, sweep_dir: Optional[Path]) -> list[FoldHook]:
    """The fold hook of a trial of a pruned Optuna search (``cfg.optuna_trial``, set by the sweeper), or none.
    A relative ``storage`` is in the sweep directory (the job directory's parent where there is none)."""
    where = cfg.get("optuna_trial")
    if where is None:
        return []
    storage = Path(where.storage)
    if not storage.is_absolute():
        storage = Path(sweep_dir or Path(out_dir).resolve().parent) / storage
    opened = open_trial(storage, where.study, where.number)
    if opened is None:
        return []
    trial, settings = opened
    metric = settings["metric"]

    def report(fold: int, metrics: dict) -> None:
        trial.report(float(metrics[metric]), step=fold)
        if trial.should_prune():
            raise FoldsStopped(
                f"Optuna's WilcoxonPruner: after {fold + 1} folds, {metric} is worse than the best trial's on the "
                f"same folds (one-sided Wilcoxon signed-rank p < {settings['p_threshold']})",
                {"pruner": "WilcoxonPruner", "metric": metric, "p_threshold": settings["p_threshold"],
                 "n_startup_steps": settings["n_startup_steps"], "folds_scored": fold + 1, "study": where.study,
                 "trial": where.number})

    return [report]
