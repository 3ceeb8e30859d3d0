"""A sweep at a glance: leaderboard, plots and a one-page report, built from what each job wrote to disk.

Everything is read back from the job directories (and ``sweep.json`` when the sweeper wrote one), never
from the sweeping process, so a summary can be rebuilt after failures, interrupts and kills:

    python -m medsweep.report.summarize multirun/2026-11-28/09-30-00

writes summary.csv, summary.json, summary.md, summary.png and report.html into the sweep directory and
prints the leaderboard. Rebuilding from the same files gives identical files (no timestamps of its own).
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import yaml

from medsweep.cli import fail, show_warnings
from medsweep.escape import link, md_code as _md_code, md_text as _md_text, one_line  # shared with model_card.md
from medsweep.evaluate.metrics import LOWER_IS_BETTER
from medsweep.record.files import (FINAL_STATUSES, JOB_PLOTS, METRICS_FILE, MODEL_CARD_FILE, OPTUNA_FILE, SAVED_OVERRIDES,
                                SUMMARY_FILES, SWEEP_FILE, Status, list_jobs, load_metrics, record_warnings)
from medsweep.record.outputs import atomic_path, write_csv, write_json
from medsweep.report.plots import plot_sweep, short_overrides

# A job without a metrics.json: never started, or killed before writing one.
MISSING = "missing"
STATUSES = (*(str(s) for s in FINAL_STATUSES), MISSING)
MISSING_ERROR = "no metrics.json: never started, or killed before writing it"
# A job whose files are not as medsweep writes them (hand-edited, foreign, corrupted): shown as such, with
# error_type DAMAGED_TYPE and the file, key and value in its error; counted only where there is one.
DAMAGED = "damaged"
DAMAGED_TYPE = "DamagedFile"
# Above this many jobs report.html links the per-job PNGs (loaded lazily, as they scroll into view) instead
# of embedding them: with four plots per job, 100 embedded jobs made a 19 MB page that is slow to open.
EMBED_LIMIT = 25
# Each job against the best of its group (same data and folds): corrected resampled t-test (compare.py).
COMPARISON_COLUMNS = ("vs_best_job", "vs_best_diff", "vs_best_lower", "vs_best_upper", "vs_best_p", "vs_best_p_holm",
                      "distinguishable", "comparison_note")
# The selected (best) job of each such group: its BBC-CV estimate, interval and the configurations it was
# selected from (selection.py).
SELECTION_COLUMNS = ("bbc_estimate", "bbc_lower", "bbc_upper", "bbc_configurations", "bbc_note")
# What each figure estimates, said once in every summary (and in the README and the model card).
FIGURES = ("pooled: the primary metric computed once over the out-of-fold predictions of all folds together (k "
           "fold models, each predicting the patients it did not train on), with a 95% bootstrap interval of "
           "patients; jobs are ranked by it. mean ± SD over folds: the average of the per-fold values and their "
           "population standard deviation (ddof=0). BBC-CV: the bias-corrected score of the group's selected job "
           "(bootstrap bias-corrected CV, Tsamardinos et al. 2018): the best picked on each bootstrap sample of "
           "patients, scored on the patients out of it; the naive best pooled value is optimistic. vs best: mean "
           "fold difference from the best job on the same folds, unadjusted 95% interval, corrected resampled "
           "t-test p Holm-adjusted within the group.")
# The terminal leaderboard shows this many jobs per model; summary.md has all.
TERMINAL_TOP = 15

log = logging.getLogger("medsweep")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster for 1,000 jobs


def _yaml(path: Path) -> Any:
    """A YAML file's content (safe loader: a ``!!python/...`` tag is an error), None where there is none;
    ValueError naming the file where it cannot be read or parsed."""
    try:
        return yaml.load(path.read_text(), Loader=_Loader)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"not readable YAML: {_one_line(exc, 160)}") from None


def _shown(x: Any) -> str:
    return _one_line(repr(x), 80)


# What a summary reads from metrics.json, by key: the types medsweep writes (None is allowed for each).
_RECORD_KEYS = {"model": str, "estimator": str, "task": str, "primary_metric": str, "error_type": str,
                "greater_is_better": bool, "folds": int, "seed": int, "duration_s": float, "overrides": list,
                "metrics": dict, "test": dict, "data": dict, "splits": dict}
_FIGURES = ("mean", "std", "pooled", "lower", "upper", "value")
_KIND_NAMES = {str: "text", bool: "true or false", int: "a whole number", float: "a number", list: "a list",
               dict: "a mapping"}


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is int:  # whole numbers that fit the CSV's integer columns
        return isinstance(value, int) and abs(value) < 2**63
    if kind is float:  # any JSON number a float can hold (NaN and infinities included: shown empty)
        return isinstance(value, float) or (isinstance(value, int) and abs(value) < 1e300)
    return isinstance(value, kind)


def _record_damage(m: Any) -> Optional[str]:
    """What in a metrics.json record is not as medsweep writes it, among the keys a summary reads (None:
    nothing), as "key is value, not what"."""
    if not isinstance(m, dict):
        return f"holds a JSON {type(m).__name__}, not a job's record"
    status = m.get("status")
    if status is not None and not (isinstance(status, str) and status in {str(s) for s in Status}):
        return f"status is {_shown(status)}, not one of {', '.join(map(str, Status))}"
    for key, kind in _RECORD_KEYS.items():
        if m.get(key) is not None and not _is(m[key], kind):
            return f"{key} is {_shown(m[key])}, not {_KIND_NAMES[kind]}"
    for where, table in (("metrics", m.get("metrics")), ("test.metrics", (m.get("test") or {}).get("metrics"))):
        if table is not None and not isinstance(table, dict):
            return f"{where} is {_shown(table)}, not a mapping"
        for name, figures in (table or {}).items():
            if not isinstance(figures, dict):
                return f"{where}.{name} is {_shown(figures)}, not a mapping of figures"
            for k in _FIGURES:
                if figures.get(k) is not None and not _is(figures[k], float):
                    return f"{where}.{name}.{k} is {_shown(figures[k])}, not a number"
    return None


def _read_job(sweep_dir: Path, job: dict) -> tuple[Optional[dict], Optional[list], Optional[str]]:
    """(metrics.json record or None, overrides or None, damage or None) of one listed job; damage names
    the file (relative to the sweep), the key and the value. A damaged job keeps its overrides where they
    are readable, so that the summary says which configuration it was."""
    if job.get("damage"):
        return None, None, job["damage"]
    job_dir = sweep_dir / job["dir"]
    if job_dir.exists() and not job_dir.is_dir():
        return None, None, f"{job['dir']} is a file, not a job folder"
    overrides, damage = job["overrides"], None
    if overrides is not None and not isinstance(overrides, list):
        overrides, damage = None, f"{SWEEP_FILE}: overrides of job {job['num']} are {_shown(overrides)}, not a list"
    elif overrides is None:
        overrides_file = f"{job['dir']}/{SAVED_OVERRIDES}"
        try:
            overrides = _yaml(job_dir / SAVED_OVERRIDES)
        except ValueError as exc:
            overrides, damage = None, f"{overrides_file}: {exc}"
        if overrides is not None and not isinstance(overrides, list):
            kind = _KIND_NAMES.get(type(overrides), type(overrides).__name__)
            overrides, damage = None, f"{overrides_file} holds {kind}, not a list of overrides"
    metrics_file = f"{job['dir']}/{METRICS_FILE}"
    try:
        m = load_metrics(job_dir)
    except FileNotFoundError:
        m = None
    except (OSError, ValueError) as exc:  # written atomically: a hand-edited, foreign or corrupted file
        return None, overrides, f"{metrics_file} unreadable: {exc.strerror if isinstance(exc, OSError) else exc}"
    why = None if m is None else _record_damage(m)
    if why:
        return None, overrides, f"{metrics_file}: {why}"
    if damage:
        return None, overrides, damage
    if overrides is None and m:
        overrides = m.get("overrides")
    return m, overrides, None


def _clean(x: Any) -> Any:
    """NaN/inf -> None, so summary.json is strict JSON and the CSV writes an empty cell."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _one_line(text: Any, limit: int = 300) -> Optional[str]:
    return None if text is None else one_line(text, limit)


