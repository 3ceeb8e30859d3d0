"""Curves a reviewer reads, with their uncertainty: the pooled ROC curve, a flexible (spline) calibration curve
and the decision curve, each with a pointwise 95% band from the patient bootstrap that the metrics' intervals
use (bootstrap.bootstrap_weights: the same resamples for the same seed).

A band is pointwise: at each point of the grid (false positive rate, predicted risk, threshold) the 2.5th and
97.5th percentiles of the curve's values over the resamples in which it is defined (numpy's linear
interpolation). It says how far each point of the curve could move with another sample of patients; it is not
a simultaneous band for the whole curve.

Plain functions: numpy in, dicts of arrays out. Nothing here is written to metrics.json.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from medsweep.evaluate.bootstrap import bootstrap_weights
from medsweep.evaluate.calibration import LOGIT_EPS

# False positive rates at which the ROC band is given.
FPR_GRID = np.linspace(0.0, 1.0, 101)
# Points of the calibration curve, evenly spaced on the probability scale over the predicted risks' range.
RISK_POINTS = 100
# Knots of the restricted cubic spline of logit(p): Harrell's percentiles (Regression Modeling Strategies,
# 2nd ed., section 2.4.6). Four knots where each outcome has at least FOUR_KNOTS_MIN_EVENTS patients, else three
# (fewer parameters for small cohorts).
KNOT_PERCENTILES = {3: (10.0, 50.0, 90.0), 4: (5.0, 35.0, 65.0, 95.0)}
FOUR_KNOTS_MIN_EVENTS = 50
NEWTON_ITERATIONS = 12
# A coefficient beyond this: the fit runs off to infinity (outcomes separated in the resample); no curve.
DIVERGED = 1e3


def _check(y_bool, score) -> tuple[np.ndarray, np.ndarray]:
    y, s = np.asarray(y_bool, dtype=bool), np.asarray(score, dtype=float)
    if y.ndim != 1 or y.shape != s.shape or not len(y):
        raise ValueError(f"y_bool and the scores must be 1-D of the same length; got {y.shape} and {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"the scores hold {int((~np.isfinite(s)).sum())} values that are not finite numbers")
    return y, s


def _percentiles(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper, resamples with a value) per column of ``values`` (resamples x points), NaN rows ignored."""
    valid = np.isfinite(values).all(axis=1)
    if not valid.any():
        nan = np.full(values.shape[1], np.nan)
        return nan, nan.copy(), 0
    alpha = 100.0 * (1.0 - level) / 2.0
    lower, upper = np.percentile(values[valid], [alpha, 100.0 - alpha], axis=0)
    return lower, upper, int(valid.sum())


def _weights(n: int, groups, n_boot: int, seed: int):
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1 for a band; got {n_boot}")
    return bootstrap_weights(n, groups, n_boot, seed)


# --- ROC ---------------------------------------------------------------------------------------------------

def weighted_roc(y_bool, score, W: np.ndarray, grid: np.ndarray = FPR_GRID) -> np.ndarray:
    """The true positive rate at each false positive rate of ``grid`` of the ROC curve of every row of ``W``
    (resamples x rows; a weight is how often a row is drawn): the curve through the points of each distinct
    score (as sklearn.metrics.roc_curve), linearly interpolated. NaN rows where a resample lacks a class."""
    y, s = _check(y_bool, score)
    W = np.atleast_2d(np.asarray(W, dtype=float))
    order = np.argsort(-s, kind="mergesort")
    ends = np.r_[np.flatnonzero(np.diff(s[order])), len(s) - 1]  # last row of each distinct score
    w = W[:, order]
    tps = np.cumsum(w * y[order], axis=1)[:, ends]
    fps = np.cumsum(w * ~y[order], axis=1)[:, ends]
    out = np.full((len(W), len(grid)), np.nan)
    for i in range(len(W)):
        if tps[i, -1] > 0 and fps[i, -1] > 0:
            out[i] = np.interp(grid, np.r_[0.0, fps[i] / fps[i, -1]], np.r_[0.0, tps[i] / tps[i, -1]])
    return out


def roc_band(y_bool, score, groups=None, n_boot: int = 1000, seed: int = 0, grid: np.ndarray = FPR_GRID,
             level: float = 0.95) -> dict:
    """The pooled ROC curve on ``grid`` (false positive rates) and its pointwise bootstrap band:
    {"fpr", "tpr", "lower", "upper", "n_valid"}. Patients (``groups``; None: rows) are resampled with all
    their rows, ``n_boot`` times with ``seed`` (bootstrap.bootstrap_weights); resamples without both classes
    are left out (``n_valid``: those kept)."""
    y, s = _check(y_bool, score)
    grid = np.asarray(grid, dtype=float)
    values = np.concatenate([weighted_roc(y, s, W, grid) for W in _weights(len(y), groups, n_boot, seed)])
    lower, upper, n_valid = _percentiles(values, level)
    return {"fpr": grid, "tpr": weighted_roc(y, s, np.ones((1, len(y))), grid)[0], "lower": lower,
            "upper": upper, "n_valid": n_valid}


