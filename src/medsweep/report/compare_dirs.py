"""Two job directories, or the best job of each model in two sweeps, compared by the corrected resampled
t-test (compare.py) and said in plain sentences: what ``medsweep compare`` prints.

    medsweep compare multirun/.../0 multirun/.../3      # two jobs
    medsweep compare multirun/day1/run multirun/day2/run  # two sweeps: best job per model in each
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Mapping, Optional

from medsweep.escape import one_line
from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord, read_record
from medsweep.record.sweep_dir import SweepDir
from medsweep.report.compare import (ALPHA, FEW_PAIRS, Record, best_of, better_first, broken, comparable,
                                     feasible, fold_design, paired_test, primary_scores,
                                     shared_select_metric)
from medsweep.report.records import as_record

Say = Callable[[str], None]


def _num(x: float, decimals: int) -> str:
    return f"{x:+.{decimals}f}" if x != 0 else "0"


def _decimals(*values: float) -> int:
    """Enough decimals to show the interval's scale with ~2 significant digits (at least 3)."""
    scale = max((abs(v) for v in values), default=0.0)
    return 3 if scale == 0 else max(3, min(10, 1 - math.floor(math.log10(scale))))


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 1 else "= 1"


def _distinct_overrides(record: JobRecord, other: JobRecord) -> str:
    """What tells the job apart from the other: its overrides that the other does not have."""
    mine = [str(o) for o in record.overrides or []]
    theirs = {str(o) for o in other.overrides or []}
    diff = [o for o in mine if o not in theirs and not o.startswith("hydra.")]
    return " ".join(diff) or f"estimator={record.estimator}"


def describe(result: Mapping, record_a: Record, record_b: Record, label_a: str = "A",
             label_b: str = "B") -> str:
    """The test's outcome in one plain sentence (and a line on power when the folds are few)."""
    record_a, record_b = as_record(record_a), as_record(record_b)
    metric = record_a.primary_metric
    higher = record_a.higher_is_better
    n, alpha = result["n_pairs"], result["alpha"]
    level = f"{1 - alpha:.0%}" if round((1 - alpha) * 100, 6).is_integer() else f"{1 - alpha:.1%}"
    dec = _decimals(result["mean_difference"], result["lower"], result["upper"])
    head = (f"job {label_a} ({_distinct_overrides(record_a, record_b)}) vs job {label_b} "
            f"({_distinct_overrides(record_b, record_a)}) on {record_a.model}, {metric} over {n} "
            f"paired folds ({fold_design(record_a)}): ")
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


def constraints_verdict(record: Optional[JobRecord]) -> Optional[str]:
    """Whether the job meets the select.constraints it recorded (metrics.json ``selection``), as the
    leaderboards' constraints column says it, following "job A ..."; None where it recorded none."""
    sel = record.selection if record is not None else None
    if not isinstance(sel, Mapping) or not sel.get("constraints") or not isinstance(sel.get("feasible"), bool):
        return None
    on = {"point": "pooled value", "bound": "95% interval's unfavourable limit"}.get(sel.get("on"), sel.get("on"))
    what = f"select.constraints {', '.join(map(str, sel['constraints']))} (checked on the {on})"
    return one_line(f"meets {what}" if sel["feasible"] else f"breaks {'; '.join(broken(record)) or '?'} of {what}",
                    1000)


def _say_verdicts(say: Say, verdicts: list[tuple[str, Optional[str]]], indent: str = "") -> None:
    """Each side's constraints verdict, where either side recorded one (the other then says it has none)."""
    if any(v for _, v in verdicts):
        for who, verdict in verdicts:
            say(f"{indent}{who} {verdict or 'records no select.constraints verdict'}")


def _sweep_verdict(record: JobRecord, count: int, label: str, model: str) -> Optional[str]:
    """constraints_verdict of a sweep's best job; breaking them, it was best only because none of the model's
    jobs meets them (the leaderboard's "NO job meets ...")."""
    verdict = constraints_verdict(record)
    if verdict and feasible(record) is False:
        verdict += f": none of {label}'s {count} completed {model} job{'s' if count != 1 else ''} meets them"
    return verdict


def kind_of(path: Path) -> Optional[str]:
    """"job", "sweep" or None (neither)."""
    if not path.is_dir():
        return None
    job = JobPaths(path)
    if job.metrics.exists():
        return "job"
    if SweepDir(path).sweep_file.exists() or any(p.name.isdigit() and p.is_dir() for p in path.iterdir()):
        return "sweep"
    if job.saved_config.exists():
        return "job"  # a job that never wrote metrics.json: read_record gives None, said as a reason
    return None


