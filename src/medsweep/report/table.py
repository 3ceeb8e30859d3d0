"""A sweep's table: each job's metrics.json record (reading.py) as one summary row, each completed job against
the best job on its folds, the leaderboard tables (ranked once, here), the spread across seeds and the search's
selected trial. Pure: it opens no file; the renderers (text, markdown, html) and summary.csv/.json show it.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from medsweep.escape import one_line
from medsweep.evaluate.metrics import LOWER_IS_BETTER
from medsweep.record.job_record import FINAL_STATUSES, JobRecord, Status, record_warnings
from medsweep.report import cells
from medsweep.report.records import status_word
from medsweep.report.ranking import POOLED, rank_value, ranked_by, selected_value

# A job without a metrics.json: never started, or killed before writing one.
MISSING = "missing"
STATUSES = (*(str(s) for s in FINAL_STATUSES), MISSING)
MISSING_ERROR = "no metrics.json: never started, or killed before writing it"
# A job whose files are not as medsweep writes them (hand-edited, foreign, corrupted): shown as such, with
# error_type DAMAGED_TYPE and the file, key and value in its error; counted only where there is one.
DAMAGED = "damaged"
DAMAGED_TYPE = "DamagedFile"
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
# A warning is shown whole in the summaries (a small-test-fold warning lists every fold); only a runaway text
# from a hand-edited file is cut.
WARNING_LIMIT = 2000


def csv_columns(metric_cols: list[str]) -> list[str]:
    """summary.csv's columns, in order; ``metric_cols``: the other metrics' columns (``<name>_<figure>``)."""
    return ["job", "rank", "overrides", "model", "estimator", "task", "status", "primary_metric", "greater_is_better",
            "primary_mean", "primary_std", "primary_pooled", "primary_lower", "primary_upper", "test_source",
            "test_value", "test_lower", "test_upper", *COMPARISON_COLUMNS, *SELECTION_COLUMNS, "synthetic",
            "n_warnings", "warnings", *metric_cols, "folds", "seed", "duration_s", "dir", "error_type", "error"]


# Appended after summary.csv's other columns, each group only in a sweep that has it (a sweep without pruned
# jobs or select.* writes the columns it always did): why a search stopped a job (metrics.json's ``pruned``),
# and the job's verdict on select.constraints (its ``selection``, as the leaderboards' constraints column).
PRUNED_COLUMNS = ("pruned_reason", "pruned_by", "bbc_pruned")
CONSTRAINT_COLUMNS = ("select_metric", "select_value", "select_on", "constraints", "meets_constraints",
                      "broken_constraints")


def csv_appended(rows: list[dict]) -> dict[str, list]:
    """summary.csv's columns after ``error`` (PRUNED_COLUMNS where a job was pruned, CONSTRAINT_COLUMNS where a
    job recorded a select.* verdict), each a list of cells in row order; empty cells where a job has none."""
    out: dict[str, list] = {}
    if any(r["status"] == Status.PRUNED for r in rows):
        out["pruned_reason"] = [r.get("pruned") for r in rows]
        out["pruned_by"] = [r.get("pruned_by") for r in rows]
        out["bbc_pruned"] = [r.get("bbc_pruned") for r in rows]  # the model's pruned jobs BBC-CV left out
    if any(r.get("feasible") is not None for r in rows):
        checked = [r.get("feasible") is not None for r in rows]
        out["select_metric"] = [r.get("select_metric") for r in rows]
        out["select_value"] = [r.get("select_value") for r in rows]
        out["select_on"] = [r.get("select_on") for r in rows]
        out["constraints"] = ["; ".join(r.get("constraints") or []) if c else None for r, c in zip(rows, checked)]
        out["meets_constraints"] = [r.get("feasible") for r in rows]
        out["broken_constraints"] = [" | ".join(r.get("broken") or []) if c else None for r, c in zip(rows, checked)]
    return out


def clean(x: Any) -> Any:
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


def _warnings(record: JobRecord) -> list[dict]:
    """The job's warnings (record.files.record_warnings), each on one line."""
    return [{"kind": _one_line(w["kind"], 80), "message": _one_line(w["message"], WARNING_LIMIT)}
            for w in record_warnings(record)]