# --- Flexible calibration ---------------------------------------------------------------------------------

def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(p / (1.0 - p))


def spline_knots(z, n_knots: int) -> np.ndarray:
    """Knots of a restricted cubic spline of ``z`` at Harrell's percentiles (KNOT_PERCENTILES), distinct."""
    return np.unique(np.percentile(np.asarray(z, dtype=float), KNOT_PERCENTILES[n_knots]))


def spline_basis(z, knots: Sequence[float]) -> np.ndarray:
    """Design matrix of a restricted (natural) cubic spline of ``z`` (Harrell's parametrisation): a column of
    ones, z, and one column per knot but the last two; linear beyond the outer knots. Fewer than three knots:
    ones and z (a straight line on the logit scale)."""
    z = np.asarray(z, dtype=float)
    t = np.asarray(knots, dtype=float)
    cols = [np.ones_like(z), z]
    if len(t) >= 3:
        k, scale = len(t), (t[-1] - t[0]) ** 2
        cube = lambda c: np.maximum(z - c, 0.0) ** 3  # noqa: E731
        for j in range(k - 2):
            cols.append((cube(t[j]) - cube(t[k - 2]) * (t[k - 1] - t[j]) / (t[k - 1] - t[k - 2])
                         + cube(t[k - 1]) * (t[k - 2] - t[j]) / (t[k - 1] - t[k - 2])) / scale)
    return np.column_stack(cols)


def weighted_logistic(X: np.ndarray, y, W: np.ndarray, start: Optional[np.ndarray] = None,
                      iterations: int = NEWTON_ITERATIONS) -> np.ndarray:
    """Unpenalised maximum-likelihood logistic regression of ``y`` on ``X`` for every row of weights ``W``
    (resamples x rows) at once, by Newton's method from ``start`` (default: logit P = the second column,
    perfect calibration; resamples start at the fit on every row, a few steps away). Coefficients (resamples x
    columns); NaN rows where it does not converge (e.g. separation in a resample)."""
    from scipy.special import expit

    y = np.asarray(y, dtype=float)
    W = np.atleast_2d(np.asarray(W, dtype=float))
    k = X.shape[1]
    if start is None:
        start = np.zeros(k)
        start[1] = 1.0
    beta = np.tile(np.asarray(start, dtype=float), (len(W), 1))
    upper = np.triu_indices(k)  # the Hessian is symmetric: its upper triangle from x_i x_j (i <= j) of each row
    products = X[:, upper[0]] * X[:, upper[1]]
    done = np.zeros(len(W), dtype=bool)
    # A multiple of the identity added to the Hessian keeps every resample's system solvable (a Hessian
    # vanishes where a resample separates the outcomes); it changes the steps, not where they stop (the
    # gradient is zero at the maximum).
    jitter = 1e-9 * np.eye(k)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(iterations):
            todo = np.flatnonzero(~done)  # only the resamples still moving
            if not len(todo):
                break
            b, w = beta[todo], W[todo]
            mu = expit(b @ X.T)
            gradient = (w * (y - mu)) @ X
            hessian = np.empty((len(todo), k, k))
            hessian[:, upper[0], upper[1]] = (w * mu * (1.0 - mu)) @ products
            hessian[:, upper[1], upper[0]] = hessian[:, upper[0], upper[1]]
            hessian += jitter
            step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
            b = b + step
            diverged = ~np.isfinite(b).all(axis=1) | (np.abs(b).max(axis=1) > DIVERGED)
            b[diverged] = np.nan
            beta[todo] = b
            # Newton converges quadratically: after a step this small the error is of the order of its square
            done[todo] = diverged | (np.abs(step).max(axis=1) < 1e-7 * (1.0 + np.abs(b).max(axis=1)))
        converged = done & np.isfinite(beta).all(axis=1)
    beta[~converged] = np.nan
    return beta


def calibration_band(y_bool, p, groups=None, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     n_knots: Optional[int] = None, risk: Optional[np.ndarray] = None) -> dict:
    """A flexible calibration curve: the observed risk as a logistic regression on a restricted cubic spline of
    logit(p) (knots at Harrell's percentiles of logit(p): 4 where each outcome has FOUR_KNOTS_MIN_EVENTS
    patients, else 3), at ``risk`` (default RISK_POINTS from the smallest to the largest prediction), and,
    with ``n_boot``, its pointwise band over patient-bootstrap resamples (the knots stay those of all rows).
    {"risk", "observed", "lower", "upper", "n_valid", "knots"} (knots on the logit scale; no band: lower and
    upper None, n_valid 0)."""
    y, p = _check(y_bool, p)
    z = logit(p)
    if n_knots is None:
        n_knots = 4 if min(y.sum(), (~y).sum()) >= FOUR_KNOTS_MIN_EVENTS else 3
    if n_knots not in KNOT_PERCENTILES:
        raise ValueError(f"n_knots must be one of {sorted(KNOT_PERCENTILES)}; got {n_knots}")
    knots = spline_knots(z, n_knots)
    X = spline_basis(z, knots)
    if risk is None:
        risk = np.linspace(p.min(), p.max(), RISK_POINTS)
    risk = np.asarray(risk, dtype=float)
    at = spline_basis(logit(risk), knots)
    from scipy.special import expit

    fit = weighted_logistic(X, y, np.ones((1, len(y))))[0]
    observed = expit(at @ fit)
    result = {"risk": risk, "observed": observed, "lower": None, "upper": None, "n_valid": 0, "knots": knots}
    if n_boot:
        values = np.concatenate([expit(weighted_logistic(X, y, W, start=fit) @ at.T)
                                 for W in _weights(len(y), groups, n_boot, seed)])
        result["lower"], result["upper"], result["n_valid"] = _percentiles(values, level)
    return result


