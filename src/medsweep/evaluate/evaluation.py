"""Evidence a clinical reviewer asks for (TRIPOD+AI items 12e, 15, 21, 23a), computed from a job's
out-of-fold predictions: confidence intervals (percentile or BCa, patient-level bootstrap) of every metric,
of the calibration statistics and of net benefit, calibration, decision curve analysis, subgroups, counts
and warnings (the operating point is chosen in operating_point.py).

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
import numbers
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.metrics import (METRICS, classification_metrics, metric_names, primary_metric,
                                       regression_metrics)
from medsweep.evaluate.scores import WeightedPredictions, task_kind, weighted_sum as _dot

# Resample weights held in memory at once (resamples x rows): 128 Ki float64 = 1 MB, and the dozen arrays
# the metrics derive from them, stay in the CPU's caches: 2-3x faster than 1 M cells (1,000 resamples of 569
# rows: 26 -> 13 ms; 5,000 rows: 212 -> 114 ms). The resamples, hence every value, are the same whatever
# the chunk (tests/test_evaluation.py).
MAX_WEIGHT_CELLS = 131_072
# Probabilities are clipped to [EPS, 1 - EPS] before their logit is taken (calibration slope, CITL).
LOGIT_EPS = 1e-6
# Thresholds of the decision curve when none are given: 1% to 99%.
DCA_THRESHOLDS = tuple(round(t / 100, 2) for t in range(1, 100))


# --------------------------------------------------------------------------------------------------------
# Metrics of weighted resamples, all resamples at once
# --------------------------------------------------------------------------------------------------------

class _WeightedMetrics:
    """The registry's metrics (metrics.METRICS) of one task's predictions on weighted rows: ``self(W)`` with W
    a (resamples x rows) matrix of weights gives {name: array of one value per resample}, for ``metrics``
    (default: those the task reports). A weight is how often the row is in the resample, so integer weights
    give exactly the metrics of the repeated rows."""

    def __init__(self, y_true, out, classes, task: str, threshold: Optional[float] = None,
                 metrics: Optional[Sequence[str]] = None):
        self.prepared = WeightedPredictions(y_true, out, classes, task, threshold)
        self.names = metric_names(self.prepared.kind) if metrics is None else tuple(metrics)

    def __call__(self, W: np.ndarray) -> dict[str, np.ndarray]:
        scores = self.prepared.scores(W)
        return {name: METRICS[name].resampled(scores) for name in self.names}


def resample_metrics(y_true, out, classes, task: str, weights, threshold: Optional[float] = None,
                     metrics: Optional[Sequence[str]] = None) -> dict[str, np.ndarray]:
    """Every metric of the task (metrics.py's definitions) for each row of ``weights`` (resamples x rows;
    a weight is how many times the row is drawn): {name: array of one value per resample}.

    Integer weights give the metrics of the rows repeated that many times (``np.repeat``), computed for all
    resamples at once. NaN where a metric is undefined in a resample: ROC-AUC, PR-AUC and balanced accuracy
    where a class is absent (metrics.py would fail, or average fewer classes); binary sensitivity without
    positives, specificity without negatives; multiclass specificity (a macro average) where a class is
    absent; R2 where every drawn target is equal. f1, ppv and npv are 0 where undefined, as in
    metrics.py; accuracy and Brier are always defined; MCC is 0 where undefined, as in metrics.py.
    ``metrics``: the names to compute (default: those the task reports).
    """
    return resample_scorer(y_true, out, classes, task, threshold, metrics)(weights)


def resample_scorer(y_true, out, classes, task: str, threshold: Optional[float] = None,
                    metrics: Optional[Sequence[str]] = None):
    """resample_metrics with its data bound, for scoring many weight matrices of the same predictions: the
    checks, class coding and ranks are done once. Called with ``weights``, it returns what resample_metrics
    returns."""
    return _WeightedMetrics(y_true, out, classes, task, threshold, metrics)


def bootstrap_weights(n_rows: int, groups=None, n_boot: int = 1000, seed: int = 0,
                      max_cells: Optional[int] = None) -> Iterator[np.ndarray]:
    """The bootstrap resamples as weight matrices (resamples x rows, float), in chunks of at most
    ``max_cells`` cells. With ``groups`` (the patient of each row): patients are drawn with replacement and
    each row weighs as often as its patient is drawn (cluster bootstrap); without: rows are drawn.
    Each resample draws as many units (patients, or rows) as there are, with replacement; seeded with
    ``numpy.random.default_rng(seed)``: the same arguments give the same resamples."""
    if groups is None:
        codes, units = None, n_rows
    else:
        groups = pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series) else groups
                           ).reset_index(drop=True)
        if len(groups) != n_rows:
            raise ValueError(f"groups has {len(groups)} values for {n_rows} rows")
        if groups.isna().any():
            raise ValueError(f"groups has {int(groups.isna().sum())} missing patient ids")
        codes, uniques = pd.factorize(groups)
        units = len(uniques)
    if n_rows == 0 or n_boot < 1:
        raise ValueError(f"bootstrap needs rows and n_boot >= 1; got {n_rows} rows, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, (max_cells or MAX_WEIGHT_CELLS) // max(n_rows, units)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        # b resamples of `units` draws with replacement, as counts per unit (multinomial; bincount is faster).
        draws = rng.integers(0, units, size=(b, units))
        draws += (np.arange(b) * units)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * units).reshape(b, units).astype(float)
        yield counts if codes is None else np.take(counts, codes, axis=1)


def bootstrap_values(y_true, out, classes, task: str, groups=None, n_boot: int = 1000, seed: int = 0,
                     threshold: Optional[float] = None, metrics: Optional[Sequence[str]] = None
                     ) -> dict[str, np.ndarray]:
    """Every metric on each of ``n_boot`` bootstrap resamples (see bootstrap_weights, resample_metrics):
    {name: array of n_boot values, NaN where undefined}. Two models evaluated on the same rows with the same
    groups and seed get the same resamples (paired)."""
    return _over_weights(_WeightedMetrics(y_true, out, classes, task, threshold, metrics),
                         bootstrap_weights(len(y_true), groups, n_boot, seed))


def _over_weights(evaluate, weights: Iterator[np.ndarray]) -> dict[str, np.ndarray]:
    """{name: values of every weight row}: ``evaluate`` (W -> {name: array}) on each chunk, concatenated."""
    parts = [evaluate(W) for W in weights]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


# Patients above which BCa's jackknife leaves out groups of patients rather than single ones: the
# jackknife costs (units x rows) cells, the bootstrap (n_boot x rows); a grouped jackknife estimates the
# same acceleration (the skewness of the influence values) from JACKKNIFE_MAX_UNITS groups.
JACKKNIFE_MAX_UNITS = 2000
INTERVAL_METHODS = ("percentile", "bca")


def jackknife_units(n_rows: int, groups=None, seed: int = 0) -> tuple[np.ndarray, int]:
    """(unit of each row, number of units) of the jackknife: each patient (``groups``; None: each row), or,
    above JACKKNIFE_MAX_UNITS patients, JACKKNIFE_MAX_UNITS groups of patients (seeded, sizes within one)."""
    codes = np.arange(n_rows) if groups is None else pd.factorize(pd.Series(np.asarray(groups, dtype=object)))[0]
    units = int(codes.max()) + 1 if n_rows else 0
    if units > JACKKNIFE_MAX_UNITS:
        group_of = np.random.default_rng(seed).permutation(units) % JACKKNIFE_MAX_UNITS
        return group_of[codes], JACKKNIFE_MAX_UNITS
    return codes, units


def jackknife_weights(n_rows: int, groups=None, seed: int = 0, max_cells: Optional[int] = None
                      ) -> Iterator[np.ndarray]:
    """Leave-one-unit-out weight matrices (units x rows, in chunks): row i weighs 0 on the rows of unit i
    (a patient, see jackknife_units) and 1 elsewhere."""
    codes, units = jackknife_units(n_rows, groups, seed)
    chunk = max(1, min(units, (max_cells or MAX_WEIGHT_CELLS) // max(n_rows, 1)))
    for start in range(0, units, chunk):
        ids = np.arange(start, min(units, start + chunk))
        yield (codes[None, :] != ids[:, None]).astype(float)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> dict:
    """{"lower", "upper", "n_valid"}: the percentile interval (numpy's linear interpolation) of the finite
    values; lower and upper are None when no value is finite."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if not finite.size:
        return {"lower": None, "upper": None, "n_valid": 0}
    alpha = (1.0 - level) / 2.0
    lower, upper = np.percentile(finite, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return {"lower": float(lower), "upper": float(upper), "n_valid": int(finite.size)}


def bca_interval(values: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = 0.95) -> dict:
    """{"lower", "upper", "n_valid"}: the bias-corrected and accelerated interval (Efron 1987) of the finite
    bootstrap ``values`` around ``estimate``, with the acceleration from the leave-one-patient-out
    ``jackknife`` estimates: z0 = Phi^-1(share of values below the estimate, ties half);
    a = sum(d^3) / (6 (sum d^2)^1.5), d = mean(jackknife) - jackknife; limits: the percentiles
    Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q))), q = (1 - level)/2 and (1 + level)/2 (numpy's linear
    interpolation, as scipy.stats.bootstrap). None where undefined (no finite value or estimate, every value
    on one side of the estimate)."""
    from scipy.special import ndtr, ndtri

    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if not finite.size or estimate is None or not np.isfinite(estimate):
        return {"lower": None, "upper": None, "n_valid": int(finite.size)}
    below = (np.count_nonzero(finite < estimate) + np.count_nonzero(finite <= estimate)) / (2.0 * finite.size)
    if not 0.0 < below < 1.0:  # z0 infinite: no bias correction exists
        return {"lower": None, "upper": None, "n_valid": int(finite.size)}
    z0 = ndtri(below)
    jack = np.asarray(jackknife, dtype=float)
    jack = jack[np.isfinite(jack)]
    d = jack.mean() - jack if jack.size else np.zeros(1)
    ss = float(np.sum(d ** 2))
    a = float(np.sum(d ** 3)) / (6.0 * ss ** 1.5) if ss > 0 else 0.0
    alpha = (1.0 - level) / 2.0
    z = ndtri(np.array([alpha, 1.0 - alpha]))
    with np.errstate(invalid="ignore", divide="ignore"):
        q = ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z)))
    if not np.isfinite(q).all():
        return {"lower": None, "upper": None, "n_valid": int(finite.size)}
    lower, upper = np.percentile(finite, 100.0 * q)
    return {"lower": float(lower), "upper": float(upper), "n_valid": int(finite.size)}