def job_row(job: dict, m: Optional[JobRecord], overrides: Optional[list], damage: Optional[str]) -> tuple[dict, dict]:
    """(summary row, other metrics' columns) of one listed job from what reading.read_job returned (a record
    checked for damage: its values are of the types medsweep writes)."""
    error = error_type = None
    if damage:
        # Of a damaged job only its number, folder and readable overrides are shown: no figure is trusted.
        m, error, error_type = None, damage, DAMAGED_TYPE
    overrides = [str(o) for o in overrides or []]
    m = m or JobRecord()  # no record: every attribute at its default (None, or empty)
    status = DAMAGED if damage else status_word(m) or MISSING
    primary = m.primary_metric
    metrics = m.metrics or {}
    greater = m.greater_is_better
    if greater is None and primary:
        greater = primary not in LOWER_IS_BETTER
    if status == MISSING and error is None:
        error = MISSING_ERROR
    mean = clean(metrics.get(primary, {}).get("mean")) if primary else None
    if status == Status.COMPLETED and mean is None:
        error = f"completed without a value of its primary metric {primary!r}"
    row = {
        "job": job["num"],
        "overrides": " ".join(overrides),
        "model": m.model or _override_value(overrides, "model"),
        "estimator": m.estimator or _override_value(overrides, "estimator"),
        "task": m.task,
        "status": status,
        "primary_metric": primary,
        "greater_is_better": greater,
        "primary_mean": mean,
        "primary_std": clean(metrics.get(primary, {}).get("std")) if primary else None,
        # The pooled out-of-fold value and its bootstrap interval (absent when eval.n_boot=0).
        **{f"primary_{k}": clean(metrics.get(primary, {}).get(k)) if primary else None
           for k in ("pooled", "lower", "upper")},
        "folds": m.folds,
        "seed": m.seed,
        # The final model on patients it never saw (trainer.holdout or data.test_path).
        "test_source": (m.test or {}).get("source"),
        **{f"test_{k}": clean(((m.test or {}).get("metrics") or {}).get(primary, {}).get(k)) if primary
           else None for k in ("value", "lower", "upper")},
        "duration_s": m.duration_s,
        # Synthetic cohorts and the job's own warnings, flagged wherever the job is listed.
        "synthetic": bool((m.data or {}).get("synthetic")) if m.data else None,
        "warnings": _warnings(m),
        "dir": job["dir"],
        "error_type": m.error_type or error_type,
        "error": _one_line(m.error or error),
    }
    if status == Status.PRUNED:  # why a search stopped it (not an error: pruned is never failed)
        row["pruned"] = _one_line((m.pruned or {}).get("reason") if isinstance(m.pruned, dict) else m.pruned)
        if isinstance(m.pruned, dict):  # racing's "by", an Optuna pruner's "pruner"
            row["pruned_by"] = _one_line(m.pruned.get("by") or m.pruned.get("pruner"), 80)
    if isinstance(m.selection, dict):  # select.metric / select.constraints (evaluate/constraints.py)
        sel = m.selection
        row.update(select_metric=sel.get("metric"), select_value=clean(sel.get("value")),
                   feasible=sel.get("feasible") if isinstance(sel.get("feasible"), bool) else None,
                   broken=[_one_line(b) for b in sel.get("broken") or []],
                   constraints=[str(c) for c in sel.get("constraints") or []], select_on=sel.get("on"))
    others = {f"{name}_{k}": clean(v.get(k)) for name, v in metrics.items() if name != primary
              for k in ("mean", "lower", "upper") if k in v}
    return row, others


