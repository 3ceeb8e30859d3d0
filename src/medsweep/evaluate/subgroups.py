"""Performance in subgroups (TRIPOD+AI item 23a): rows grouped by the values of a column (quantile bins of
patients' values for numbers), each subgroup's primary metric (and, binary, sensitivity and specificity) with
its patient-bootstrap interval, flagged where the interval lies wholly on the worse side of the overall
value."""

from __future__ import annotations

import numbers
from typing import Optional

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import check_interval, resample_scorer, resampled_intervals
from medsweep.evaluate.counts import patients_per_class
from medsweep.evaluate.fairness import fairness_evidence
from medsweep.evaluate.metrics import METRICS, predicted_classes, primary_metric

def _number(x: float) -> str:
    return repr(float(f"{x:.4g}"))


def subgroup_labels(values, groups=None, bins: int = 2) -> pd.Series:
    """The subgroup of each row (an ordered categorical): text (and booleans) -> each distinct value;
    numbers -> ``bins`` quantile bins of the patients' values (each patient's first non-missing value, so a
    patient with many rows counts once), labelled "[a, b)" and the last "[a, b]", each row binned by its own
    value; a numeric column with at most ``bins`` distinct values -> each value; missing -> "missing"."""
    if not isinstance(bins, numbers.Integral) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    s = pd.Series(values).reset_index(drop=True)
    missing = s.isna().to_numpy()
    present = s[~missing]
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    labels = np.empty(len(s), dtype=object)
    if numeric and present.nunique() > bins:
        x = s.to_numpy(dtype=float)
        patients = pd.Series(np.arange(len(s)) if groups is None else np.asarray(groups, dtype=object))
        per_patient = pd.Series(x).groupby(patients.to_numpy(), sort=False).first().dropna().to_numpy()
        quantiles = np.quantile(per_patient, np.linspace(0, 1, bins + 1))
        quantiles[0], quantiles[-1] = np.nanmin(x), np.nanmax(x)  # every row's value inside the bins
        edges = np.unique(quantiles)  # >= 2 edges: the values are not all equal
        names = [f"[{_number(a)}, {_number(b)})" for a, b in zip(edges[:-2], edges[1:-1])]
        names.append(f"[{_number(edges[-2])}, {_number(edges[-1])}]")
        ids = np.searchsorted(edges[1:-1], x[~missing], side="right")
        labels[~missing] = np.asarray(names, dtype=object)[ids]
        order = names
    else:
        if numeric:  # few distinct numbers (a code such as 0/1): each value, in numeric order
            text = present.map(str)
            order = [str(v) for v in sorted(present.unique())]
        else:
            text = present.map(str)
            order = sorted(text.unique())
        labels[~missing] = text.to_numpy()
    if missing.any():
        labels[missing] = "missing"
        order = list(order) + ["missing"]
    return pd.Series(pd.Categorical(labels, categories=list(dict.fromkeys(order)), ordered=True))