def _check_interval(method: str, level: float) -> None:
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method {method!r} is not allowed: must be one of {', '.join(INTERVAL_METHODS)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")


def resampled_intervals(evaluate, n_rows: int, groups=None, n_boot: int = 1000, seed: int = 0,
                        level: float = 0.95, method: str = "percentile") -> dict[str, dict]:
    """{name: {"lower", "upper", "n_valid"}} of every statistic ``evaluate`` (W -> {name: array}) gives, by
    bootstrap of patients (``groups``; None: rows): percentile, or BCa around the statistic on every row
    with its jackknife over patients. The resamples are bootstrap_weights(n_rows, groups, n_boot, seed)."""
    _check_interval(method, level)
    values = _over_weights(evaluate, bootstrap_weights(n_rows, groups, n_boot, seed))
    if method == "percentile":
        return {name: percentile_interval(v, level) for name, v in values.items()}
    point = evaluate(np.ones((1, n_rows)))
    jack = _over_weights(evaluate, jackknife_weights(n_rows, groups, seed))
    return {name: bca_interval(v, float(point[name][0]), jack[name], level) for name, v in values.items()}


def bootstrap_intervals(y_true, out, classes, task: str, groups=None, n_boot: int = 1000, seed: int = 0,
                        threshold: Optional[float] = None, level: float = 0.95,
                        method: str = "percentile", metrics: Optional[Sequence[str]] = None) -> dict[str, dict]:
    """Bootstrap confidence intervals (``method`` "percentile" or "bca") of every metric of the task:
    {name: {"lower": float, "upper": float, "n_valid": int}} in the order of metrics.py.

    With ``groups`` (patient per row) patients are resampled with all their rows (cluster bootstrap);
    without, rows. ``n_valid``: resamples in which the metric is defined (out of ``n_boot``); the others are
    dropped (see resample_metrics); lower/upper are None if none is. ``threshold`` (binary): the operating
    point of the threshold metrics, as in metrics.classification_metrics. BCa: see bca_interval (the
    jackknife leaves out one patient at a time). ``metrics``: default, those the task reports.
    """
    return resampled_intervals(_WeightedMetrics(y_true, out, classes, task, threshold, metrics), len(y_true), groups,
                               n_boot, seed, level, method)


def pooled_metrics(y_true, out, classes, task: str, threshold: Optional[float] = None,
                   metrics: Optional[Sequence[str]] = None) -> dict[str, float]:
    """The metrics of metrics.py on all out-of-fold rows at once (the point estimates of the intervals)."""
    if task == "classification":
        return classification_metrics(np.asarray(y_true), np.asarray(out, dtype=float), list(classes), threshold,
                                      metrics)
    return regression_metrics(np.asarray(y_true, dtype=float), np.asarray(out, dtype=float), metrics)


# --------------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------------

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


class _WeightedCalibration:
    """The calibration statistics of calibration() (slope, intercept, citl, ece) of a binary outcome on
    weighted rows, for many weight vectors at once (``self(W)``; integer weights = repeated rows, as in
    _WeightedMetrics); NaN where undefined (one class, constant or perfectly separating predictions, no
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


class _WeightedRegressionCalibration:
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


class _WeightedNetBenefit:
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


# --------------------------------------------------------------------------------------------------------
# Decision curve
# --------------------------------------------------------------------------------------------------------

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


def _patients_per_class(y, g, classes) -> dict:
    """{class: patients with at least one row of it}."""
    return {c: int(pd.unique(g[y == c]).size) for c in classes}


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
    _check_interval(method, level)
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
        overall = float(_WeightedMetrics(y_true, out, classes, task, threshold, [primary])(np.ones((1, n)))[primary][0])
    lower_better = not METRICS[primary].higher_is_better
    records = []
    for label in labels.cat.categories:
        rows = np.flatnonzero((labels == label).to_numpy())
        if not rows.size:
            continue
        y, o, g = y_true[rows], out[rows], patients.iloc[rows].to_numpy()
        t = threshold[rows] if np.ndim(threshold) else threshold  # one per row: each fold's own
        n_patients = int(pd.unique(g).size)
        per_class = _patients_per_class(y, g, classes) if task == "classification" else {}
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
        scorer = _WeightedMetrics(y, o, classes, task, t, shown)
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


def _count(y, g, classes) -> dict:
    rec = {"patients": int(pd.unique(g).size), "rows": int(len(y))}
    if classes is not None:
        rec["events"] = {str(c): int((y == c).sum()) for c in classes}
        rec["patients_with"] = {str(c): int(pd.unique(g[y == c]).size) for c in classes}
    return rec


def counts(y_true, classes, groups, folds) -> dict:
    """Participants and events (TRIPOD+AI 21): {"patients", "rows", "events": {class: rows},
    "patients_with": {class: patients with at least one row of it}, "folds": [{"fold", "patients", "rows",
    "events", "patients_with"}, ...]} (``folds``: the test fold of each row). Regression (classes None):
    no "events" or "patients_with". groups None: each row is a patient."""
    y = np.asarray(y_true)
    g = np.arange(len(y)) if groups is None else np.asarray(groups, dtype=object)
    f = np.asarray(folds)
    out = _count(y, g, classes)
    out["folds"] = [{"fold": int(k) if isinstance(k, (numbers.Integral, np.integer)) else str(k),
                     **_count(y[f == k], g[f == k], classes)} for k in np.unique(f)]
    return out


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


# --------------------------------------------------------------------------------------------------------
# One job's evidence
# --------------------------------------------------------------------------------------------------------

# Thresholds whose net benefit metrics.json records (the whole curve is in decision_curve.png).
NET_BENEFIT_AT = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
INTERVAL_METHOD = "percentile bootstrap of the pooled out-of-fold predictions"
BCA_METHOD = ("BCa bootstrap (bias-corrected and accelerated; acceleration from a jackknife over patients) of the "
              "pooled out-of-fold predictions")
# A test fold with fewer patients of a class than this scores unstable fold metrics (a fold ROC-AUC on 1 or 2
# patients of a class swings from 0 to 1): a warning names the folds and the remedy.
MIN_FOLD_PATIENTS_PER_CLASS = 5


@dataclass
class JobEvidence:
    metrics: dict                        # {metric: {"pooled", "lower", "upper"}}: merged into metrics.json's
    record: dict                         # metrics.json's "evaluation": interval, calibration, decision curve, ...
    decision_curve: Optional[pd.DataFrame]   # binary only
    subgroups: Optional[pd.DataFrame]    # one table for every eval.subgroups column


def prediction_patients(predictions: pd.DataFrame) -> np.ndarray:
    """The patient of each prediction of a predictions.csv-like frame: its ``patient`` column, else its data
    ``row`` (each row is a patient: with repeated cross-validation its predictions of every round are one
    patient's), else its position."""
    for column in ("patient", "row"):
        if column in predictions:
            return predictions[column].to_numpy()
    return np.arange(len(predictions))


def small_fold_warnings(fold_counts: list[dict], classes) -> list[dict]:
    """{"kind": "small_test_fold", "message"} when a test fold holds fewer than MIN_FOLD_PATIENTS_PER_CLASS
    patients of a class (``fold_counts``: counts()["folds"]); none for regression."""
    if classes is None:
        return []
    small = [(f["fold"], c, k) for f in fold_counts for c, k in f["patients_with"].items()
             if k < MIN_FOLD_PATIENTS_PER_CLASS]
    if not small:
        return []
    shown = ", ".join(f"fold {fold}: {k} of class {c}" for fold, c, k in small[:6])
    more = f" and {len(small) - 6} more" if len(small) > 6 else ""
    return [{"kind": "small_test_fold",
             "message": (f"{len({f for f, _, _ in small})} of {len(fold_counts)} test folds hold fewer than "
                         f"{MIN_FOLD_PATIENTS_PER_CLASS} patients of a class ({shown}{more}): their fold metrics, "
                         "hence the mean, SD, ranking and paired t-test, are unstable; use fewer folds "
                         "(trainer.folds) and trainer.repeats to average over more partitions")}]


def _calibration_intervals(record: dict, evaluate, n_rows, patients, n_boot, seed, method) -> None:
    """Adds "interval": {stat: {"lower", "upper", "dropped_resamples"}} to a calibration dict."""
    intervals = resampled_intervals(evaluate, n_rows, patients, n_boot, seed, 0.95, method)
    record["interval"] = {name: {"lower": ci["lower"], "upper": ci["upper"], "dropped_resamples": n_boot - ci["n_valid"]}
                          for name, ci in intervals.items()}


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
    _check_interval(interval, 0.95)
    y = predictions["y_true"].to_numpy()
    out = (predictions[[f"proba_{c}" for c in classes]].to_numpy() if task == "classification"
           else predictions["y_pred"].to_numpy())
    patients = prediction_patients(predictions)
    folds = predictions["fold"].to_numpy()
    threshold = None if thresholds is None else np.asarray(thresholds, dtype=float)[folds]
    names = metric_names(task_kind(task, classes), extra_metrics)
    pooled = pooled_metrics(y, out, classes, task, threshold, names)
    metrics = {name: {"pooled": value} for name, value in pooled.items()}
    repeated = "repeat" in predictions and predictions["repeat"].nunique() > 1
    # Counts of the first round (with repeated cross-validation every row is predicted once per round); the
    # test side of every fold of every round.
    first = (predictions["repeat"] == 0).to_numpy() if "repeat" in predictions else np.ones(len(y), dtype=bool)
    record: dict = {"counts": counts(y[first], classes, patients[first], folds[first])}
    record["counts"]["folds"] = counts(y, classes, patients, folds)["folds"]
    record["warnings"] = small_fold_warnings(record["counts"]["folds"], classes) if len(np.unique(folds)) > 1 else []
    if n_boot:
        intervals = bootstrap_intervals(y, out, classes, task, patients, n_boot, seed, threshold, method=interval,
                                        metrics=names)
        for name, ci in intervals.items():
            metrics[name].update(lower=ci["lower"], upper=ci["upper"])
        resampled = "patients" if grouped else "rows (one per patient)"
        if repeated and not grouped:
            resampled += ", each with its predictions of every round"
        record["interval"] = {"method": INTERVAL_METHOD if interval == "percentile" else BCA_METHOD,
                              "kind": interval, "level": 0.95, "n_boot": n_boot, "seed": seed,
                              "resampled": resampled,
                              # resamples where a metric is undefined (e.g. a class absent) are left out
                              "dropped_resamples": {name: n_boot - ci["n_valid"] for name, ci in intervals.items()
                                                    if ci["n_valid"] < n_boot}}
    record["calibration"] = calibration_report(y, out, classes, task)
    if n_boot:  # the same patient bootstrap (seed) as the metrics' intervals
        cal = record["calibration"]
        if task == "regression":
            _calibration_intervals(cal, _WeightedRegressionCalibration(y, out), len(y), patients, n_boot, seed,
                                   interval)
        else:
            per_class = {classes[1]: cal} if len(classes) == 2 else \
                {c: cal["classes"][str(c)] for c in classes}
            for k, c in enumerate(classes):
                if c in per_class:
                    _calibration_intervals(per_class[c], _WeightedCalibration(y == c, out[:, k]), len(y), patients,
                                           n_boot, seed, interval)
    curve = None
    if task == "classification" and len(classes) == 2:
        grid = np.round(np.arange(dca_range[0], dca_range[1] + 1e-9, 0.01), 4)
        curve = decision_curve(y == classes[1], out[:, 1], grid)
        at = curve.set_index(np.round(curve.threshold, 4))
        reported = {f"{t:g}": t for t in NET_BENEFIT_AT if dca_range[0] <= t <= dca_range[1] and t in at.index}
        record["decision_curve"] = {
            "thresholds": [float(dca_range[0]), float(dca_range[1])],
            "net_benefit": {name: {"model": float(at.net_benefit[t]), "treat_all": float(at.treat_all[t]),
                                   "treat_none": 0.0} for name, t in reported.items()}}
        if n_boot and reported:
            nb = resampled_intervals(_WeightedNetBenefit(y == classes[1], out[:, 1], reported), len(y), patients,
                                     n_boot, seed, 0.95, interval)
            for name, ci in nb.items():
                record["decision_curve"]["net_benefit"][name].update(model_lower=ci["lower"], model_upper=ci["upper"])
    tables = []
    row_ids = predictions["row"].to_numpy() if "row" in predictions else None
    for column, values in subgroup_values.items():
        table = subgroup_table(y, out, classes, task, patients, values, bins=subgroup_bins,
                               min_patients=subgroup_min_patients, n_boot=n_boot or 1000, seed=seed,
                               threshold=threshold, overall=pooled[primary_metric(task)],
                               min_events=subgroup_min_events, method=interval, row_ids=row_ids)
        tables.append(table.assign(column=column)[["column", *table.columns]])
    subgroups = pd.concat(tables, ignore_index=True) if tables else None
    if subgroups is not None:
        flagged = subgroups[subgroups.flag]
        record["subgroups"] = {"columns": list(subgroup_values), "flagged": [
            f"{r.column}={r.subgroup}" for r in flagged.itertuples()]}
    return JobEvidence(metrics=metrics, record=record, decision_curve=curve, subgroups=subgroups)
