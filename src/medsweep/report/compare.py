"""Which model is really better: the corrected resampled t-test of Nadeau & Bengio (2003) on two jobs'
per-fold scores, paired fold by fold.

Two jobs pair when they were scored on the same patients fold by fold: same data (``data.sha256``), same
folds (``splits.fingerprint``: every fold's test rows) and the same primary metric. The folds share
training rows, so a plain paired t-test on fold scores rejects far too often; the corrected variance
``var(d) * (1/(k*r) + n_test/n_train)`` accounts for that.

    python -m medsweep.report.compare multirun/.../0 multirun/.../3      # two jobs
    python -m medsweep.report.compare multirun/day1/run multirun/day2/run  # two sweeps: best job per model in each

Exit status: 0 compared, 2 usage error (not a job or sweep directory, a job and a sweep), 3 the two cannot be
compared (the reason is printed: a job not completed, no ``splits`` recorded, other data, other folds, ...).
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
from pathlib import Path
from typing import Any, Hashable, Mapping, Optional, Sequence, Union

from medsweep.record.files import METRICS_FILE, SAVED_CONFIG, SWEEP_FILE, Status, read_metrics

ALPHA = 0.05
CANNOT_COMPARE = 3  # exit status when the two cannot be paired
USAGE = 2           # exit status of a usage error (argparse's own)
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

def _primary_scores(record: Mapping) -> Optional[list]:
    metric = (record.get("metrics") or {}).get(record.get("primary_metric") or "")
    folds = metric.get("folds") if isinstance(metric, Mapping) else None
    return list(folds) if isinstance(folds, (list, tuple)) else None


def _unusable(record: Any) -> Optional[str]:
    """Why this one job's fold scores cannot be paired with any other's (None: they can). Phrased to
    follow "job A ..."."""
    if not isinstance(record, Mapping):
        return "has no readable metrics.json (never started, or killed before writing it)"
    status = record.get("status")
    if status != Status.COMPLETED:
        return f"did not complete (status {status!r}): only completed jobs have fold scores to compare"
    primary = record.get("primary_metric")
    scores = _primary_scores(record)
    if not primary or scores is None:
        return f"has no per-fold scores of its primary metric ({primary!r}) in its metrics.json"
    if not (record.get("data") or {}).get("sha256"):
        return "records no data sha256: which data it was trained on is unknown"
    splits = record.get("splits")
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


def _design(record: Mapping) -> str:
    s = record["splits"]
    r = s.get("repeats", 1)
    return f"{s['folds']} folds x {r} repeat{'s' if r != 1 else ''}"


def comparable(record_a: Mapping, record_b: Mapping) -> Optional[str]:
    """None when the two jobs' fold scores can be paired, else why not in plain words ("job A ...",
    "different data: ...")."""
    for label, record in (("A", record_a), ("B", record_b)):
        why = _unusable(record)
        if why:
            return f"job {label} {why}"
    sha_a, sha_b = record_a["data"]["sha256"], record_b["data"]["sha256"]
    if sha_a != sha_b:
        return (f"different data: job A was trained on data with sha256 {sha_a[:12]}..., job B on "
                f"{sha_b[:12]}... (another data set, file or data.seed): their folds hold other patients")
    metric_a, metric_b = record_a["primary_metric"], record_b["primary_metric"]
    if metric_a != metric_b:
        return f"different primary metrics: job A is scored by {metric_a}, job B by {metric_b}"
    if bool(record_a.get("greater_is_better", True)) != bool(record_b.get("greater_is_better", True)):
        return f"the two jobs disagree on whether a higher {metric_a} is better (greater_is_better)"
    design_a, design_b = _design(record_a), _design(record_b)
    if design_a != design_b:
        return f"different fold counts: job A has {design_a}, job B {design_b}"
    fp_a, fp_b = record_a["splits"]["fingerprint"], record_b["splits"]["fingerprint"]
    if fp_a != fp_b:
        return (f"different splits: same data and {design_a}, but other patients in the test folds "
                f"(fingerprints {fp_a[:12]}... and {fp_b[:12]}...): another seed, splitter or hold-out, so "
                "fold j of one job is not fold j of the other")
    return None


def _test(record_a: Mapping, record_b: Mapping, alpha: float = ALPHA) -> dict[str, Any]:
    """The corrected t-test of A - B for two comparable jobs."""
    splits = record_a["splits"]
    return corrected_ttest(_primary_scores(record_a), _primary_scores(record_b), splits["n_train"],
                           splits["n_test"], alpha=alpha)


def _mean(record: Mapping) -> float:
    """The primary metric's mean over folds (metrics.json's own), else computed from the folds."""
    mean = record["metrics"][record["primary_metric"]].get("mean")
    if isinstance(mean, (int, float)) and math.isfinite(mean):
        return float(mean)
    scores = _primary_scores(record) or []
    if scores and all(isinstance(x, (int, float)) for x in scores):
        return math.fsum(scores) / len(scores)
    return math.nan


def _pooled(record: Mapping) -> float:
    pooled = (record.get("metrics") or {}).get(record.get("primary_metric") or "", {}).get("pooled")
    ok = isinstance(pooled, (int, float)) and not isinstance(pooled, bool) and math.isfinite(pooled)
    return float(pooled) if ok else math.nan


def ranked_by(records) -> str:
    """What a set of jobs is ranked by: "pooled", the primary metric's pooled out-of-fold value (one metric
    over the out-of-fold predictions of all folds: the value whose bootstrap interval the summaries show,
    and what BBC-CV selects by), where every job has one; else "mean" over folds for all of them (a
    metrics.json written by an older medsweep has no pooled value; mixing the two would rank unlike
    figures)."""
    return "pooled" if all(math.isfinite(_pooled(r)) for r in records) else "mean"


def rank_value(record: Mapping, by: str = "pooled") -> float:
    """The figure ``by`` (see ranked_by) of one job; "pooled" falls back on the mean where there is none."""
    value = _pooled(record) if by == "pooled" else math.nan
    return value if math.isfinite(value) else _mean(record)


def _better_first(record: Mapping, by: str = "pooled") -> float:
    return -rank_value(record, by) if record.get("greater_is_better", True) else rank_value(record, by)


def _ordered(ids) -> list:
    """Job ids in a deterministic order: numbers by value, then anything else by its text."""
    return sorted(ids, key=lambda j: (0, j, "") if isinstance(j, (int, float)) and not isinstance(j, bool)
                  else (1, 0, str(j)))


def compare_to_best(records: Mapping[Hashable, Mapping]) -> dict[Hashable, dict]:
    """Each job against the best job it can be paired with, for a sweep summary.

    Completed jobs are grouped by (data sha256, split fingerprint, primary metric); in each group the
    best by ``rank_value`` (the pooled out-of-fold value, see ranked_by; ties: the first job id) gets {"best": its own id,
    "group": the group's job ids}; every other job of the group gets {"best": best id, "difference":
    mean(own - best) over folds in the metric's units, "lower", "upper" (95% interval, not adjusted),
    "p_value", "p_holm" (Holm-adjusted over the group's comparisons with its best: they are taken after
    picking the best, several at once), "distinguishable": p_holm < 0.05} (and "note" where the test has
    one); a job that pairs with no other (alone in its group, no `splits`, not completed) gets
    {"reason": ...}. Keys in job id order (numbers by value).
    """
    from medsweep.evaluate.selection import holm

    out: dict[Hashable, dict] = {}
    groups: dict[tuple, list] = {}
    for job in _ordered(records):
        record = records[job]
        why = _unusable(record)
        if why:
            out[job] = {"reason": f"this job {why}"}
            continue
        key = (record["data"]["sha256"], record["splits"]["fingerprint"], record["primary_metric"])
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
        order = {job: i for i, job in enumerate(jobs)}
        by = ranked_by(records[j] for j in jobs)
        best = min(jobs, key=lambda j: (_better_first(records[j], by), order[j]))
        out[best] = {"best": best, "group": list(jobs)}
        tests = {job: _test(records[job], records[best]) for job in jobs if job != best}
        adjusted = dict(zip(tests, holm([res["p_value"] for res in tests.values()])))
        for job, res in tests.items():
            out[job] = {"best": best, "difference": res["mean_difference"], "lower": res["lower"],
                        "upper": res["upper"], "p_value": res["p_value"], "p_holm": adjusted[job],
                        "distinguishable": adjusted[job] < ALPHA}
            if res["note"]:
                out[job]["note"] = res["note"]
    return {job: out[job] for job in _ordered(out)}


# -- the command line ----------------------------------------------------------------------------------

def _num(x: float, decimals: int) -> str:
    return f"{x:+.{decimals}f}" if x != 0 else "0"


def _decimals(*values: float) -> int:
    """Enough decimals to show the interval's scale with ~2 significant digits (at least 3)."""
    scale = max((abs(v) for v in values), default=0.0)
    return 3 if scale == 0 else max(3, min(10, 1 - math.floor(math.log10(scale))))


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 1 else "= 1"


