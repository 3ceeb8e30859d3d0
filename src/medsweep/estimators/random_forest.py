"""`estimator=random_forest`: trees grown in one go, on the job's CPU share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING

from medsweep.estimators.base import CLASS_WEIGHT, Estimator, at_least, one_of


@dataclass
class RandomForestParams:
    name: str = MISSING
    n_estimators: int = MISSING
    max_depth: Optional[int] = MISSING
    min_samples_leaf: int = MISSING
    max_features: Optional[str] = MISSING
    class_weight: Optional[str] = MISSING


class RandomForest(Estimator):
    name = "random_forest"
    Params = RandomForestParams
    rules = {"n_estimators": at_least(1), "max_depth": at_least(1, null=True), "min_samples_leaf": at_least(1),
             "max_features": one_of(None, "sqrt", "log2"), "class_weight": CLASS_WEIGHT}
    saved_types = ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
                   "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
                   "sklearn.tree._tree.Tree")

    # Trees are grown in parallel; below this many rows x trees a second thread costs more than it gives
    # (measured: 160 rows x 300 trees 1.45x slower with 2 threads; 1,000 x 300 1.4x faster).
    MIN_WORK_FOR_THREADS = 100_000

    @classmethod
    def threads(cls, params: Any, n_rows: int, share: int) -> int:
        return share if n_rows * params["n_estimators"] >= cls.MIN_WORK_FOR_THREADS else 1

    def build(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        p = self.params
        params = dict(n_estimators=p["n_estimators"], max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
                      max_features=p["max_features"] or 1.0, random_state=self.seed, n_jobs=self.n_threads)
        if self.classification:
            return RandomForestClassifier(class_weight=p.get("class_weight"), **params)
        return RandomForestRegressor(**params)