def _override_value(overrides: list[str], key: str) -> Optional[str]:
    for o in overrides:
        k, _, v = o.partition("=")
        if k.lstrip("+~") == key:
            return v
    return None


# A warning is shown whole in the summaries (a small-test-fold warning lists every fold); only a runaway text
# from a hand-edited file is cut.
WARNING_LIMIT = 2000


def _warnings(record: dict) -> list[dict]:
    """The job's warnings (job_files.record_warnings), each on one line."""
    return [{"kind": _one_line(w["kind"], 80), "message": _one_line(w["message"], WARNING_LIMIT)}
            for w in record_warnings(record)]


def _job_row(sweep_dir: Path, job: dict) -> tuple[dict, dict, dict]:
    """(summary row, other metrics' columns, the job's metrics.json record) of one job."""
    error = error_type = None
    m, overrides, damage = _read_job(sweep_dir, job)
    if damage:
        # Of a damaged job only its number, folder and readable overrides are shown: no figure is trusted.
        m, error, error_type = None, damage, DAMAGED_TYPE
    overrides = [str(o) for o in overrides or []]
    m = m or {}
    status = DAMAGED if damage else m.get("status") or MISSING
    primary = m.get("primary_metric")
    metrics = m.get("metrics") or {}
    greater = m.get("greater_is_better")
    if greater is None and primary:
        greater = primary not in LOWER_IS_BETTER
    if status == MISSING and error is None:
        error = MISSING_ERROR
    mean = _clean(metrics.get(primary, {}).get("mean")) if primary else None
    if status == Status.COMPLETED and mean is None:
        error = f"completed without a value of its primary metric {primary!r}"
    row = {
        "job": job["num"],
        "overrides": " ".join(overrides),
        "model": m.get("model") or _override_value(overrides, "model"),
        "estimator": m.get("estimator") or _override_value(overrides, "estimator"),
        "task": m.get("task"),
        "status": status,
        "primary_metric": primary,
        "greater_is_better": greater,
        "primary_mean": mean,
        "primary_std": _clean(metrics.get(primary, {}).get("std")) if primary else None,
        # The pooled out-of-fold value and its bootstrap interval (absent when eval.n_boot=0).
        **{f"primary_{k}": _clean(metrics.get(primary, {}).get(k)) if primary else None
           for k in ("pooled", "lower", "upper")},
        "folds": m.get("folds"),
        "seed": m.get("seed"),
        # The final model on patients it never saw (trainer.holdout or data.test_path).
        "test_source": (m.get("test") or {}).get("source"),
        **{f"test_{k}": _clean(((m.get("test") or {}).get("metrics") or {}).get(primary, {}).get(k)) if primary
           else None for k in ("value", "lower", "upper")},
        "duration_s": m.get("duration_s"),
        # Synthetic cohorts and the job's own warnings, flagged wherever the job is listed.
        "synthetic": bool((m.get("data") or {}).get("synthetic")) if m.get("data") else None,
        "warnings": _warnings(m),
        "dir": job["dir"],
        "error_type": m.get("error_type") or error_type,
        "error": _one_line(m.get("error") or error),
    }
    others = {f"{name}_{k}": _clean(v.get(k)) for name, v in metrics.items() if name != primary
              for k in ("mean", "lower", "upper") if k in v}
    return row, others, m