def _distinct_overrides(record: Mapping, other: Mapping) -> str:
    """What tells the job apart from the other: its overrides that the other does not have."""
    mine = [str(o) for o in record.get("overrides") or []]
    theirs = {str(o) for o in other.get("overrides") or []}
    diff = [o for o in mine if o not in theirs and not o.startswith("hydra.")]
    return " ".join(diff) or f"estimator={record.get('estimator')}"


def describe(result: Mapping, record_a: Mapping, record_b: Mapping, label_a: str = "A",
             label_b: str = "B") -> str:
    """The test's outcome in one plain sentence (and a line on power when the folds are few)."""
    metric = record_a["primary_metric"]
    higher = bool(record_a.get("greater_is_better", True))
    n, alpha = result["n_pairs"], result["alpha"]
    level = f"{1 - alpha:.0%}" if round((1 - alpha) * 100, 6).is_integer() else f"{1 - alpha:.1%}"
    dec = _decimals(result["mean_difference"], result["lower"], result["upper"])
    head = (f"job {label_a} ({_distinct_overrides(record_a, record_b)}) vs job {label_b} "
            f"({_distinct_overrides(record_b, record_a)}) on {record_a.get('model')}, {metric} over {n} "
            f"paired folds ({_design(record_a)}): ")
    diff = f"{label_a} - {label_b} = {_num(result['mean_difference'], dec)}"
    if result["std_error"] == 0.0 and result["t"] == 0.0:
        body = f"{diff} in every fold (identical scores): not distinguishable"
    elif result["std_error"] == 0.0:
        body = f"{diff} in every fold (no variation, so t is infinite and p = 0): distinguishable at {alpha:g}"
    else:
        body = (f"{diff} ({level} CI {_num(result['lower'], dec)} to {_num(result['upper'], dec)}), corrected "
                f"t-test p {_p(result['p_value'])}: ")
        body += (f"distinguishable at {alpha:g}" if result["p_value"] < alpha
                 else f"not distinguishable at {alpha:g}")
    if result["p_value"] < alpha and result["mean_difference"] != 0:
        a_better = (result["mean_difference"] > 0) == higher
        body += (f"; {label_a if a_better else label_b} is better "
                 f"({'higher' if higher else 'lower'} {metric} is better)")
    text = head + body
    if n < FEW_PAIRS and result["std_error"] > 0:
        text += (f"\n  (only {n} paired folds: the test can rarely tell models apart; more folds or repeats "
                 "(trainer.repeats) give it more power)")
    return text


