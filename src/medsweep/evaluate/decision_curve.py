"""Decision curve analysis (Vickers & Elkin 2006; TRIPOD+AI item 23a): the net benefit of treating the
patients the model calls positive, against treating all or none, over a range of threshold probabilities;
and a job's record of it, with intervals of the net benefit at a few thresholds (patient bootstrap)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import resampled_intervals
from medsweep.evaluate.scores import weighted_sum as _dot

# Thresholds of the decision curve when none are given: 1% to 99%.
DCA_THRESHOLDS = tuple(round(t / 100, 2) for t in range(1, 100))
# Thresholds whose net benefit metrics.json records (the whole curve is in decision_curve.png).
NET_BENEFIT_AT = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


class WeightedNetBenefit:
    """Net benefit of the model (decision_curve's, predicted positive iff p >= t) at each threshold of
    ``at`` ({name: t}) on weighted rows."""

    def __init__(self, y_bool, p, at: dict):
        y, p = np.asarray(y_bool, dtype=bool), np.asarray(p, dtype=float)
        self.parts = {name: ((y & (p >= t)).astype(float), (~y & (p >= t)).astype(float), t / (1.0 - t))
                      for name, t in at.items()}

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        W = np.atleast_2d(np.asarray(W, dtype=float))
        n = W.sum(axis=1)
        return {name: _dot(W, tp) / n - _dot(W, fp) / n * odds for name, (tp, fp, odds) in self.parts.items()}



def decision_curve(y_bool, p, thresholds: Optional[Sequence[float]] = None) -> pd.DataFrame:
    """Decision curve analysis (Vickers & Elkin 2006) of a binary outcome: DataFrame(threshold, net_benefit,
    treat_all, treat_none), one row per threshold t in [0, 1) (default 0.01, 0.02, ..., 0.99).
    net_benefit = TP/n - FP/n * t/(1 - t), predicted positive iff p >= t; treat_all = prevalence -
    (1 - prevalence) * t/(1 - t); treat_none = 0."""
    y = np.asarray(y_bool, dtype=bool)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or not len(y):
        raise ValueError(f"y_bool and p must be 1-D of the same length; got {y.shape} and {p.shape}")
    t = np.asarray(DCA_THRESHOLDS if thresholds is None else thresholds, dtype=float)
    if t.ndim != 1 or not ((t >= 0) & (t < 1)).all():
        raise ValueError("decision curve thresholds must be numbers in [0, 1)")
    n = len(y)
    pos, neg = np.sort(p[y]), np.sort(p[~y])
    tp = len(pos) - np.searchsorted(pos, t, side="left")  # positives with p >= t
    fp = len(neg) - np.searchsorted(neg, t, side="left")
    odds = t / (1.0 - t)
    prevalence = y.mean()
    return pd.DataFrame({"threshold": t, "net_benefit": tp / n - fp / n * odds,
                         "treat_all": prevalence - (1.0 - prevalence) * odds, "treat_none": np.zeros(len(t))})




def decision_curve_evidence(y_bool, p, dca_range: Sequence[float], patients, n_boot: int, seed: int,
                            method: str) -> tuple[dict, pd.DataFrame]:
    """(metrics.json's "decision_curve", the curve): the curve every 0.01 over ``dca_range``; the record holds
    the range and the net benefit of the model, of treating all and of treating none at each NET_BENEFIT_AT
    threshold inside it, the model's with its interval ("model_lower", "model_upper") when ``n_boot``."""
    grid = np.round(np.arange(dca_range[0], dca_range[1] + 1e-9, 0.01), 4)
    curve = decision_curve(y_bool, p, grid)
    at = curve.set_index(np.round(curve.threshold, 4))
    reported = {f"{t:g}": t for t in NET_BENEFIT_AT if dca_range[0] <= t <= dca_range[1] and t in at.index}
    record = {"thresholds": [float(dca_range[0]), float(dca_range[1])],
              "net_benefit": {name: {"model": float(at.net_benefit[t]), "treat_all": float(at.treat_all[t]),
                                     "treat_none": 0.0} for name, t in reported.items()}}
    if n_boot and reported:
        nb = resampled_intervals(WeightedNetBenefit(y_bool, p, reported), len(y_bool), patients, n_boot, seed,
                                 0.95, method)
        for name, ci in nb.items():
            record["net_benefit"][name].update(model_lower=ci["lower"], model_upper=ci["upper"])
    return record, curve
