"""Is it fair? Group fairness of a binary classifier at its operating point, for each ``eval.subgroups`` column
(its groups as subgroups.subgroup_labels makes them), with patient-bootstrap intervals.

Per group: true positive rate (TPR, sensitivity), false positive rate (FPR, 1 - specificity), positive predictive
value (PPV, precision) and selection rate (share predicted positive). Across groups (fairlearn 0.15's
definitions, Hardt et al. 2016; Agarwal et al. 2018): equalized-odds difference = max(max - min TPR, max - min
FPR); equalized-odds ratio = min(min/max TPR, min/max FPR); demographic-parity difference = max - min selection
rate (and its ratio, min/max). Every interval comes from the same patient resamples (bootstrap.py), so a gap's
interval accounts for every group's uncertainty at once.

A max - min gap is never below 0, so its interval always "excludes 0": the flag asks instead whether the signed
difference between the two groups that define the gap in the data (highest minus lowest) has a 95% interval
wholly above 0. Groups with fewer than ``min_patients`` patients, or fewer than ``min_events`` patients of
either class, get their counts only and take no part in the gaps (as in subgroups.py).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import resampled_intervals

RATES = ("tpr", "fpr", "ppv", "selection_rate")
GAPS = ("equalized_odds_difference", "equalized_odds_ratio", "demographic_parity_difference",
        "demographic_parity_ratio")
# The rate each flagged difference is of, and the gap it belongs to.
DIFFERENCES = {"tpr": "equalized odds", "fpr": "equalized odds", "selection_rate": "demographic parity"}


def _ratio(values: np.ndarray) -> np.ndarray:
    """min/max over groups (axis 1), NaN where the max is 0 or a group is undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return values.min(axis=1) / values.max(axis=1)


class _GroupRates:
    """The rates of every group and the gaps across them, on weighted rows: ``self(W)`` -> {name: array}."""

    def __init__(self, positive: np.ndarray, predicted: np.ndarray, masks: list[np.ndarray],
                 pairs: Optional[dict] = None):
        y, p = positive.astype(float), predicted.astype(float)
        columns = []
        for m in masks:
            m = m.astype(float)
            columns += [m * y * p, m * y, m * (1 - y) * p, m * (1 - y), m * p, m]
        self.design = np.column_stack(columns)   # rows x (6 groups)
        self.k = len(masks)
        self.pairs = pairs or {}

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        sums = (W @ self.design).reshape(len(W), self.k, 6)
        tp, pos, fp, neg, sel, tot = (sums[:, :, i] for i in range(6))
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = {"tpr": tp / pos, "fpr": fp / neg, "ppv": tp / (tp + fp), "selection_rate": sel / tot}
        out = {f"{name}|{g}": rates[name][:, g] for name in RATES for g in range(self.k)}
        spread = {name: rates[name].max(axis=1) - rates[name].min(axis=1) for name in ("tpr", "fpr", "selection_rate")}
        out["equalized_odds_difference"] = np.maximum(spread["tpr"], spread["fpr"])
        out["equalized_odds_ratio"] = np.minimum(_ratio(rates["tpr"]), _ratio(rates["fpr"]))
        out["demographic_parity_difference"] = spread["selection_rate"]
        out["demographic_parity_ratio"] = _ratio(rates["selection_rate"])
        for name, (hi, lo) in self.pairs.items():
            out[f"difference|{name}"] = rates[name][:, hi] - rates[name][:, lo]
        return out


def _value(x: float) -> Optional[float]:
    return float(x) if np.isfinite(x) else None