def _kind(path: Path) -> Optional[str]:
    """"job", "sweep" or None (neither)."""
    if not path.is_dir():
        return None
    if (path / METRICS_FILE).exists():
        return "job"
    if (path / SWEEP_FILE).exists() or any(p.name.isdigit() and p.is_dir() for p in path.iterdir()):
        return "sweep"
    if (path / SAVED_CONFIG).exists():
        return "job"  # a job that never wrote metrics.json: read_metrics gives None, said as a reason
    return None


def _compare_jobs(dir_a: Path, dir_b: Path, alpha: float) -> int:
    record_a, record_b = read_metrics(dir_a), read_metrics(dir_b)
    print(f"A: {dir_a}" + (f" ({' '.join(map(str, record_a.get('overrides') or []))})" if record_a else ""))
    print(f"B: {dir_b}" + (f" ({' '.join(map(str, record_b.get('overrides') or []))})" if record_b else ""))
    why = comparable(record_a, record_b)
    if why:
        print(f"cannot compare: {why}")
        return CANNOT_COMPARE
    print(describe(_test(record_a, record_b, alpha), record_a, record_b))
    return 0


def _best_per_model(sweep_dir: Path) -> tuple[int, dict[str, tuple[str, dict, int]]]:
    """(jobs listed, {model: (job dir name, record, completed jobs of the model)}): the best completed job
    of each model by ``rank_value`` (its pooled out-of-fold value; ties: the first job, as on the
    leaderboard)."""
    from medsweep.record.files import list_jobs  # the sweep's job list: sweep.json, or the numbered dirs

    _, jobs = list_jobs(sweep_dir)
    completed: dict[str, list[tuple[str, dict]]] = {}
    for job in jobs:
        record = read_metrics(sweep_dir / job["dir"])
        if (record and record.get("status") == Status.COMPLETED and _primary_scores(record)
                and math.isfinite(_better_first(record))):
            completed.setdefault(str(record.get("model")), []).append((job["dir"], record))
    best = {}
    for model, entries in completed.items():
        by = ranked_by(record for _, record in entries)
        best[model] = (*min(entries, key=lambda e: _better_first(e[1], by)), len(entries))
    return len(jobs), best


