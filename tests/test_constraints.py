"""The best model under clinical constraints (select.metric, select.constraints, select.on): parsing and the
checks before any job runs, each job's verdict (point or unfavourable bound), and which job the leaderboard,
``compare``'s "vs best", ``register_best`` and the model card call best."""

import hashlib
import json


from medsweep.config.schema import config_errors
from medsweep.evaluate.constraints import check, constraint_errors, parse_constraint
from medsweep.job import runner
from medsweep.record.job_record import JobRecord
from medsweep.report.compare import compare_to_best
from medsweep.report.model_card import render_model_card
from medsweep.report.table import job_row, leaderboard
from medsweep.tracking.mlflow.registry import best_jobs

METRICS = {"roc_auc": {"pooled": 0.90, "lower": 0.85, "upper": 0.95},
           "sensitivity": {"pooled": 0.88, "lower": 0.80, "upper": 0.94}}
EVALUATION = {"calibration": {"slope": 1.10, "interval": {"slope": {"lower": 0.90, "upper": 1.40}}}}
CONSTRAINTS = ["calibration_slope>=0.8", "calibration_slope<=1.25", "sensitivity>=0.85"]


def test_constraints_parse_and_name_what_is_allowed():
    c = parse_constraint(" sensitivity >= 0.85 ")
    assert (c.metric, c.op, c.value, str(c)) == ("sensitivity", ">=", 0.85, "sensitivity>=0.85")
    errors = " | ".join(constraint_errors("rmse", ["sens>=0.8", "roc_auc=>0.7", "ece<0.1"], "both", "classification"))
    assert "select.metric='rmse' is not allowed" in errors and "roc_auc" in errors
    assert "unknown metric 'sens'" in errors and "calibration_slope" in errors and "sensitivity" in errors
    assert "'roc_auc=>0.7' is not <metric><operator><number> (operators: >= <= > <)" in errors
    assert "select.on='both' is not allowed: must be point" in errors and "ece" not in errors.split("|")[-1]
    # A regression has no sensitivity or calibration slope.
    assert "unknown metric 'sensitivity'" in " ".join(constraint_errors(None, ["sensitivity>=0.8"], "point",
                                                                        "regression"))
    assert constraint_errors(None, CONSTRAINTS, "bound", "classification", n_boot=0)[0].startswith(
        "select.on='bound' is not allowed with eval.n_boot=0")


def test_the_config_check_refuses_bad_constraints_before_any_job(compose_cfg):
    assert config_errors(compose_cfg("select.constraints=[\"sensitivity>=0.85\"]")) == []
    errors = config_errors(compose_cfg("select.constraints=[\"auc>=0.8\"]", "select.metric=r2"))
    assert any(e.startswith("select.constraints='auc>=0.8' is not allowed: unknown metric 'auc'") for e in errors)
    assert any(e.startswith("select.metric='r2' is not allowed") for e in errors)


def test_point_checks_the_pooled_value_and_bound_the_unfavourable_limit():
    point = check(METRICS, EVALUATION, CONSTRAINTS, "point", None, "roc_auc")
    assert point["feasible"] and [c["value"] for c in point["checked"]] == [1.10, 1.10, 0.88]
    bound = check(METRICS, EVALUATION, CONSTRAINTS, "bound", "sensitivity", "roc_auc")
    # >= takes the lower limit, <= the upper one: slope 0.90 >= 0.8 holds, 1.40 <= 1.25 and 0.80 >= 0.85 do not.
    assert [c["value"] for c in bound["checked"]] == [0.90, 1.40, 0.80]
    assert [c["met"] for c in bound["checked"]] == [True, False, False] and not bound["feasible"]
    assert bound["broken"] == ["calibration_slope<=1.25 (bound 1.4)", "sensitivity>=0.85 (bound 0.8)"]
    assert bound["metric"] == "sensitivity" and bound["value"] == 0.88
    # A value the job does not have cannot be shown to hold.
    missing = check({}, {}, ["ece<0.1"], "point")
    assert missing["broken"] == ["ece<0.1 (value not available)"] and not missing["feasible"]


def test_a_job_records_its_verdict_and_one_without_select_records_nothing_new(compose_cfg, tmp_path):
    common = ("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=100")
    runner.run_job(compose_cfg(*common, "select.constraints=[\"sensitivity>=0.99\",\"calibration_slope>=0.5\"]",
                               "select.on=bound"), tmp_path / "a")
    record = json.loads((tmp_path / "a" / "metrics.json").read_text())
    sel = record["selection"]
    assert sel["checked"][0]["value"] == record["metrics"]["sensitivity"]["lower"]
    assert sel["checked"][1]["value"] == record["evaluation"]["calibration"]["interval"]["slope"]["lower"]
    assert sel["feasible"] is (record["metrics"]["sensitivity"]["lower"] >= 0.99 and
                               sel["checked"][1]["value"] >= 0.5)
    card = (tmp_path / "a" / "model_card.md").read_text()
    assert ("**Meets** the sweep's constraints" if sel["feasible"] else "**Does not meet**") in card
    runner.run_job(compose_cfg(*common, "eval.n_boot=0"), tmp_path / "b")
    assert "selection" not in json.loads((tmp_path / "b" / "metrics.json").read_text())


