"""Preprocessing, always fitted inside a fold: impute and scale numbers, impute and one-hot encode text.

Numbers are imputed as ``preprocess.impute`` says (IMPUTERS): median (the default), iterative (scikit-learn's
IterativeImputer: each incomplete column regressed on the others with BayesianRidge, starting from the medians)
or indicator (median, plus a 0/1 column per feature missing in the training fold). Text: its most frequent
value."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import validate_data

from medsweep._sklearn_compat import ColumnsHooks, ImputerHooks

# The types of a fitted preprocessor, trusted when a model file is loaded (with each estimator's own).
SAVED_TYPES = ("sklearn.pipeline.Pipeline", "sklearn.compose._column_transformer.ColumnTransformer",
               "sklearn.impute._base.SimpleImputer", "sklearn.preprocessing._data.StandardScaler",
               "sklearn.preprocessing._encoders.OneHotEncoder", "medsweep.preprocess.MedianImputer",
               "medsweep.preprocess.BlockScaler", "medsweep.preprocess.Columns",
               # preprocess.impute=iterative (its rounds' regressions) and =indicator (the missingness columns)
               "sklearn.impute._iterative.IterativeImputer", "sklearn.impute._iterative._ImputerTriplet",
               "sklearn.linear_model._bayes.BayesianRidge", "sklearn.impute._base.MissingIndicator")
# preprocess.impute: how numbers are imputed inside each training fold.
IMPUTERS = ("median", "iterative", "indicator")
# IterativeImputer's rounds (scikit-learn's default) and its fixed seed (only used if a column's order or
# neighbours were drawn at random; with these settings the result does not depend on it).
ITERATIVE_ROUNDS = 10
# Values a statistic is computed over at a time (8 MB of float64): whole small tables, a few columns of a big one.
STAT_BLOCK = 1 << 20
# Rows transformed at a time into a big table's output (~28 MB at 54 output columns).
TRANSFORM_ROWS = 1 << 16


class MedianImputer(ImputerHooks):
    """``SimpleImputer(strategy="median")`` that takes the medians a block of columns at a time. scikit-learn's
    ``np.ma.median`` over the whole array sorts a copy of it beside an index array of the same size and a
    gathered copy (over 3 copies of the numeric data at its peak, the largest of a job); a median is each
    column's own, so the statistics are the same numbers."""

    def __init__(self, *, keep_empty_features: bool = False, add_indicator: bool = False):
        super().__init__(strategy="median", keep_empty_features=keep_empty_features, add_indicator=add_indicator)

    def validate_input(self, X, in_fit):
        # A table of floats is converted once: with copy=True scikit-learn converts it, then converts it a second
        # time to check that the first does not share memory with it (a transient copy of the numeric block).
        # to_numpy(copy=True) never shares memory with the table, so it is imputed in place with no check; the
        # column names are checked against the table as scikit-learn does.
        if not (self.copy and isinstance(X, pd.DataFrame) and X.shape[1]
                and all(dtype == np.float64 for dtype in X.dtypes)):
            return super().validate_input(X, in_fit)
        values = X.to_numpy(dtype=np.float64, copy=True)
        self.copy = False
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
                values = super().validate_input(values, in_fit)
        finally:
            self.copy = True
        validate_data(self, X, skip_check_array=True, reset=in_fit)
        return values

    def dense_fit(self, X, strategy, missing_values, fill_value):
        blocks = _column_blocks(X, 1)
        if strategy != "median" or len(blocks) == 1:
            return super().dense_fit(X, strategy, missing_values, fill_value)
        return np.concatenate([super(MedianImputer, self).dense_fit(X[:, a:b], strategy, missing_values, fill_value)
                               for a, b in blocks])


