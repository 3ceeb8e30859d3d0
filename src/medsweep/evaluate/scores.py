"""What the metric definitions of metrics.py are computed from: one fold's predictions (FoldScores) or many
weighted resamples of a job's predictions at once (ResampleScores). Confusion counts, their ratios, ranks and
squared errors are computed once, on first use, so that a metric asks only for what it needs (the history's
validation metric after every epoch computes a ROC-AUC, not a confusion matrix).

scikit-learn is imported where it is used: the sweep summary reads metrics.py's constants, which import
this module."""

from __future__ import annotations

from functools import cached_property
from typing import Optional, Sequence

import numpy as np


def predicted_classes(proba: np.ndarray, classes: list, threshold: Optional[float | np.ndarray] = None) -> np.ndarray:
    """The class predicted for each row: the most probable one, or (binary only, with ``threshold``) the
    positive class classes[1] where ``proba[:, 1] >= threshold`` and classes[0] elsewhere."""
    proba = np.asarray(proba)
    if threshold is None:
        return np.asarray(classes)[np.argmax(proba, axis=1)]
    if len(classes) != 2:
        raise ValueError(f"a decision threshold applies to binary classification only; got {len(classes)} classes")
    # One threshold, or one per row (pooled out-of-fold rows, each at its fold's threshold).
    threshold = np.asarray(threshold, dtype=float)
    if not np.isfinite(threshold).all():
        raise ValueError(f"threshold must be a finite number; got {threshold}")
    return np.where(proba[:, 1] >= threshold, classes[1], classes[0])


def task_kind(task: str, classes: Optional[Sequence] = None) -> str:
    """"binary", "multiclass" or "regression": the kind of task a metric is defined for."""
    if task == "regression":
        return "regression"
    if task != "classification":
        raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}")
    return "binary" if len(classes) == 2 else "multiclass"


def weighted_sum(W: np.ndarray, v: np.ndarray) -> np.ndarray:
    """W @ v, row by row with numpy's own summation: the same bits whatever the number of resamples in W
    and the BLAS threads (a BLAS product sums in an order that depends on both)."""
    return (W * v).sum(axis=1)


