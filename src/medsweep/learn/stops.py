"""How a search stops a job's cross-validation from its ``on_fold`` callback (learn.training.cross_validate):
for good (pruned) or for now (racing's screening). Kept apart from training.py so that the sweep process,
which decides racing's screening, need not import scikit-learn."""

from __future__ import annotations

from typing import Optional


class FoldsStopped(Exception):
    """Raised by an ``on_fold`` callback of :func:`cross_validate` to stop a job's cross-validation early (a
    search pruned it: racing, an Optuna pruner). ``details`` says why, for the job's record."""

    def __init__(self, reason: str, details: Optional[dict] = None):
        super().__init__(reason)
        self.reason = reason
        self.details = dict(details or {})


class FoldsPaused(Exception):
    """Raised by an ``on_fold`` callback of :func:`cross_validate` to stop a job's cross-validation for now, not
    for good: the folds it trained are kept (its ``store``) and a later run of the job goes on from them
    (racing's screening, job/race_screening.py)."""
