"""Performance in each site of an internal-external cross-validation (data.site; TRIPOD+AI items 12d, 23b;
TRIPOD-Cluster): every site's out-of-fold predictions come from a model trained on the other sites. Per site:
the registry's metrics with patient-bootstrap intervals (patients resampled within the site), and, binary,
the measures pooled across sites by a random-effects meta-analysis (meta_analysis.py): ROC-AUC (on the logit
scale), calibration slope, calibration-in-the-large and net benefit at the decision curve's reported
thresholds, each with its within-site variance from the same patient bootstrap (the sample variance of the
measure over the resamples where it is defined; on the logit scale for ROC-AUC).

A measure is called heterogeneous when tau² > 0 and its 95% prediction interval for a new site is wide
(WIDE_PI): ROC-AUC's crosses 0.5 or spans more than 0.2; the calibration slope's spans more than 0.5;
calibration-in-the-large's more than 1 (log-odds); net benefit's more than 0.1 (10 net true positives per 100
patients). (With tau² = 0 a wide interval says the sites are too few or too small to tell, not that they
differ: the interval is then the pooled estimate's, widened by t_{k-2}.)"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import bootstrap_weights, over_weights, percentile_interval, resample_scorer
from medsweep.evaluate.calibration import WeightedCalibration
from medsweep.evaluate.counts import patients_per_class
from medsweep.evaluate.decision_curve import NET_BENEFIT_AT, WeightedNetBenefit
from medsweep.evaluate.evaluation import metric_evidence
from medsweep.evaluate.meta_analysis import random_effects
from medsweep.evaluate.metrics import metric_names
from medsweep.evaluate.scores import task_kind

# Resamples for the within-site variances when eval.n_boot=0 (no intervals asked for, but the meta-analysis
# needs a variance per site).
VARIANCE_BOOT = 200
# Width of a 95% prediction interval above which a measure is called heterogeneous (see the module's doc).
WIDE_PI = {"roc_auc": 0.2, "calibration_slope": 0.5, "citl": 1.0, "net_benefit": 0.1}
VARIANCE_METHOD = ("within-site variance: sample variance over a patient bootstrap within the site (ROC-AUC on "
                   "the logit scale)")


def _logit(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / (1.0 - x))


def _expit(x: Optional[float]) -> Optional[float]:
    return None if x is None else float(1.0 / (1.0 + np.exp(-x)))


class _SiteMeasures:
    """The pooled measures of one site's binary predictions on weighted rows (bootstrap.py's convention)."""

    def __init__(self, y, out, classes, threshold, net_benefit_at: dict):
        positive = np.asarray(y) == classes[1]
        self.auc = resample_scorer(y, out, classes, "classification", threshold, ["roc_auc"])
        self.calibration = WeightedCalibration(positive, out[:, 1])
        self.nb = WeightedNetBenefit(positive, out[:, 1], net_benefit_at)

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        cal = self.calibration(W)
        return {"logit_roc_auc": _logit(self.auc(W)["roc_auc"]), "calibration_slope": cal["slope"], "citl": cal["citl"],
                **{f"net_benefit_{name}": v for name, v in self.nb(W).items()}}


def _measure_family(name: str) -> str:
    return "net_benefit" if name.startswith("net_benefit_") else name


def site_evidence(predictions: pd.DataFrame, sites, classes, task: str, *, thresholds, n_boot: int, seed: int,
                  interval: str, dca_range: Sequence[float], meta_method: str,
                  extra_metrics: Sequence[str] = ()) -> dict:
    """metrics.json's "sites": {"per_site": [{"site", "patients", "rows", "events", "metrics": {name: {"value",
    "lower", "upper"}}, "measures": {measure: {"value", "variance", "lower", "upper"}}}], "meta_analysis":
    {measure: meta_analysis.random_effects(...) + "heterogeneous"}, "heterogeneous": [measures], ...}.
    ``predictions``: the out-of-fold predictions (training.cross_validate's); ``sites``: the site of each of
    their rows; ``thresholds``: each row's decision threshold (binary) or None."""
    y = predictions["y_true"].to_numpy()
    out = (predictions[[f"proba_{c}" for c in classes]].to_numpy() if task == "classification"
           else predictions["y_pred"].to_numpy())
    patients = predictions["patient"].to_numpy()
    sites = np.asarray(sites, dtype=object)
    binary = task == "classification" and len(classes) == 2
    names = metric_names(task_kind(task, classes), extra_metrics)
    at = {f"{t:g}": t for t in NET_BENEFIT_AT if dca_range[0] <= t <= dca_range[1]} if binary else {}
    per_site = []
    for site in pd.unique(sites):
        rows = np.flatnonzero(sites == site)
        ys, os_, ps = y[rows], out[rows], patients[rows]
        ts = None if thresholds is None else (np.asarray(thresholds)[rows] if np.ndim(thresholds) else thresholds)
        metrics, _ = metric_evidence(ys, os_, classes, task, ps, ts, names, n_boot=n_boot, seed=seed,
                                     method=interval, resampled="patients")
        entry = {"site": str(site), "patients": int(pd.unique(ps).size), "rows": int(rows.size),
                 "events": (int(patients_per_class(ys, ps, classes)[classes[1]]) if binary else None),
                 "metrics": {n: {"value": m["pooled"], **{k: m[k] for k in ("lower", "upper") if k in m}}
                             for n, m in metrics.items()}}
        if binary:
            measures = _SiteMeasures(ys, os_, classes, ts, at)
            point = measures(np.ones((1, rows.size)))
            values = over_weights(measures, bootstrap_weights(rows.size, ps, n_boot or VARIANCE_BOOT, seed))
            entry["measures"] = {}
            for name, v in values.items():
                finite = v[np.isfinite(v)]
                value = float(point[name][0]) if np.isfinite(point[name][0]) else None
                m = {"value": value, "variance": float(np.var(finite, ddof=1)) if finite.size > 1 else None}
                if n_boot:
                    m.update({k: percentile_interval(v)[k] for k in ("lower", "upper")})
                entry["measures"][name] = m
        per_site.append(entry)
    record = {"k": len(per_site), "per_site": per_site}
    if binary:
        record["meta_analysis"] = meta_analyse(per_site, meta_method)
        record["heterogeneous"] = [n for n, m in record["meta_analysis"].items() if m.get("heterogeneous")]
        record["variance"] = VARIANCE_METHOD
        record["n_boot"] = n_boot or VARIANCE_BOOT
    return record


def meta_analyse(per_site: list[dict], method: str) -> dict:
    """{measure: the random-effects meta-analysis of the sites' values and variances, ROC-AUC back on its own
    scale (pooled on the logit scale: "logit" holds that analysis), with "heterogeneous" (WIDE_PI)}."""
    result = {}
    for name in per_site[0].get("measures", {}):
        y = [s["measures"][name]["value"] for s in per_site]
        v = [s["measures"][name]["variance"] for s in per_site]
        meta = random_effects([np.nan if a is None else a for a in y], [np.nan if b is None else b for b in v],
                              method)
        if meta is None:
            result[name] = {"k": sum(a is not None for a in y), "note": "fewer than 2 sites with this measure"}
            continue
        if name == "logit_roc_auc":
            name, meta = "roc_auc", {**{k: _expit(meta[k]) for k in ("estimate", "lower", "upper", "pi_lower", "pi_upper")},
                    "k": meta["k"], "tau2": meta["tau2"], "i2": meta["i2"], "q": meta["q"], "method": method,
                    "scale": "pooled on the logit scale (tau2 there), back-transformed", "logit": meta}
        result[name] = {**meta, "heterogeneous": heterogeneous(name, meta)}
    return result


def heterogeneous(name: str, meta: dict) -> Optional[bool]:
    """Whether tau² > 0 and the prediction interval is wide (WIDE_PI); None without one (fewer than 3 sites)."""
    lo, hi = meta.get("pi_lower"), meta.get("pi_upper")
    if lo is None or hi is None:
        return None
    if meta["tau2"] <= 0:
        return False
    wide = hi - lo > WIDE_PI[_measure_family(name)]
    return bool(wide or (name == "roc_auc" and lo < 0.5))
