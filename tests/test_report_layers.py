"""The report package's seams: one ranking rule for the leaderboard, summary.png, compare and the registered
model; the tracking line read from tracking.json without the tracking package; report.html from an autoescaped
template; and report importing nothing above it (tracking, cli)."""

import json
import math
import subprocess
import sys

import pytest

from helpers import ROOT
from medsweep.record.job_record import JobRecord
from medsweep.report import compare, ranking, table
from medsweep.report.summarize import summarize_sweep
from medsweep.report.sweep_plot import plot_sweep
from medsweep.report.tracking_line import tracking_line


def record(pooled, mean, higher=True):
    figures = {"mean": mean, "std": 0.01, "folds": [mean] * 3}
    if pooled is not None:
        figures["pooled"] = pooled
    return {"status": "completed", "model": "m", "estimator": "e", "task": "classification",
            "primary_metric": "roc_auc" if higher else "brier", "greater_is_better": higher,
            "metrics": {"roc_auc" if higher else "brier": figures}}


def rows_of(records):  # the summary's rows, from the records as reading.read_job returns them
    return [table.job_row({"num": num, "dir": str(num), "overrides": []}, JobRecord.from_json(r), [], None)[0]
            for num, r in enumerate(records)]


@pytest.mark.parametrize("figures, order", [
    # every job has its pooled value: ranked by it, whatever the means say
    ([(0.70, 0.90), (0.80, 0.60), (0.75, 0.99)], [1, 2, 0]),
    # one job without a pooled value (an older metrics.json): every job ranked by its mean
    ([(0.70, 0.90), (None, 0.60), (0.75, 0.99)], [2, 0, 1]),
    # a NaN pooled value counts as none
    ([(0.70, 0.90), (math.nan, 0.95), (0.75, 0.50)], [1, 0, 2]),
])
@pytest.mark.parametrize("higher", [True, False])
def test_one_ranking_rule_for_the_leaderboard_the_plot_and_compare(tmp_path, figures, order, higher):
    records = [record(p, m, higher) for p, m in figures]
    expected = order if higher else order[::-1]
    by = "pooled" if all(p is not None and math.isfinite(p) for p, _ in figures) else "mean"
    assert compare.ranked_by(records) == by
    assert sorted(range(3), key=lambda j: compare.better_first(records[j], by)) == expected
    (board,) = table.leaderboard(rows_of(records))
    assert board.by == by and [r["job"] for r in board.rows] == expected
    (panel,) = plot_sweep(rows_of(records), tmp_path / "summary.png")
    assert panel["by"] == by and [job for job, *_ in panel["jobs"]] == expected


def test_the_rule_itself():
    assert ranking.ranked_by([0.1, 0.2]) == "pooled" and ranking.ranked_by([]) == "pooled"
    assert ranking.ranked_by([0.1, None]) == ranking.ranked_by([0.1, math.inf]) == ranking.ranked_by([True]) == "mean"
    assert ranking.rank_value(0.7, 0.9, "pooled") == 0.7 and ranking.rank_value(0.7, 0.9, "mean") == 0.9
    assert ranking.rank_value(None, 0.9, "pooled") == 0.9 and math.isnan(ranking.rank_value(None, None))


def test_the_tracking_line_is_read_from_tracking_json(tmp_path):
    assert tracking_line(tmp_path) is None  # not tracked
    (tmp_path / "tracking.json").write_text("{not json")
    assert tracking_line(tmp_path) is None
    (tmp_path / "tracking.json").write_text(json.dumps({"status": "logged", "message": "MLflow: 3 runs logged"}))
    assert tracking_line(tmp_path) == "MLflow: 3 runs logged"
    (tmp_path / "tracking.json").write_text(json.dumps({"status": "failed"}))
    assert tracking_line(tmp_path) == "MLflow tracking: failed"
    (tmp_path / "tracking.json").write_text(json.dumps({"status": "logging", "experiment": "exp", "uri": "sqlite:///m.db",
                                                        "parent": "r1", "logged": {"0": "a", "1": "b"}}))
    assert tracking_line(tmp_path) == (
        "MLflow: experiment 'exp' in sqlite:///m.db, parent run r1; 2 jobs logged as they ended, the rest when the "
        f"sweep ends (a sweep stopped before its end: medsweep track {tmp_path.resolve()})")
    (tmp_path / "tracking.json").write_text(json.dumps({"status": "logging", "logged": 5}))
    with pytest.raises(TypeError):  # the summary leaves the line out, with a warning
        tracking_line(tmp_path)