def _column_blocks(X: np.ndarray, least: int) -> list[tuple[int, int]]:
    """Column ranges of about STAT_BLOCK values, each at least ``least`` columns wide."""
    step = max(least, STAT_BLOCK // max(1, X.shape[0]))
    bounds = list(range(0, X.shape[1], step)) + [X.shape[1]]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < least:
        del bounds[-2]
    return list(zip(bounds, bounds[1:]))


class BlockScaler(StandardScaler):
    """``StandardScaler`` whose mean and variance are computed a block of columns at a time: scikit-learn's
    computation makes about three temporary copies of its input (``nansum`` copies it, then ``X - mean`` and its
    copy). Blocks of two columns or more sum each column in the same order as the whole array (numpy adds row
    after row), so the statistics are the same numbers; a single column would be summed pairwise, so no block
    is one column wide."""

    def fit(self, X, y=None, sample_weight=None):
        if (sample_weight is not None or not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype != np.float64
                or len(blocks := _column_blocks(X, 2)) == 1):
            return super().fit(X, y, sample_weight)
        parts = [StandardScaler(copy=self.copy, with_mean=self.with_mean, with_std=self.with_std).fit(X[:, a:b])
                 for a, b in blocks]
        self.n_features_in_ = X.shape[1]
        for name in ("mean_", "var_", "scale_"):
            values = [getattr(p, name) for p in parts]
            setattr(self, name, None if values[0] is None else np.concatenate(values))
        seen = [p.n_samples_seen_ for p in parts]
        if all(np.ndim(n) == 0 and n == seen[0] for n in seen):
            self.n_samples_seen_ = seen[0]
        else:
            self.n_samples_seen_ = np.concatenate([np.broadcast_to(n, (b - a,)) for n, (a, b) in zip(seen, blocks)])
        return self


class Columns(ColumnsHooks):
    """``ColumnTransformer`` that writes a big table's output into one array, a block of rows at a time.
    scikit-learn's transforms every column group whole and then stacks them into a new array: the numeric block
    and its stacked copy side by side, two copies of X. Fitting here keeps no output, and every transform (of the
    training rows too) is the same element-wise computation row block by row block, so the same numbers."""

    def fit(self, X, y=None, **params):
        self._fit_only = True
        try:
            ColumnTransformer.fit_transform(self, X, y, **params)
        finally:
            del self._fit_only
        return self

    def fit_transform(self, X, y=None, **params):
        if len(X) <= TRANSFORM_ROWS:
            return super().fit_transform(X, y, **params)
        return self.fit(X, y, **params).transform(X)

    def transform(self, X, **params):
        if len(X) <= TRANSFORM_ROWS or params or not isinstance(X, pd.DataFrame):
            return super().transform(X, **params)
        return transform_rows(super().transform, X)

    def hstack(self, Xs, n_samples):
        return None if getattr(self, "_fit_only", False) else super().hstack(Xs, n_samples)


def transform_rows(transform, X: pd.DataFrame | np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """``transform`` (a fitted preprocessor's) of rows ``idx`` of ``X`` (all rows by default), TRANSFORM_ROWS
    rows at a time into one array: neither the rows nor a whole intermediate result is ever copied at once.
    Every step here transforms element by element, so the numbers are those of one whole transform."""
    n = len(X) if idx is None else len(idx)

    def block(start: int, stop: int):
        take = slice(start, stop) if idx is None else idx[start:stop]
        return transform(X.iloc[take] if isinstance(X, pd.DataFrame) else X[take])

    if n <= TRANSFORM_ROWS:
        return block(0, n)
    first = block(0, TRANSFORM_ROWS)
    if not isinstance(first, np.ndarray):  # not an array (sparse): transformed whole
        return block(0, n)
    out = np.empty((n, first.shape[1]), dtype=first.dtype)
    out[:len(first)] = first
    del first
    for start in range(TRANSFORM_ROWS, n, TRANSFORM_ROWS):
        out[start:start + TRANSFORM_ROWS] = block(start, min(start + TRANSFORM_ROWS, n))
    return out


def column_kinds(X: pd.DataFrame | np.ndarray) -> tuple[list, list]:
    """Numeric and categorical (text) feature columns (an array is all numbers)."""
    if isinstance(X, np.ndarray):
        return list(range(X.shape[1])), []
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    return numeric, [c for c in X.columns if c not in numeric]


def _imputer(impute: str):
    # keep_empty_features: a column empty in one training fold keeps its slot, so folds agree in width.
    if impute == "median":
        return MedianImputer(keep_empty_features=True)
    if impute == "indicator":
        return MedianImputer(keep_empty_features=True, add_indicator=True)
    if impute == "iterative":
        from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (IterativeImputer is experimental)
        from sklearn.impute import IterativeImputer

        # skip_complete: a column complete in the training fold is not modelled (its rare missing values in
        # new data get the median); the rounds run on the incomplete ones only. keep_empty_features stays off:
        # with it scikit-learn (1.9) imputes in place in the array it was given, which pandas' copy-on-write
        # hands out read-only (and which would be the caller's own); a column empty in a training fold is
        # dropped by that fold's model instead, which nothing downstream minds.
        return IterativeImputer(initial_strategy="median", max_iter=ITERATIVE_ROUNDS, skip_complete=True,
                                random_state=0)
    raise ValueError(f"preprocess.impute={impute!r} is not allowed: must be one of {', '.join(IMPUTERS)}")


def _numeric(impute: str = "median") -> Pipeline:
    # The imputer always returns a new array, so the scaler may scale it in place: one copy of X fewer.
    return Pipeline([("impute", _imputer(impute)), ("scale", BlockScaler(copy=False))])


def make_preprocessor(X: pd.DataFrame | np.ndarray, impute: str = "median") -> Pipeline | ColumnTransformer:
    """The unfitted preprocessing of ``X``'s columns, numbers imputed as ``impute`` (IMPUTERS) says."""
    numeric, categorical = column_kinds(X)
    if not categorical:
        # All numbers: the same steps without a ColumnTransformer, which costs twice their time per fold.
        return _numeric(impute)
    steps = [("numeric", _numeric(impute), numeric)] if numeric else []
    steps.append(("categorical", Pipeline([
        ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]), categorical))
    return Columns(steps, remainder="drop", verbose_feature_names_out=False)


def candidate_parameters(X: pd.DataFrame, impute: str = "median") -> int:
    """The columns the preprocessing of ``X`` gives the model (fitted on all of ``X``), without fitting it: one per
    numeric feature, one per level of each text feature (one-hot), and with ``impute="indicator"`` one per
    numeric feature with a missing value. The candidate predictor parameters of a sample size calculation."""
    numeric, categorical = column_kinds(X)
    if isinstance(X, np.ndarray):
        return X.shape[1] + (int(np.isnan(X).any(axis=0).sum()) if impute == "indicator" else 0)
    width = len(numeric) + sum(max(1, int(X[c].nunique(dropna=True))) for c in categorical)
    if impute == "indicator":
        width += int(X[numeric].isna().any(axis=0).sum())
    return width
