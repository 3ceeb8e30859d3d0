"""Calibration (TRIPOD+AI item 12e/23a): how far predicted risks are from observed frequencies. Binary
(calibration), one-vs-rest per class (multiclass_calibration) and regression (regression_calibration), each
as a JSON-ready dict; and the same statistics on weighted rows (WeightedCalibration,
WeightedRegressionCalibration) for their bootstrap intervals (bootstrap.resampled_intervals)."""

from __future__ import annotations

from typing import Optional

import numpy as np

from medsweep.evaluate.bootstrap import resampled_intervals
from medsweep.evaluate.scores import weighted_sum as _dot

# Probabilities are clipped to [EPS, 1 - EPS] before their logit is taken (calibration slope, CITL).
LOGIT_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(p / (1.0 - p))


def _quantile_bins(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin of each value: scikit-learn's calibration_curve(strategy="quantile") binning."""
    edges = np.percentile(x, np.linspace(0, 100, n_bins + 1))
    return np.searchsorted(edges[1:-1], x)


def _binned_curve(pred: np.ndarray, observed: np.ndarray, n_bins: int) -> dict:
    ids = _quantile_bins(pred, n_bins)
    count = np.bincount(ids, minlength=n_bins)
    keep = count > 0
    mean_pred = np.bincount(ids, weights=pred, minlength=n_bins)[keep] / count[keep]
    mean_obs = np.bincount(ids, weights=observed, minlength=n_bins)[keep] / count[keep]
    return {"predicted": [float(v) for v in mean_pred], "observed": [float(v) for v in mean_obs],
            "count": [int(v) for v in count[keep]]}


def _offset_intercept(y: np.ndarray, offset: np.ndarray) -> Optional[float]:
    """MLE of a in logit P(y) = a + offset: the root of sum(y - expit(a + offset)) = 0 (monotone in a)."""
    from scipy.optimize import brentq
    from scipy.special import expit

    events = float(y.sum())
    if events == 0 or events == len(y):
        return None
    bound = float(np.abs(offset).max()) + 50.0
    return float(brentq(lambda a: expit(a + offset).sum() - events, -bound, bound, xtol=1e-12, rtol=1e-15,
                        maxiter=500))


def _logistic_fit(z: np.ndarray, y: np.ndarray, max_iter: int = 100) -> Optional[tuple[float, float]]:
    """(a, b): the unpenalised maximum-likelihood fit of logit P(y) = a + b z, by Newton's method with step
    halving, started at perfect calibration (0, 1). Written here because it has two parameters: scikit-learn's
    LogisticRegression(C=inf) spends ~25 ms per fit on set-up and a tight tolerance, Newton well under 1 ms
    (the same estimate: both maximise the same likelihood; checked against scipy in the tests). None when it
    does not converge."""
    from scipy.special import expit, log_expit

    X = np.column_stack([np.ones_like(z), z])

    def loglik(beta: np.ndarray) -> float:
        eta = X @ beta
        return float(np.sum(y * log_expit(eta) + (1.0 - y) * log_expit(-eta)))

    beta, current = np.array([0.0, 1.0]), None
    current = loglik(beta)
    for _ in range(max_iter):
        mu = expit(X @ beta)
        hessian = (X * (mu * (1.0 - mu))[:, None]).T @ X
        try:
            step = np.linalg.solve(hessian, X.T @ (y - mu))
        except np.linalg.LinAlgError:
            return None
        for _ in range(50):  # step halving: never accept a step that lowers the likelihood
            candidate = loglik(beta + step)
            if candidate >= current - 1e-12 * abs(current):
                break
            step /= 2.0
        beta, current = beta + step, candidate
        if np.max(np.abs(step)) < 1e-10 * (1.0 + np.max(np.abs(beta))):
            return float(beta[0]), float(beta[1])
    return None


def calibration(y_bool, p, n_bins: int = 10) -> dict:
    """Calibration of the probability ``p`` of a binary outcome ``y_bool``.

    Returns {"kind": "binary", "n", "events", "n_bins",
             "curve": {"predicted": [...], "observed": [...], "count": [...]},  (quantile bins, empty ones left out)
             "slope", "intercept", "citl", "ece", "brier", "note"}:
      slope, intercept  b and a of the unpenalised logistic regression y ~ a + b * logit(p) (1 and 0 ideal;
                        slope < 1: over-confident). None where undefined (one class, constant p, or classes
                        perfectly separated by p: the fit diverges), with ``note`` saying why.
      citl              calibration-in-the-large: a of y ~ a + offset(logit(p)) (slope fixed at 1; 0 ideal,
                        > 0: risks under-estimated). None with one class.
      ece               expected calibration error: sum over bins of count/n * |observed - predicted|.
    p is clipped to [1e-6, 1 - 1e-6] before its logit is taken. The curve is
    sklearn.calibration.calibration_curve(y, p, n_bins, strategy="quantile"), with each bin's count.
    """
    y = np.asarray(y_bool, dtype=bool)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1 or not len(y):
        raise ValueError(f"y_bool and p must be 1-D of the same length; got {y.shape} and {p.shape}")
    curve = _binned_curve(p, y.astype(float), n_bins)
    n, events = len(y), int(y.sum())
    ece = sum(c / n * abs(o - q) for c, o, q in zip(curve["count"], curve["observed"], curve["predicted"]))
    z = _logit(p)
    slope = intercept = None
    note = ""
    if events in (0, n):
        note = "one class only: slope, intercept and CITL undefined"
    elif np.ptp(z) == 0:
        note = "constant predictions: slope undefined"
    elif z[y].min() > z[~y].max():
        note = "classes perfectly separated by p: slope infinite"
    else:
        fit = _logistic_fit(z, y.astype(float))
        if fit is None:
            note = "logistic calibration fit did not converge: slope undefined"
        else:
            intercept, slope = fit
    return {"kind": "binary", "n": n, "events": events, "n_bins": int(n_bins), "curve": curve,
            "slope": slope, "intercept": intercept, "citl": _offset_intercept(y.astype(float), z),
            "ece": float(ece), "brier": float(np.mean((p - y) ** 2)), "note": note}


class WeightedCalibration:
    """The calibration statistics of calibration() (slope, intercept, citl, ece) of a binary outcome on
    weighted rows, for many weight vectors at once (``self(W)``; integer weights = repeated rows, as in
    the metrics' bootstrap); NaN where undefined (one class, constant or perfectly separating predictions, no
    convergence), as calibration() gives None."""

    def __init__(self, y_bool, p, n_bins: int = 10):
        self.y = np.asarray(y_bool, dtype=float)
        self.p = np.asarray(p, dtype=float)
        self.z = _logit(self.p)
        self.n_bins = n_bins
        # Newton starts from the fit on every row: a resample's fit lies near it (a few steps, not ~8).
        full = _logistic_fit(self.z, self.y) if 0 < self.y.sum() < len(self.y) and np.ptp(self.z) > 0 else None
        self.start = full if full is not None else (0.0, 1.0)
        citl = _offset_intercept(self.y, self.z)
        self.citl_start = 0.0 if citl is None else citl
        self.order = np.argsort(self.p, kind="stable")

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        W = np.atleast_2d(np.asarray(W, dtype=float))
        y, z = self.y, self.z
        drawn = W > 0
        events, total = _dot(W, y), W.sum(axis=1)
        both = (events > 0) & (events < total)
        zmin = np.where(drawn, z, np.inf).min(axis=1)
        zmax = np.where(drawn, z, -np.inf).max(axis=1)
        separated = (np.where(drawn & (y == 1), z, np.inf).min(axis=1)
                     > np.where(drawn & (y == 0), z, -np.inf).max(axis=1))
        fit = both & (zmax > zmin) & ~separated
        intercept, slope = _weighted_logistic_fits(z, y, W, fit, self.start)
        return {"slope": slope, "intercept": intercept,
                "citl": _weighted_offset_intercepts(z, y, W, both, self.citl_start),
                "ece": self._ece(W)}

    def _ece(self, W: np.ndarray) -> np.ndarray:
        """ECE of each resample as calibration() computes it on the repeated rows: bin edges at numpy's
        linear-interpolation percentiles of the resample's predictions, each bin's |sum(y) - sum(p)| / n.
        Works on the sorted predictions: cumulative weights find each edge, cumulative sums each bin."""
        order = self.order
        ps, ys, Ws = self.p[order], self.y[order], W[:, order]
        B, n = Ws.shape
        cum = np.cumsum(Ws, axis=1)
        total = cum[:, -1]
        # The value at index k of a resample's repeated sorted predictions: the first row whose cumulative
        # weight exceeds k, found in all resamples at once by offsetting each resample's cumulative weights.
        span = float(total.max()) + 1.0
        flat = (cum + (np.arange(B) * span)[:, None]).ravel()

        def value_at(k: np.ndarray) -> np.ndarray:
            pos = np.searchsorted(flat, k + np.arange(B) * span, side="right") - np.arange(B) * n
            return ps[np.minimum(pos, n - 1)]

        edges = []
        for q in np.linspace(0, 100, self.n_bins + 1)[1:-1] / 100.0:
            h = q * (total - 1.0)  # virtual index of np.percentile(..., method="linear")
            lo = np.floor(h)
            at_lo, at_hi, t = value_at(lo), value_at(lo + 1.0), h - lo
            # numpy's _lerp: a + (b - a) t, computed from the far end for t >= 0.5 (the same bits)
            edges.append(np.where(t >= 0.5, at_hi - (at_hi - at_lo) * (1.0 - t), at_lo + (at_hi - at_lo) * t))
        # Bin b holds the sorted rows from starts[b] on (np.searchsorted(edges, p) counts the edges below p).
        starts = np.column_stack([np.zeros(B, dtype=np.int64)]
                                 + [np.searchsorted(ps, e, side="right") for e in edges] + [np.full(B, n)])
        gap = np.zeros((B, 1))
        cy = np.hstack([gap, np.cumsum(Ws * ys, axis=1)])
        cp = np.hstack([gap, np.cumsum(Ws * ps, axis=1)])
        rows = np.arange(B)[:, None]
        diff = (np.diff(cy[rows, starts], axis=1) - np.diff(cp[rows, starts], axis=1))
        return np.abs(diff).sum(axis=1) / total


def _weighted_logistic_fits(z: np.ndarray, y: np.ndarray, W: np.ndarray, fit: np.ndarray,
                            start: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of logit P(y) = a + b z by weighted maximum likelihood for each row of W where ``fit`` (NaN
    elsewhere): Newton's method on all of them at once from ``start``; a resample it does not settle in 25
    steps is fitted alone by _logistic_fit (step halving) on its repeated rows."""
    from scipy.special import expit

    a, b = np.full(len(W), float(start[0])), np.full(len(W), float(start[1]))
    active = fit.copy()
    done = np.zeros(len(W), dtype=bool)
    wy, wyz = _dot(W, y), _dot(W, y * z)
    for _ in range(25):
        idx = np.flatnonzero(active & ~done)
        if not idx.size:
            break
        Wi = W if idx.size == len(W) else W[idx]
        mu = expit(a[idx, None] + b[idx, None] * z)
        wmu = Wi * mu
        h = wmu - wmu * mu  # w mu (1 - mu)
        hz = h * z
        g0, g1 = wy[idx] - wmu.sum(axis=1), wyz[idx] - _dot(wmu, z)  # the score: sum w (y - mu) (1, z)
        h00, h01, h11 = h.sum(axis=1), hz.sum(axis=1), _dot(hz, z)
        det = h00 * h11 - h01 ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        ok = np.isfinite(da) & np.isfinite(db)
        a[idx[ok]] += da[ok]
        b[idx[ok]] += db[ok]
        done[idx[~ok]] = True  # singular: left to the careful fit below
        step = np.maximum(np.abs(da), np.abs(db))
        converged = ok & (step < 1e-10 * (1.0 + np.maximum(np.abs(a[idx]), np.abs(b[idx]))))
        done[idx[converged]] = True
        active[idx[~ok]] = False
    settled = fit & done & active
    for i in np.flatnonzero(fit & ~settled):
        rows = np.repeat(np.arange(W.shape[1]), W[i].astype(int))
        one = _logistic_fit(z[rows], y[rows])
        a[i], b[i] = one if one is not None else (np.nan, np.nan)
        settled[i] = one is not None
    a[~settled], b[~settled] = np.nan, np.nan
    return a, b


def _weighted_offset_intercepts(z: np.ndarray, y: np.ndarray, W: np.ndarray, defined: np.ndarray,
                                start: float = 0.0) -> np.ndarray:
    """a of logit P(y) = a + z (calibration-in-the-large) for each row of W where ``defined``: the root of
    sum w (y - expit(a + z)) = 0, by Newton's method kept inside a shrinking bracket (the sum is monotone)."""
    from scipy.special import expit

    events = _dot(W, y)
    bound = float(np.abs(z).max()) + 50.0
    lo, hi = np.full(len(W), -bound), np.full(len(W), bound)
    a = np.full(len(W), float(start))
    for _ in range(200):
        mu = expit(a[:, None] + z)
        f = _dot(W, mu) - events
        slope = _dot(W, mu * (1.0 - mu))
        lo, hi = np.where(f < 0, a, lo), np.where(f > 0, a, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = a - f / slope
        outside = ~np.isfinite(new) | (new <= lo) | (new >= hi)
        new = np.where(outside, (lo + hi) / 2.0, new)
        if np.all(np.abs(new - a) <= 1e-12 * (1.0 + np.abs(a))):
            a = new
            break
        a = new
    return np.where(defined, a, np.nan)


class WeightedRegressionCalibration:
    """regression_calibration's slope, intercept (least squares of observed on predicted) and citl (mean of
    observed - predicted) on weighted rows."""

    def __init__(self, y, pred):
        self.y, self.pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        W = np.atleast_2d(np.asarray(W, dtype=float))
        total = W.sum(axis=1)
        pbar, ybar = _dot(W, self.pred) / total, _dot(W, self.y) / total
        dp = self.pred - pbar[:, None]
        ss = (W * dp * dp).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(ss > 1e-12 * (W * self.pred ** 2).sum(axis=1),
                             (W * dp * (self.y - ybar[:, None])).sum(axis=1) / ss, np.nan)
        return {"slope": slope, "intercept": ybar - slope * pbar, "citl": ybar - pbar}



def multiclass_calibration(y_true, proba, classes, n_bins: int = 10) -> dict:
    """One-vs-rest calibration of each class's probability:
    {"kind": "multiclass", "classes": {str(class): calibration(y_true == class, proba[:, k], n_bins)}}."""
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    return {"kind": "multiclass",
            "classes": {str(c): calibration(y_true == c, proba[:, k], n_bins) for k, c in enumerate(classes)}}


def regression_calibration(y, pred, n_bins: int = 10) -> dict:
    """Calibration of continuous predictions: {"kind": "regression", "n", "n_bins", "curve" (mean predicted,
    mean observed and count per quantile bin of the predictions), "slope", "intercept" (OLS fit of observed
    on predicted: 1 and 0 ideal; None where the predictions are constant), "citl" (mean of observed -
    predicted: 0 ideal), "note"}."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    if y.shape != pred.shape or y.ndim != 1 or not len(y):
        raise ValueError(f"y and pred must be 1-D of the same length; got {y.shape} and {pred.shape}")
    dp = pred - pred.mean()
    ss = float(dp @ dp)
    slope = intercept = None
    note = ""
    if ss > 0:
        slope = float(dp @ (y - y.mean()) / ss)
        intercept = float(y.mean() - slope * pred.mean())
    else:
        note = "constant predictions: slope undefined"
    return {"kind": "regression", "n": len(y), "n_bins": int(n_bins), "curve": _binned_curve(pred, y, n_bins),
            "slope": slope, "intercept": intercept, "citl": float(np.mean(y - pred)), "note": note}


def calibration_report(y_true, out, classes, task: str, n_bins: int = 10) -> dict:
    """The calibration of a job: binary -> calibration(y == classes[1], proba[:, 1]); multiclass ->
    multiclass_calibration; regression -> regression_calibration. Dispatches on ``task`` and ``classes``."""
    if task == "regression":
        return regression_calibration(y_true, out, n_bins)
    if len(classes) == 2:
        return calibration(np.asarray(y_true) == classes[1], np.asarray(out, dtype=float)[:, 1], n_bins)
    return multiclass_calibration(y_true, out, classes, n_bins)



def calibration_evidence(y_true, out, classes, task: str, patients, n_boot: int, seed: int, method: str) -> dict:
    """A job's calibration_report; with ``n_boot`` resamples, each statistic (slope, intercept, citl; ece
    for classification) of each calibration dict gets "interval": {stat: {"lower", "upper",
    "dropped_resamples"}} from the patient bootstrap (``patients``, ``seed``: the metrics' resamples)."""
    report = calibration_report(y_true, out, classes, task)
    if not n_boot:
        return report
    if task == "regression":
        parts = [(report, WeightedRegressionCalibration(y_true, out))]
    else:
        per_class = {classes[1]: report} if len(classes) == 2 else {c: report["classes"][str(c)] for c in classes}
        parts = [(per_class[c], WeightedCalibration(y_true == c, out[:, k]))
                 for k, c in enumerate(classes) if c in per_class]
    for record, evaluate in parts:
        intervals = resampled_intervals(evaluate, len(y_true), patients, n_boot, seed, 0.95, method)
        record["interval"] = {name: {"lower": ci["lower"], "upper": ci["upper"],
                                     "dropped_resamples": n_boot - ci["n_valid"]} for name, ci in intervals.items()}
    return report
