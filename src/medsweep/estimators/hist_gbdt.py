"""`estimator=hist_gbdt`: scikit-learn's histogram gradient boosting; one epoch = one boosting iteration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from omegaconf import MISSING
from threadpoolctl import threadpool_limits

from medsweep.estimators.base import AfterEpoch, Estimator, at_least, greater_than


@dataclass
class HistGBDTParams:
    name: str = MISSING
    learning_rate: float = MISSING
    max_leaf_nodes: int = MISSING
    max_depth: Optional[int] = MISSING
    min_samples_leaf: int = MISSING
    l2_regularization: float = MISSING


class HistGBDT(Estimator):
    name = "hist_gbdt"
    Params = HistGBDTParams
    rules = {"learning_rate": greater_than(0), "max_leaf_nodes": at_least(2), "max_depth": at_least(1, null=True),
             "min_samples_leaf": at_least(1), "l2_regularization": at_least(0)}
    epoch = "one boosting iteration (max_iter = trainer.epochs)"
    uses = ("epochs",)
    saved_types = (
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfSquaredError", "sklearn._loss.link.LogitLink", "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval", "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss", "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn.preprocessing._label.LabelEncoder", "numpy.random._generator.Generator",
    )

    # Histograms are built in parallel (OpenMP); below this many rows a second thread slows a fit down
    # (measured: 160 rows 2.5x slower with 2 threads, 2,000 even, 20,000 1.4x faster).
    MIN_ROWS_FOR_THREADS = 5_000

    @classmethod
    def threads(cls, params: Any, n_rows: int, share: int) -> int:
        return share if n_rows >= cls.MIN_ROWS_FOR_THREADS else 1

    def build(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        p = self.params
        params = dict(learning_rate=p["learning_rate"], max_iter=self.epochs, max_leaf_nodes=p["max_leaf_nodes"],
                      max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
                      l2_regularization=p["l2_regularization"], early_stopping=False, random_state=self.seed)
        return HistGradientBoostingClassifier(**params) if self.classification else HistGradientBoostingRegressor(**params)

    def fit(self, model: Any, X: Any, y: np.ndarray, classes: Optional[list], watch: Sequence[Any],
            after_epoch: AfterEpoch) -> Any:
        # The iterations run inside one fit; the per-iteration outputs come from the staged predictions.
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            model.fit(X, y)
        staged = "staged_predict_proba" if self.classification else "staged_predict"
        stages = zip(*(getattr(model, staged)(Z) for Z in watch)) if watch else ([] for _ in range(self.epochs))
        for epoch, outputs in enumerate(stages, start=1):
            after_epoch(epoch, list(outputs))
        return model