def _compare_sweeps(dir_a: Path, dir_b: Path, alpha: float) -> int:
    (n_a, best_a), (n_b, best_b) = _best_per_model(dir_a), _best_per_model(dir_b)
    for label, path, count, best in (("A", dir_a, n_a, best_a), ("B", dir_b, n_b, best_b)):
        print(f"{label}: sweep {path} ({count} job{'s' if count != 1 else ''}, completed models: "
              f"{', '.join(sorted(best)) or 'none'})")
    common = sorted(set(best_a) & set(best_b))
    only = [f"only in {label}: {', '.join(sorted(set(mine) - set(theirs)))}"
            for label, mine, theirs in (("A", best_a, best_b), ("B", best_b, best_a)) if set(mine) - set(theirs)]
    if not common:
        print("cannot compare: no model has a completed job in both sweeps" + (f" ({'; '.join(only)})" if only else ""))
        return CANNOT_COMPARE
    compared = 0
    for model in common:
        (name_a, rec_a, count_a), (name_b, rec_b, count_b) = best_a[model], best_b[model]
        print(f"\n{model}: best of A is job {name_a} (of {count_a}), best of B is job {name_b} (of {count_b})")
        why = comparable(rec_a, rec_b)
        if why:
            print(f"  cannot compare: {why}")
            continue
        compared += 1
        print("  " + describe(_test(rec_a, rec_b, alpha), rec_a, rec_b).replace("\n", "\n  "))
        picked = [f"job {label} is the best of {count}" for label, count in (("A", count_a), ("B", count_b))
                  if count > 1]
        if picked:
            print(f"  ({' and '.join(picked)} jobs scored on the same folds: a best score is optimistic; "
                  "the sweep's summary gives its BBC-CV estimate, nested CV or held-out patients an unbiased one)")
    if only:
        print("\n" + "; ".join(only))
    return 0 if compared else CANNOT_COMPARE


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m medsweep.report.compare",
        description="Is one model really better than another? The corrected resampled t-test (Nadeau & "
                    "Bengio 2003) on two jobs' per-fold scores of their primary metric, paired fold by fold. "
                    "Two job directories: the test between them. Two sweep directories: for each model with "
                    "a completed job in both, the best job of that model in each sweep.",
        epilog="Exit status: 0 compared; 2 usage error (a path that is neither a job nor a sweep directory, "
               "or a job and a sweep); 3 the two cannot be compared (printed why: a job not completed, no "
               "`splits` in its metrics.json, other data, other folds or seed, another primary metric).")
    parser.add_argument("a", metavar="A", help="a job directory (holding metrics.json) or a sweep directory")
    parser.add_argument("b", metavar="B", help="a job directory or a sweep directory, the same kind as A")
    parser.add_argument("--alpha", type=float, default=ALPHA,
                        help=f"significance level; the interval is 1 - alpha (default {ALPHA})")
    try:
        args = parser.parse_args(argv)
        if not 0 < args.alpha < 1:
            parser.error(f"--alpha must be between 0 and 1 (exclusive), got {args.alpha}")
    except SystemExit as exc:  # --help (0) and usage errors (2): returned, so main() can be embedded
        return int(exc.code or 0)

    dir_a, dir_b = Path(args.a), Path(args.b)
    kind_a, kind_b = _kind(dir_a), _kind(dir_b)
    for path, kind in ((dir_a, kind_a), (dir_b, kind_b)):
        if kind is None:
            what = ("does not exist" if not path.exists() else "is neither a job directory (no metrics.json) nor "
                    "a sweep directory (no sweep.json or numbered job directories)")
            print(f"error: {path} {what}", file=sys.stderr)
            return USAGE
    if kind_a != kind_b:
        print(f"error: {dir_a} is a {kind_a} directory and {dir_b} a {kind_b} directory: give two jobs or two "
              "sweeps", file=sys.stderr)
        return USAGE
    try:
        return (_compare_jobs if kind_a == "job" else _compare_sweeps)(dir_a, dir_b, args.alpha)
    except (OSError, ValueError) as exc:  # a damaged sweep.json or metrics.json: one line, as summarize says it
        print(f"error: {exc}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":
    sys.exit(main())
