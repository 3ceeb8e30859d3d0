"""summary.csv's columns after ``error``: why a search pruned a job (metrics.json's ``pruned``) and each job's
verdict on select.constraints (its ``selection``), present only in a sweep that has them; from records written by
hand, no sweep run."""

import csv
import json

from medsweep.report.summarize import summarize_sweep

# summary.csv's columns before issue 25's, in order (no other metric here: they sit between warnings and folds).
BEFORE = ["job", "rank", "overrides", "model", "estimator", "task", "status", "primary_metric", "greater_is_better",
          "primary_mean", "primary_std", "primary_pooled", "primary_lower", "primary_upper", "test_source",
          "test_value", "test_lower", "test_upper", "vs_best_job", "vs_best_diff", "vs_best_lower", "vs_best_upper",
          "vs_best_p", "vs_best_p_holm", "distinguishable", "comparison_note", "bbc_estimate", "bbc_lower",
          "bbc_upper", "bbc_configurations", "bbc_note", "synthetic", "n_warnings", "warnings",
          "folds", "seed", "duration_s", "dir", "error_type", "error"]
CONSTRAINTS = ["sensitivity>=0.85", "calibration_slope>=0.8"]


def _job(sweep, num, status="completed", auc=0.8, selection=None, pruned=None):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    overrides = [f"estimator.C={num}"]
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    record = {"model": "heart", "estimator": "logreg", "task": "classification", "primary_metric": "roc_auc",
              "greater_is_better": True, "folds": 3, "seed": 0, "job_num": num, "overrides": overrides,
              "status": status, "duration_s": 1.0}
    if status == "completed":
        record["metrics"] = {"roc_auc": {"mean": auc, "std": 0.01, "folds": [auc - 0.01, auc, auc + 0.01]}}
    if selection is not None:
        record["selection"] = selection
    if pruned is not None:
        record["pruned"] = pruned
    (job / "metrics.json").write_text(json.dumps(record))


def _verdict(feasible, sens):
    return {"metric": "roc_auc", "value": 0.8, "on": "point", "constraints": CONSTRAINTS,
            "checked": [{"constraint": CONSTRAINTS[0], "value": sens, "met": sens >= 0.85},
                        {"constraint": CONSTRAINTS[1], "value": 1.0, "met": True}],
            "broken": [] if feasible else [f"sensitivity>=0.85 (value {sens})"], "feasible": feasible}


def _csv(sweep):
    summarize_sweep(sweep)
    with open(sweep / "summary.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_pruned_reason_and_constraint_verdict_are_appended_after_the_existing_columns(tmp_path):
    sweep = tmp_path / "sweep"
    _job(sweep, 0, auc=0.90, selection=_verdict(False, 0.70))
    _job(sweep, 1, auc=0.85, selection=_verdict(True, 0.90))
    _job(sweep, 2, status="pruned", pruned={"reason": "racing: roc_auc worse than job 1's on 2 shared folds",
                                             "by": "racing", "metric": "roc_auc"})
    _job(sweep, 3, status="pruned", pruned={"reason": "Optuna's WilcoxonPruner: after 2 folds",
                                             "pruner": "WilcoxonPruner", "trial": 3})
    _job(sweep, 4, status="failed")
    columns, rows = _csv(sweep)
    assert columns == BEFORE + ["pruned_reason", "pruned_by", "bbc_pruned", "select_metric", "select_value", "select_on",
                                "constraints", "meets_constraints", "broken_constraints"]
    by_job = {int(r["job"]): r for r in rows}
    assert by_job[2]["status"] == "pruned" and by_job[2]["pruned_by"] == "racing"
    assert by_job[2]["pruned_reason"] == "racing: roc_auc worse than job 1's on 2 shared folds"
    assert (by_job[3]["pruned_by"], by_job[3]["pruned_reason"]) == ("WilcoxonPruner",
                                                                    "Optuna's WilcoxonPruner: after 2 folds")
    assert [by_job[j]["meets_constraints"] for j in range(5)] == ["False", "True", "", "", ""]
    assert by_job[0]["broken_constraints"] == "sensitivity>=0.85 (value 0.7)" and by_job[1]["broken_constraints"] == ""
    assert by_job[1]["constraints"] == "sensitivity>=0.85; calibration_slope>=0.8" and by_job[1]["select_on"] == "point"
    assert (by_job[1]["select_metric"], float(by_job[1]["select_value"])) == ("roc_auc", 0.8)
    assert all(by_job[j]["pruned_reason"] == "" for j in (0, 1, 4))
    # The job meeting them ranks first, as on the leaderboard; the pruned and failed jobs have no rank.
    assert (by_job[1]["rank"], by_job[0]["rank"], by_job[2]["rank"]) == ("1", "2", "")


def test_a_sweep_without_pruned_jobs_or_constraints_keeps_the_columns_it_always_had(tmp_path):
    sweep = tmp_path / "plain"
    _job(sweep, 0)
    _job(sweep, 1, auc=0.7)
    assert _csv(sweep)[0] == BEFORE
    only_pruned = tmp_path / "pruned"
    _job(only_pruned, 0)
    _job(only_pruned, 1, status="pruned", pruned={"reason": "stopped", "by": "racing"})
    assert _csv(only_pruned)[0] == BEFORE + ["pruned_reason", "pruned_by", "bbc_pruned"]
