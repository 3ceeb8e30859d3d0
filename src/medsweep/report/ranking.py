"""The one ranking rule of every leaderboard, comparison, plot and registered model: jobs are ranked by the
primary metric's pooled out-of-fold value where every job of the set has one, else by the mean over folds for
all of them (a metrics.json written by an older medsweep has no pooled value; mixing the two figures would rank
unlike figures). Callers hand in plain numbers (None, NaN or infinity: not recorded), so that metrics.json
records (compare) and summary rows (table, plots) are ranked by the same code.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

POOLED, MEAN = "pooled", "mean"


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def ranked_by(pooled_values: Iterable[Any]) -> str:
    """"pooled" where every value is a finite number, else "mean"."""
    return POOLED if all(_finite(v) for v in pooled_values) else MEAN


def rank_value(pooled: Any, mean: Any, by: str = POOLED) -> float:
    """The figure ``by`` ranks a job by: its pooled value, falling back on the mean where there is none; NaN
    where neither is a finite number."""
    if by == POOLED and _finite(pooled):
        return float(pooled)
    return float(mean) if _finite(mean) else math.nan


def better_first(value: float, higher_is_better: bool) -> float:
    """A sort key that puts the better value first in the metric's direction."""
    return -value if higher_is_better else value