def _add_comparisons(rows: list[dict], records: dict, sweep_dir: Path) -> list[dict]:
    """Each completed job against the best job on the same data and folds (corrected resampled t-test,
    Holm-adjusted within the group), and the best job's BBC-CV estimate where the group has 2+ jobs.
    Returns the groups' selection records (summary.json's "selection")."""
    from medsweep.report.compare import compare_to_best
    from medsweep.evaluate.selection import group_estimate

    comparisons = compare_to_best({num: r for num, r in records.items() if r})
    by_job = {row["job"]: row for row in rows}
    selection = []
    for row in rows:
        c = comparisons.get(row["job"])
        if row["status"] != Status.COMPLETED or not c:
            continue
        if "reason" in c:
            row["comparison_note"] = c["reason"]
            continue
        row["vs_best_job"] = c["best"]
        if c["best"] != row["job"]:
            row.update(vs_best_diff=c["difference"], vs_best_lower=c["lower"], vs_best_upper=c["upper"],
                       vs_best_p=c["p_value"], vs_best_p_holm=c["p_holm"], distinguishable=c["distinguishable"])
            continue
        jobs = c["group"]
        entry = {"selected_job": row["job"], "jobs": jobs, "metric": row["primary_metric"],
                 "naive": row.get("primary_pooled")}
        try:
            res = group_estimate({j: sweep_dir / by_job[j]["dir"] for j in jobs}, {j: records[j] for j in jobs})
        except (ValueError, OSError) as exc:  # a predictions.csv missing or unlike the others: said, not fatal
            row["bbc_note"] = entry["note"] = _one_line(f"no BBC-CV estimate: {exc}")
        else:
            entry["bbc_cv"] = {k: res[k] for k in ("estimate", "lower", "upper", "level", "n_boot", "n_valid",
                                                   "selected", "method")}
            entry["bbc_cv"]["selected"] = {str(j): n for j, n in res["selected"].items()}
            row.update(bbc_estimate=res["estimate"], bbc_lower=res["lower"], bbc_upper=res["upper"])
        row["bbc_configurations"] = len(jobs)
        selection.append(entry)
    return selection


def _ranked_by(group: list[dict]) -> str:
    """"pooled" where every job of the leaderboard group has its pooled value, else "mean" for all of them
    (compare.ranked_by, on summary rows)."""
    return "pooled" if all(r.get("primary_pooled") is not None for r in group) else "mean"


def _sort_key(row: dict, by: str = "pooled"):
    """Best first by the ranked figure (direction from metrics.json); no metric last; then job number."""
    value = row.get("primary_pooled") if by == "pooled" else None
    value = row.get("primary_mean") if value is None else value
    if value is None:
        return (1, 0.0, row["job"])
    return (0, -value if row.get("greater_is_better", True) else value, row["job"])


