"""`medsweep summarize` on a damaged sweep (hand-edited, foreign or corrupted files): one line naming the file
and exit 2 when the sweep itself is unusable; otherwise the damaged job is shown as such (status "damaged",
its error naming the file and the value) while every other job is summarised. Never a traceback."""

import json
import math
import os

import pytest

from medsweep.cli.summarize import main
from medsweep.report.summarize import DAMAGED

OVERRIDES = {0: ["model=parkinsons", "estimator=logreg"], 1: ["model=parkinsons", "estimator=mlp"],
             2: ["model=parkinsons", "estimator=hist_gbdt"]}


def _record(num):
    if num == 2:
        return {"status": "failed", "error_type": "ValueError", "error": "it broke", "model": "parkinsons",
                "estimator": "hist_gbdt", "overrides": OVERRIDES[2]}
    return {"status": "completed", "model": "parkinsons", "estimator": OVERRIDES[num][1].split("=")[1],
            "task": "classification", "primary_metric": "roc_auc", "greater_is_better": True, "folds": 3, "seed": 0,
            "duration_s": 1.0, "overrides": OVERRIDES[num], "data": {"sha256": "ab" * 32},
            "metrics": {"roc_auc": {"mean": 0.8 + num / 10, "std": 0.01, "pooled": 0.8, "lower": 0.7, "upper": 0.9,
                                    "folds": [0.79 + num / 10, 0.8 + num / 10, 0.81 + num / 10]},
                        "accuracy": {"mean": 0.7, "std": 0.02}},
            "test": {"source": "holdout", "metrics": {"roc_auc": {"value": 0.75, "lower": 0.6, "upper": 0.85}}}}


@pytest.fixture
def sweep(tmp_path):
    """Three jobs (two completed, one failed) listed in sweep.json, as the sweeper leaves them."""
    for num in OVERRIDES:
        (tmp_path / str(num) / ".hydra").mkdir(parents=True)
        (tmp_path / str(num) / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in OVERRIDES[num]))
        (tmp_path / str(num) / "metrics.json").write_text(json.dumps(_record(num)))
    (tmp_path / "sweep.json").write_text(json.dumps(
        {"command": "train.py -m", "jobs": [{"num": n, "dir": str(n), "overrides": o} for n, o in OVERRIDES.items()]}))
    return tmp_path