def add_metric_columns(rows: list[dict], others: list[dict]) -> list[str]:
    """Every other metric's columns on every row (empty where a job has none); returns their names, in name
    order, so the columns do not depend on which job came first."""
    metric_cols = sorted({k for o in others for k in o})
    for row, other in zip(rows, others):
        for col in metric_cols:
            row[col] = other.get(col)
    return metric_cols


def counts(rows: list[dict]) -> dict[str, int]:
    """Jobs per status, every status listed (damaged only where there is one)."""
    out = {k: 0 for k in STATUSES}
    for r in rows:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def add_comparisons(rows: list[dict], comparisons: Mapping, estimate: Callable[[list], dict]) -> list[dict]:
    """Each completed job against the best job on the same data and folds (``comparisons``:
    compare.compare_to_best of the jobs' records), and the best job's BBC-CV estimate where the group has 2+
    jobs (``estimate(jobs)``: selection.group_estimate of those jobs; ValueError or OSError where it cannot be
    computed). Returns the groups' selection records (summary.json's "selection")."""
    selection = []
    # Racing's pruned jobs have no out-of-fold predictions to resample: BBC-CV picks among the jobs that ran every
    # fold, and says how many of the model's jobs it leaves out (clearly worse on their folds, so rarely picked).
    pruned = Counter(r["model"] for r in rows if r["status"] == Status.PRUNED)
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
            res = estimate(jobs)
        except (ValueError, OSError) as exc:  # a predictions.csv missing or unlike the others: said, not fatal
            row["bbc_note"] = entry["note"] = _one_line(f"no BBC-CV estimate: {exc}")
        else:
            entry["bbc_cv"] = {k: res[k] for k in ("estimate", "lower", "upper", "level", "n_boot", "n_valid",
                                                   "selected", "method")}
            entry["bbc_cv"]["selected"] = {str(j): n for j, n in res["selected"].items()}
            row.update(bbc_estimate=res["estimate"], bbc_lower=res["lower"], bbc_upper=res["upper"])
        row["bbc_configurations"] = len(jobs)
        if pruned.get(row["model"]):
            row["bbc_pruned"] = entry["pruned_left_out"] = pruned[row["model"]]
        selection.append(entry)
    return selection


@dataclass
class Board:
    """One leaderboard table: the completed jobs of one model and task/metric, best first."""
    title: str
    by: str  # the figure they are ranked by: "pooled" or "mean" (ranking.ranked_by)
    rows: list[dict]
    columns: list[cells.Column]  # the figure columns every renderer shows (cells.columns)


def _sort_key(row: dict, by: str):
    """Best first by the ranked figure (direction from metrics.json; select.metric's pooled value where the
    job records one, ranking.selected_value); jobs breaking select.constraints after those meeting them; no
    metric last; then job number."""
    value, higher = selected_value(row, by)
    infeasible = row.get("feasible") is False
    if math.isnan(value):
        return (infeasible, 1, 0.0, row["job"])
    return (infeasible, 0, -value if higher else value, row["job"])


def constraints_cell(row: dict) -> str:
    """"met", or the select.constraints a job breaks, with the value checked."""
    if row.get("feasible") is None:
        return "-"
    return "met" if row["feasible"] else "breaks " + "; ".join(row.get("broken") or ["?"])


def constraints_title(group: list[dict]) -> str:
    """What a leaderboard title says of select.constraints: how many jobs meet them, or that none does."""
    checked = [r for r in group if r.get("feasible") is not None]
    if not checked:
        return ""
    constraints = sorted({c for r in checked for c in r.get("constraints") or []})
    on = "/".join(sorted({str(r.get("select_on")) for r in checked}))
    metrics = sorted({str(r.get("select_metric")) for r in checked})
    checked_on = "95% interval's unfavourable limit" if on == "bound" else "pooled value" if on == "point" else on
    what = f"constraints {', '.join(constraints)} (checked on the {checked_on})" if constraints else "no constraints"
    met = sum(bool(r["feasible"]) for r in checked)
    ranked = f"; best by {', '.join(metrics)}" if metrics != [str(group[0].get("primary_metric"))] else ""
    if constraints and met == 0:
        return f" - NO job meets {what}: none is best{ranked}"
    return f" - {met} of {len(checked)} jobs meet {what}{ranked}"