def leaderboard_groups(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """[(title, completed rows best first)] per model and task/metric, in name order."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] == Status.COMPLETED and r.get("primary_mean") is not None:
            key = (str(r["model"]), str(r.get("task")), str(r["primary_metric"]), bool(r["greater_is_better"]))
            groups.setdefault(key, []).append(r)
    out = []
    for (model, task, metric, higher) in sorted(groups):
        group = groups[(model, task, metric, higher)]
        by = _ranked_by(group)
        title = (f"{model} ({task}, {metric}, {'higher' if higher else 'lower'} is better), ranked by the "
                 f"{'pooled out-of-fold value' if by == 'pooled' else 'mean over folds (no pooled value recorded)'}")
        synthetic = sum(bool(r.get("synthetic")) for r in group)
        if synthetic:
            title += (" - SYNTHETIC data, not real patients" if synthetic == len(group)
                      else f" - {synthetic} of {len(group)} jobs on SYNTHETIC data")
        out.append((title, sorted(group, key=lambda r: _sort_key(r, by))))
    return out


# The seed moves the fold assignment of every job, and the training randomness of randomised estimators only.
SEEDS_TITLE = "Across seeds (fold assignment and training randomness)"
SEEDS_NOTE = ("The seed reshuffles the folds of every job and, for a randomised estimator (random_forest, mlp, "
              "...), its training: for a deterministic one (logreg) the spread over seeds is fold-partition "
              "variance alone. Both standard deviations are population SDs (ddof=0), as metrics.json's std.")


def across_seeds(rows: list[dict]) -> list[dict]:
    """Jobs that differ only in ``seed``, summarised: the spread of the primary metric's mean over seeds (the
    fold assignment, and the training randomness of a randomised estimator) beside the mean spread over folds.
    Both SDs are population SDs (ddof=0, as metrics.json's fold std). Only configurations run with 2+ seeds."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] != Status.COMPLETED or r.get("primary_mean") is None or r.get("seed") is None:
            continue
        config = " ".join(o for o in r["overrides"].split() if o.lstrip("+~").split("=", 1)[0] != "seed")
        groups.setdefault((str(r["model"]), str(r["estimator"]), config, str(r["primary_metric"])), []).append(r)
    out = []
    for (model, estimator, config, metric), group in sorted(groups.items()):
        if len({r["seed"] for r in group}) < 2:
            continue
        values = [r["primary_mean"] for r in group]
        fold_stds = [r["primary_std"] for r in group if r.get("primary_std") is not None]
        out.append({"model": model, "estimator": estimator, "configuration": config or "(defaults)", "metric": metric,
                    "seeds": sorted(r["seed"] for r in group), "jobs": [r["job"] for r in group],
                    "mean": statistics.fmean(values), "std_over_seeds": statistics.pstdev(values),
                    "min": min(values), "max": max(values),
                    "mean_std_over_folds": statistics.fmean(fold_stds) if fold_stds else None})
    return out


def _seed_lines(seeds: list[dict]) -> list[tuple[str, str]]:
    """(configuration, figures) per configuration run with several seeds."""
    return [(f"{g['model']} {g['configuration']}",
             f"{g['metric']} {g['mean']:.4f} ± {g['std_over_seeds']:.4f} over seeds {g['seeds']} "
             f"(range {g['min']:.4f}-{g['max']:.4f}; mean SD over folds: "
             f"{'-' if g['mean_std_over_folds'] is None else format(g['mean_std_over_folds'], '.4f')})")
            for g in seeds]


def _selected_trial(opt: dict, rows: list[dict]) -> Optional[dict]:
    """The job of the search's best trial: its overrides hold every best parameter."""
    wanted = {f"{k}={v}" for k, v in (opt.get("best_params") or {}).items()}
    for r in rows:
        if wanted and wanted <= set(r["overrides"].split()):
            return r
    return None


def _not_completed(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["status"] != Status.COMPLETED or r.get("primary_mean") is None]


def _fmt(mean, std) -> str:
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def _ci(pooled, lower, upper) -> str:
    """The pooled out-of-fold value with its 95% interval: `0.781 (0.712-0.850)`."""
    if pooled is None:
        return "-"
    return f"{pooled:.3f} ({lower:.3f}-{upper:.3f})" if lower is not None and upper is not None else f"{pooled:.3f}"


def _row_ci(row: dict) -> str:
    return _ci(row.get("primary_pooled"), row.get("primary_lower"), row.get("primary_upper"))


def _row_test(row: dict) -> str:
    if row.get("test_value") is None:
        return "-"
    return f"{_ci(row['test_value'], row.get('test_lower'), row.get('test_upper'))} {row.get('test_source') or ''}".strip()


def _row_vs_best(row: dict, top: Optional[dict] = None) -> str:
    """The corrected resampled t-test against the best job on the same folds (compare.py), Holm-adjusted
    within those jobs. "best" marks one job per leaderboard table (``top``, its first row): the best of jobs
    scored on other folds (another seed) says so instead."""
    if row.get("vs_best_job") is None:
        return row.get("comparison_note") or "-"
    if row["vs_best_job"] == row["job"]:
        if top is None or top["job"] == row["job"]:
            return "best"
        # The table's first job is on other folds, unless the table is ranked by the mean (a job without a
        # pooled value) and the first is in this group, whose best is by the pooled value.
        where = "" if top.get("vs_best_job") == row["job"] else ": other folds"
        return f"best on its own folds (#{top['job']} ranks first{where})"
    verdict = "different" if row.get("distinguishable") else "not distinguishable"
    p = row.get("vs_best_p_holm", row.get("vs_best_p"))
    return (f"{row['vs_best_diff']:+.3f} ({row['vs_best_lower']:+.3f} to {row['vs_best_upper']:+.3f}), "
            f"Holm p={p:.3f}: {verdict} from #{row['vs_best_job']}")


def _row_bbc(row: dict) -> str:
    """The selected job's BBC-CV estimate with its interval, and how many configurations it was picked from."""
    if row.get("bbc_estimate") is not None:
        return f"{_ci(row['bbc_estimate'], row.get('bbc_lower'), row.get('bbc_upper'))} of {row['bbc_configurations']}"
    return "not computed (see bbc_note)" if row.get("bbc_note") else "-"


def _row_flags(row: dict) -> str:
    """SYNTHETIC data and the job's warnings (their kinds), or "-"."""
    flags = ["SYNTHETIC data"] if row.get("synthetic") else []
    warnings = row.get("warnings") or []
    if warnings:
        kinds = sorted({w["kind"] for w in warnings})
        flags.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}: {', '.join(kinds)}")
    return "; ".join(flags) or "-"


