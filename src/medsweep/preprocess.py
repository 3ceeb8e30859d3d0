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
               "sklearn.preprocessing._encoders.OneHotEncoder")


def column_kinds(X: pd.DataFrame | np.ndarray) -> tuple[list, list]:
    """Numeric and categorical (text) feature columns (an array is all numbers)."""
    if isinstance(X, np.ndarray):
        return list(range(X.shape[1])), []
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


def _numeric() -> Pipeline:
    # keep_empty_features: a column empty in one training fold keeps its slot, so folds agree in width.
    # The imputer always returns a new array, so the scaler may scale it in place: one copy of X fewer.
    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
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
