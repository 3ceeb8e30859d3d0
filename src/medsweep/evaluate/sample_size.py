"""Is there enough data? The minimum sample size for developing a prediction model (Riley et al., Stat Med
2019;38:1262-1275 (continuous) and 1276-1296 (binary); BMJ 2020;368:m441), as the pmsampsize package computes
it (R/Stata, J. Ensor; its worked examples are tests/test_sample_size.py's references).

Binary outcome, P candidate parameters, prevalence phi, anticipated Cox-Snell R2 (R2_CS):
  1. expected shrinkage S >= 0.9:          n1 = P / ((S - 1) ln(1 - R2_CS / S))
  2. optimism in Nagelkerke R2 <= 0.05:    the same with S = R2_CS / (R2_CS + 0.05 max R2_CS),
                                           max R2_CS = 1 - (phi^phi (1 - phi)^(1 - phi))^2
  3. overall risk within +-0.05:           n3 = (1.96 / 0.05)^2 phi (1 - phi)
Continuous outcome, anticipated adjusted R2, outcome mean and SD:
  1. shrinkage >= 0.9: the smallest n >= P + 2 with 1 + (P - 2) / (n ln(1 - (R2 (n - P - 1) + P) / (n - 1))) >= S
  2. optimism in R2 <= 0.05:   n2 = 1 + P (1 - R2) / 0.05
  3. residual SD within a multiplicative margin of error (MMOE) of 10%: n3 = 234 + P (pmsampsize 1.1.3)
  4. mean outcome within MMOE 1.1: the smallest n >= max(n1, n2, n3) with
     (mean + t_{0.975, n-P-1} sqrt(SD^2 (1 - R2) / n)) / mean <= 1.1 (only for a positive mean)
Every n is rounded up; the minimum is the largest. R2_CS from an anticipated C statistic: Riley, Van Calster &
Collins (Stat Med 2021;40:859-864), :func:`cox_snell_from_c`.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

SHRINKAGE = 0.9
R2_OPTIMISM = 0.05      # acceptable difference between apparent and adjusted (Nagelkerke) R2
RISK_MARGIN = 0.05      # binary: the overall risk within +-0.05 (95% CI)
MMOE = 1.1              # continuous: multiplicative margin of error of the residual SD and the mean


def cox_snell_from_c(c_statistic: float, prevalence: float) -> float:
    """The Cox-Snell R2 a logistic model with C statistic ``c_statistic`` has at outcome ``prevalence``
    (Riley, Van Calster & Collins 2021): the linear predictor is N(0, 1) in non-events and N(mu, 1) in events,
    mu = sqrt(2) Phi^-1(C); the model y ~ LP is then the true model (its log-odds are linear in LP), so the
    likelihood ratio per patient, LR / n, is twice the mutual information of outcome and LP, and
    R2_CS = 1 - exp(-LR / n). pmsampsize estimates the same quantity by fitting that model on 1,000,000
    simulated patients; here it is integrated numerically (deterministic, no seed)."""
    from scipy.special import ndtri
    from scipy.stats import norm

    if not 0.5 <= c_statistic < 1:
        raise ValueError(f"C statistic must be >= 0.5 and < 1; got {c_statistic!r}")
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be > 0 and < 1; got {prevalence!r}")
    mu = math.sqrt(2.0) * float(ndtri(c_statistic))
    x = np.linspace(min(0.0, mu) - 12.0, max(0.0, mu) + 12.0, 200_001)
    events, non_events = prevalence * norm.pdf(x, mu), (1 - prevalence) * norm.pdf(x)
    density = events + non_events
    p = np.clip(events / np.where(density > 0, density, 1.0), 1e-300, 1 - 1e-16)
    conditional = -(p * np.log(p) + (1 - p) * np.log1p(-p))          # H(Y | LP = x), nats
    entropy = -(prevalence * math.log(prevalence) + (1 - prevalence) * math.log1p(-prevalence))
    information = entropy - float(np.trapezoid(density * conditional, x)
                                  if hasattr(np, "trapezoid") else np.trapz(density * conditional, x))
    return 1.0 - math.exp(-2.0 * max(information, 0.0))


def max_cox_snell(prevalence: float) -> float:
    """The largest Cox-Snell R2 a binary outcome of ``prevalence`` allows: 1 - (phi^phi (1-phi)^(1-phi))^2."""
    log_null = prevalence * math.log(prevalence) + (1 - prevalence) * math.log1p(-prevalence)
    return 1.0 - math.exp(2.0 * log_null)


def _shrinkage_n(parameters: int, r2: float, shrinkage: float) -> int:
    return math.ceil(parameters / ((shrinkage - 1.0) * math.log(1.0 - r2 / shrinkage)))


def binary_sample_size(prevalence: float, parameters: int, r2_cs: float, shrinkage: float = SHRINKAGE) -> dict:
    """Riley et al.'s three criteria for a binary outcome: {"criteria": [{"criterion", "n", "events", "epp",
    "shrinkage"}...], "n", "events", "epp", "max_r2_cs", "nagelkerke_r2"} (events = ceil(n phi), EPP = n phi / P,
    as pmsampsize). Raises ValueError where the inputs allow no answer."""
    if not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be > 0 and < 1; got {prevalence!r}")
    if parameters < 1:
        raise ValueError(f"parameters must be >= 1; got {parameters!r}")
    max_r2 = max_cox_snell(prevalence)
    if not 0 < r2_cs < min(max_r2, shrinkage):
        raise ValueError(f"the anticipated Cox-Snell R2 must be > 0 and below its maximum {max_r2:.4f} at "
                         f"prevalence {prevalence:.4g} (and below the shrinkage {shrinkage}); got {r2_cs!r}")
    s2 = r2_cs / (r2_cs + R2_OPTIMISM * max_r2)
    rows = [("shrinkage", _shrinkage_n(parameters, r2_cs, shrinkage), shrinkage),
            ("r2_optimism", _shrinkage_n(parameters, r2_cs, s2), s2),
            ("overall_risk", math.ceil((1.96 / RISK_MARGIN) ** 2 * prevalence * (1 - prevalence)), None)]
    criteria = [{"criterion": name, "n": n, "events": math.ceil(n * prevalence - 1e-9),
                 "epp": n * prevalence / parameters, "shrinkage": s} for name, n, s in rows]
    n = max(c["n"] for c in criteria)
    return {"criteria": criteria, "n": n, "events": math.ceil(n * prevalence - 1e-9),
            "epp": n * prevalence / parameters, "max_r2_cs": max_r2, "nagelkerke_r2": r2_cs / max_r2}


def _expected_shrinkage(n: np.ndarray, parameters: int, r2: float) -> np.ndarray:
    """Riley et al. 2019 (continuous, eq. as pmsampsize): the expected shrinkage of a linear model developed
    on n patients with P parameters and adjusted R2; NaN where undefined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 + (parameters - 2) / (n * np.log(1.0 - (r2 * (n - parameters - 1) + parameters) / (n - 1)))