def _edit_json(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _metrics(num, change):
    return lambda s: _edit_json(s / str(num) / "metrics.json", change)


def _sweep_json(change):
    return lambda s: _edit_json(s / "sweep.json", change)


def _write(relative, text):
    def damage(s):
        (s / relative).write_text(text)
    return damage


def _no_listed_overrides(s):
    _edit_json(s / "sweep.json", lambda d: [j.update(overrides=None) for j in d["jobs"]])


def _python_tag(s):
    _no_listed_overrides(s)
    (s / "1" / ".hydra" / "overrides.yaml").write_text("- !!python/object/apply:os.system ['echo pwned']\n")


def _not_a_list_yaml(s):
    _no_listed_overrides(s)
    (s / "1" / ".hydra" / "overrides.yaml").write_text("model: parkinsons\n")


def _broken_yaml(s):
    _no_listed_overrides(s)
    (s / "1" / ".hydra" / "overrides.yaml").write_text("- [unclosed\n")


def _metrics_is_a_folder(s):
    (s / "1" / "metrics.json").unlink()
    (s / "1" / "metrics.json").mkdir()


def _job_dir_is_a_file(s):
    for p in sorted((s / "1").rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    (s / "1").rmdir()
    (s / "1").write_text("not a folder")


def _sweep_json_is_a_folder(s):
    (s / "sweep.json").unlink()
    (s / "sweep.json").mkdir()


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _set_metric(key, value, metric="roc_auc"):
    return lambda d: d["metrics"][metric].__setitem__(key, value)


# (what, damage, expected): ("sweep", file named) = exit 2 with one line; ("job", n, file, value) = job n damaged.
DAMAGES = [
    ("jobs is text", _sweep_json(_set("jobs", "x")), ("sweep", "sweep.json")),
    ("sweep.json is a list", _write("sweep.json", "[1, 2]"), ("sweep", "sweep.json")),
    ("a job without num", _sweep_json(lambda d: d["jobs"][1].pop("num")), ("sweep", "sweep.json")),
    ("num is text", _sweep_json(lambda d: d["jobs"][1].update(num="one")), ("sweep", "sweep.json")),
    ("num is a dict", _sweep_json(lambda d: d["jobs"][1].update(num={"a": 1})), ("sweep", "sweep.json")),
    ("a job listed twice", _sweep_json(lambda d: d["jobs"][1].update(num=0)), ("sweep", "sweep.json")),
    ("sweep.json is a folder", _sweep_json_is_a_folder, ("sweep", "sweep.json")),
    ("dir outside the sweep", _sweep_json(lambda d: d["jobs"][1].update(dir="../../etc")), ("job", 1, "sweep.json", "../../etc")),
    ("absolute dir", _sweep_json(lambda d: d["jobs"][1].update(dir="/etc")), ("job", 1, "sweep.json", "/etc")),
    ("dir is a list", _sweep_json(lambda d: d["jobs"][1].update(dir=[1])), ("job", 1, "sweep.json", "[1]")),
    ("listed overrides are text", _sweep_json(lambda d: d["jobs"][1].update(overrides="x")), ("job", 1, "sweep.json", "'x'")),
    ("metrics.json is a list", _write("1/metrics.json", "[1]"), ("job", 1, "metrics.json", "list")),
    ("metrics.json is not JSON", _write("1/metrics.json", "{not json"), ("job", 1, "metrics.json", "")),
    ("metrics.json is not UTF-8", lambda s: (s / "1" / "metrics.json").write_bytes(b'{"status": "\xff"}'),
     ("job", 1, "metrics.json", "")),
    ("status is a dict", _metrics(1, _set("status", {"a": 1})), ("job", 1, "metrics.json", "{'a': 1}")),
    ("status is unknown", _metrics(1, _set("status", "great")), ("job", 1, "metrics.json", "'great'")),
    ("primary_metric is a number", _metrics(1, _set("primary_metric", 5)), ("job", 1, "metrics.json", "5")),
    ("metrics is a list", _metrics(1, _set("metrics", [1, 2])), ("job", 1, "metrics.json", "[1, 2]")),
    ("the primary metric is a number", _metrics(1, _set("metrics", {"roc_auc": 0.8})), ("job", 1, "metrics.json", "0.8")),
    ("mean is text", _metrics(1, _set_metric("mean", "0.8x")), ("job", 1, "metrics.json", "'0.8x'")),
    ("mean is a boolean", _metrics(1, _set_metric("mean", True)), ("job", 1, "metrics.json", "True")),
    ("std is text", _metrics(1, _set_metric("std", "wide")), ("job", 1, "metrics.json", "'wide'")),
    ("lower is a list", _metrics(1, _set_metric("lower", [0.1])), ("job", 1, "metrics.json", "[0.1]")),
    ("another metric's mean is text", _metrics(1, lambda d: d["metrics"]["accuracy"].update(mean="x")),
     ("job", 1, "metrics.json", "'x'")),
    ("greater_is_better is text", _metrics(1, _set("greater_is_better", "no")), ("job", 1, "metrics.json", "'no'")),
    ("folds is text", _metrics(1, _set("folds", "three")), ("job", 1, "metrics.json", "'three'")),
    ("seed is a float", _metrics(1, _set("seed", 1.5)), ("job", 1, "metrics.json", "1.5")),
    ("duration is text", _metrics(1, _set("duration_s", "long")), ("job", 1, "metrics.json", "'long'")),
    ("test is a list", _metrics(1, _set("test", [1])), ("job", 1, "metrics.json", "[1]")),
    ("test value is text", _metrics(1, lambda d: d["test"]["metrics"]["roc_auc"].update(value="hi")),
     ("job", 1, "metrics.json", "'hi'")),
    ("data is a list", _metrics(1, _set("data", ["x"])), ("job", 1, "metrics.json", "['x']")),
    ("splits is text", _metrics(1, _set("splits", "x")), ("job", 1, "metrics.json", "'x'")),
    ("error_type is a number", _metrics(2, _set("error_type", 7)), ("job", 2, "metrics.json", "7")),
    ("model is a dict", _metrics(1, _set("model", {"a": 1})), ("job", 1, "metrics.json", "{'a': 1}")),
    ("recorded overrides are a dict", _metrics(1, _set("overrides", {"a": 1})), ("job", 1, "metrics.json", "{'a': 1}")),
    ("a !!python/object tag in overrides.yaml", _python_tag, ("job", 1, "overrides.yaml", "python/object")),
    ("overrides.yaml is a mapping", _not_a_list_yaml, ("job", 1, "overrides.yaml", "mapping")),
    ("overrides.yaml is not YAML", _broken_yaml, ("job", 1, "overrides.yaml", "")),
    ("metrics.json is a folder", _metrics_is_a_folder, ("job", 1, "metrics.json", "")),
    ("the job's folder is a file", _job_dir_is_a_file, ("job", 1, "1", "")),
]


@pytest.mark.parametrize("what, damage, expected", DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_damaged_sweep_ends_in_one_line_or_a_damaged_job(sweep, capsys, what, damage, expected):
    damage(sweep)
    code = main([str(sweep)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if expected[0] == "sweep":
        assert code == 2, out
        assert len(err.strip().splitlines()) == 1 and expected[1] in err, err
        return
    _, num, file, value = expected
    assert code == 0, err
    summary = json.loads((sweep / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    rows = {r["job"]: r for r in summary["jobs"]}
    damaged = rows[num]
    assert damaged["status"] == DAMAGED and damaged["error_type"] == "DamagedFile"
    assert file in damaged["error"] and value in damaged["error"], damaged["error"]
    assert summary["sweep"]["counts"][DAMAGED] == 1
    if file == "metrics.json":  # its configuration is still shown
        assert damaged["overrides"] == " ".join(OVERRIDES[num]) and damaged["primary_mean"] is None
    for other in set(rows) - {num}:  # every other job as it was
        assert rows[other]["status"] == ("failed" if other == 2 else "completed"), rows[other]
        if other != 2:
            assert math.isclose(rows[other]["primary_mean"], 0.8 + other / 10)
    assert f"#{num}" in out and DAMAGED in out
    for name in ("summary.csv", "summary.md", "report.html", "summary.png"):
        assert (sweep / name).stat().st_size > 0


def test_an_undamaged_sweep_has_no_damaged_count(sweep, capsys):
    assert main([str(sweep)]) == 0
    summary = json.loads((sweep / "summary.json").read_text())
    assert DAMAGED not in summary["sweep"]["counts"] and summary["jobs"][1]["primary_mean"] == pytest.approx(0.9)


@pytest.mark.parametrize("name, text", [
    ("optimization_results.yaml", "name: x\nbest_params: !!python/object/apply:os.system ['id']\n"),
    ("optimization_results.yaml", "name: x\nbest_params: [1, 2]\nbest_value: 0.9\n"),
    ("tracking.json", '{"status": "logging", "logged": 5}'),
])
def test_a_damaged_side_file_is_named_and_left_out(sweep, capsys, name, text):
    (sweep / name).write_text(text)
    assert main([str(sweep)]) == 0
    err = capsys.readouterr().err
    assert name in err and len(err.strip().splitlines()) == 1, err
    summary = json.loads((sweep / "summary.json").read_text())
    assert "optimization" not in summary and "tracking" not in summary["sweep"]
    assert [r["status"] for r in summary["jobs"]] == ["completed", "completed", "failed"]


def test_nothing_is_read_from_a_listed_dir_outside_the_sweep(tmp_path, capsys):
    from medsweep.report.plots import plot_learning_curve
    import pandas as pd

    outside, sweep = tmp_path / "outside", tmp_path / "sweep"
    outside.mkdir()
    (outside / "metrics.json").write_text(json.dumps(_record(0)))
    plot_learning_curve(pd.DataFrame({"fold": [0], "epoch": [1], "train_loss": [0.1], "val_roc_auc": [0.6]}),
                        outside / "roc.png")
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"jobs": [{"num": 0, "dir": "../outside", "overrides": []}]}))
    assert main([str(sweep)]) == 0
    row = json.loads((sweep / "summary.json").read_text())["jobs"][0]
    assert row["status"] == DAMAGED and row["primary_mean"] is None
    assert "job 0 roc.png" not in (sweep / "report.html").read_text()  # the plot beside ../outside/metrics.json


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_metrics_json_is_a_damaged_job(sweep, capsys):
    (sweep / "1" / "metrics.json").chmod(0)
    assert main([str(sweep)]) == 0
    assert json.loads((sweep / "summary.json").read_text())["jobs"][1]["status"] == DAMAGED


def test_compare_of_a_sweep_with_a_damaged_sweep_json_ends_in_one_line(sweep, capsys):
    from medsweep.cli.compare import main as compare_main

    _sweep_json(_set("jobs", "x"))(sweep)
    assert compare_main([str(sweep), str(sweep)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsweep compare: error: ") and "sweep.json" in err and "Traceback" not in err and err.count("\n") == 1


def test_report_html_reads_nothing_from_a_damaged_jobs_folder_outside_the_sweep(sweep):
    """A sweep.json `dir` pointing outside the sweep: no plot and no model card link from that folder."""
    from medsweep.report.summarize import summarize_sweep

    outside = sweep.parent / f"{sweep.name}-outside"
    outside.mkdir()
    (outside / "model_card.md").write_text("# not this sweep's\n")
    (outside / "roc.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _sweep_json(lambda d: d["jobs"][1].update(dir=f"../{outside.name}"))(sweep)
    summarize_sweep(sweep)
    html = (sweep / "report.html").read_text()
    job = html[html.index('id="job-1"'):html.index('id="job-2"')]
    assert "model card" not in job and "roc.png" not in job