def _columns(group: list[dict]) -> list[tuple[str, Any]]:
    """The leaderboard's figure columns: (header, row -> text), the ranked figure first; BBC-CV, hold-out,
    comparison and flags only where present."""
    by = _ranked_by(group)
    top = group[0] if group else None
    cols = [("pooled (95% CI)" + (", ranked" if by == "pooled" else ""), _row_ci),
            ("mean ± SD over folds" + (", ranked" if by == "mean" else ""),
             lambda r: _fmt(r["primary_mean"], r["primary_std"]))]
    if any(r.get("bbc_estimate") is not None or r.get("bbc_note") for r in group):
        cols.append(("BBC-CV, selected job (95% CI) of n configurations", _row_bbc))
    if any(r.get("test_value") is not None for r in group):
        cols.append(("never-seen patients (95% CI)", _row_test))
    if any(r.get("vs_best_diff") is not None for r in group):
        cols.append(("vs best: mean fold difference (95% CI), Holm p", lambda r: _row_vs_best(r, top)))
    if any(_row_flags(r) != "-" for r in group):
        cols.append(("flags", _row_flags))
    return cols


def _warning_lines(rows: list[dict], limit: Optional[int] = None) -> list[tuple[Any, str, str]]:
    """(job, kind, message) of every warning of every job (messages cut to ``limit`` characters)."""
    return [(r["job"], w["kind"], w["message"] if limit is None else _one_line(w["message"], limit) or "")
            for r in rows for w in r.get("warnings") or []]


def _duration(row) -> str:
    return f"{row['duration_s']:.1f}s" if isinstance(row.get("duration_s"), (int, float)) else "-"


def format_leaderboard(summary: dict, top: Optional[int] = TERMINAL_TOP) -> str:
    """The leaderboard as plain text for the terminal: per model, the best ``top`` jobs (None: all),
    then every job that did not complete with its one-line error."""
    rows = summary["jobs"]
    s = summary.get("sweep", {})
    counts = ", ".join(f"{n} {k}" for k, n in s.get("counts", {}).items() if n)
    lines = [f"Sweep {s.get('dir', '')}: {len(rows)} jobs ({counts or 'none'})"]
    if s.get("tracking"):
        lines.append(str(s["tracking"]))
    opt = summary.get("optimization")
    if opt:
        lines.append(f"Best ({opt.get('name')}): {opt.get('best_value')} with {opt.get('best_params')}")
        lines.append(f"  {opt['note']}")
    for title, group in leaderboard_groups(rows):
        lines += ["", title]
        shown = group if top is None else group[:top]
        width = max(len(str(r["estimator"])) for r in shown)
        cols = _columns(group)
        for rank, r in enumerate(shown, 1):
            extra = "".join(f"  [{h.split(' (')[0].split(':')[0].split(',')[0]}: {f(r)}]" for h, f in cols[2:]
                            if f(r) != "-")
            lines.append(f"  {rank:>3}. #{r['job']:<4} {str(r['estimator']):<{width}}  "
                         f"{_row_ci(r):<21}  {_fmt(r['primary_mean'], r['primary_std'])}  {_duration(r):>7}  "
                         f"{short_overrides(r['overrides'].split())}{extra}")
        if len(group) > len(shown):
            lines.append(f"  ... {len(group) - len(shown)} more in summary.md")
    if leaderboard_groups(rows):
        lines += ["", "Pooled: one value over all folds' out-of-fold predictions (ranked, 95% patient-bootstrap "
                      "interval); mean ± SD (ddof=0) over folds; BBC-CV: the selected job's bias-corrected score; "
                      "vs-best p Holm-adjusted. Details in summary.md."]
    seeds = summary.get("across_seeds") or []
    if seeds:
        lines += ["", SEEDS_TITLE] + [f"  {c}: {f}" for c, f in _seed_lines(seeds)]
    warned = _warning_lines(rows, limit=120)
    if warned:
        lines += ["", "Warnings"]
        shown = warned if top is None else warned[: max(top, 20)]
        lines += [f"  #{job:<4} {kind}: {message}" for job, kind, message in shown]
        if len(warned) > len(shown):
            lines.append(f"  ... {len(warned) - len(shown)} more in summary.md")
    bad = _not_completed(rows)
    if bad:
        lines += ["", "Not completed"]
        shown = bad if top is None else bad[: max(top, 20)]
        for r in shown:
            lines.append(f"  #{r['job']:<4} {r['status']:<11} {r['overrides']}: "
                         f"{(r['error_type'] + ': ') if r.get('error_type') else ''}{r.get('error') or ''}")
        if len(bad) > len(shown):
            lines.append(f"  ... {len(bad) - len(shown)} more in summary.md")
    return "\n".join(lines)


