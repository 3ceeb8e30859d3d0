"""Which model is really better: the corrected resampled t-test of Nadeau & Bengio (2003) on two jobs'
per-fold scores, paired fold by fold.

Two jobs pair when they were scored on the same patients fold by fold: same data (``data.sha256``), same
folds (``splits.fingerprint``: every fold's test rows) and the same primary metric. The folds share
training rows, so a plain paired t-test on fold scores rejects far too often; the corrected variance
``var(d) * (1/(k*r) + n_test/n_train)`` accounts for that.

The test, which jobs pair, and each job of a sweep against the best of its group (the summary's "vs best"
column). Two job or sweep directories in plain words: compare_dirs.py (``medsweep compare``).
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Hashable, Mapping, Optional, Sequence, Union

from medsweep.record.job_record import JobRecord
from medsweep.report import ranking
from medsweep.report.records import Record, as_record, status_word

ALPHA = 0.05
FEW_PAIRS = 10      # below this many paired folds the output says the test has little power

Sizes = Union[int, float, Sequence[Union[int, float]]]


# -- the test ------------------------------------------------------------------------------------------

def _mean_size(sizes: Sizes, name: str, n: int) -> float:
    values = [sizes] if isinstance(sizes, numbers.Real) else list(sizes)
    if len(values) not in (1, n):
        raise ValueError(f"{name} must be one number or one per fold ({n}), got {len(values)} values")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0
               for v in values):
        raise ValueError(f"{name} must be positive numbers (rows per fold), got {values!r}")
    return math.fsum(values) / len(values)


def corrected_ttest(scores_a: Sequence[float], scores_b: Sequence[float], n_train: Sizes, n_test: Sizes,
                    alpha: float = ALPHA) -> dict[str, Any]:
    """Nadeau & Bengio's corrected resampled t-test of the paired fold differences ``d_j = a_j - b_j``
    (k folds x r repeats, in the same fold order on both sides).

    ``n_train``/``n_test``: rows per fold (one number, or one per fold: their means are used).
    Corrected variance ``var(d, ddof=1) * (1/(k*r) + n_test/n_train)``, ``t = mean(d) / sqrt(it)``,
    ``df = k*r - 1``, two-sided p-value, and the ``1 - alpha`` interval of the mean difference with the
    same corrected standard error.

    Returns JSON-safe numbers: {"mean_difference", "std_error", "t", "df", "p_value", "lower", "upper",
    "alpha", "n_pairs", "test_train_ratio", "note"}. Zero variance: identical scores give t = 0, p = 1 and
    the interval [0, 0]; the same non-zero difference in every fold gives t = None (infinite), p = 0, the
    interval [d, d] and a ``note`` saying so. Raises ValueError on unequal lengths, fewer than 2 folds,
    non-finite scores, non-positive sizes or alpha outside (0, 1).
    """
    a, b = [float(x) for x in scores_a], [float(x) for x in scores_b]
    n = len(a)
    if len(b) != n:
        raise ValueError(f"scores_a has {n} fold scores and scores_b {len(b)}: pairs need the same folds")
    if n < 2:
        raise ValueError(f"the test needs at least 2 paired folds, got {n}")
    if not all(math.isfinite(x) for x in a + b):
        raise ValueError("every fold score must be a finite number")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")
    ratio = _mean_size(n_test, "n_test", n) / _mean_size(n_train, "n_train", n)

    d = [x - y for x, y in zip(a, b)]
    mean = math.fsum(d) / n
    var = math.fsum((x - mean) ** 2 for x in d) / (n - 1)
    df = n - 1
    out = {"mean_difference": mean, "std_error": 0.0, "t": None, "df": df, "p_value": None,
           "lower": mean, "upper": mean, "alpha": float(alpha), "n_pairs": n, "test_train_ratio": ratio,
           "note": None}
    # Zero variance, allowing for the rounding of a subtraction of scores of this size.
    rounding = 8 * sys.float_info.epsilon * max(abs(x) for x in a + b)
    if max(d) - min(d) <= rounding:
        if abs(mean) <= rounding:
            out.update(mean_difference=0.0, t=0.0, p_value=1.0, lower=0.0, upper=0.0,
                       note="identical scores in every fold: no difference")
        else:
            out.update(p_value=0.0, note=f"the difference is the same in every fold ({mean:+.6g}): zero "
                                         "variance, so t is infinite and p = 0")
        return out

    from scipy.stats import t as student_t  # here: scipy.stats takes ~0.8 s to import

    se = math.sqrt(var * (1.0 / n + ratio))
    t = mean / se
    half = float(student_t.ppf(1 - alpha / 2, df)) * se
    out.update(std_error=se, t=t, p_value=float(min(1.0, 2 * student_t.sf(abs(t), df))),
               lower=mean - half, upper=mean + half)
    return out


# -- which jobs pair -----------------------------------------------------------------------------------

def primary_scores(record: Record) -> Optional[list]:
    """The job's per-fold scores of its primary metric (None: not recorded)."""
    record = as_record(record)
    metric = (record.metrics or {}).get(record.primary_metric or "")
    folds = metric.get("folds") if isinstance(metric, Mapping) else None
    return list(folds) if isinstance(folds, (list, tuple)) else None


