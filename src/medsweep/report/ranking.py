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


def selected_value(row: dict, by: str = POOLED) -> tuple[float, bool]:
    """(figure, higher is better) a summary row is ranked by: the pooled value of select.metric where the job
    records one that is not its primary metric (metrics.json ``selection``), else rank_value of the primary
    metric. Which jobs may be best at all (select.constraints) is the callers' first sort key."""
    metric = row.get("select_metric")
    if metric and metric != row.get("primary_metric"):
        from medsweep.evaluate.constraints import higher_is_better  # the metric registry's direction

        value = row.get("select_value")
        return (float(value) if _finite(value) else math.nan), higher_is_better(metric)
    return rank_value(row.get("primary_pooled"), row.get("primary_mean"), by), bool(row.get("greater_is_better", True))