def _first(n0: int, ok) -> int:
    """The smallest n >= n0 for which ``ok(array of n)`` holds, searched in growing blocks."""
    start, width = n0, 1024
    while True:
        n = np.arange(start, start + width, dtype=float)
        hit = np.flatnonzero(ok(n))
        if hit.size:
            return int(n[hit[0]])
        start, width = start + width, width * 2
        if start > 10**9:
            raise ValueError("no sample size up to 10^9 meets the criterion")


def continuous_sample_size(r2: float, parameters: int, mean: float, sd: float,
                           shrinkage: float = SHRINKAGE) -> dict:
    """Riley et al.'s four criteria for a continuous outcome (see the module's docstring): {"criteria": [...],
    "n", "spp"} (SPP: subjects per parameter). Criterion 4 (the mean outcome within a 10% multiplicative
    margin) is None where the mean is not positive: a margin relative to a mean of 0 or less means nothing."""
    from scipy.stats import t as student_t

    if not 0 < r2 < 1:
        raise ValueError(f"the anticipated R2 must be > 0 and < 1; got {r2!r}")
    if parameters < 1:
        raise ValueError(f"parameters must be >= 1; got {parameters!r}")
    p = parameters
    n1 = _first(p + 2, lambda n: np.nan_to_num(_expected_shrinkage(n, p, r2), nan=-np.inf) >= shrinkage)
    n2 = math.ceil(1 + p * (1 - r2) / R2_OPTIMISM)
    n3 = 234 + p
    n4: Optional[int] = None
    if mean > 0 and sd >= 0:
        def close_enough(n):
            upper = mean + student_t.ppf(0.975, n - p - 1) * np.sqrt(sd ** 2 * (1 - r2) / n)
            return upper / mean <= MMOE
        n4 = _first(max(n1, n2, n3), close_enough)
    rows = [("shrinkage", n1), ("r2_optimism", n2), ("residual_sd", n3), ("mean_outcome", n4)]
    criteria = [{"criterion": name, "n": n, "spp": None if n is None else n / p,
                 "shrinkage": None if n is None else float(_expected_shrinkage(np.array([float(n)]), p, r2)[0])}
                for name, n in rows]
    n = max(c["n"] for c in criteria if c["n"] is not None)
    return {"criteria": criteria, "n": n, "spp": n / p}


