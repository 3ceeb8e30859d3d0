"""What a job does after each cross-validation fold: the searches that may stop it early (a FoldsStopped from
learn.training) hook in here. A job with no hook cross-validates every fold, as it always has."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from omegaconf import DictConfig

from medsweep.job.optuna_pruning import optuna_pruning_hooks
from medsweep.job.racing import race_hook

FoldHook = Callable[[int, dict], None]


def fold_hook(cfg: DictConfig, out_dir: Path, sweep_dir: Optional[Path]) -> Optional[FoldHook]:
    """The callback ``cross_validate`` calls after each fold of this job (``None``: none asked for). Each
    search that may stop a job adds its hook to ``hooks``; they run in order, and the first to raise
    FoldsStopped ends the job as "pruned"."""
    hooks: list[FoldHook] = []
    hooks += optuna_pruning_hooks(cfg, out_dir, sweep_dir)  # hparams_search=optuna with a pruner: WilcoxonPruner across folds
    hooks += [h for h in (race_hook(cfg, out_dir, sweep_dir),) if h is not None]   # race.enabled (racing.py)
    if not hooks:
        return None

    def on_fold(fold: int, metrics: dict) -> None:
        for hook in hooks:
            hook(fold, metrics)

    return on_fold