def _markdown(summary: dict) -> str:
    s, rows = summary["sweep"], summary["jobs"]
    out = [f"# Sweep summary: {_md_text(s['dir'])}", ""]
    for key in ("command", "started_at", "finished_at", "launcher", "n_jobs"):
        if s.get(key) is not None:
            out.append(f"- {key}: {_md_code(s[key])}")
    if s.get("tracking"):
        out.append(f"- tracking: {_md_text(s['tracking'])}")
    out.append("- jobs: " + ", ".join(f"{n} {k}" for k, n in s["counts"].items()) + f" (total {len(rows)})")
    opt = summary.get("optimization")
    if opt:
        out += [f"- best value ({_md_text(opt.get('name'))}): {_md_text(opt.get('best_value'))}",
                f"- best params: {_md_code(json.dumps(opt.get('best_params'), sort_keys=True))}",
                f"- {_md_text(opt['note'])}"]
    if leaderboard_groups(rows):
        out += ["", f"Figures: {_md_text(FIGURES)}"]
    for title, group in leaderboard_groups(rows):
        cols = _columns(group)
        out += ["", f"## {_md_text(title)}", "",
                "| rank | job | estimator | overrides | " + " | ".join(h for h, _ in cols) + " | duration |",
                "|---:|---:|---|---|" + "---|" * len(cols) + "---:|"]
        for rank, r in enumerate(group, 1):
            out.append(f"| {rank} | [{r['job']}]({link(r['dir'])}/{METRICS_FILE}) | {_md_text(r['estimator'])} | "
                       f"{_md_code(r['overrides'])} | " + " | ".join(_md_text(f(r)) for _, f in cols) +
                       f" | {_duration(r)} |")
    seeds = summary.get("across_seeds") or []
    if seeds:
        out += ["", f"## {SEEDS_TITLE}", "", _md_text(SEEDS_NOTE), ""] + [f"- {_md_text(c)}: {_md_text(f)}"
                                                                       for c, f in _seed_lines(seeds)]
    notes = [(r["job"], r["bbc_note"]) for r in rows if r.get("bbc_note")]
    if notes:
        out += ["", "## BBC-CV not computed", ""] + [f"- job {job}: {_md_text(note)}" for job, note in notes]
    warned = _warning_lines(rows)
    if warned:
        out += ["", "## Warnings", "", "| job | kind | message |", "|---:|---|---|"]
        out += [f"| {job} | {_md_text(kind)} | {_md_text(message)} |" for job, kind, message in warned]
    bad = _not_completed(rows)
    if bad:
        out += ["", "## Not completed", "", "| job | status | overrides | error |", "|---:|---|---|---|"]
        for r in bad:
            err = f"{r['error_type']}: {r['error']}" if r.get("error_type") else (r.get("error") or "")
            out.append(f"| [{r['job']}]({link(r['dir'])}/) | {_md_text(r['status'])} | {_md_code(r['overrides'])} | {_md_text(err)} |")
    return "\n".join(out) + "\n"


def _img(path: Path, embed: bool, rel: str, alt: str) -> str:
    if embed:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
    return f'<img src="{html.escape(rel)}" alt="{html.escape(alt)}" loading="lazy">'


def _metrics_table(metrics: dict) -> str:
    """A job's metrics: mean ± std over folds, and the pooled value with its interval."""
    e = html.escape
    lines = ["<table class=\"metrics\"><tr><th>metric</th><th>mean ± std over folds</th><th>pooled (95% CI)</th></tr>"]
    for name, m in metrics.items():
        if not isinstance(m, dict) or _clean(m.get("mean")) is None:
            continue
        pooled = _ci(_clean(m.get("pooled")), _clean(m.get("lower")), _clean(m.get("upper")))
        lines.append(f"<tr><td>{e(name)}</td><td>{_fmt(m['mean'], _clean(m.get('std')))}</td><td>{pooled}</td></tr>")
    return "".join(lines) + "</table>"


