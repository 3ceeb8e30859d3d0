"""Evidence a clinical reviewer asks for (TRIPOD+AI items 12e, 15, 21, 23a), computed from a job's
out-of-fold predictions: confidence intervals (percentile or BCa, patient-level bootstrap) of every metric,
of the calibration statistics and of net benefit, calibration, decision curve analysis, subgroups, counts
and warnings (the operating point is chosen in operating_point.py).

This module is the public entry: ``evaluate_predictions`` assembles a job's evidence from pieces that each
return data (its metrics and their intervals here; bootstrap.py, calibration.py, decision_curve.py,
subgroups.py, counts.py), and the statistics of those modules are importable from here as before.

Plain functions: numpy/pandas in; dicts of JSON-serialisable values (float, int, str, None, lists) or
DataFrames out. Undefined values are None in dicts and NaN (an empty cell) in DataFrames; ``table_records``
turns a DataFrame into JSON-safe records.

Inputs shared by the functions:
  y_true   labels (classification: values of ``classes``; regression: numbers), one per row
  out      classification: class probabilities, n x k, columns in the order of ``classes``;
           regression: predictions, n
  classes  classification: the class labels; binary: classes[1] is the positive class. None for regression
  task     "classification" or "regression"
  groups   the patient of each row (None: each row is its own patient; with repeated cross-validation pass
           the data row, so that a row's predictions of every round are one patient)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import (INTERVAL_METHODS, JACKKNIFE_MAX_UNITS, MAX_WEIGHT_CELLS, bca_interval,
                                         bootstrap_intervals, bootstrap_values, bootstrap_weights, check_interval,
                                         jackknife_units, jackknife_weights, percentile_interval, pooled_metrics,
                                         resample_metrics, resample_scorer, resampled_intervals)
from medsweep.evaluate.calibration import (LOGIT_EPS, calibration, calibration_evidence, calibration_report,
                                           multiclass_calibration, regression_calibration)
from medsweep.evaluate.counts import (MIN_FOLD_PATIENTS_PER_CLASS, counts, fold_counts, participants,
                                      prediction_patients, small_fold_warnings)
from medsweep.evaluate.decision_curve import (DCA_THRESHOLDS, NET_BENEFIT_AT, decision_curve,
                                              decision_curve_evidence)
from medsweep.evaluate.metrics import metric_names, primary_metric
from medsweep.evaluate.scores import task_kind
from medsweep.evaluate.subgroups import subgroup_evidence, subgroup_labels, subgroup_table

__all__ = ["INTERVAL_METHODS", "JACKKNIFE_MAX_UNITS", "MAX_WEIGHT_CELLS", "LOGIT_EPS", "DCA_THRESHOLDS",
           "NET_BENEFIT_AT", "MIN_FOLD_PATIENTS_PER_CLASS", "INTERVAL_METHOD", "BCA_METHOD", "JobEvidence",
           "bca_interval", "bootstrap_intervals", "bootstrap_values", "bootstrap_weights", "jackknife_units",
           "jackknife_weights", "percentile_interval", "pooled_metrics", "resample_metrics", "resample_scorer",
           "resampled_intervals", "calibration", "calibration_report", "multiclass_calibration",
           "regression_calibration", "counts", "prediction_patients", "small_fold_warnings", "decision_curve",
           "subgroup_labels", "subgroup_table", "table_records", "evaluate_predictions"]

INTERVAL_METHOD = "percentile bootstrap of the pooled out-of-fold predictions"
BCA_METHOD = ("BCa bootstrap (bias-corrected and accelerated; acceleration from a jackknife over patients) of the "
              "pooled out-of-fold predictions")


def table_records(frame: pd.DataFrame) -> list[dict]:
    """A DataFrame as JSON-safe records: NaN -> None, numpy scalars -> Python numbers."""
    records = []
    for row in frame.to_dict("records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            clean[str(k)] = v
        records.append(clean)
    return records


@dataclass
class JobEvidence:
    metrics: dict                        # {metric: {"pooled", "lower", "upper"}}: merged into metrics.json's
    record: dict                         # metrics.json's "evaluation": interval, calibration, decision curve, ...
    decision_curve: Optional[pd.DataFrame]   # binary only
    subgroups: Optional[pd.DataFrame]    # one table for every eval.subgroups column


def metric_evidence(y, out, classes, task: str, patients, threshold, names: Sequence[str], *, n_boot: int,
                    seed: int, method: str, resampled: str) -> tuple[dict, Optional[dict]]:
    """({metric: {"pooled"} and, with ``n_boot``, "lower", "upper"}, metrics.json's "interval" record or None
    without a bootstrap): the pooled out-of-fold value of each metric of ``names`` with its patient-bootstrap
    interval. ``resampled``: what the record says was drawn."""
    metrics = {name: {"pooled": value} for name, value in pooled_metrics(y, out, classes, task, threshold,
                                                                         names).items()}
    if not n_boot:
        return metrics, None
    intervals = bootstrap_intervals(y, out, classes, task, patients, n_boot, seed, threshold, method=method,
                                    metrics=names)
    for name, ci in intervals.items():
        metrics[name].update(lower=ci["lower"], upper=ci["upper"])
    return metrics, {"method": INTERVAL_METHOD if method == "percentile" else BCA_METHOD,
                     "kind": method, "level": 0.95, "n_boot": n_boot, "seed": seed, "resampled": resampled,
                     # resamples where a metric is undefined (e.g. a class absent) are left out
                     "dropped_resamples": {name: n_boot - ci["n_valid"] for name, ci in intervals.items()
                                           if ci["n_valid"] < n_boot}}


def evaluate_predictions(predictions: pd.DataFrame, classes, task: str, *, thresholds: Optional[Sequence[float]],
                         n_boot: int, seed: int, dca_range: Sequence[float], subgroup_values: dict,
                         subgroup_bins: int, subgroup_min_patients: int, grouped: bool,
                         subgroup_min_events: int = 5, interval: str = "percentile",
                         extra_metrics: Sequence[str] = ()) -> JobEvidence:
    """Everything a job reports beyond its per-fold metrics, from its out-of-fold ``predictions`` (as
    training.cross_validate makes them: row, patient, fold, y_true, proba_<class> or y_pred; with repeated
    cross-validation every round's predictions are pooled and the bootstrap resamples patients with all
    their rows of every round: the patient is the ``patient`` column, or else the data ``row``, see
    prediction_patients). ``thresholds``: each fold's decision threshold (binary; None: argmax);
    ``subgroup_values``: {column: value per row}; ``grouped``: whether ``patient`` is a real patient id (else
    each data row is its own patient; only the record's wording depends on it); ``interval``: "percentile" or
    "bca" for every interval (metrics, calibration, net benefit, subgroups); ``subgroup_min_events``: patients
    of each class a subgroup needs for a metric; ``extra_metrics``: registry metrics not reported by
    default (metrics.py) to add, where defined for the task.

    The record ("evaluation" in metrics.json) holds "warnings": [{"kind", "message"}] a reviewer must see
    (kind "small_test_fold": a test fold with fewer than MIN_FOLD_PATIENTS_PER_CLASS patients of a class)."""
    check_interval(interval, 0.95)
    y = predictions["y_true"].to_numpy()
    out = (predictions[[f"proba_{c}" for c in classes]].to_numpy() if task == "classification"
           else predictions["y_pred"].to_numpy())
    patients = prediction_patients(predictions)
    folds = predictions["fold"].to_numpy()
    threshold = None if thresholds is None else np.asarray(thresholds, dtype=float)[folds]
    repeated = "repeat" in predictions and predictions["repeat"].nunique() > 1
    resampled = "patients" if grouped else "rows (one per patient)"
    if repeated and not grouped:
        resampled += ", each with its predictions of every round"
    metrics, interval_record = metric_evidence(y, out, classes, task, patients, threshold,
                                               metric_names(task_kind(task, classes), extra_metrics),
                                               n_boot=n_boot, seed=seed, method=interval, resampled=resampled)
    # Counts of the first round (with repeated cross-validation every row is predicted once per round); the
    # test side of every fold of every round.
    first = (predictions["repeat"] == 0).to_numpy() if "repeat" in predictions else np.ones(len(y), dtype=bool)
    record: dict = {"counts": {**participants(y[first], np.asarray(patients[first], dtype=object), classes),
                               "folds": fold_counts(y, classes, patients, folds)}}
    record["warnings"] = small_fold_warnings(record["counts"]["folds"], classes) if len(np.unique(folds)) > 1 else []
    if interval_record is not None:
        record["interval"] = interval_record
    # The same patient bootstrap (seed) as the metrics' intervals.
    record["calibration"] = calibration_evidence(y, out, classes, task, patients, n_boot, seed, interval)
    curve = None
    if task == "classification" and len(classes) == 2:
        record["decision_curve"], curve = decision_curve_evidence(y == classes[1], out[:, 1], dca_range, patients,
                                                                  n_boot, seed, interval)
    subgroups, subgroup_record = subgroup_evidence(
        y, out, classes, task, patients, subgroup_values, bins=subgroup_bins, min_patients=subgroup_min_patients,
        min_events=subgroup_min_events, n_boot=n_boot or 1000, seed=seed, threshold=threshold,
        overall=metrics[primary_metric(task)]["pooled"], method=interval,
        row_ids=predictions["row"].to_numpy() if "row" in predictions else None)
    if subgroup_record is not None:
        record["subgroups"] = subgroup_record
    return JobEvidence(metrics=metrics, record=record, decision_curve=curve, subgroups=subgroups)
