"""The patient bootstrap: resamples as weight matrices, every registry metric on all of them at once, the
jackknife over patients that BCa needs, and the intervals (percentile or BCa) of any statistic computed on
weighted rows (metrics here; calibration and net benefit in their modules).

A statistic on weighted rows is a callable ``evaluate(W) -> {name: array of one value per row of W}``, W a
(resamples x rows) matrix of weights, a weight being how often the row is drawn."""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.metrics import METRICS, classification_metrics, metric_names, regression_metrics
from medsweep.evaluate.scores import WeightedPredictions

# Resample weights held in memory at once (resamples x rows): 128 Ki float64 = 1 MB, and the dozen arrays
# the metrics derive from them, stay in the CPU's caches: 2-3x faster than 1 M cells (1,000 resamples of 569
# rows: 26 -> 13 ms; 5,000 rows: 212 -> 114 ms). The resamples, hence every value, are the same whatever
# the chunk (tests/test_evaluation.py).
MAX_WEIGHT_CELLS = 131_072


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


def patient_codes(n_rows: int, groups=None) -> tuple[Optional[np.ndarray], int]:
    """(patient of each row as 0, 1, ... in order of first appearance, number of patients); (None, n_rows)
    without ``groups``. The bootstrap draws these units and the jackknife leaves them out."""
    if groups is None:
        return None, n_rows
    groups = pd.Series(np.asarray(groups, dtype=object) if not isinstance(groups, pd.Series) else groups
                       ).reset_index(drop=True)
    if len(groups) != n_rows:
        raise ValueError(f"groups has {len(groups)} values for {n_rows} rows")
    if groups.isna().any():
        raise ValueError(f"groups has {int(groups.isna().sum())} missing patient ids")
    codes, uniques = pd.factorize(groups)
    return codes, len(uniques)


def bootstrap_weights(n_rows: int, groups=None, n_boot: int = 1000, seed: int = 0,
                      max_cells: Optional[int] = None) -> Iterator[np.ndarray]:
    """The bootstrap resamples as weight matrices (resamples x rows, float), in chunks of at most
    ``max_cells`` cells. With ``groups`` (the patient of each row): patients are drawn with replacement and
    each row weighs as often as its patient is drawn (cluster bootstrap); without: rows are drawn.
    Each resample draws as many units (patients, or rows) as there are, with replacement; seeded with
    ``numpy.random.default_rng(seed)``: the same arguments give the same resamples."""
    codes, units = patient_codes(n_rows, groups)
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
    return over_weights(_WeightedMetrics(y_true, out, classes, task, threshold, metrics),
                         bootstrap_weights(len(y_true), groups, n_boot, seed))


def over_weights(evaluate, weights: Iterator[np.ndarray]) -> dict[str, np.ndarray]:
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
    codes, units = patient_codes(n_rows, groups)
    if codes is None:
        codes = np.arange(n_rows)
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


def check_interval(method: str, level: float) -> None:
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method {method!r} is not allowed: must be one of {', '.join(INTERVAL_METHODS)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")


def resampled_intervals(evaluate, n_rows: int, groups=None, n_boot: int = 1000, seed: int = 0,
                        level: float = 0.95, method: str = "percentile") -> dict[str, dict]:
    """{name: {"lower", "upper", "n_valid"}} of every statistic ``evaluate`` (W -> {name: array}) gives, by
    bootstrap of patients (``groups``; None: rows): percentile, or BCa around the statistic on every row
    with its jackknife over patients. The resamples are bootstrap_weights(n_rows, groups, n_boot, seed)."""
    check_interval(method, level)
    values = over_weights(evaluate, bootstrap_weights(n_rows, groups, n_boot, seed))
    if method == "percentile":
        return {name: percentile_interval(v, level) for name, v in values.items()}
    point = evaluate(np.ones((1, n_rows)))
    jack = over_weights(evaluate, jackknife_weights(n_rows, groups, seed))
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

