"""Where a fold is trained: preprocessing and estimator fitted on the training side only, epoch by epoch
for iterative estimators, then scored on the held-out side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from medsweep.data.prepare import Dataset
from medsweep.estimators import estimator_class
from medsweep.evaluate.metrics import (fold_metrics, metric_names, metric_value, predicted_classes, primary_metric,
                                       summarize_folds)
from medsweep.evaluate.scores import task_kind
from medsweep.learn.fold_store import FoldStore, SavedFold
from medsweep.learn.operating_point import ThresholdRule, choose_threshold
from medsweep.preprocess import TRANSFORM_ROWS, column_kinds, make_preprocessor, transform_rows
from medsweep.learn.splitting import fold_label, inner_seed, inner_split, split


@dataclass
class TrainSettings:
    epochs: int
    batch_size: int
    seed: int
    n_threads: int = 1
    # Called after every epoch (once per fit for estimators fitted in one go): time limits, fault injection.
    on_epoch: Optional[Callable[[], None]] = None
    impute: str = "median"  # preprocess.impute: how the preprocessing imputes numbers (preprocess.IMPUTERS)

    def epoch_done(self) -> None:
        if self.on_epoch is not None:
            self.on_epoch()


@dataclass
class CVResult:
    metrics: dict            # {metric: {"mean", "std", "folds"}}
    predictions: pd.DataFrame  # out-of-fold, one row per sample
    history: pd.DataFrame    # fold, epoch, train_loss, validation metric
    splitter: str            # the scikit-learn splitter that made the folds
    thresholds: Optional[list] = None  # each fold's decision threshold (binary, with a threshold rule)
    threshold_folds: Optional[int] = None  # folds of the inner CVs that chose them (a rule other than fixed)
    splits: Optional[dict] = None      # fingerprint, folds, repeats, n_train, n_test (see Splits.record)


def _train_loss(task: str, y: np.ndarray, out: np.ndarray, classes: Optional[list]) -> float:
    if task == "classification":
        return float(skm.log_loss(y, out, labels=classes))
    return float(skm.mean_squared_error(y, out))


class _History:
    """Training loss and validation metric after each epoch, when there is a validation side."""

    def __init__(self, task: str, classes: Optional[list], y_train: np.ndarray, y_val: Optional[np.ndarray]):
        self.task, self.classes, self.y_train, self.y_val = task, classes, y_train, y_val
        self.rows: list[dict] = []

    def record(self, epoch: int, out_train: np.ndarray, out_val: np.ndarray) -> None:
        self.rows.append({"epoch": epoch,
                          "train_loss": _train_loss(self.task, self.y_train, out_train, self.classes),
                          "val_" + primary_metric(self.task): metric_value(primary_metric(self.task), self.y_val,
                                                                           out_val, self.classes)})


@dataclass
class Rows:
    """Rows ``idx`` of ``X`` (a fold's), taken where they are used: on a big table, a fold's rows are copied
    whole only to fit the preprocessing, and transformed a block of rows at a time (preprocess.transform_rows)."""
    X: pd.DataFrame | np.ndarray
    idx: np.ndarray

    def take(self) -> pd.DataFrame | np.ndarray:
        return _rows(self.X, self.idx)


def fit_model(spec: Any, X: pd.DataFrame | np.ndarray | Rows, y: pd.Series, task: str, classes: Optional[list],
              settings: TrainSettings, X_val: Optional[pd.DataFrame | np.ndarray | Rows] = None,
              y_val: Optional[pd.Series] = None) -> tuple[Any, list[dict]]:
    """Fit preprocessing + estimator on (X, y) only. With a validation set, also return the training loss
    and the validation metric after every epoch (one row for estimators fitted in one go)."""
    estimator = estimator_class(spec["name"])(spec, task, settings.seed, settings.n_threads, settings.epochs,
                                              min(settings.batch_size, len(y)))
    X_fit = X.take() if isinstance(X, Rows) else X
    pre = make_preprocessor(X_fit, settings.impute)
    y_arr = y.to_numpy()
    # What Pipeline.fit does, keeping the transformed training fold for the history. A big table is fitted,
    # let go and transformed block by block: never the rows, their transform and its parts at once.
    if len(y_arr) <= TRANSFORM_ROWS:
        Xt = pre.fit_transform(X_fit, y_arr)
    else:
        pre.fit(X_fit, y_arr)
        del X_fit
        Xt = _transformed(pre, X)
    watch = [Xt, _transformed(pre, X_val)] if X_val is not None else []
    history = _History(task, classes, y_arr, y_val.to_numpy() if X_val is not None else None)

    def after_epoch(epoch: int, outputs: list) -> None:
        settings.epoch_done()
        if outputs:
            history.record(epoch, *outputs)

    fitted = estimator.fit(estimator.build(), Xt, y_arr, classes, watch, after_epoch)
    return estimator.deployable(Pipeline([("preprocess", pre), ("estimator", fitted)])), history.rows


# BLAS runs single-threaded inside a job: the matrices here are small, so threads buy little, while
# idle OpenBLAS threads spinning beside OpenMP (hist_gbdt) slowed a job 30x on 2 cores, and a fixed
# thread count keeps MLP numbers bit-identical whatever the launcher's n_jobs.
_one_blas_thread = threadpool_limits.wrap(limits=1, user_api="blas")


def _transformed(pre: Any, X: pd.DataFrame | np.ndarray | Rows) -> np.ndarray:
    return transform_rows(pre.transform, X.X, X.idx) if isinstance(X, Rows) else transform_rows(pre.transform, X)


def _fold_features(X: pd.DataFrame) -> pd.DataFrame | np.ndarray:
    """All-numeric features as one float array: the fold models are thrown away, so they need no column
    names, and scikit-learn checks an array in half a DataFrame's time (the final model keeps the names)."""
    return X if column_kinds(X)[1] else X.to_numpy(dtype=float, na_value=np.nan)


def _rows(X: pd.DataFrame | np.ndarray, idx: np.ndarray) -> pd.DataFrame | np.ndarray:
    return X[idx] if isinstance(X, np.ndarray) else X.iloc[idx]


def binary(data: Dataset) -> bool:
    """Whether the data has a decision threshold to choose (an operating point)."""
    return data.task == "classification" and len(data.classes) == 2


def inner_threshold(rule: ThresholdRule, data: Dataset, spec: Any, X: pd.DataFrame | np.ndarray, inner: list,
                    settings: TrainSettings) -> float:
    """The threshold ``rule`` gives for one outer fold: chosen on the out-of-fold predictions of the inner
    cross-validation ``inner`` (splitting.inner_split) of its training rows, every one predicted once by a
    model that did not train on it. (Chosen on the outer model's own training predictions, a forest's
    in-sample probabilities, near-perfectly separated, put a sensitivity>=0.9 threshold where it caught about
    half the positives of the test fold.)"""
    rows, p = [], []
    for train_idx, test_idx in inner:
        model, _ = fit_model(spec, Rows(X, train_idx), data.y.iloc[train_idx], data.task, data.classes, settings)
        p.append(model.predict_proba(_rows(X, test_idx))[:, 1])
        rows.append(test_idx)
    y = data.y.to_numpy()[np.concatenate(rows)] == data.classes[-1]
    return choose_threshold(rule, y, np.concatenate(p))


def pooled_threshold(rule: ThresholdRule, predictions: pd.DataFrame, positive: Any) -> float:
    """The final model's threshold: ``rule`` on the pooled out-of-fold predictions of the cross-validation
    (all rounds' with repeats), the predictions of models that did not train on the rows they predict; a
    fixed probability as it is."""
    if rule.kind == "fixed":
        return float(rule.value)
    return choose_threshold(rule, predictions["y_true"].to_numpy() == positive,
                            predictions[f"proba_{positive}"].to_numpy())


def prediction_frame(data: Dataset, idx: np.ndarray, out: np.ndarray, threshold: Optional[float] = None,
                     **where: Any) -> pd.DataFrame:
    """One row per sample ``idx`` of ``data``: its row in the source, its patient (the row where there is no
    patient column), ``where`` (fold, repeat), the truth, the prediction (at ``threshold`` for a binary
    task) and, for classification, the probability of each class (``out``)."""
    rows = data.rows[idx]
    pred = {"row": rows, "patient": data.groups.iloc[idx].to_numpy() if data.groups is not None else rows,
            **where, "y_true": data.y.iloc[idx].to_numpy()}
    if data.task == "classification":
        pred["y_pred"] = predicted_classes(out, data.classes, threshold=threshold)
        pred.update({f"proba_{c}": out[:, i] for i, c in enumerate(data.classes)})
    else:
        pred["y_pred"] = out
    return pd.DataFrame(pred)


def _train_fold(data: Dataset, spec: Any, settings: TrainSettings, X: pd.DataFrame | np.ndarray,
                train_idx: np.ndarray, test_idx: np.ndarray, rule: Optional[ThresholdRule],
                inner: Optional[list]) -> SavedFold:
    """One fold: the model fitted on its training rows, its outputs on its test rows and, for a binary task
    with a threshold rule, its threshold (chosen on the training rows only: inner_threshold)."""
    y_tr, y_te = data.y.iloc[train_idx], data.y.iloc[test_idx]
    # A fold's rows are copies: taken where they are used and not kept, so that on a big table they do not
    # sit beside the transformed arrays the estimator fits on.
    model, history = fit_model(spec, Rows(X, train_idx), y_tr, data.task, data.classes, settings,
                               Rows(X, test_idx), y_te)
    X_te = _rows(X, test_idx)
    out = model.predict_proba(X_te) if data.task == "classification" else model.predict(X_te)
    del X_te
    t = None
    if rule is not None:
        t = rule.value if inner is None else inner_threshold(rule, data, spec, X, inner, settings)
    return SavedFold(out=out, threshold=t, history=history)


@_one_blas_thread
def cross_validate(data: Dataset, spec: Any, folds: int, settings: TrainSettings,
                   threshold: Optional[ThresholdRule] = None, repeats: int = 1, threshold_folds: int = 3,
                   extra_metrics: Sequence[str] = (),
                   on_fold: Optional[Callable[[int, dict], None]] = None, splits=None,
                   store: Optional[FoldStore] = None) -> CVResult:
    """k-fold cross-validation of ``spec`` on ``data``, ``repeats`` rounds: per-fold metrics (all rounds'
    folds), out-of-fold predictions and history (with a ``repeat`` column when there are several rounds).
    With a ``threshold`` rule (binary classification), each fold's threshold is chosen on its training
    side only (a rule: on the out-of-fold predictions of an inner ``threshold_folds``-fold cross-validation
    of those rows, see inner_threshold) and the threshold-dependent metrics and ``y_pred`` are at that
    operating point. ``extra_metrics``: registry metrics not reported by default to add (metrics.py).
    ``on_fold(fold, metrics)`` is called after each fold (all rounds' folds numbered in order) with that fold's
    metrics; it may raise learn.stops.FoldsStopped or FoldsPaused, which ends the cross-validation. ``splits``:
    folds made elsewhere (splitting.site_split: one per site; ``folds`` and ``repeats`` must then be theirs).
    ``store``: where finished folds are kept and taken back from (fold_store.py: a job that stopped after its
    first folds goes on without training them again; the numbers are the same either way)."""
    names = metric_names(task_kind(data.task, data.classes), extra_metrics)
    splits = split(data, folds, settings.seed, repeats) if splits is None else splits
    X = _fold_features(data.X)
    rule = threshold if binary(data) else None
    inner = None
    if rule is not None and rule.kind != "fixed":
        # Every inner split before any model is fitted: a fold too small for them fails at once.
        inner = [inner_split(data, train_idx, threshold_folds, inner_seed(settings.seed, fold),
                             f"outer {fold_label(fold, folds, repeats)}")
                 for fold, (train_idx, _) in enumerate(splits)]
    per_fold, histories, predictions, thresholds = [], [], [], []
    sha256 = data.info.get("sha256")
    for fold, (train_idx, test_idx) in enumerate(splits):
        y_te = data.y.iloc[test_idx]
        saved = store.load(fold, data.rows[test_idx], sha256) if store is not None else None
        if saved is None:
            saved = _train_fold(data, spec, settings, X, train_idx, test_idx, rule,
                                None if inner is None else inner[fold])
            if store is not None:
                store.save(fold, data.rows[test_idx], sha256, saved)
        out, t, history = saved.out, saved.threshold, saved.history
        if data.task == "classification":
            thresholds.append(t)
        per_fold.append(fold_metrics(y_te.to_numpy(), out, data.classes, t, names))
        if on_fold is not None:
            on_fold(fold, per_fold[-1])
        where = {"repeat": fold // folds, "fold": fold} if repeats > 1 else {"fold": fold}
        predictions.append(prediction_frame(data, test_idx, out, t, **where))
        histories.append(pd.DataFrame(history).assign(fold=fold, **({"repeat": fold // folds} if repeats > 1 else {})))
    history = pd.concat(histories, ignore_index=True)
    first = [c for c in ("repeat", "fold") if c in history.columns]
    history = history[first + [c for c in history.columns if c not in first]]
    order = ["repeat", "row"] if repeats > 1 else ["row"]
    predictions_frame = pd.concat(predictions, ignore_index=True).sort_values(order, kind="stable")
    return CVResult(metrics=summarize_folds(per_fold), predictions=predictions_frame.reset_index(drop=True),
                    history=history, splitter=splits.splitter, thresholds=thresholds if rule else None,
                    threshold_folds=threshold_folds if inner else None, splits=splits.record(data.rows))


@_one_blas_thread
def fit_final(data: Dataset, spec: Any, settings: TrainSettings) -> Pipeline:
    """The deployable model: the same pipeline fitted on every row."""
    model, _ = fit_model(spec, data.X, data.y, data.task, data.classes, settings)
    return model