def leaderboard(rows: list[dict]) -> list[Board]:
    """The leaderboard tables per model and task/metric, in name order: completed rows best first."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["status"] == Status.COMPLETED and r.get("primary_mean") is not None:
            key = (str(r["model"]), str(r.get("task")), str(r["primary_metric"]), bool(r["greater_is_better"]))
            groups.setdefault(key, []).append(r)
    out = []
    for (model, task, metric, higher) in sorted(groups):
        group = groups[(model, task, metric, higher)]
        by = ranked_by(r.get("primary_pooled") for r in group)
        title = (f"{model} ({task}, {metric}, {'higher' if higher else 'lower'} is better), ranked by the "
                 f"{'pooled out-of-fold value' if by == POOLED else 'mean over folds (no pooled value recorded)'}")
        synthetic = sum(bool(r.get("synthetic")) for r in group)
        if synthetic:
            title += (" - SYNTHETIC data, not real patients" if synthetic == len(group)
                      else f" - {synthetic} of {len(group)} jobs on SYNTHETIC data")
        title += constraints_title(group)
        ranked = sorted(group, key=lambda r: _sort_key(r, by))
        columns = cells.columns(ranked, by)
        if any(r.get("feasible") is not None for r in ranked):
            metric = ranked[0].get("select_metric")
            if metric and metric != ranked[0].get("primary_metric"):
                columns.append((f"{metric} pooled, ranked", lambda r: "-" if r.get("select_value") is None
                                else f"{r['select_value']:.3f}"))
            columns.append(("constraints", constraints_cell))
        out.append(Board(title, by, ranked, columns))
    return out


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


def _selected_trial(opt: dict, rows: list[dict]) -> Optional[dict]:
    """The job of the search's best trial: its overrides hold every best parameter."""
    wanted = {f"{k}={v}" for k, v in (opt.get("best_params") or {}).items()}
    for r in rows:
        if wanted and wanted <= set(r["overrides"].split()):
            return r
    return None


def optimization(opt: dict, rows: list[dict]) -> dict:
    """summary.json's "optimization" of a search (optuna_results.yaml): its best trial, and a note on how far
    that trial's score can be trusted (BBC-CV and never-seen patients where the sweep has them)."""
    out = {k: opt.get(k) for k in ("name", "best_params", "best_value")}
    selected = _selected_trial(opt, rows)
    note = ("The best trial was chosen by its cross-validated score on the same folds that score it: that "
            "score is optimistic.")
    if selected is not None and selected.get("bbc_estimate") is not None:
        note += (f" Its bias-corrected score (BBC-CV over {selected['bbc_configurations']} trials): "
                 f"{cells.row_bbc(selected)}.")
    if selected is not None and selected.get("test_value") is not None:
        note += f" On patients it never saw (#{selected['job']}, {selected['test_source']}): {cells.row_test(selected)}."
    elif selected is not None:
        note += " Set trainer.holdout or data.test_path for an unbiased score of the selected trial."
    out.update(note=note, selected_job=selected["job"] if selected else None)
    if opt.get("pareto_front") is not None:  # several objectives: the trials no other beats on all (pareto.py)
        out.update(objectives=opt.get("objectives"), pareto_front=opt["pareto_front"])
    return out


def not_completed(rows: list[dict]) -> list[dict]:
    """Jobs without a result, but the pruned ones (pruned_rows): failed, stopped, missing, damaged."""
    return [r for r in rows if (r["status"] != Status.COMPLETED or r.get("primary_mean") is None)
            and r["status"] != Status.PRUNED]


def pruned_rows(rows: list[dict]) -> list[dict]:
    """Jobs a search stopped early (racing, an Optuna pruner): not failures, shown apart with why."""
    return [r for r in rows if r["status"] == Status.PRUNED]
