"""The metric registry: every metric a job reports, defined once.

A Metric names its value on one fold's predictions (``fold``: a FoldScores -> float) and on weighted
resamples of a job's predictions (``resampled``: a ResampleScores -> one value per resample, what the
bootstrap intervals, subgroups and BBC-CV use), whether higher is better, its range, the tasks it applies to
and its display name. The per-fold metrics, the pooled values, the intervals, the history's validation
metric, the summary's ranking direction: all read it from here. Adding a metric is one entry in _METRICS
(scores.py computes the confusion counts, ratios and ranks a definition reads).

``reported``: whether every job of its tasks reports it (metrics.json); the others are computed only where
asked for by name (``extra`` of metric_names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from medsweep.evaluate.scores import FoldScores, ResampleScores, predicted_classes, task_kind, weighted_sum

__all__ = ["Metric", "METRICS", "CLASSIFICATION_METRICS", "MULTICLASS_METRICS", "REGRESSION_METRICS",
           "LOWER_IS_BETTER", "TASK_KINDS", "metric_names", "available_metrics", "classification_metric_names",
           "primary_metric", "greater_is_better", "predicted_classes", "task_kind", "classification_metrics",
           "regression_metrics", "fold_metrics", "metric_value", "summarize_folds"]

BINARY, MULTICLASS, REGRESSION = "binary", "multiclass", "regression"
TASK_KINDS = (BINARY, MULTICLASS, REGRESSION)
CLASSES = frozenset({BINARY, MULTICLASS})


@dataclass(frozen=True)
class Metric:
    name: str                  # the key in metrics.json
    display: str               # how a reader names it
    higher_is_better: bool
    range: tuple[Optional[float], Optional[float]]  # where its values can lie (None: unbounded)
    tasks: frozenset           # of "binary", "multiclass", "regression"
    fold: Callable[[FoldScores], float]
    resampled: Callable[[ResampleScores], np.ndarray]  # NaN where undefined in a resample
    reported: bool = True      # in every job's metrics.json (else only where asked for)


def _skm():
    from sklearn import metrics

    return metrics


def _roc_auc(f: FoldScores) -> float:
    if f.kind == BINARY:
        return _skm().roc_auc_score(f.positive, f.out[:, 1])
    return _skm().roc_auc_score(f.y_true, f.out, multi_class="ovr", average="macro", labels=f.classes)


def _pr_auc(f: FoldScores) -> float:
    if f.kind == BINARY:
        return _skm().average_precision_score(f.positive, f.out[:, 1])
    return _skm().average_precision_score(f.onehot, f.out, average="macro")


def _mcc(cm: np.ndarray) -> np.ndarray:
    """Matthews correlation coefficient of confusion matrices [..., true, predicted] (Gorodkin's K-class
    form, scikit-learn's matthews_corrcoef): 0 where undefined (every row, or every prediction, of one class)."""
    t_sum, p_sum = cm.sum(axis=-1), cm.sum(axis=-2)
    n_correct = np.trace(cm, axis1=-2, axis2=-1)
    n = p_sum.sum(axis=-1)
    cov_ytyp = n_correct * n - (t_sum * p_sum).sum(axis=-1)
    cov_ypyp = n ** 2 - (p_sum * p_sum).sum(axis=-1)
    cov_ytyt = n ** 2 - (t_sum * t_sum).sum(axis=-1)
    denominator = cov_ypyp * cov_ytyt
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator == 0, 0.0, cov_ytyp / np.sqrt(np.where(denominator == 0, 1.0, denominator)))


