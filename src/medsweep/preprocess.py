"""Preprocessing, always fitted inside a fold: impute and scale numbers, impute and one-hot encode text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

# The types of a fitted preprocessor, trusted when a model file is loaded (with each estimator's own).
SAVED_TYPES = ("sklearn.pipeline.Pipeline", "sklearn.compose._column_transformer.ColumnTransformer",
               "sklearn.impute._base.SimpleImputer", "sklearn.preprocessing._data.StandardScaler",
               "sklearn.preprocessing._encoders.OneHotEncoder", "medsweep.preprocess.MedianImputer")
# Values the median imputer sorts at a time (8 MB of float64): whole small tables, a column of a big one.
MEDIAN_BLOCK = 1 << 20


class MedianImputer(SimpleImputer):
    """``SimpleImputer(strategy="median")`` that takes the medians a block of columns at a time. scikit-learn's
    ``np.ma.median`` over the whole array sorts a copy of it beside an index array of the same size and a
    gathered copy (over 3 copies of the numeric data at its peak, the largest of a job); a median is each
    column's own, so the statistics are the same numbers."""

    def __init__(self, *, keep_empty_features: bool = False):
        super().__init__(strategy="median", keep_empty_features=keep_empty_features)

    def _dense_fit(self, X, strategy, missing_values, fill_value):
        step = max(1, MEDIAN_BLOCK // max(1, X.shape[0]))
        if strategy != "median" or X.shape[1] <= step:
            return super()._dense_fit(X, strategy, missing_values, fill_value)
        return np.concatenate([super(MedianImputer, self)._dense_fit(X[:, i:i + step], strategy, missing_values,
                                                                     fill_value) for i in range(0, X.shape[1], step)])


def column_kinds(X: pd.DataFrame | np.ndarray) -> tuple[list, list]:
    """Numeric and categorical (text) feature columns (an array is all numbers)."""
    if isinstance(X, np.ndarray):
        return list(range(X.shape[1])), []
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


def _numeric() -> Pipeline:
    # keep_empty_features: a column empty in one training fold keeps its slot, so folds agree in width.
    # The imputer always returns a new array, so the scaler may scale it in place: one copy of X fewer.
    return Pipeline([("impute", MedianImputer(keep_empty_features=True)),
                     ("scale", StandardScaler(copy=False))])


def make_preprocessor(X: pd.DataFrame | np.ndarray) -> Pipeline | ColumnTransformer:
    numeric, categorical = column_kinds(X)
    if not categorical:
        # All numbers: the same steps without a ColumnTransformer, which costs twice their time per fold.
        return _numeric()
    steps = [("numeric", _numeric(), numeric)] if numeric else []
    steps.append(("categorical", Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]), categorical))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)