def _unusable(record: Any) -> Optional[str]:
    """Why this one job's fold scores cannot be paired with any other's (None: they can). Phrased to
    follow "job A ..."."""
    record = as_record(record)
    if record is None:
        return "has no readable metrics.json (never started, or killed before writing it)"
    if not record.completed:
        return f"did not complete (status {status_word(record)!r}): only completed jobs have fold scores to compare"
    primary = record.primary_metric
    scores = primary_scores(record)
    if not primary or scores is None:
        return f"has no per-fold scores of its primary metric ({primary!r}) in its metrics.json"
    if not (record.data or {}).get("sha256"):
        return "records no data sha256: which data it was trained on is unknown"
    splits = record.splits
    if not isinstance(splits, Mapping) or not splits.get("fingerprint"):
        return ("records no `splits` in its metrics.json (written by an older medsweep): which patients were "
                "in which fold is unknown, so its folds cannot be paired with another job's; re-run it")
    folds, repeats = splits.get("folds"), splits.get("repeats", 1)
    if not (isinstance(folds, int) and isinstance(repeats, int) and folds >= 2 and repeats >= 1):
        return f"records malformed `splits` (folds={folds!r}, repeats={repeats!r})"
    n = folds * repeats
    if len(scores) != n:
        return (f"has {len(scores)} fold scores of {primary} but its splits say {folds} folds x {repeats} "
                f"repeat(s) = {n}")
    for key in ("n_train", "n_test"):
        sizes = splits.get(key)
        if not (isinstance(sizes, list) and len(sizes) == n
                and all(isinstance(v, (int, float)) and v > 0 for v in sizes)):
            return f"records malformed `splits.{key}` (want {n} positive row counts, one per fold)"
    for i, x in enumerate(scores):
        if not (isinstance(x, (int, float)) and math.isfinite(x)):
            where = f"fold {i % folds}" + (f" of repeat {i // folds}" if repeats > 1 else "")
            return f"has no finite {primary} in {where} ({x!r}): the test needs every fold's score"
    return None


def fold_design(record: Record) -> str:
    """"5 folds x 1 repeat" of a job with usable splits."""
    s = as_record(record).splits
    r = s.get("repeats", 1)
    return f"{s['folds']} folds x {r} repeat{'s' if r != 1 else ''}"


def comparable(record_a: Record, record_b: Record) -> Optional[str]:
    """None when the two jobs' fold scores can be paired, else why not in plain words ("job A ...",
    "different data: ...")."""
    for label, record in (("A", record_a), ("B", record_b)):
        why = _unusable(record)
        if why:
            return f"job {label} {why}"
    record_a, record_b = as_record(record_a), as_record(record_b)
    sha_a, sha_b = record_a.data["sha256"], record_b.data["sha256"]
    if sha_a != sha_b:
        return (f"different data: job A was trained on data with sha256 {sha_a[:12]}..., job B on "
                f"{sha_b[:12]}... (another data set, file or data.seed): their folds hold other patients")
    metric_a, metric_b = record_a.primary_metric, record_b.primary_metric
    if metric_a != metric_b:
        return f"different primary metrics: job A is scored by {metric_a}, job B by {metric_b}"
    if record_a.higher_is_better != record_b.higher_is_better:
        return f"the two jobs disagree on whether a higher {metric_a} is better (greater_is_better)"
    design_a, design_b = fold_design(record_a), fold_design(record_b)
    if design_a != design_b:
        return f"different fold counts: job A has {design_a}, job B {design_b}"
    fp_a, fp_b = record_a.splits["fingerprint"], record_b.splits["fingerprint"]
    if fp_a != fp_b:
        return (f"different splits: same data and {design_a}, but other patients in the test folds "
                f"(fingerprints {fp_a[:12]}... and {fp_b[:12]}...): another seed, splitter or hold-out, so "
                "fold j of one job is not fold j of the other")
    return None