_METRICS = [
    # Ranking (threshold-free). Multiclass: one-vs-rest macro averages, undefined in a resample without a class.
    Metric("roc_auc", "ROC-AUC", True, (0.0, 1.0), CLASSES, _roc_auc,
           lambda r: r.ranks[0][0] if r.kind == BINARY else r.present(np.mean([a for a, _ in r.ranks], axis=0))),
    Metric("pr_auc", "PR-AUC (average precision)", True, (0.0, 1.0), CLASSES, _pr_auc,
           lambda r: r.ranks[0][1] if r.kind == BINARY else r.present(np.mean([p for _, p in r.ranks], axis=0))),
    # The predicted classes (at the job's threshold, binary; else the most probable class).
    Metric("balanced_accuracy", "Balanced accuracy", True, (0.0, 1.0), CLASSES,
           lambda f: np.nanmean(f.recall), lambda r: r.present(r.recall.mean(axis=1))),
    Metric("accuracy", "Accuracy", True, (0.0, 1.0), CLASSES,
           lambda f: f.tp.sum() / f.cm.sum(), lambda r: r.tp.sum(axis=1) / r.total),
    Metric("f1", "F1", True, (0.0, 1.0), CLASSES,
           lambda f: f.f1[1] if f.kind == BINARY else np.mean(f.f1),
           lambda r: r.f1[:, 1] if r.kind == BINARY else r.f1.mean(axis=1)),
    # Binary only: its multiclass macro average, the macro recall, IS balanced_accuracy (one number under two
    # names would be read as two pieces of evidence).
    Metric("sensitivity", "Sensitivity", True, (0.0, 1.0), frozenset({BINARY}),
           lambda f: f.recall[1], lambda r: r.recall[:, 1]),
    Metric("specificity", "Specificity", True, (0.0, 1.0), CLASSES,
           lambda f: f.recall[0] if f.kind == BINARY else np.nanmean(f.spec),  # binary: recall of the negatives
           lambda r: r.recall[:, 0] if r.kind == BINARY else r.present(r.spec.mean(axis=1))),
    Metric("ppv", "PPV (precision)", True, (0.0, 1.0), CLASSES,
           lambda f: f.precision[1] if f.kind == BINARY else np.mean(f.precision),
           lambda r: r.precision[:, 1] if r.kind == BINARY else r.precision.mean(axis=1)),
    # Binary: predicted negative and negative / predicted negative; multiclass: the macro average of each
    # class's "not this class".
    Metric("npv", "NPV", True, (0.0, 1.0), CLASSES,
           lambda f: f.precision[0] if f.kind == BINARY else np.mean(f.npv),
           lambda r: r.precision[:, 0] if r.kind == BINARY else r.npv.mean(axis=1)),
    # The probabilities' accuracy. Multiclass: summed over classes (range 0-2, not the binary 0-1 scale),
    # named brier_multi so that it is never read or compared as a binary Brier score.
    Metric("brier", "Brier score", False, (0.0, 1.0), frozenset({BINARY}),
           lambda f: np.mean((f.out[:, 1] - f.positive) ** 2), lambda r: r.mean(r.prepared.sq)),
    Metric("brier_multi", "Brier score (summed over classes)", False, (0.0, 2.0), frozenset({MULTICLASS}),
           lambda f: np.mean(np.sum((f.out - f.onehot) ** 2, axis=1)), lambda r: r.mean(r.prepared.sq)),
    Metric("rmse", "RMSE", False, (0.0, None), frozenset({REGRESSION}),
           lambda f: np.sqrt(_skm().mean_squared_error(f.y_true, f.out)), lambda r: np.sqrt(r.mean(r.prepared.sq))),
    Metric("mae", "MAE", False, (0.0, None), frozenset({REGRESSION}),
           lambda f: _skm().mean_absolute_error(f.y_true, f.out), lambda r: r.mean(r.prepared.abs)),
    Metric("r2", "R2", True, (None, 1.0), frozenset({REGRESSION}),
           lambda f: _skm().r2_score(f.y_true, f.out), lambda r: _resampled_r2(r)),
    # Computed where asked for (not in every metrics.json: that would change every job's file).
    Metric("mcc", "MCC (Matthews correlation)", True, (-1.0, 1.0), CLASSES,
           lambda f: _mcc(f.cm.astype(float)), lambda r: _mcc(r.cm), reported=False),
]
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}