def test_report_html_escapes_every_value_of_its_template(tmp_path):
    """Autoescape is on: a value from a job's files is shown as text, with html.escape's entities."""
    job = tmp_path / "0"
    job.mkdir()
    rec = record(0.8, 0.8)
    rec.update(estimator="<script>alert('x')</script>", overrides=['estimator.name="<b>"'])
    (job / "metrics.json").write_text(json.dumps(rec))
    summarize_sweep(tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "estimator.name=&quot;&lt;b&gt;&quot;" in page


def test_the_template_is_shipped_with_the_package():
    assert (ROOT / "src" / "medsweep" / "report" / "templates" / "report.html.j2").is_file()
    assert '"medsweep.report" = ["templates/*.j2"]' in (ROOT / "pyproject.toml").read_text()


def test_the_summary_imports_neither_tracking_nor_the_command_line():
    code = ("import sys, medsweep.report.summarize, medsweep.report.compare_dirs; "
            "print(sorted(m for m in sys.modules if m.startswith(('medsweep.tracking', 'medsweep.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_report_reads_records_as_jobrecords_and_a_dict_alike(tmp_path):
    """reading.read_job gives a JobRecord (metrics.json's keys are record.job_record's); compare and the model
    card read a JobRecord and metrics.json's content as a dict (the MLflow registry hands one) the same way."""
    from medsweep.record.sweep_dir import SweepDir
    from medsweep.report.model_card import render_model_card
    from medsweep.report.reading import read_job

    a = {**record(0.8, 0.8), "data": {"sha256": "ab" * 32},
         "splits": {"fingerprint": "f", "folds": 3, "repeats": 1, "n_train": [20] * 3, "n_test": [10] * 3}}
    b = {**a, "metrics": {"roc_auc": {"mean": 0.7, "folds": [0.7, 0.72, 0.68], "pooled": 0.7}}}
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "metrics.json").write_text(json.dumps({**a, "overrides": ["seed=1"]}))
    got, overrides, damage = read_job(SweepDir(tmp_path), {"num": 0, "dir": "0", "overrides": None})
    assert isinstance(got, JobRecord) and got.completed and overrides == ["seed=1"] and damage is None
    assert got.to_json() == {**a, "overrides": ["seed=1"]}
    ra, rb = JobRecord.from_json(a), JobRecord.from_json(b)
    assert compare.comparable(a, b) is None and compare.comparable(ra, rb) is None
    assert compare.paired_test(a, b) == compare.paired_test(ra, rb)
    assert compare.compare_to_best({0: a, 1: b}) == compare.compare_to_best({0: ra, 1: rb})
    assert render_model_card(a, "cmd") == render_model_card(ra, "cmd")
    # a record without greater_is_better (an older file) reads as higher-is-better; a recorded null does not
    old = {k: v for k, v in a.items() if k != "greater_is_better"}
    assert compare.better_first(old) == -0.8 and compare.better_first({**a, "greater_is_better": None}) == 0.8


def test_a_damaged_record_is_said_whatever_jobrecord_keeps(tmp_path):
    """JobRecord keeps an unexpected value as read: reading.py still names the key and the value."""
    from medsweep.record.sweep_dir import SweepDir
    from medsweep.report.reading import read_job

    job = {"num": 0, "dir": "0", "overrides": []}
    (tmp_path / "0").mkdir()
    for content, said in ((["a"], "0/metrics.json: holds a JSON list, not a job's record"),
                          ({"status": "great"}, "0/metrics.json: status is 'great', not one of"),
                          ({"status": "completed", "splits": [1]}, "0/metrics.json: splits is [1], not a mapping"),
                          ({"status": "completed", "metrics": {"auc": {"mean": "x"}}},
                           "0/metrics.json: metrics.auc.mean is 'x', not a number")):
        (tmp_path / "0" / "metrics.json").write_text(json.dumps(content))
        got, _, damage = read_job(SweepDir(tmp_path), job)
        assert got is None and damage.startswith(said), damage
    (tmp_path / "0" / "metrics.json").write_text(json.dumps({"status": "completed"}))  # no splits: not damage
    assert read_job(SweepDir(tmp_path), job)[2] is None
