"""The best model under clinical constraints: ``select.metric`` ranks the jobs, ``select.constraints`` (e.g.
``"calibration_slope>=0.8"``, ``"sensitivity>=0.85"``) decide which of them may be called best.

A clinic does not deploy the highest ROC-AUC if its calibration slope is 0.5 or it misses a sensitivity floor.
Each constraint is checked on the job's pooled out-of-fold value (``select.on=point``), or on the limit of its
95% bootstrap interval on the unfavourable side (``select.on=bound``: the lower limit for ``>=``/``>``, the
upper limit for ``<=``/``<``), so that a job is feasible only where its interval clears the floor. A value the
job does not have (no interval with eval.n_boot=0, a metric of another task) breaks the constraint: it cannot
be shown to hold.

Plain functions of metrics.json's content (``metrics`` and ``evaluation``), tested without Hydra: the config
check parses the strings before any job runs, the job records its verdict (``selection`` in metrics.json),
and the summaries, ``compare``, ``register_best`` and the model card read it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from medsweep.evaluate.metrics import METRICS, TASK_KINDS, available_metrics

OPERATORS = (">=", "<=", ">", "<")
POINT, BOUND = "point", "bound"
SELECT_ON = (POINT, BOUND)
# Constraint names beside the metric registry's: the calibration of the pooled out-of-fold predictions
# (evaluation.calibration of a binary job; its key there, and the task it exists for).
CALIBRATION = {"calibration_slope": "slope", "calibration_intercept": "intercept",
               "calibration_in_the_large": "citl", "ece": "ece"}
_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    @property
    def side(self) -> str:
        """The interval limit on the unfavourable side: "lower" for a floor (>=, >), "upper" for a ceiling."""
        return "lower" if self.op in (">=", ">") else "upper"

    def holds(self, x: Optional[float]) -> bool:
        if x is None or not math.isfinite(x):
            return False
        return {">=": x >= self.value, "<=": x <= self.value, ">": x > self.value, "<": x < self.value}[self.op]


def constraint_names(task: Optional[str] = None) -> tuple[str, ...]:
    """The names a constraint may use (of a task: "classification" or "regression"; None: all)."""
    if task == "regression":
        return available_metrics("regression")
    metrics = available_metrics() if task is None else tuple(
        dict.fromkeys(available_metrics("binary") + available_metrics("multiclass")))
    return metrics + tuple(CALIBRATION)


def parse_constraint(text: Any, task: Optional[str] = None) -> Constraint:
    """``"sensitivity>=0.85"`` as a Constraint; ValueError saying what is allowed."""
    m = _PATTERN.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not <metric><operator><number> (operators: {' '.join(OPERATORS)}), "
                         "e.g. \"calibration_slope>=0.8\"")
    name, op, number = m.groups()
    allowed = constraint_names(task)
    if name not in allowed:
        raise ValueError(f"unknown metric {name!r} in {str(text)!r}: must be one of {', '.join(allowed)}"
                         + (f" ({task})" if task else ""))
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{number!r} in {str(text)!r} is not a number") from None
    return Constraint(name, op, value)


def constraint_errors(metric: Optional[str], constraints: Sequence[Any], on: str, task: Optional[str],
                      n_boot: Optional[int] = None) -> list[str]:
    """Every error of select.metric, select.constraints and select.on, one message each (empty: valid)."""
    errors = []
    task = task if task in ("classification", "regression") else None
    ranked = [m for m in available_metrics() if task is None or m in constraint_names(task)]
    if metric is not None and metric not in ranked:
        errors.append(f"select.metric={metric!r} is not allowed: must be null (the primary metric) or one of "
                      f"{', '.join(ranked)}")
    for text in constraints:
        try:
            parse_constraint(text, task)
        except ValueError as exc:
            errors.append(f"select.constraints={text!r} is not allowed: {exc}")
    if on not in SELECT_ON:
        errors.append(f"select.on={on!r} is not allowed: must be point (the pooled out-of-fold value) or bound "
                      "(its 95% interval's limit on the unfavourable side)")
    elif on == BOUND and constraints and n_boot == 0:
        errors.append("select.on='bound' is not allowed with eval.n_boot=0: there is no interval to take a bound "
                      "of; set eval.n_boot (e.g. 1000) or select.on=point")
    return errors


def _finite(x: Any) -> Optional[float]:
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else None


def value_of(metrics: Mapping, evaluation: Mapping, name: str, side: str = "pooled") -> Optional[float]:
    """A job's value of ``name`` (a registry metric or a CALIBRATION name) from metrics.json's ``metrics``
    and ``evaluation``: ``side`` "pooled" (the point value), "lower" or "upper" (its 95% interval); None where
    the job has none."""
    if name in CALIBRATION:
        calibration = (evaluation or {}).get("calibration") or {}
        key = CALIBRATION[name]
        if side == "pooled":
            return _finite(calibration.get(key))
        return _finite(((calibration.get("interval") or {}).get(key) or {}).get(side))
    return _finite(((metrics or {}).get(name) or {}).get(side))


def check(metrics: Mapping, evaluation: Mapping, constraints: Sequence[Any], on: str = POINT,
          metric: Optional[str] = None, primary: Optional[str] = None) -> dict:
    """A job's verdict (metrics.json's ``selection``): {"metric" (what ranks it: ``metric`` or ``primary``),
    "value" (its pooled value), "on", "constraints" (as given), "checked": [{"constraint", "value" (the figure checked, None: none),
    "met"}], "broken": [the constraints it breaks, with the value], "feasible"}."""
    checked, broken = [], []
    for text in constraints:
        c = parse_constraint(text)
        value = value_of(metrics, evaluation, c.metric, "pooled" if on == POINT else c.side)
        met = c.holds(value)
        checked.append({"constraint": str(text), "value": value, "met": met})
        if not met:
            shown = "not available" if value is None else f"{value:.4g}"
            broken.append(f"{text} ({'bound' if on == BOUND else 'value'} {shown})")
    ranked = metric or primary
    return {"metric": ranked, "value": value_of(metrics, evaluation, ranked) if ranked else None, "on": on,
            "constraints": [str(t) for t in constraints], "checked": checked, "broken": broken,
            "feasible": not broken}


def higher_is_better(metric: str) -> bool:
    return METRICS[metric].higher_is_better


__all__ = ["Constraint", "OPERATORS", "SELECT_ON", "CALIBRATION", "TASK_KINDS", "parse_constraint",
           "constraint_errors", "constraint_names", "value_of", "check", "higher_is_better"]


def job_selection(cfg: Any, metrics: Mapping, evaluation: Mapping, primary: str) -> Any:
    """A job's ``selection`` record (check) where its config sets select.metric or select.constraints; else
    ABSENT (the key is not written: a job without them records what it always did)."""
    from medsweep.record.job_record import ABSENT

    select = cfg.get("select") if hasattr(cfg, "get") else None
    if select is None or (select.get("metric") is None and not list(select.get("constraints") or [])):
        return ABSENT
    return check(metrics, evaluation, list(select.constraints), select.on, select.metric, primary)