def subgroup_table(y_true, out, classes, task: str, groups, values, bins: int = 2, min_patients: int = 10,
                   n_boot: int = 1000, seed: int = 0, threshold: Optional[float] = None,
                   overall: Optional[float] = None, level: float = 0.95, min_events: int = 5,
                   method: str = "percentile", row_ids=None) -> pd.DataFrame:
    """Performance in the subgroups of one column (``values``: its value on each row; see subgroup_labels).

    ``groups``: the patient of each row (None: each row is its own patient). With repeated cross-validation
    a patient has one row per round: pass the patient (or the data row) so that the rounds' predictions of one
    patient count, and are resampled, as one patient; ``row_ids`` (the data row of each prediction) makes
    "rows" count data rows, not predictions.

    One row per subgroup, in order: subgroup, patients, rows, events (patients with the event; binary: of the
    positive class; multiclass: per class as text "A:3 B:5"; regression: None), the primary metric (roc_auc,
    or rmse) with <metric>_lower/<metric>_upper (patient-level bootstrap within the subgroup, ``n_boot``
    resamples, ``seed``, interval ``method`` "percentile" or "bca"), binary: sensitivity and specificity (at
    ``threshold``, or argmax) with their intervals; dropped_resamples: resamples left out of the primary
    metric's interval (undefined there, e.g. a class not drawn); flag: the subgroup's interval lies wholly on
    the worse side of ``overall`` (below it; for rmse, above); note. Subgroups with fewer than
    ``min_patients`` patients, or (classification) fewer than ``min_events`` patients of any class, get
    counts only (metric cells NaN) and a note. ``overall``: the overall primary metric (default: pooled over
    all rows)."""
    check_interval(method, level)
    y_true = np.asarray(y_true)
    out = np.asarray(out, dtype=float)
    n = len(y_true)
    patients = pd.Series(np.arange(n) if groups is None else np.asarray(groups, dtype=object))
    data_rows = np.arange(n) if row_ids is None else np.asarray(row_ids)
    if len(patients) != n or len(values) != n or len(data_rows) != n:
        raise ValueError(f"groups, values and row_ids need one entry per row ({n})")
    labels = subgroup_labels(values, None if groups is None else patients, bins)
    primary = primary_metric(task)
    binary = task == "classification" and len(classes) == 2
    shown = [primary] + (["sensitivity", "specificity"] if binary else [])
    if overall is None:
        overall = float(resample_scorer(y_true, out, classes, task, threshold, [primary])(np.ones((1, n)))[primary][0])
    lower_better = not METRICS[primary].higher_is_better
    records = []
    for label in labels.cat.categories:
        rows = np.flatnonzero((labels == label).to_numpy())
        if not rows.size:
            continue
        y, o, g = y_true[rows], out[rows], patients.iloc[rows].to_numpy()
        t = threshold[rows] if np.ndim(threshold) else threshold  # one per row: each fold's own
        n_patients = int(pd.unique(g).size)
        per_class = patients_per_class(y, g, classes) if task == "classification" else {}
        if task == "regression":
            events = None
        elif binary:
            events = per_class[classes[1]]
        else:
            events = " ".join(f"{c}:{k}" for c, k in per_class.items())
        rec = {"subgroup": str(label), "patients": n_patients, "rows": int(pd.unique(data_rows[rows]).size),
               "events": events}
        for name in shown:
            rec.update({name: np.nan, f"{name}_lower": np.nan, f"{name}_upper": np.nan})
        rec.update(dropped_resamples=np.nan, flag=False, note="")
        few = [str(c) for c, k in per_class.items() if k < min_events]
        if n_patients < min_patients:
            rec["note"] = f"fewer than {min_patients} patients: counts only"
            records.append(rec)
            continue
        if few:
            rec["note"] = f"fewer than {min_events} patients of class {', '.join(few)}: counts only"
            records.append(rec)
            continue
        scorer = resample_scorer(y, o, classes, task, t, shown)
        point = scorer(np.ones((1, rows.size)))
        if not np.isfinite(point[primary][0]):
            rec["note"] = f"{primary} undefined"
            records.append(rec)
            continue
        intervals = resampled_intervals(scorer, rows.size, g, n_boot, seed,
                                        level, method)
        for name in shown:
            ci = intervals[name]
            rec[name] = float(point[name][0])
            rec[f"{name}_lower"] = np.nan if ci["lower"] is None else ci["lower"]
            rec[f"{name}_upper"] = np.nan if ci["upper"] is None else ci["upper"]
        rec["dropped_resamples"] = n_boot - intervals[primary]["n_valid"]
        lo, hi = rec[f"{primary}_lower"], rec[f"{primary}_upper"]
        rec["flag"] = bool(lo > overall) if lower_better else bool(hi < overall)
        if rec["flag"]:
            rec["note"] = f"{primary} interval wholly {'above' if lower_better else 'below'} overall {overall:.3f}"
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=["subgroup", "patients", "rows", "events"]
                                     + [c for name in shown for c in (name, f"{name}_lower", f"{name}_upper")]
                                     + ["dropped_resamples", "flag", "note"])




def subgroup_evidence(y_true, out, classes, task: str, patients, subgroup_values: dict, *, bins: int,
                      min_patients: int, min_events: int, n_boot: int, seed: int, threshold, overall: float,
                      method: str, row_ids=None) -> tuple[Optional[pd.DataFrame], Optional[dict]]:
    """(subgroups.csv: one subgroup_table per column of ``subgroup_values`` ({column: value per row}), with a
    first column "column"; metrics.json's "subgroups": {"columns", "flagged": ["column=subgroup", ...]}),
    both None without columns."""
    tables = []
    for column, values in subgroup_values.items():
        table = subgroup_table(y_true, out, classes, task, patients, values, bins=bins, min_patients=min_patients,
                               n_boot=n_boot, seed=seed, threshold=threshold, overall=overall,
                               min_events=min_events, method=method, row_ids=row_ids)
        tables.append(table.assign(column=column)[["column", *table.columns]])
    if not tables:
        return None, None
    subgroups = pd.concat(tables, ignore_index=True)
    flagged = subgroups[subgroups.flag]
    record = {"columns": list(subgroup_values), "flagged": [f"{r.column}={r.subgroup}" for r in flagged.itertuples()]}
    if task == "classification" and len(classes) == 2:
        # Fairness at the operating point (fairness.py): the same groups, patients and resamples.
        y, rows = np.asarray(y_true), len(y_true)
        who = np.arange(rows) if patients is None else np.asarray(patients, dtype=object)
        labels = {c: subgroup_labels(v, None if patients is None else pd.Series(who), bins)
                  for c, v in subgroup_values.items()}
        predicted = predicted_classes(np.asarray(out, dtype=float), list(classes), threshold) == classes[1]
        record["fairness"] = fairness_evidence(y == classes[1], predicted, labels, who, n_boot=n_boot, seed=seed,
                                               min_patients=min_patients, min_events=min_events, method=method)
    return subgroups, record
