"""Participants and events (TRIPOD+AI item 21): patients, rows and patients of each class, overall and in
each test fold, and the warning a reviewer must see when a test fold holds too few patients of a class."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

# A test fold with fewer patients of a class than this scores unstable fold metrics (a fold ROC-AUC on 1 or 2
# patients of a class swings from 0 to 1): a warning names the folds and the remedy.
MIN_FOLD_PATIENTS_PER_CLASS = 5


def prediction_patients(predictions: pd.DataFrame) -> np.ndarray:
    """The patient of each prediction of a predictions.csv-like frame: its ``patient`` column, else its data
    ``row`` (each row is a patient: with repeated cross-validation its predictions of every round are one
    patient's), else its position."""
    for column in ("patient", "row"):
        if column in predictions:
            return predictions[column].to_numpy()
    return np.arange(len(predictions))


def patients_per_class(y: np.ndarray, g: np.ndarray, classes) -> dict:
    """{class: patients (``g``, one per row) with at least one row of it}."""
    return {c: int(pd.unique(g[y == c]).size) for c in classes}


def participants(y: np.ndarray, g: np.ndarray, classes) -> dict:
    """{"patients", "rows"} and, for classification, {"events": {class: rows}, "patients_with": {class:
    patients}} (class names as text)."""
    rec = {"patients": int(pd.unique(g).size), "rows": int(len(y))}
    if classes is not None:
        rec["events"] = {str(c): int((y == c).sum()) for c in classes}
        rec["patients_with"] = {str(c): k for c, k in patients_per_class(y, g, classes).items()}
    return rec


def _rows(y_true, groups):
    y = np.asarray(y_true)
    return y, np.arange(len(y)) if groups is None else np.asarray(groups, dtype=object)


def fold_counts(y_true, classes, groups, folds) -> list[dict]:
    """[{"fold", "patients", "rows", "events", "patients_with"}, ...] of each test fold (``folds``: the test
    fold of each row)."""
    y, g = _rows(y_true, groups)
    f = np.asarray(folds)
    return [{"fold": int(k) if isinstance(k, (numbers.Integral, np.integer)) else str(k),
             **participants(y[f == k], g[f == k], classes)} for k in np.unique(f)]


def counts(y_true, classes, groups, folds) -> dict:
    """Participants and events (TRIPOD+AI 21): {"patients", "rows", "events": {class: rows},
    "patients_with": {class: patients with at least one row of it}, "folds": [{"fold", "patients", "rows",
    "events", "patients_with"}, ...]} (``folds``: the test fold of each row). Regression (classes None):
    no "events" or "patients_with". groups None: each row is a patient."""
    return {**participants(*_rows(y_true, groups), classes), "folds": fold_counts(y_true, classes, groups, folds)}


def small_fold_warnings(fold_counts: list[dict], classes) -> list[dict]:
    """{"kind": "small_test_fold", "message"} when a test fold holds fewer than MIN_FOLD_PATIENTS_PER_CLASS
    patients of a class (``fold_counts``: counts()["folds"]); none for regression."""
    if classes is None:
        return []
    small = [(f["fold"], c, k) for f in fold_counts for c, k in f["patients_with"].items()
             if k < MIN_FOLD_PATIENTS_PER_CLASS]
    if not small:
        return []
    shown = ", ".join(f"fold {fold}: {k} of class {c}" for fold, c, k in small[:6])
    more = f" and {len(small) - 6} more" if len(small) > 6 else ""
    return [{"kind": "small_test_fold",
             "message": (f"{len({f for f, _, _ in small})} of {len(fold_counts)} test folds hold fewer than "
                         f"{MIN_FOLD_PATIENTS_PER_CLASS} patients of a class ({shown}{more}): their fold metrics, "
                         "hence the mean, SD, ranking and paired t-test, are unstable; use fewer folds "
                         "(trainer.folds) and trainer.repeats to average over more partitions")}]
