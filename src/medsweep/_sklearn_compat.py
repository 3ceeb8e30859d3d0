"""Every use of a scikit-learn private name, in one place, each checked against the installed scikit-learn by
tests/test_sklearn_compat.py (which fails naming the private name when it or its signature changes).

Why these exist: the preprocessing overrides private steps of ``SimpleImputer`` and ``ColumnTransformer`` to
keep a big table's memory down (medsweep.preprocess), MLP regression builds a fitted
``TransformedTargetRegressor`` by hand (it is trained epoch by epoch), and the model-file checks read the
node arrays of scikit-learn's tree classes, which are importable only from private modules. Elsewhere in
medsweep only the hook methods and helpers below are used, never a scikit-learn name with a leading
underscore. The classes using them are saved inside model files, hence scikit-learn's upper bound in
pyproject.toml: raise it only after this module's tests pass on the new version.

A bottom-layer module: it imports scikit-learn only, so preprocess, estimators and learn may all use it.
"""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer

# Each private name relied on -> the signature it was checked against (scikit-learn 1.6 to 1.9); None: an
# attribute or a module-level name, checked by its own test.
PRIVATE_SIGNATURES: dict[str, Any] = {
    "sklearn.impute.SimpleImputer._validate_input": "(self, X, in_fit)",
    "sklearn.impute.SimpleImputer._dense_fit": "(self, X, strategy, missing_values, fill_value)",
    "sklearn.compose.ColumnTransformer._hstack": "(self, Xs, *, n_samples)",
    "sklearn.compose.TransformedTargetRegressor._training_dim": None,
    "sklearn.tree._tree.Tree": None,
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": None,
    "sklearn.ensemble.HistGradientBoostingClassifier._bin_mapper": None,
}


class ImputerHooks(SimpleImputer):
    """``SimpleImputer`` whose private steps are public hooks a subclass overrides: :meth:`validate_input`
    (``_validate_input``: converts and checks X) and :meth:`dense_fit` (``_dense_fit``: the statistics of a
    dense array). No state of its own: a saved subclass is named by its own class alone."""

    def _validate_input(self, X, in_fit):
        return self.validate_input(X, in_fit)

    def _dense_fit(self, X, strategy, missing_values, fill_value):
        return self.dense_fit(X, strategy, missing_values, fill_value)

    def validate_input(self, X, in_fit):
        return SimpleImputer._validate_input(self, X, in_fit)

    def dense_fit(self, X, strategy, missing_values, fill_value):
        return SimpleImputer._dense_fit(self, X, strategy, missing_values, fill_value)


class ColumnsHooks(ColumnTransformer):
    """``ColumnTransformer`` whose private last step, stacking the transformed column groups into one output
    (``_hstack``), is the public hook :meth:`hstack`."""

    def _hstack(self, Xs, n_samples):
        return self.hstack(Xs, n_samples)

    def hstack(self, Xs, n_samples):
        return ColumnTransformer._hstack(self, Xs, n_samples=n_samples)


def fitted_target_regressor(regressor: Any, transformer: Any) -> TransformedTargetRegressor:
    """A ``TransformedTargetRegressor`` of an already fitted ``regressor`` and target ``transformer`` (fitted
    on a 1-d target), with the attributes its ``fit`` would have set (``_training_dim`` among them: predict
    reshapes by it)."""
    model = TransformedTargetRegressor(regressor=regressor, transformer=transformer)
    model.regressor_, model.transformer_, model._training_dim = regressor, transformer, 1
    return model


def tree_types() -> tuple[type, type]:
    """scikit-learn's tree node containers a model file can hold: ``Tree`` (random forest) and
    ``TreePredictor`` (hist_gbdt), both importable only from private modules."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    return Tree, TreePredictor


# The fields of a TreePredictor's ``nodes`` structured array that the model-file checks read.
PREDICTOR_NODE_FIELDS = frozenset({"left", "right", "is_leaf", "feature_idx", "is_categorical"})


def hist_gbdt_bin_mapper(model: Any) -> Any:
    """A fitted HistGradientBoosting model's private bin mapper (None when it has none): its
    ``is_categorical_`` flags say which features were binned as categories."""
    return getattr(model, "_bin_mapper", None)