def paired_test(record_a: Record, record_b: Record, alpha: float = ALPHA, metric: Optional[str] = None
                ) -> dict[str, Any]:
    """The corrected t-test of A - B for two comparable jobs (on ``metric``'s fold scores: default the
    primary metric)."""
    splits = as_record(record_a).splits
    scores = (primary_scores if metric is None else (lambda r: metric_scores(r, metric)))
    return corrected_ttest(scores(record_a), scores(record_b), splits["n_train"], splits["n_test"], alpha=alpha)


# -- the best under select.constraints ------------------------------------------------------------------

def feasible(record: Record) -> Optional[bool]:
    """Whether the job meets its select.constraints (metrics.json ``selection``); None: none were set."""
    sel = as_record(record).selection
    ok = sel.get("feasible") if isinstance(sel, Mapping) else None
    return ok if isinstance(ok, bool) else None


def selected_metric(record: Record) -> Optional[str]:
    """select.metric of the job where it set one (metrics.json ``selection``), else None (the primary)."""
    sel = as_record(record).selection
    metric = sel.get("metric") if isinstance(sel, Mapping) else None
    return metric if isinstance(metric, str) and metric != as_record(record).primary_metric else None


def metric_scores(record: Record, metric: str) -> Optional[list]:
    """The job's per-fold scores of ``metric`` (None: not recorded, or not all finite)."""
    stats = (as_record(record).metrics or {}).get(metric)
    folds = stats.get("folds") if isinstance(stats, Mapping) else None
    if not isinstance(folds, (list, tuple)) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in folds):
        return None
    return list(folds)


def shared_select_metric(records) -> Optional[str]:
    """The select.metric every one of ``records`` set (selected_metric), else None: ranked by the primary."""
    metrics = {selected_metric(r) for r in records}
    return metrics.pop() if len(metrics) == 1 else None


def best_of(records: Mapping[Hashable, JobRecord], jobs: Sequence[Hashable], candidates: Sequence[Hashable],
            chosen: Optional[str]) -> Hashable:
    """The best of ``candidates`` (jobs meeting select.constraints) as the jobs ``jobs`` are ranked: by
    ``chosen`` (select.metric) where given, else by the primary metric (ranked_by); ties: the first in ``jobs``."""
    order = {job: i for i, job in enumerate(jobs)}
    if chosen is None:
        by = ranked_by(records[j] for j in jobs)
        return min(candidates, key=lambda j: (better_first(records[j], by), order[j]))
    by = ranking.ranked_by(((records[j].metrics or {}).get(chosen) or {}).get("pooled") for j in jobs)
    return min(candidates, key=lambda j: (_metric_rank(records[j], chosen, by), order[j]))


def _metric_rank(record: JobRecord, metric: str, by: str) -> float:
    """better_first of ``metric`` (select.metric): its pooled value, else its mean, in its own direction."""
    from medsweep.evaluate.constraints import higher_is_better

    stats = (record.metrics or {}).get(metric) or {}
    value = ranking.rank_value(stats.get("pooled") if by == ranking.POOLED else None, stats.get("mean"), by)
    return ranking.better_first(value, higher_is_better(metric)) if math.isfinite(value) else math.inf


def broken(record: Record) -> list[str]:
    """The select.constraints the job breaks, with the value checked ([]: none, or none were set)."""
    sel = as_record(record).selection
    return [str(b) for b in (sel.get("broken") or [])] if isinstance(sel, Mapping) else []


def _mean(record: JobRecord) -> float:
    """The primary metric's mean over folds (metrics.json's own), else computed from the folds."""
    mean = record.metrics[record.primary_metric].get("mean")
    if isinstance(mean, (int, float)) and math.isfinite(mean):
        return float(mean)
    scores = primary_scores(record) or []
    if scores and all(isinstance(x, (int, float)) for x in scores):
        return math.fsum(scores) / len(scores)
    return math.nan


def _pooled(record: JobRecord) -> float:
    pooled = (record.metrics or {}).get(record.primary_metric or "", {}).get("pooled")
    ok = isinstance(pooled, (int, float)) and not isinstance(pooled, bool) and math.isfinite(pooled)
    return float(pooled) if ok else math.nan


def ranked_by(records) -> str:
    """What a set of jobs is ranked by (ranking.ranked_by): "pooled", the primary metric's pooled out-of-fold
    value (one metric over the out-of-fold predictions of all folds: the value whose bootstrap interval the
    summaries show, and what BBC-CV selects by), where every job has one; else "mean" over folds for all of
    them."""
    return ranking.ranked_by(_pooled(as_record(r)) for r in records)