class _Ratios:
    """Per-class ratios of confusion counts tp, fn, fp, tn (arrays whose last axis is the class), as
    scikit-learn defines them: recall and specificity NaN where undefined; f1, precision and the negative
    predictive value of "not this class" 0 where undefined."""

    @cached_property
    def recall(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.tp / (self.tp + self.fn)

    @cached_property
    def spec(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.tn / (self.tn + self.fp)

    @cached_property
    def f1(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(2 * self.tp / (2 * self.tp + self.fp + self.fn))

    @cached_property
    def precision(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(self.tp / (self.tp + self.fp))

    @cached_property
    def npv(self):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(self.tn / (self.tn + self.fn))


class FoldScores(_Ratios):
    """One fold's predictions: ``out`` the class probabilities (n x k, columns in the order of ``classes``)
    or the predicted values (regression, ``classes`` None); binary: predicted positive where
    ``proba[:, 1] >= threshold``, without a threshold the most probable class."""

    def __init__(self, y_true, out, classes: Optional[Sequence] = None, threshold=None):
        self.kind = task_kind("regression" if classes is None else "classification", classes)
        self.y_true, self.out, self.threshold = np.asarray(y_true), out, threshold
        self.classes = None if classes is None else list(classes)

    @cached_property
    def cm(self) -> np.ndarray:
        """The confusion matrix [true, predicted], classes in order: every count-based metric comes from it
        (rather than from one re-validating scikit-learn call each)."""
        from sklearn.metrics import confusion_matrix

        y_pred = predicted_classes(self.out, self.classes, self.threshold)
        return confusion_matrix(self.y_true, y_pred, labels=self.classes)

    @cached_property
    def tp(self):
        return np.diag(self.cm)

    @cached_property
    def fn(self):
        return self.cm.sum(axis=1) - self.tp

    @cached_property
    def fp(self):
        return self.cm.sum(axis=0) - self.tp

    @cached_property
    def tn(self):
        return self.cm.sum() - self.tp - self.fn - self.fp

    @property
    def positive(self) -> np.ndarray:
        """Binary: whether each row is of the positive class classes[1]."""
        return self.y_true == self.classes[1]

    @cached_property
    def onehot(self) -> np.ndarray:
        from sklearn.preprocessing import label_binarize

        return label_binarize(self.y_true, classes=self.classes)


def _class_codes(y_true: np.ndarray, classes: Sequence) -> np.ndarray:
    y_true = np.asarray(y_true)
    codes = np.full(len(y_true), -1)
    for k, c in enumerate(classes):
        codes[y_true == c] = k
    if (codes < 0).any():
        unknown = sorted({str(v) for v in y_true[codes < 0]})[:5]
        raise ValueError(f"y_true holds values that are not among classes {list(classes)}: {unknown}")
    return codes


class _Ranking:
    """Weighted ROC-AUC and average precision of one score against one binary label, for many weight
    vectors at once. The scores are sorted once; tied scores form one group (ties count 1/2 in the AUC and
    form one threshold in the average precision, as scikit-learn defines them)."""

    def __init__(self, positive: np.ndarray, score: np.ndarray):
        self.order = np.argsort(score, kind="stable")
        s = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        self.positive = positive[self.order].astype(float)
        self.ties = len(self.starts) < len(s)

    def __call__(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Ws = W[:, self.order]
        pos, allw = Ws * self.positive, Ws
        if self.ties:
            pos, allw = np.add.reduceat(pos, self.starts, axis=1), np.add.reduceat(allw, self.starts, axis=1)
        neg = allw - pos  # per distinct score, ascending: weight of positives and of negatives
        P, N = pos.sum(axis=1), neg.sum(axis=1)
        pos_below = np.cumsum(pos, axis=1)
        pos_below -= pos
        neg_below = np.cumsum(neg, axis=1)
        neg_below -= neg  # weight of negatives strictly below each score
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (pos * (neg_below + 0.5 * neg)).sum(axis=1) / (P * N)
            # Average precision: sum over thresholds u of the recall gained at u x the precision of p >= u.
            tp, fp = P[:, None] - pos_below, N[:, None] - neg_below  # weight with score >= u
            called = tp + fp
            precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
            ap = (pos * precision).sum(axis=1) / P
        undefined = (P == 0) | (N == 0)
        auc[undefined] = np.nan
        ap[undefined] = np.nan
        return auc, ap


class WeightedPredictions:
    """A job's predictions prepared once (checked, classes coded, scores sorted) for scoring many weight
    matrices: ``self.scores(W)``, W a (resamples x rows) matrix of weights, a weight being how often the row
    is in the resample (integer weights give exactly the metrics of the repeated rows)."""

    def __init__(self, y_true, out, classes, task: str, threshold: Optional[float] = None):
        out = np.asarray(out, dtype=float)
        if not np.isfinite(out).all():
            raise ValueError(f"{'predictions' if task == 'regression' else 'probabilities'} must be finite numbers")
        self.kind = task_kind(task, classes)
        if task == "regression":
            y = np.asarray(y_true, dtype=float)
            if out.shape != y.shape:
                raise ValueError(f"predictions have shape {out.shape}; expected {y.shape}")
            r = y - out
            self.sq, self.abs = r ** 2, np.abs(r)
            self.yc = y - y.mean()  # centred: the weighted total sum of squares without cancellation
            self.yc2 = self.yc ** 2
            return
        classes = list(classes)
        self.K = K = len(classes)
        if out.ndim != 2 or out.shape != (len(y_true), K):
            raise ValueError(f"probabilities have shape {out.shape}; expected ({len(y_true)}, {K})")
        t = _class_codes(y_true, classes)
        q = _class_codes(predicted_classes(out, classes, threshold), classes)
        self.cells = np.zeros((len(t), K * K))
        self.cells[np.arange(len(t)), t * K + q] = 1.0
        if K == 2:
            self.rankings = [_Ranking(t == 1, out[:, 1])]
            self.sq = (out[:, 1] - (t == 1)) ** 2
        else:
            self.rankings = [_Ranking(t == k, out[:, k]) for k in range(K)]
            self.sq = np.sum((out - np.eye(K)[t]) ** 2, axis=1)

    def scores(self, W: np.ndarray) -> "ResampleScores":
        return ResampleScores(self, W)


class ResampleScores(_Ratios):
    """The weighted counterparts of FoldScores for every row of W at once: arrays with one value (or one
    row of per-class values) per resample."""

    def __init__(self, prepared: WeightedPredictions, W: np.ndarray):
        self.prepared, self.kind = prepared, prepared.kind
        # C order: each resample's row of weights is contiguous (gathers and row sums are fast).
        self.W = np.ascontiguousarray(np.atleast_2d(np.asarray(W, dtype=float)))
        self.total = self.W.sum(axis=1)

    def mean(self, v: np.ndarray) -> np.ndarray:
        """The weighted mean of a per-row value ``v`` in each resample."""
        return weighted_sum(self.W, v) / self.total

    @cached_property
    def cm(self) -> np.ndarray:
        """[resample, true, predicted]; sums of counts: exact in any order, so a matrix product is safe."""
        K = self.prepared.K
        return (self.W @ self.prepared.cells).reshape(-1, K, K)

    @cached_property
    def tp(self):
        return np.diagonal(self.cm, axis1=1, axis2=2)

    @cached_property
    def fn(self):
        return self.cm.sum(axis=2) - self.tp

    @cached_property
    def fp(self):
        return self.cm.sum(axis=1) - self.tp

    @cached_property
    def tn(self):
        return self.total[:, None] - self.tp - self.fn - self.fp

    @cached_property
    def all_present(self) -> np.ndarray:
        """Whether every class is drawn: a macro average over fewer classes would be another quantity."""
        return (self.cm.sum(axis=2) > 0).all(axis=1)

    def present(self, values: np.ndarray) -> np.ndarray:
        """``values`` where every class is drawn, NaN elsewhere."""
        return np.where(self.all_present, values, np.nan)

    @cached_property
    def ranks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ROC-AUC, average precision) of each class's score (binary: of the positive class only)."""
        return [r(self.W) for r in self.prepared.rankings]
