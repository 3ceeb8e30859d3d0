"""What a hyperparameter search optimises (``hydra.sweeper.objectives`` of ``hparams_search=optuna``): which
values are allowed, their directions, and each one's value in a finished job's record.

An objective is ``<name>`` or ``<name>:<direction>``:
- a metric of the registry (evaluate/metrics.py) that the model's task reports: its value is the mean of its
  per-fold values (what WilcoxonPruner compares fold by fold, and what the search has always optimised), its
  direction the registry's (``roc_auc:minimize`` is refused, not silently followed). A metric that is not
  reported by every job (``mcc``) must also be asked for with ``eval.metrics``.
- ``calibration_slope_distance`` (binary classification): ``|slope - 1|`` of the job's pooled out-of-fold
  calibration slope (evaluation.calibration.slope), minimised. It has no per-fold value: it cannot be the
  first objective of a pruned search.

No objective given: the model's primary metric (roc_auc maximised; rmse minimised for regression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from medsweep.evaluate.metrics import METRICS, available_metrics, greater_is_better, primary_metric
from medsweep.record.job_record import JobRecord

CALIBRATION_SLOPE_DISTANCE = "calibration_slope_distance"
DIRECTIONS = ("maximize", "minimize")
# Objectives that are not a metric of the registry: name -> (higher is better, task kinds it applies to).
DERIVED = {CALIBRATION_SLOPE_DISTANCE: (False, ("classification",))}
KEY = "hydra.sweeper.objectives"


@dataclass(frozen=True)
class Objective:
    name: str
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def per_fold(self) -> bool:
        """Whether each fold has a value of it (what a pruner compares): a metric of the registry."""
        return self.name in METRICS

    def __str__(self) -> str:
        return f"{self.name}:{self.direction}"


def allowed(task: str) -> tuple[str, ...]:
    """The objective names allowed for a model of ``task`` (classification or regression)."""
    kinds = ("binary", "multiclass") if task == "classification" else ("regression",)
    metrics = tuple(dict.fromkeys(m for kind in kinds for m in available_metrics(kind)))
    return metrics + tuple(name for name, (_, tasks) in DERIVED.items() if task in tasks)


def parse_objectives(specs: Optional[Sequence[str]], task: str, extra_metrics: Sequence[str] = ()) -> list[Objective]:
    """The objectives ``specs`` name (empty or None: the primary metric of ``task``). Raises ValueError with one
    line naming the key, the value and what is allowed."""
    if not specs:
        name = primary_metric(task)
        return [Objective(name, greater_is_better(name))]
    names = allowed(task)
    out: list[Objective] = []
    for spec in specs:
        name, _, direction = str(spec).strip().partition(":")
        name, direction = name.strip(), direction.strip()
        if name not in names:
            raise ValueError(f"{KEY}: {spec!r} is not allowed for a {task} model: each objective must be one of "
                             f"{', '.join(names)}, optionally with :maximize or :minimize")
        maximize = greater_is_better(name) if name in METRICS else DERIVED[name][0]
        if direction and direction not in DIRECTIONS:
            raise ValueError(f"{KEY}: {spec!r} is not allowed: the direction must be maximize or minimize")
        if direction and (direction == "maximize") != maximize:
            better = "higher" if maximize else "lower"
            raise ValueError(f"{KEY}: {spec!r} is not allowed: {name} is better {better}, so it can only be "
                             f"{name}:{'maximize' if maximize else 'minimize'}")
        if name in METRICS and not METRICS[name].reported and name not in extra_metrics:
            raise ValueError(f"{KEY}: {spec!r} is not allowed: {name} is reported only where asked for; add "
                             f"eval.metrics=[{name}]")
        if any(o.name == name for o in out):
            raise ValueError(f"{KEY}: {spec!r} is not allowed: {name} is named twice")
        out.append(Objective(name, maximize))
    return out


def _finite(value: Any) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def objective_value(record: JobRecord, objective: Objective) -> Optional[float]:
    """The value of ``objective`` in a completed job's record; None where the record has none (a metric the
    job's task does not have, an undefined calibration slope)."""
    if objective.name == CALIBRATION_SLOPE_DISTANCE:
        slope = _finite(((record.evaluation or {}).get("calibration") or {}).get("slope"))
        return None if slope is None else abs(slope - 1.0)
    return _finite((record.metrics.get(objective.name) or {}).get("mean"))


def objective_values(record: JobRecord, objectives: Sequence[Objective]) -> tuple[list[Optional[float]], list[str]]:
    """(each objective's value, the names of those the record lacks) of a completed job."""
    values = [objective_value(record, o) for o in objectives]
    return values, [o.name for o, v in zip(objectives, values) if v is None]