def fairness_of_column(positive, predicted, labels: pd.Series, patients, *, n_boot: int, seed: int,
                       min_patients: int = 10, min_events: int = 5, method: str = "percentile",
                       level: float = 0.95) -> dict:
    """The fairness record of one subgroup column. ``positive``: the outcome (bool per row), ``predicted``:
    predicted positive at the operating point (bool per row), ``labels``: the group of each row (a categorical,
    subgroups.subgroup_labels), ``patients``: the patient of each row (the bootstrap draws patients with all
    their rows), ``n_boot`` resamples (0: no intervals).

    {"groups": [{"subgroup", "patients", "rows", "events", "tpr", "tpr_lower", "tpr_upper", ... for RATES,
    "note"}], "gaps": {name: {"value", "lower", "upper"}} for GAPS, "differences": {rate: {"higher_group",
    "lower_group", "value", "lower", "upper", "flag"}}, "flagged": ["equalized odds: tpr a vs b", ...], "note"}."""
    positive = np.asarray(positive, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    patients = np.asarray(patients, dtype=object)
    n = len(positive)
    groups, masks = [], []
    for label in labels.cat.categories:
        mask = (labels == label).to_numpy()
        if not mask.any():
            continue
        who = pd.Series(patients[mask])
        counts = {"subgroup": str(label), "patients": int(who.nunique()), "rows": int(mask.sum()),
                  "events": int(who[positive[mask]].nunique())}
        non_events = int(who[~positive[mask]].nunique())
        note = ""
        if counts["patients"] < min_patients:
            note = f"fewer than {min_patients} patients: counts only"
        elif min(counts["events"], non_events) < min_events:
            note = f"fewer than {min_events} patients of a class: counts only"
        groups.append({**counts, "note": note})
        if not note:
            masks.append(mask)
    shown = [g for g in groups if not g["note"]]
    point = _GroupRates(positive, predicted, masks)(np.ones((1, n))) if masks else {}
    pairs = {}
    if len(masks) >= 2:
        for name in DIFFERENCES:
            values = np.array([point[f"{name}|{g}"][0] for g in range(len(masks))])
            if np.isfinite(values).all():
                pairs[name] = (int(np.argmax(values)), int(np.argmin(values)))
    statistic = _GroupRates(positive, predicted, masks, pairs)
    point = statistic(np.ones((1, n))) if masks else {}
    intervals = resampled_intervals(statistic, n, patients, n_boot, seed, level, method) if masks and n_boot else {}

    def figure(key: str) -> dict:
        ci = intervals.get(key, {})
        return {"value": _value(point[key][0]), "lower": ci.get("lower"), "upper": ci.get("upper")}

    for g, group in enumerate(shown):
        for name in RATES:
            f = figure(f"{name}|{g}")
            group.update({name: f["value"], f"{name}_lower": f["lower"], f"{name}_upper": f["upper"]})
    record: dict = {"groups": groups, "gaps": {}, "differences": {}, "flagged": []}
    if len(masks) < 2:
        record["note"] = "fewer than two groups large enough for a metric: no gaps"
        return record
    record["gaps"] = {name: figure(name) for name in GAPS}
    for name, (hi, lo) in pairs.items():
        f = figure(f"difference|{name}")
        flag = f["lower"] is not None and f["lower"] > 0
        record["differences"][name] = {"higher_group": shown[hi]["subgroup"], "lower_group": shown[lo]["subgroup"],
                                       **f, "flag": bool(flag)}
        if flag:
            record["flagged"].append(f"{DIFFERENCES[name]}: {name} {shown[hi]['subgroup']} > {shown[lo]['subgroup']}")
    return record


def fairness_evidence(positive, predicted, subgroup_labels: dict, patients, *, n_boot: int, seed: int,
                      min_patients: int, min_events: int, method: str) -> dict:
    """{column: fairness_of_column(...)} for every subgroup column ({column: labels per row})."""
    return {column: fairness_of_column(positive, predicted, labels, patients, n_boot=n_boot, seed=seed,
                                       min_patients=min_patients, min_events=min_events, method=method)
            for column, labels in subgroup_labels.items()}


def fairness_warnings(evaluation: dict) -> list[dict]:
    """The job's warnings ({kind, message}) for each flagged gap of its evaluation's fairness record."""
    fairness = ((evaluation or {}).get("subgroups") or {}).get("fairness") or {}
    out = []
    for column, record in fairness.items():
        for name, d in record.get("differences", {}).items():
            if d.get("flag"):
                out.append({"kind": "fairness_gap", "message": (
                    f"Fairness, {column}: {name} higher by {d['value']:.3f} in {d['higher_group']} than in "
                    f"{d['lower_group']} "
                    f"(95% CI {d['lower']:.3f}-{d['upper']:.3f}, at the operating point): "
                    f"{DIFFERENCES[name]} is not met")})
    return out