def rank_value(record: Record, by: str = "pooled") -> float:
    """The figure ``by`` (see ranked_by) of one job; "pooled" falls back on the mean where there is none."""
    record = as_record(record)
    return ranking.rank_value(_pooled(record), _mean(record), by)


def better_first(record: Record, by: str = "pooled") -> float:
    """A sort key of jobs: the best first, in the direction of the job's metric."""
    record = as_record(record)
    return ranking.better_first(rank_value(record, by), record.higher_is_better)


def _ordered(ids) -> list:
    """Job ids in a deterministic order: numbers by value, then anything else by its text."""
    return sorted(ids, key=lambda j: (0, j, "") if isinstance(j, (int, float)) and not isinstance(j, bool)
                  else (1, 0, str(j)))


def compare_to_best(records: Mapping[Hashable, Record]) -> dict[Hashable, dict]:
    """Each job against the best job it can be paired with, for a sweep summary.

    Completed jobs are grouped by (data sha256, split fingerprint, primary metric); in each group the
    best by ``rank_value`` (the pooled out-of-fold value, see ranked_by; ties: the first job id) gets {"best": its own id,
    "group": the group's job ids}; every other job of the group gets {"best": best id, "difference":
    mean(own - best) over folds in the metric's units, "lower", "upper" (95% interval, not adjusted),
    "p_value", "p_holm" (Holm-adjusted over the group's comparisons with its best: they are taken after
    picking the best, several at once), "distinguishable": p_holm < 0.05} (and "note" where the test has
    one); a job that pairs with no other (alone in its group, no `splits`, not completed) gets
    {"reason": ...}. Keys in job id order (numbers by value). Where the jobs record select.constraints
    (metrics.json ``selection``), the best is the best of those meeting them (a job breaking one gets
    "breaks"; none meeting them: every job gets a "reason" saying so), ranked and tested by select.metric
    where they all set the same one.
    """
    from medsweep.evaluate.selection import holm

    records = {job: as_record(r) if isinstance(r, (JobRecord, Mapping)) else r for job, r in records.items()}
    out: dict[Hashable, dict] = {}
    groups: dict[tuple, list] = {}
    for job in _ordered(records):
        record = records[job]
        why = _unusable(record)
        if why:
            out[job] = {"reason": f"this job {why}"}
            continue
        key = (record.data["sha256"], record.splits["fingerprint"], record.primary_metric)
        groups.setdefault(key, []).append(job)

    for (sha, fingerprint, metric), jobs in groups.items():
        if len(jobs) == 1:
            others = [j for k, g in groups.items() if k[0] == sha and k[2] == metric and k[1] != fingerprint
                      for j in g]
            out[jobs[0]] = {"reason": (
                "no other completed job has the same folds: the other jobs on this data were scored on other "
                "folds (another seed, trainer.folds, repeats or hold-out)" if others else
                f"no other completed job was scored on the same data and folds by {metric}")}
            continue
        # select.constraints: a job breaking one is never the best; select.metric: what ranks (and is tested)
        candidates = [j for j in jobs if feasible(records[j]) is not False]
        if not candidates:
            for job in jobs:
                out[job] = {"reason": "no job on these folds meets select.constraints, so none is best (this job "
                                      f"breaks {'; '.join(broken(records[job]))})"}
            continue
        chosen = shared_select_metric(records[j] for j in jobs)
        if chosen is not None and any(metric_scores(records[j], chosen) is None for j in jobs):
            chosen = None  # some job has no fold scores of it: ranked and tested by the primary metric
        best = best_of(records, jobs, candidates, chosen)
        # the group the best was picked from (its BBC-CV estimate picks among them too)
        out[best] = {"best": best, "group": list(candidates)}
        tests = {job: paired_test(records[job], records[best], metric=chosen) for job in jobs if job != best}
        adjusted = dict(zip(tests, holm([res["p_value"] for res in tests.values()])))
        for job, res in tests.items():
            out[job] = {"best": best, "difference": res["mean_difference"], "lower": res["lower"],
                        "upper": res["upper"], "p_value": res["p_value"], "p_holm": adjusted[job],
                        "distinguishable": adjusted[job] < ALPHA}
            if res["note"]:
                out[job]["note"] = res["note"]
            if broken(records[job]):
                out[job]["breaks"] = broken(records[job])
    return {job: out[job] for job in _ordered(out)}


if __name__ == "__main__":  # the command moved to the cli package (report parses no arguments): exit 2, a usage error
    print("error: the command is `medsweep compare A B` (or python -m medsweep.cli.compare)", file=sys.stderr)
    sys.exit(2)