def sample_size_record(*, task: str, n_classes: Optional[int], n: int, events: Optional[int], parameters: int,
                       c_statistic: float, r2: float, mean: Optional[float] = None, sd: Optional[float] = None,
                       unit: str = "patients") -> dict:
    """metrics.json's ``sample_size``: the minimum sample size of this job's data and whether it has it.
    ``n``: patients (rows where there is no patient column), ``events``: patients with the outcome (binary),
    ``parameters``: candidate parameters (columns after preprocessing); ``c_statistic``: the anticipated C
    statistic (binary), ``r2``: the anticipated adjusted R2 (continuous)."""
    record: dict = {"method": "Riley et al. 2019/2020 (pmsampsize)", "n": n, "unit": unit, "parameters": parameters}
    if task == "classification" and n_classes != 2:
        return {**record, "outcome": "multiclass", "meets": None,
                "note": "Riley et al.'s criteria are for binary and continuous outcomes: not computed"}
    if task == "classification":
        prevalence = events / n if n else 0.0
        if not 0 < prevalence < 1:
            return {**record, "outcome": "binary", "events": events, "meets": None,
                    "note": "one class only: not computed"}
        r2_cs = cox_snell_from_c(c_statistic, prevalence)
        result = binary_sample_size(prevalence, parameters, r2_cs)
        return {**record, "outcome": "binary", "events": events, "prevalence": prevalence, "epp": events / parameters,
                "anticipated": {"c_statistic": c_statistic, "r2_cs": r2_cs, "max_r2_cs": result["max_r2_cs"],
                                "nagelkerke_r2": result["nagelkerke_r2"]},
                "criteria": result["criteria"], "required": {"n": result["n"], "events": result["events"],
                                                             "epp": result["epp"]},
                "meets": bool(n >= result["n"])}
    result = continuous_sample_size(r2, parameters, mean, sd)
    return {**record, "outcome": "continuous", "spp": n / parameters,
            "anticipated": {"r2": r2, "mean": mean, "sd": sd}, "criteria": result["criteria"],
            "required": {"n": result["n"], "spp": result["spp"]}, "meets": bool(n >= result["n"])}


def sample_size_warning(record: dict) -> Optional[str]:
    """The warning a job gives when its data are smaller than the minimum (None when it has enough, or when
    nothing was computed)."""
    if record.get("meets") is not False:
        return None
    required = record["required"]
    short = [c["criterion"] for c in record["criteria"] if c["n"] is not None and c["n"] > record["n"]]
    if record["outcome"] == "binary":
        have = f"{record['n']} {record['unit']} with {record['events']} events (EPP {record['epp']:.1f})"
        need = (f"{required['n']} with {required['events']} events (EPP {required['epp']:.1f}) at an anticipated "
                f"C statistic of {record['anticipated']['c_statistic']:g}")
    else:
        have = f"{record['n']} {record['unit']}"
        need = f"{required['n']} at an anticipated R2 of {record['anticipated']['r2']:g}"
    return (f"Sample size: {have} for {record['parameters']} candidate parameters; Riley et al.'s minimum for "
            f"developing a model is {need} (criteria not met: {', '.join(short)}): expect overfitting; "
            "prefer fewer parameters or more data")
