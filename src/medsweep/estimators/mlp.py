"""`estimator=mlp`: a multilayer perceptron trained with Adam through partial_fit, one epoch at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import numpy as np
from omegaconf import MISSING

from medsweep.estimators.base import AfterEpoch, Estimator, Rule, at_least, greater_than, one_of


@dataclass
class MLPParams:
    name: str = MISSING
    hidden_layer_sizes: List[int] = MISSING
    activation: str = MISSING
    alpha: float = MISSING
    learning_rate_init: float = MISSING


class MLP(Estimator):
    name = "mlp"
    Params = MLPParams
    rules = {
        "hidden_layer_sizes": Rule(lambda v: len(v) > 0 and all(s >= 1 for s in v),
                                   "must be a non-empty list of layer sizes >= 1, e.g. [64,32]"),
        "activation": one_of("relu", "tanh", "logistic", "identity"),
        "alpha": at_least(0),
        "learning_rate_init": greater_than(0),
    }
    epoch = "one shuffled pass over the training fold in mini-batches of trainer.batch_size (partial_fit)"
    uses = ("epochs", "batch_size")
    saved_types = ("sklearn.neural_network._multilayer_perceptron.MLPClassifier",
                   "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
                   "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
                   "sklearn.preprocessing._label.LabelBinarizer",
                   "sklearn.compose._target.TransformedTargetRegressor", "numpy.random.mtrand.RandomState")

    def build(self) -> Any:
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        p = self.params
        params = dict(hidden_layer_sizes=tuple(p["hidden_layer_sizes"]), activation=p["activation"], alpha=p["alpha"],
                      learning_rate_init=p["learning_rate_init"], solver="adam", batch_size=self.batch_size,
                      shuffle=True, random_state=self.seed)
        return MLPClassifier(**params) if self.classification else MLPRegressor(**params)

    def fit(self, model: Any, X: Any, y: np.ndarray, classes: Optional[list], watch: Sequence[Any],
            after_epoch: AfterEpoch) -> Any:
        """partial_fit once per epoch. A regression target is standardised (fitted on this fold) so that
        Adam's default step size suits any target scale; :meth:`deployable` maps predictions back."""
        if self.classification:
            for epoch in range(1, self.epochs + 1):
                model.partial_fit(X, y, classes=np.asarray(classes))
                after_epoch(epoch, [model.predict_proba(Z) for Z in watch])
            return model
        from sklearn.preprocessing import StandardScaler

        self._scaler = scaler = StandardScaler().fit(y.reshape(-1, 1))
        y_scaled = scaler.transform(y.reshape(-1, 1)).ravel()
        for epoch in range(1, self.epochs + 1):
            model.partial_fit(X, y_scaled)
            after_epoch(epoch, [scaler.inverse_transform(model.predict(Z).reshape(-1, 1)).ravel() for Z in watch])
        return model

    def deployable(self, pipeline: Any) -> Any:
        if self.classification:
            return pipeline
        from medsweep._sklearn_compat import fitted_target_regressor

        # Built as TransformedTargetRegressor.fit would have: training was done epoch by epoch.
        return fitted_target_regressor(pipeline, self._scaler)
