"""Preprocessing, always fitted inside a fold: impute and scale numbers, impute and one-hot encode text."""

from __future__ import annotations

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def column_kinds(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Numeric and categorical (text) feature columns."""
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


def make_preprocessor(X: pd.DataFrame) -> ColumnTransformer:
    numeric, categorical = column_kinds(X)
    steps = []
    if numeric:
        # keep_empty_features: a column empty in one training fold keeps its slot, so folds agree in width.
        steps.append(("numeric", Pipeline([
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
        ]), numeric))
    if categorical:
        steps.append(("categorical", Pipeline([
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), categorical))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)
