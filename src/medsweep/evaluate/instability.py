"""Prediction instability of a binary model (Riley & Collins 2023, Biom J 65:2200302) and the bootstrap
optimism correction (Harrell, Lee & Mark 1996; Steyerberg 2019 ch. 5), from B bootstrap models' risks on the
original rows (learn/instability.py refits them):

- per row: the 2.5 and 97.5 percentiles of the B bootstrap risks (the prediction instability plot's lines);
  MAPE_i = mean_b |p_bi - p_i| (p_i the original model's risk), and MAPE = mean_i MAPE_i;
- classification instability: the share of bootstrap models that classify a row on the other side of the
  operating point (p >= threshold) than the original model does;
- calibration instability: each bootstrap model's calibration curve (quantile bins) on the original rows;
- optimism (Harrell): optimism_b = perf(model_b on its bootstrap sample) - perf(model_b on the original rows),
  corrected = apparent - mean_b optimism_b, apparent = perf(original model on the original rows), for ROC-AUC,
  calibration slope and Brier score. A bootstrap sample's performance is the weighted performance on the
  original rows, each row weighing how often it was drawn (the sample's rows repeated)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from medsweep.evaluate.bootstrap import resample_scorer
from medsweep.evaluate.calibration import WeightedCalibration, _binned_curve

OPTIMISM_MEASURES = ("roc_auc", "calibration_slope", "brier")


def _performance(y_bool: np.ndarray, p: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """ROC-AUC, calibration slope and Brier of risks ``p`` on each weight row of ``W``."""
    out = np.column_stack([1.0 - p, p])
    scores = resample_scorer(y_bool, out, [False, True], "classification", None, ["roc_auc", "brier"])(W)
    return {"roc_auc": scores["roc_auc"], "calibration_slope": WeightedCalibration(y_bool, p)(W)["slope"],
            "brier": scores["brier"]}


def optimism(y_bool, p_original, risks: np.ndarray, weights: np.ndarray) -> dict:
    """{measure: {"apparent", "optimism", "corrected", "n_valid"}} (Harrell's bootstrap; see the module)."""
    y = np.asarray(y_bool, dtype=bool)
    apparent = _performance(y, np.asarray(p_original, dtype=float), np.ones((1, len(y))))
    diffs = {m: [] for m in OPTIMISM_MEASURES}
    for p_b, w_b in zip(risks, weights):
        perf = _performance(y, p_b, np.vstack([w_b, np.ones(len(y))]))
        for m in OPTIMISM_MEASURES:
            diffs[m].append(perf[m][0] - perf[m][1])
    result = {}
    for m in OPTIMISM_MEASURES:
        d = np.asarray(diffs[m], dtype=float)
        d = d[np.isfinite(d)]
        a = float(apparent[m][0])
        o = float(d.mean()) if d.size else None
        result[m] = {"apparent": a if np.isfinite(a) else None, "optimism": o,
                     "corrected": a - o if o is not None and np.isfinite(a) else None, "n_valid": int(d.size)}
    return result


def instability(y_bool, p_original, risks: np.ndarray, threshold: Optional[float], n_bins: int = 10) -> dict:
    """Riley & Collins' instability statistics (see the module): {"mape", "mape_max", "interval_width":
    {"median", "max"} of the per-row 2.5-97.5 percentile ranges, "classification": {"threshold",
    "mean_flip_share", "rows_ever_flipped", "rows_flipped_over_20pct"} (None without a threshold)}; and the
    per-row values {"lower", "upper", "mape", "flip_share"} under "rows" (arrays, not for metrics.json)."""
    p0 = np.asarray(p_original, dtype=float)
    risks = np.asarray(risks, dtype=float)
    mape_i = np.mean(np.abs(risks - p0[None, :]), axis=0)
    lower, upper = np.percentile(risks, [2.5, 97.5], axis=0)
    width = upper - lower
    record = {"mape": float(mape_i.mean()), "mape_max": float(mape_i.max()),
              "interval_width": {"median": float(np.median(width)), "max": float(width.max())}}
    rows = {"lower": lower, "upper": upper, "mape": mape_i}
    if threshold is not None:
        flips = ((risks >= threshold) != (p0 >= threshold)[None, :]).mean(axis=0)
        record["classification"] = {"threshold": float(threshold), "mean_flip_share": float(flips.mean()),
                                    "rows_ever_flipped": float((flips > 0).mean()),
                                    "rows_flipped_over_20pct": float((flips > 0.2).mean())}
        rows["flip_share"] = flips
    y = np.asarray(y_bool, dtype=float)
    slopes = np.array([WeightedCalibration(y.astype(bool), p)(np.ones((1, len(y))))["slope"][0] for p in risks])
    finite = slopes[np.isfinite(slopes)]
    record["calibration"] = {"slope_on_original_rows": {
        "median": float(np.median(finite)), "lower": float(np.percentile(finite, 2.5)),
        "upper": float(np.percentile(finite, 97.5))} if finite.size else None}
    rows["curves"] = [_binned_curve(p, y, n_bins) for p in risks]
    rows["original_curve"] = _binned_curve(p0, y, n_bins)
    return {"record": record, "rows": rows}
