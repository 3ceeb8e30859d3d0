"""The learners behind each `estimator` config, for classification and for regression."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor

# What one epoch means for each estimator; the others are fitted in one go.
EPOCH_MEANING = {
    "mlp": "one shuffled pass over the training fold in mini-batches of trainer.batch_size (partial_fit)",
    "hist_gbdt": "one boosting iteration (max_iter = trainer.epochs)",
}
# Trainer settings an estimator has no use for: reported in the log, never silently dropped.
UNUSED_TRAINER_SETTINGS = {
    "logreg": ("epochs", "batch_size"),
    "random_forest": ("epochs", "batch_size"),
    "hist_gbdt": ("batch_size",),
    "mlp": (),
}


def make_estimator(spec: Any, task: str, seed: int, epochs: int, batch_size: int, n_threads: int) -> Any:
    """An unfitted scikit-learn estimator for ``spec`` (an `estimator` config) and ``task``."""
    name = spec["name"]
    clf = task == "classification"
    if name == "logreg":
        if clf:
            return LogisticRegression(C=spec["C"], class_weight=spec.get("class_weight"), max_iter=spec["max_iter"])
        return Ridge(alpha=1.0 / spec["C"], max_iter=spec["max_iter"])
    if name == "random_forest":
        params = dict(n_estimators=spec["n_estimators"], max_depth=spec["max_depth"],
                      min_samples_leaf=spec["min_samples_leaf"], max_features=spec["max_features"] or 1.0,
                      random_state=seed, n_jobs=n_threads)
        if clf:
            return RandomForestClassifier(class_weight=spec.get("class_weight"), **params)
        return RandomForestRegressor(**params)
    if name == "hist_gbdt":
        params = dict(learning_rate=spec["learning_rate"], max_iter=epochs, max_leaf_nodes=spec["max_leaf_nodes"],
                      max_depth=spec["max_depth"], min_samples_leaf=spec["min_samples_leaf"],
                      l2_regularization=spec["l2_regularization"], early_stopping=False, random_state=seed)
        if clf:
            return HistGradientBoostingClassifier(**params)
        return HistGradientBoostingRegressor(**params)
    if name == "mlp":
        params = dict(hidden_layer_sizes=tuple(spec["hidden_layer_sizes"]), activation=spec["activation"],
                      alpha=spec["alpha"], learning_rate_init=spec["learning_rate_init"], solver="adam",
                      batch_size=batch_size, shuffle=True, random_state=seed)
        return MLPClassifier(**params) if clf else MLPRegressor(**params)
    raise ValueError(f"estimator.name={name!r} is not allowed: must be one of logreg, random_forest, hist_gbdt, mlp")