def _resampled_r2(r: ResampleScores) -> np.ndarray:
    """1 - SSE/SST with SST from the centred targets; NaN where every drawn target is equal."""
    p = r.prepared
    ybar = r.mean(p.yc)
    yc2 = weighted_sum(r.W, p.yc2)
    sst = yc2 - r.total * ybar ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 1e-12 * yc2, 1.0 - weighted_sum(r.W, p.sq) / sst, np.nan)


def available_metrics(kind: Optional[str] = None) -> tuple[str, ...]:
    """Every metric name (of one task kind: "binary", "multiclass" or "regression"), in report order."""
    return tuple(m.name for m in _METRICS if kind is None or kind in m.tasks)


def metric_names(kind: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The metrics a job of ``kind`` reports: those reported by default, and the ``extra`` ones defined for
    its task, in report order. An extra name of another task is left out (a sweep may mix tasks); an unknown
    one is an error."""
    unknown = [name for name in extra if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {', '.join(map(repr, unknown))}: must be one of {', '.join(METRICS)}")
    return tuple(m.name for m in _METRICS if kind in m.tasks and (m.reported or m.name in extra))


CLASSIFICATION_METRICS = metric_names(BINARY)
MULTICLASS_METRICS = metric_names(MULTICLASS)
REGRESSION_METRICS = metric_names(REGRESSION)
# Metrics where lower is better; every other metric is better higher.
LOWER_IS_BETTER = {m.name for m in _METRICS if not m.higher_is_better}


def classification_metric_names(n_classes: int) -> tuple[str, ...]:
    """The metrics of a classification task with ``n_classes`` classes, in report order."""
    return CLASSIFICATION_METRICS if n_classes == 2 else MULTICLASS_METRICS


def primary_metric(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


def greater_is_better(name: str) -> bool:
    return METRICS[name].higher_is_better


def fold_metrics(y_true, out, classes=None, threshold=None, metrics: Optional[Sequence[str]] = None
                 ) -> dict[str, float]:
    """{name: value} of one fold's predictions (classification: probabilities with ``classes``; regression:
    ``classes`` None), for ``metrics`` (default: those its task reports)."""
    scores = FoldScores(y_true, out, classes, threshold)
    names = metric_names(scores.kind) if metrics is None else metrics
    return {name: float(METRICS[name].fold(scores)) for name in names}


def metric_value(name: str, y_true, out, classes=None, threshold=None) -> float:
    """One metric of one fold's predictions (see fold_metrics)."""
    return fold_metrics(y_true, out, classes, threshold, [name])[name]


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list,
                           threshold: Optional[float] = None, metrics: Optional[Sequence[str]] = None
                           ) -> dict[str, float]:
    """Binary: the positive class is classes[1]; predicted positive where ``proba[:, 1] >= threshold``, or,
    without a threshold, the most probable class (argmax). Multiclass (no threshold): macro averages,
    one-vs-rest ROC-AUC; ppv = macro precision, npv = macro negative predictive value one-vs-rest; no
    sensitivity (the macro recall is balanced_accuracy); brier_multi (summed over classes, 0-2) for brier.
    Ratios that are undefined (no predicted positive, ...) are 0 for f1, ppv and npv, as scikit-learn gives."""
    return fold_metrics(y_true, proba, list(classes), threshold, metrics)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, metrics: Optional[Sequence[str]] = None
                       ) -> dict[str, float]:
    return fold_metrics(y_true, y_pred, None, None, metrics)


def summarize_folds(per_fold: list[dict[str, float]]) -> dict[str, dict]:
    """{metric: {"mean", "std", "folds"}} over folds (std: population std over folds)."""
    names = per_fold[0].keys()
    out = {}
    for name in names:
        values = [f[name] for f in per_fold]
        out[name] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": values}
    return out