def _html(summary: dict, sweep_dir: Path, sweep_png: Path, job_metrics: dict) -> str:
    e = html.escape
    s, rows = summary["sweep"], summary["jobs"]
    embed = len(rows) <= EMBED_LIMIT
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Sweep {e(s['dir'])}</title>",
           "<style>body{font-family:sans-serif;margin:1.5em;max-width:1200px}"
           "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
           "font-size:13px;text-align:left}th{background:#f3f3f3}.failed,.timeout,.interrupted,.missing"
           "{color:#b00}code{font-size:12px}img{max-width:100%}.plots{display:flex;flex-wrap:wrap;gap:6px}"
           ".plots img{width:380px}table.metrics td{font-variant-numeric:tabular-nums}td.flags{color:#b00}"
           "p.figures{font-size:13px;color:#444}</style>",
           "</head><body>", f"<h1>Sweep {e(s['dir'])}</h1>", "<ul>"]
    for key in ("command", "started_at", "finished_at", "launcher", "n_jobs"):
        if s.get(key) is not None:
            out.append(f"<li>{key}: <code>{e(str(s[key]))}</code></li>")
    if s.get("tracking"):
        out.append(f"<li>tracking: {e(str(s['tracking']))}</li>")
    out.append("<li>jobs: " + e(", ".join(f"{n} {k}" for k, n in s["counts"].items())) + f" (total {len(rows)})</li>")
    opt = summary.get("optimization")
    if opt:
        out.append(f"<li>best value ({e(str(opt.get('name')))}): {e(str(opt.get('best_value')))}, best params: "
                   f"<code>{e(json.dumps(opt.get('best_params'), sort_keys=True))}</code></li>")
        out.append(f"<li>{e(opt['note'])}</li>")
    out.append("</ul>")
    if sweep_png.is_file():
        out.append(_img(sweep_png, True, sweep_png.name, "primary metric of every job"))
    if leaderboard_groups(rows):
        out.append(f"<p class=\"figures\">{e(FIGURES)}</p>")
    for title, group in leaderboard_groups(rows):
        cols = _columns(group)
        out += [f"<h2>{e(title)}</h2>", "<table><tr><th>rank</th><th>job</th><th>estimator</th><th>overrides</th>"
                + "".join(f"<th>{e(h)}</th>" for h, _ in cols) + "<th>duration</th><th>files</th></tr>"]
        for rank, r in enumerate(group, 1):
            out.append(f"<tr><td>{rank}</td><td><a href=\"#job-{r['job']}\">{r['job']}</a></td>"
                       f"<td>{e(str(r['estimator']))}</td><td><code>{e(r['overrides'])}</code></td>"
                       + "".join(f"<td class=\"flags\">{e(f(r))}</td>" if h == "flags" else f"<td>{e(f(r))}</td>"
                               for h, f in cols) + f"<td>{_duration(r)}</td>"
                       f"<td><a href=\"{link(r['dir'])}/\">dir</a> <a href=\"{link(r['dir'])}/{METRICS_FILE}\">metrics.json</a></td></tr>")
        out.append("</table>")
    seeds = summary.get("across_seeds") or []
    if seeds:
        out += [f"<h2>{e(SEEDS_TITLE)}</h2>", f"<p>{e(SEEDS_NOTE)}</p>", "<ul>"] + \
            [f"<li>{e(c)}: {e(f)}</li>" for c, f in _seed_lines(seeds)] + ["</ul>"]
    notes = [(r["job"], r["bbc_note"]) for r in rows if r.get("bbc_note")]
    if notes:
        out += ["<h2>BBC-CV not computed</h2>", "<ul>"] + [f"<li>job {e(str(job))}: {e(note)}</li>"
                                                           for job, note in notes] + ["</ul>"]
    warned = _warning_lines(rows)
    if warned:
        out += ["<h2>Warnings</h2>", "<table><tr><th>job</th><th>kind</th><th>message</th></tr>"]
        out += [f"<tr><td><a href=\"#job-{e(str(job))}\">{e(str(job))}</a></td><td>{e(kind)}</td><td>{e(message)}</td></tr>"
                for job, kind, message in warned]
        out.append("</table>")
    bad = _not_completed(rows)
    if bad:
        out += ["<h2>Not completed</h2>", "<table><tr><th>job</th><th>status</th><th>overrides</th><th>error</th>"
                "<th>files</th></tr>"]
        for r in bad:
            err = f"{r['error_type']}: {r['error']}" if r.get("error_type") else (r.get("error") or "")
            out.append(f"<tr><td><a href=\"#job-{r['job']}\">{r['job']}</a></td><td class=\"{e(r['status'])}\">"
                       f"{e(r['status'])}</td><td><code>{e(r['overrides'])}</code></td><td>{e(err)}</td>"
                       f"<td><a href=\"{link(r['dir'])}/\">dir</a></td></tr>")
        out.append("</table>")
    out.append("<h2>Jobs</h2>")
    for r in rows:
        damaged = r["status"] == DAMAGED  # its dir may lie outside the sweep: nothing is read from it
        metric = (f"{e(str(r['primary_metric']))} = {_row_ci(r)} pooled, {_fmt(r['primary_mean'], r['primary_std'])} over folds"
                  if r.get("primary_mean") is not None else e(r.get("error") or ""))
        if r.get("synthetic"):
            metric += " — SYNTHETIC data, not real patients"
        out += [f"<div class=\"job\" id=\"job-{r['job']}\"><h3>Job {r['job']}: <code>{e(r['overrides'])}</code></h3>",
                f"<p class=\"{e(r['status'])}\">{e(r['status'])}: {metric} — <a href=\"{link(r['dir'])}/\">directory</a>"
                f" · <a href=\"{link(r['dir'])}/{METRICS_FILE}\">metrics.json</a>"
                + (f" · <a href=\"{link(r['dir'])}/{MODEL_CARD_FILE}\">model card</a>"
                   if not damaged and (sweep_dir / r["dir"] / MODEL_CARD_FILE).is_file() else "") + "</p>"]
        pngs = [] if damaged else [(name, sweep_dir / r["dir"] / name) for name in JOB_PLOTS]
        out.append("<div class=\"plots\">" + "".join(_img(png, embed, f"{link(r['dir'])}/{name}", f"job {r['job']} {name}")
                                                  for name, png in pngs if png.is_file()) + "</div>")
        if job_metrics.get(r["job"]):
            out.append(_metrics_table(job_metrics[r["job"]]))
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def summarize_sweep(sweep_dir) -> dict:
    """Read every job of ``sweep_dir`` and write summary.csv/.json/.md/.png and report.html into it.

    Returns the summary (what summary.json holds): {"sweep": {dir, command, started_at, finished_at,
    launcher, n_jobs, counts}, "optimization": {name, best_params, best_value} or absent, "jobs": [row...]}.
    Raises FileNotFoundError if the directory does not exist, ValueError if it holds no job.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no such sweep directory: {sweep_dir}")
    info, jobs = list_jobs(sweep_dir)
    if not jobs:
        raise ValueError(f"no job in {sweep_dir}: no numbered job directory and no job in {SWEEP_FILE}")

    rows, others, records = [], [], {}
    for job in jobs:
        row, other, records[job["num"]] = _job_row(sweep_dir, job)
        rows.append(row)
        others.append(other)
    selection = _add_comparisons(rows, records, sweep_dir)
    job_metrics = {num: record.get("metrics") or {} for num, record in records.items()}
    # Other metrics' means in name order, so the columns do not depend on which job came first.
    metric_cols = sorted({k for o in others for k in o})
    for row, other in zip(rows, others):
        for col in metric_cols:
            row[col] = other.get(col)

    counts = {k: 0 for k in STATUSES}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary: dict[str, Any] = {"sweep": {"dir": str(sweep_dir.resolve()), **info, "counts": counts}}
    from medsweep.tracking.core import describe as tracking_line  # reads tracking.json; never imports MLflow

    try:
        tracking = tracking_line(sweep_dir)
    except TypeError as exc:  # a hand-edited tracking.json (e.g. "logged": 5)
        tracking = None
        log.warning("tracking.json is not as medsweep writes it (%s): its line is left out of the summary", exc)
    if tracking:
        summary["sweep"]["tracking"] = tracking
    try:
        opt = _yaml(sweep_dir / OPTUNA_FILE)
    except ValueError as exc:
        opt = None
        log.warning("%s: %s; the search's best trial is left out of the summary", OPTUNA_FILE, exc)
    if isinstance(opt, dict) and not isinstance(opt.get("best_params") or {}, dict):
        log.warning("%s: best_params is %s, not a mapping; the search's best trial is left out of the summary",
                    OPTUNA_FILE, _shown(opt["best_params"]))
        opt = None
    if isinstance(opt, dict):
        summary["optimization"] = {k: opt.get(k) for k in ("name", "best_params", "best_value")}
        selected = _selected_trial(opt, rows)
        note = ("The best trial was chosen by its cross-validated score on the same folds that score it: that "
                "score is optimistic.")
        if selected is not None and selected.get("bbc_estimate") is not None:
            note += f" Its bias-corrected score (BBC-CV over {selected['bbc_configurations']} trials): {_row_bbc(selected)}."
        if selected is not None and selected.get("test_value") is not None:
            note += f" On patients it never saw (#{selected['job']}, {selected['test_source']}): {_row_test(selected)}."
        elif selected is not None:
            note += " Set trainer.holdout or data.test_path for an unbiased score of the selected trial."
        summary["optimization"].update(note=note, selected_job=selected["job"] if selected else None)
    for _, group in leaderboard_groups(rows):  # the place in its leaderboard table (1: the one "best")
        for rank, r in enumerate(group, 1):
            r["rank"] = rank
    summary["across_seeds"] = across_seeds(rows)
    summary["selection"] = selection
    summary["figures"] = FIGURES
    summary["jobs"] = rows

    columns = ["job", "rank", "overrides", "model", "estimator", "task", "status", "primary_metric", "greater_is_better",
               "primary_mean", "primary_std", "primary_pooled", "primary_lower", "primary_upper", "test_source",
               "test_value", "test_lower", "test_upper", *COMPARISON_COLUMNS, *SELECTION_COLUMNS, "synthetic",
               "n_warnings", "warnings", *metric_cols, "folds", "seed", "duration_s", "dir", "error_type", "error"]
    csv_file, json_file, md_file, png_file, html_file = (sweep_dir / name for name in SUMMARY_FILES)
    frame = pd.DataFrame(rows, columns=columns)
    # A cell of text per job: its warnings as "kind: message", joined.
    frame["n_warnings"] = [len(r["warnings"]) for r in rows]
    frame["warnings"] = [" | ".join(f"{w['kind']}: {w['message']}" for w in r["warnings"]) for r in rows]
    for col in ("rank", "vs_best_job", "seed", "folds", "bbc_configurations"):  # whole numbers stay whole beside empty cells
        frame[col] = frame[col].astype("Int64")
    write_csv(csv_file, frame)  # spreadsheet formulas neutralised (escape.csv_safe)
    write_json(json_file, summary)
    with atomic_path(md_file) as tmp:
        tmp.write_text(_markdown(summary))
    plot_sweep(rows, png_file)
    with atomic_path(html_file) as tmp:
        tmp.write_text(_html(summary, sweep_dir, png_file, job_metrics))
    return summary


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medsweep.report.summarize",
                                     description="Rebuild a sweep's summary files from its job directories "
                                                 "and print the leaderboard.")
    parser.add_argument("sweep_dir", help="the sweep directory (hydra.sweep.dir), e.g. multirun/<date>/<time>")
    parser.add_argument("--all", action="store_true", help="print every job, not the best %d per model" % TERMINAL_TOP)
    args = parser.parse_args(argv)
    show_warnings()
    try:
        summary = summarize_sweep(args.sweep_dir)
    except (OSError, ValueError) as exc:  # no sweep, an unusable sweep.json, a summary file not writable
        return fail(exc)
    print(format_leaderboard(summary, top=None if args.all else TERMINAL_TOP))
    print(f"\nWrote {', '.join(SUMMARY_FILES)} in {args.sweep_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