# --- Decision curve -----------------------------------------------------------------------------------------

def weighted_net_benefit(y_bool, p, W: np.ndarray, thresholds) -> np.ndarray:
    """Net benefit TP/n - FP/n * t/(1 - t) (predicted positive iff p >= t) at each threshold for every row of
    weights ``W`` (resamples x rows): resamples x thresholds."""
    y, p = _check(y_bool, p)
    return _NetBenefit(y, p, thresholds)(W)


class _NetBenefit:
    """Net benefit at ``thresholds`` on weighted rows: the weights of events and non-events summed from the
    highest risk down (one cumulative sum per resample), read where each threshold cuts."""

    def __init__(self, y: np.ndarray, p: np.ndarray, thresholds):
        self.t = np.asarray(thresholds, dtype=float)
        self.order = np.argsort(-p, kind="stable")
        self.y = y[self.order]
        # rows with p >= t: the first `cut` rows in descending order of p
        self.cut = np.searchsorted(-p[self.order], -self.t, side="right")

    def __call__(self, W) -> np.ndarray:
        W = np.atleast_2d(np.asarray(W, dtype=float))[:, self.order]
        n = W.sum(axis=1, keepdims=True)
        tp = np.concatenate([np.zeros((len(W), 1)), np.cumsum(W * self.y, axis=1)], axis=1)[:, self.cut]
        fp = np.concatenate([np.zeros((len(W), 1)), np.cumsum(W * ~self.y, axis=1)], axis=1)[:, self.cut]
        return tp / n - fp / n * (self.t / (1.0 - self.t))


def net_benefit_band(y_bool, p, thresholds, groups=None, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """The model's net benefit at each threshold with its pointwise patient-bootstrap band:
    {"threshold", "net_benefit", "lower", "upper", "n_valid"}."""
    y, p = _check(y_bool, p)
    t = np.asarray(thresholds, dtype=float)
    if t.ndim != 1 or not ((t >= 0) & (t < 1)).all():
        raise ValueError("decision curve thresholds must be numbers in [0, 1)")
    evaluate = _NetBenefit(y, p, t)
    values = np.concatenate([evaluate(W) for W in _weights(len(y), groups, n_boot, seed)])
    lower, upper, n_valid = _percentiles(values, level)
    return {"threshold": t, "net_benefit": evaluate(np.ones((1, len(y))))[0],
            "lower": lower, "upper": upper, "n_valid": n_valid}


# --- A job's curves -----------------------------------------------------------------------------------------

def prediction_curves(predictions, classes, *, n_boot: int, seed: int,
                      thresholds: Optional[Sequence[float]] = None) -> dict:
    """The curves of a classification job's out-of-fold ``predictions`` (predictions.csv: y_true,
    proba_<class>, patient or row): {"roc": roc_band (binary, with ``n_boot``) or None, "calibration":
    {class: calibration_band} (binary: the positive class, with its band; multiclass: each class one-vs-rest,
    without), "decision_curve": net_benefit_band at ``thresholds`` (binary, with ``n_boot``) or None, "risks":
    the positive class's probabilities (binary) or None}. Patients are resampled as the metrics' intervals
    resample them (counts.prediction_patients, the same ``seed``); a calibration curve whose fit does not
    converge is left out."""
    from medsweep.evaluate.counts import prediction_patients

    classes = [str(c) for c in classes]
    y = predictions["y_true"].astype(str).to_numpy()
    proba = predictions[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
    patients = prediction_patients(predictions)
    out: dict = {"roc": None, "calibration": {}, "decision_curve": None, "risks": None}
    binary = len(classes) == 2
    shown = [1] if binary else range(len(classes))
    for k in shown:
        y_k = y == classes[k]
        if y_k.all() or not y_k.any():
            continue
        curve = calibration_band(y_k, proba[:, k], patients, n_boot=n_boot if binary else 0, seed=seed)
        if np.isfinite(curve["observed"]).all():
            out["calibration"][classes[k]] = curve
    if binary:
        y_pos, p = y == classes[1], proba[:, 1]
        out["risks"] = p
        if n_boot and y_pos.any() and not y_pos.all():
            out["roc"] = roc_band(y_pos, p, patients, n_boot=n_boot, seed=seed)
        if n_boot and thresholds is not None and len(thresholds):
            out["decision_curve"] = net_benefit_band(y_pos, p, thresholds, patients, n_boot=n_boot, seed=seed)
    return out
