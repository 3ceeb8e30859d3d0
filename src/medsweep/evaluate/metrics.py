"""Metrics a clinician expects, computed on one fold's out-of-fold predictions."""

from __future__ import annotations

from typing import Optional

import numpy as np

# Ranking (threshold-free), then the metrics of the predicted classes, then the probabilities' accuracy.
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1",
                          "sensitivity", "specificity", "ppv", "npv", "brier")
# Multiclass: no "sensitivity" (its macro average, the macro recall, IS balanced_accuracy: one number under two
# names read as two pieces of evidence), and the Brier score summed over classes (range 0-2, not the binary
# 0-1 scale) is named brier_multi so that it is never read or compared as a binary Brier score.
MULTICLASS_METRICS = ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1",
                      "specificity", "ppv", "npv", "brier_multi")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# Metrics where lower is better; every other metric is better higher.
LOWER_IS_BETTER = {"brier", "brier_multi", "rmse", "mae"}


def classification_metric_names(n_classes: int) -> tuple[str, ...]:
    """The metrics of a classification task with ``n_classes`` classes, in report order."""
    return CLASSIFICATION_METRICS if n_classes == 2 else MULTICLASS_METRICS


def primary_metric(task: str) -> str:
    return "roc_auc" if task == "classification" else "rmse"


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


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list,
                           threshold: Optional[float] = None) -> dict[str, float]:
    """Binary: the positive class is classes[1]; predicted positive where ``proba[:, 1] >= threshold``, or,
    without a threshold, the most probable class (argmax). Multiclass (no threshold): macro averages,
    one-vs-rest ROC-AUC; ppv = macro precision, npv = macro negative predictive value one-vs-rest; no
    sensitivity (the macro recall is balanced_accuracy); brier_multi (summed over classes, 0-2) for brier.
    Ratios that are undefined (no predicted positive, ...) are 0 for f1, ppv and npv, as scikit-learn gives."""
    # scikit-learn is imported here, not at the top: the sweep summary reads this module's constants.
    from sklearn import metrics as skm
    from sklearn.preprocessing import label_binarize

    y_true = np.asarray(y_true)
    y_pred = predicted_classes(proba, classes, threshold)
    # Every count-based metric comes from one confusion matrix (as scikit-learn defines them, with 0 where
    # a ratio is undefined), rather than from one re-validating scikit-learn call each.
    cm = skm.confusion_matrix(y_true, y_pred, labels=classes)
    tp = np.diag(cm)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        recall, spec = tp / (tp + fn), tn / (tn + fp)
        f1 = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        # Per class (one-vs-rest): precision, and the predictive value of "not this class".
        precision, npv = np.nan_to_num(tp / (tp + fp)), np.nan_to_num(tn / (tn + fn))
    out = {"balanced_accuracy": np.nanmean(recall), "accuracy": tp.sum() / cm.sum()}
    if len(classes) == 2:
        pos, p = classes[1], proba[:, 1]
        out.update(
            roc_auc=skm.roc_auc_score(y_true == pos, p),
            pr_auc=skm.average_precision_score(y_true == pos, p),
            f1=f1[1],
            sensitivity=recall[1],
            specificity=recall[0],  # of the negative class
            ppv=precision[1],
            npv=precision[0],  # predicted negative and negative / predicted negative
            brier=np.mean((p - (y_true == pos)) ** 2),
        )
    else:
        onehot = label_binarize(y_true, classes=classes)
        out.update(
            roc_auc=skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes),
            pr_auc=skm.average_precision_score(onehot, proba, average="macro"),
            f1=np.mean(f1),
            specificity=np.nanmean(spec),
            ppv=np.mean(precision),
            npv=np.mean(npv),
            # Multiclass Brier: mean over patients of the squared error summed over classes (range 0-2).
            brier_multi=np.mean(np.sum((proba - onehot) ** 2, axis=1)),
        )
    return {k: float(out[k]) for k in classification_metric_names(len(classes))}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn import metrics as skm

    return {"rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred))}


def summarize_folds(per_fold: list[dict[str, float]]) -> dict[str, dict]:
    """{metric: {"mean", "std", "folds"}} over folds (std: population std over folds)."""
    names = per_fold[0].keys()
    out = {}
    for name in names:
        values = [f[name] for f in per_fold]
        out[name] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": values}
    return out