def _record(job, auc, sens, feasible, folds, select_metric=None):
    sel = {"metric": select_metric or "roc_auc", "on": "point", "constraints": ["sensitivity>=0.85"],
           "broken": [] if feasible else [f"sensitivity>=0.85 (value {sens})"], "feasible": feasible,
           "value": sens if select_metric == "sensitivity" else auc}
    return JobRecord.from_json({
        "model": "heart", "estimator": "logreg", "task": "classification", "primary_metric": "roc_auc",
        "greater_is_better": True, "folds": 4, "seed": 0, "overrides": [f"estimator.C={job}"],
        "metrics": {"roc_auc": {"mean": auc, "std": 0.01, "pooled": auc, "folds": folds},
                    "sensitivity": {"mean": sens, "pooled": sens, "folds": [sens + d for d in (0.01, -0.01, 0.02, -0.02)]}},
        "data": {"sha256": "5" * 64}, "status": "completed", "selection": sel,
        "splits": {"fingerprint": "f" * 64, "folds": 4, "repeats": 1, "n_train": [75] * 4, "n_test": [25] * 4}})


RECORDS = {0: _record(0, 0.93, 0.70, False, [0.92, 0.94, 0.93, 0.93]),   # the highest AUC, misses sensitivity
           1: _record(1, 0.90, 0.90, True, [0.89, 0.91, 0.90, 0.90]),
           2: _record(2, 0.88, 0.95, True, [0.87, 0.89, 0.88, 0.88])}


def _rows(records):
    return [job_row({"num": j, "dir": str(j)}, r, r.overrides, None)[0] for j, r in records.items()]


def test_the_leaderboard_puts_jobs_meeting_the_constraints_first_and_marks_the_others():
    board, = leaderboard(_rows(RECORDS))
    assert [r["job"] for r in board.rows] == [1, 2, 0]
    assert "2 of 3 jobs meet constraints sensitivity>=0.85 (checked on the pooled value)" in board.title
    cells = dict(board.columns)["constraints"]
    assert [cells(r) for r in board.rows] == ["met", "met", "breaks sensitivity>=0.85 (value 0.7)"]
    # select.metric=sensitivity ranks by its pooled value.
    by_sens = {j: _record(j, r.metrics["roc_auc"]["pooled"], r.metrics["sensitivity"]["pooled"],
                          r.selection["feasible"], r.metrics["roc_auc"]["folds"], "sensitivity")
               for j, r in RECORDS.items()}
    board, = leaderboard(_rows(by_sens))
    assert [r["job"] for r in board.rows] == [2, 1, 0] and "best by sensitivity" in board.title
    none = {j: _record(j, 0.9, 0.7, False, [0.9] * 4) for j in (0, 1)}
    assert "NO job meets constraints sensitivity>=0.85" in leaderboard(_rows(none))[0].title


def test_compare_and_register_best_skip_a_job_breaking_a_constraint(tmp_path):
    vs = compare_to_best(RECORDS)
    assert vs[1]["best"] == 1 and vs[0]["best"] == 1 and vs[0]["breaks"] == ["sensitivity>=0.85 (value 0.7)"]
    assert vs[1]["group"] == [1, 2]   # what the best was picked from (and its BBC-CV picks from)
    none = {j: _record(j, 0.9, 0.7, False, [0.9, 0.91, 0.89, 0.9]) for j in (0, 1)}
    assert all("no job on these folds meets select.constraints" in c["reason"] for c in compare_to_best(none).values())

    keyed = []
    for j, record in RECORDS.items():
        folder = tmp_path / str(j)
        folder.mkdir()
        (folder / "model.skops").write_bytes(b"model %d" % j)
        sha = hashlib.sha256(b"model %d" % j).hexdigest()
        (folder / "metrics.json").write_text(json.dumps(record.updated(model_sha256=sha).to_json()))
        keyed.append((str(j), folder))
    best = best_jobs(keyed, {"0", "1", "2"})
    assert best["heart"][1] == "1"
    assert best_jobs(keyed[:1], {"0"}) == {}   # the only job breaks them: nothing is registered


def test_the_model_card_says_whether_the_job_meets_the_constraints():
    card = render_model_card(RECORDS[0].updated(job_dir="x"), "medsweep reproduce x")
    assert "**Does not meet** the sweep's constraints" in card and "sensitivity&gt;=0.85 (value 0.7)" in card
    assert "Meets" in render_model_card(RECORDS[1], "c") and "constraints" not in render_model_card(
        JobRecord.from_json({k: v for k, v in RECORDS[1].to_json().items() if k != "selection"}), "c")