def compare_jobs(dir_a: Path, dir_b: Path, alpha: float = ALPHA, say: Say = print) -> bool:
    """Two job directories compared, said line by line through ``say``; False where they cannot be paired
    (the reason is said)."""
    record_a, record_b = read_record(dir_a), read_record(dir_b)
    for label, path, record in (("A", dir_a, record_a), ("B", dir_b, record_b)):
        listed = record is not None and record.keys  # an empty metrics.json ({}) lists nothing
        say(f"{label}: {path}" + (f" ({' '.join(map(str, record.overrides or []))})" if listed else ""))
    _say_verdicts(say, [("job A", constraints_verdict(record_a)), ("job B", constraints_verdict(record_b))])
    why = comparable(record_a, record_b)
    if why:
        say(f"cannot compare: {why}")
        return False
    say(describe(paired_test(record_a, record_b, alpha), record_a, record_b))
    return True


def _leaderboard_best(entries: list[tuple[str, JobRecord]]) -> tuple[str, JobRecord]:
    """(job dir name, record) of the best of one model's completed jobs, as
    its leaderboard ranks them: the jobs meeting select.constraints first (all where none records a verdict or
    none meets them), ranked by select.metric where every job records the same one (else by ``rank_value``,
    the pooled out-of-fold value); ties: the first job."""
    records = dict(entries)
    names = [name for name, _ in entries]
    meeting = [name for name in names if feasible(records[name]) is not False]
    best = best_of(records, names, meeting or names, shared_select_metric(records.values()))
    return best, records[best]


def _best_per_model(sweep_dir: Path) -> tuple[int, dict[str, tuple[str, JobRecord, int]]]:
    """(jobs listed, {model: (job dir name, record, completed jobs of the model)}): the best completed job
    of each model as its leaderboard calls it (_leaderboard_best: by ``rank_value``, its pooled out-of-fold
    value, among the jobs meeting select.constraints where they recorded them; ties: the first job)."""
    sweep = SweepDir(sweep_dir)
    _, jobs = sweep.jobs()
    completed: dict[str, list[tuple[str, JobRecord]]] = {}
    for job in jobs:
        record = read_record(sweep.path / job["dir"])
        if (record is not None and record.completed and primary_scores(record)
                and math.isfinite(better_first(record))):
            completed.setdefault(str(record.model), []).append((job["dir"], record))
    best = {}
    for model, entries in completed.items():
        best[model] = (*_leaderboard_best(entries), len(entries))
    return len(jobs), best


def compare_sweeps(dir_a: Path, dir_b: Path, alpha: float = ALPHA, say: Say = print) -> bool:
    """The best job of each model in one sweep against the other's (models in both), said line by line through
    ``say``; False where no model could be compared (the reasons are said)."""
    (n_a, best_a), (n_b, best_b) = _best_per_model(dir_a), _best_per_model(dir_b)
    for label, path, count, best in (("A", dir_a, n_a, best_a), ("B", dir_b, n_b, best_b)):
        say(f"{label}: sweep {path} ({count} job{'s' if count != 1 else ''}, completed models: "
              f"{', '.join(sorted(best)) or 'none'})")
    common = sorted(set(best_a) & set(best_b))
    only = [f"only in {label}: {', '.join(sorted(set(mine) - set(theirs)))}"
            for label, mine, theirs in (("A", best_a, best_b), ("B", best_b, best_a)) if set(mine) - set(theirs)]
    if not common:
        say("cannot compare: no model has a completed job in both sweeps" + (f" ({'; '.join(only)})" if only else ""))
        return False
    compared = 0
    for model in common:
        (name_a, rec_a, count_a), (name_b, rec_b, count_b) = best_a[model], best_b[model]
        say(f"\n{model}: best of A is job {name_a} (of {count_a}), best of B is job {name_b} (of {count_b})")
        _say_verdicts(say, [(f"A's job {name_a}", _sweep_verdict(rec_a, count_a, "A", model)),
                            (f"B's job {name_b}", _sweep_verdict(rec_b, count_b, "B", model))], "  ")
        why = comparable(rec_a, rec_b)
        if why:
            say(f"  cannot compare: {why}")
            continue
        compared += 1
        say("  " + describe(paired_test(rec_a, rec_b, alpha), rec_a, rec_b).replace("\n", "\n  "))
        picked = [f"job {label} is the best of {count}" for label, count in (("A", count_a), ("B", count_b))
                  if count > 1]
        if picked:
            say(f"  ({' and '.join(picked)} jobs scored on the same folds: a best score is optimistic; "
                  "the sweep's summary gives its BBC-CV estimate, nested CV or held-out patients an unbiased one)")
    if only:
        say("\n" + "; ".join(only))
    return bool(compared)
