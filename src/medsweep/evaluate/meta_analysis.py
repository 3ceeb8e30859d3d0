"""Random-effects meta-analysis of one performance measure across sites (Riley et al., BMJ 2011;342:d549;
Debray et al., BMJ 2017;356:i6460; TRIPOD+AI items 12d, 23b): k site estimates y_i with within-site variances
v_i give the pooled estimate with its 95% confidence interval, the between-site variance tau², I² and the 95%
prediction interval for the measure in a new site.

- tau²: REML (restricted maximum likelihood, Fisher scoring from the DerSimonian-Laird value, truncated at 0;
  the default: less biased than DerSimonian-Laird when k is small or the v_i differ, Viechtbauer 2005,
  Veroniki et al. 2016) or DerSimonian-Laird (method of moments):
  w_i = 1/v_i, Q = sum w_i (y_i - ybar_w)², tau² = max(0, (Q - (k-1)) / (sum w - sum w² / sum w)).
- pooled: mu = sum w*_i y_i / sum w*_i, w*_i = 1/(v_i + tau²); SE = (sum w*)^-1/2 with a normal interval, or,
  with Hartung-Knapp (the default: its intervals keep their coverage with few sites, IntHout et al. 2014),
  SE² = sum w*_i (y_i - mu)² / ((k-1) sum w*) with t_{k-1}.
- I² = max(0, (Q - (k-1)) / Q) (Higgins & Thompson 2002; Q from the fixed-effect weights, whatever the method).
- 95% prediction interval: mu ± t_{k-2} sqrt(tau² + SE²) (Higgins et al. 2009; Riley et al. 2011), SE the
  pooled estimate's (Hartung-Knapp's when on); it needs k >= 3.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

METHODS = ("reml-hk", "reml", "dl-hk", "dl")
DEFAULT_METHOD = "reml-hk"


def parse_method(method: str) -> tuple[str, bool]:
    """("reml" | "dl", Hartung-Knapp) of an eval.meta_analysis value."""
    if method not in METHODS:
        raise ValueError(f"meta-analysis method {method!r} is not allowed: must be one of {', '.join(METHODS)}")
    return method.split("-")[0], method.endswith("-hk")


def dersimonian_laird(y: np.ndarray, v: np.ndarray) -> float:
    w = 1.0 / v
    ybar = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - ybar) ** 2))
    return max(0.0, (q - (len(y) - 1)) / (np.sum(w) - np.sum(w ** 2) / np.sum(w)))


def reml(y: np.ndarray, v: np.ndarray, max_iter: int = 200, tol: float = 1e-10) -> float:
    """tau² maximising the restricted likelihood: Fisher scoring (metafor's), started at DerSimonian-Laird,
    tau² += (y'PPy - tr P) / tr(PP), P = W - W11'W / sum w, kept >= 0 (step halving)."""
    tau2 = dersimonian_laird(y, v)
    for _ in range(max_iter):
        w = 1.0 / (v + tau2)
        P = np.diag(w) - np.outer(w, w) / w.sum()
        Py = P @ y
        step = (Py @ Py - np.trace(P)) / np.trace(P @ P)
        new = tau2 + step
        while new < 0 and step < 0 and abs(step) > tol:  # a boundary estimate: 0 is the maximum
            step /= 2.0
            new = tau2 + step
        new = max(0.0, new)
        if abs(new - tau2) <= tol * (1.0 + tau2):
            return float(new)
        tau2 = new
    return float(tau2)


def random_effects(y: Sequence[float], v: Sequence[float], method: str = DEFAULT_METHOD,
                   level: float = 0.95) -> Optional[dict]:
    """The random-effects meta-analysis of estimates ``y`` with within-site variances ``v`` (pairs with a
    non-finite value or v <= 0 are left out): {"k", "estimate", "se", "lower", "upper", "tau2", "i2", "q",
    "pi_lower", "pi_upper", "method"}; pi_* None with fewer than 3 sites; None with fewer than 2."""
    from scipy import stats

    tau_method, hk = parse_method(method)
    y, v = np.asarray(y, dtype=float), np.asarray(v, dtype=float)
    keep = np.isfinite(y) & np.isfinite(v) & (v > 0)
    y, v = y[keep], v[keep]
    k = len(y)
    if k < 2:
        return None
    w = 1.0 / v
    q = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    tau2 = reml(y, v) if tau_method == "reml" else dersimonian_laird(y, v)
    ws = 1.0 / (v + tau2)
    mu = float(np.sum(ws * y) / np.sum(ws))
    if hk:
        se = math.sqrt(float(np.sum(ws * (y - mu) ** 2)) / ((k - 1) * float(np.sum(ws))))
        crit = float(stats.t.ppf(0.5 + level / 2.0, k - 1))
    else:
        se = math.sqrt(1.0 / float(np.sum(ws)))
        crit = float(stats.norm.ppf(0.5 + level / 2.0))
    pi_lower = pi_upper = None
    if k >= 3:
        half = float(stats.t.ppf(0.5 + level / 2.0, k - 2)) * math.sqrt(tau2 + se ** 2)
        pi_lower, pi_upper = mu - half, mu + half
    return {"k": k, "estimate": mu, "se": se, "lower": mu - crit * se, "upper": mu + crit * se, "tau2": float(tau2),
            "i2": max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0, "q": q, "pi_lower": pi_lower, "pi_upper": pi_upper,
            "method": method}
