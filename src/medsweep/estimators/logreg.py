"""`estimator=logreg`: L2-regularised linear model, solved to convergence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING

from medsweep.estimators.base import CLASS_WEIGHT, Estimator, at_least, greater_than


@dataclass
class LogregParams:
    name: str = MISSING
    C: float = MISSING
    class_weight: Optional[str] = MISSING
    max_iter: int = MISSING


class Logreg(Estimator):
    name = "logreg"
    Params = LogregParams
    rules = {"C": greater_than(0), "class_weight": CLASS_WEIGHT, "max_iter": at_least(1)}
    saved_types = ("sklearn.linear_model._logistic.LogisticRegression", "sklearn.linear_model._ridge.Ridge")

    def build(self) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        p = self.params
        if self.classification:
            return LogisticRegression(C=p["C"], class_weight=p.get("class_weight"), max_iter=p["max_iter"])
        return Ridge(alpha=1.0 / p["C"], max_iter=p["max_iter"])
