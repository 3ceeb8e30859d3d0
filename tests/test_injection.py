"""Text from data, configs and job files is inert in the files people open: no spreadsheet formula in any
CSV medsweep writes (OWASP CSV injection), no Markdown image or link and no HTML from a column name, an
error or a sweep.json ``dir`` in summary.md, report.html or model_card.md."""

import csv
import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from helpers import ROOT, run_train
from medsweep.escape import csv_cell, csv_safe, csv_text, link, md_text
from medsweep.record.outputs import read_csv, write_csv
from medsweep.report.summarize import summarize_sweep

# The OWASP list: a text cell starting with one of these is evaluated by a spreadsheet.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/x","click")', "=1+1", "+1+1", "-2+3",
            "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "-", "+", "@"]
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _evaluated_by_a_spreadsheet(cell: str) -> bool:
    """Written independently of medsweep.escape: what a spreadsheet would run as a formula."""
    return cell.startswith(TRIGGERS) and not PLAIN_NUMBER.fullmatch(cell)


def _cells(path):
    with open(path, newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def _no_formula_in(path):
    bad = [c for c in _cells(path) if _evaluated_by_a_spreadsheet(c)]
    assert not bad, f"{path.name}: {bad[:5]}"


# -- the CSV cell rule -------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", FORMULAS)
def test_text_a_spreadsheet_would_evaluate_gets_a_leading_quote(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", [-0.5, -12, 0.25, np.float64(-3.5), np.int64(-7), "-12", "+0.5", "-1e5", "1.5",
                                   "patient 7", "", None, True])
def test_numbers_and_ordinary_text_are_left_as_they_are(value):
    assert csv_cell(value) is value


@pytest.mark.parametrize("value", [*FORMULAS, "'=1+1", "''=1+1", "'abc", "'", "-12", "plain", "it's"])
def test_reading_back_gives_every_value_exactly(value):
    assert csv_text(csv_cell(value)) == value


def test_write_csv_neutralises_text_cells_and_names_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame({"patient": ["=1+1", "-12", "@x", "p4"], "score": [-0.5, 0.25, -1e-9, 3.0],
                          "n": pd.array([-1, None, 2, 3], dtype="Int64"),
                          "group": pd.Categorical(["=A", "b", "=A", "b"]), "=HYPERLINK(\"x\")": [1, 2, 3, 4]})
    before = frame.copy()
    write_csv(tmp_path / "t.csv", frame)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed
    with open(tmp_path / "t.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["patient", "score", "n", "group", "'=HYPERLINK(\"x\")"]
    assert [r[0] for r in rows] == ["'=1+1", "-12", "'@x", "p4"]
    assert [r[1] for r in rows] == ["-0.5", "0.25", "-1e-09", "3.0"]  # as pandas writes numbers
    assert [r[2] for r in rows] == ["-1", "", "2", "3"] and [r[3] for r in rows] == ["'=A", "b", "'=A", "b"]
    back = read_csv(tmp_path / "t.csv")
    assert list(back.columns) == list(frame.columns)
    assert back["patient"].tolist() == ["=1+1", "-12", "@x", "p4"] and back["group"].tolist() == ["=A", "b", "=A", "b"]
    np.testing.assert_array_equal(back["score"], frame["score"])


def test_csv_safe_leaves_numeric_columns_alone(tmp_path):
    frame = pd.DataFrame({"row": np.arange(5), "proba": np.linspace(-1, 1, 5)})
    pd.testing.assert_frame_equal(csv_safe(frame), frame)


def _voice_file(tmp_path):
    """Patients, classes and a subgroup column whose values are formulas; one patient id "-12"."""
    rng = np.random.default_rng(0)
    ids = ['=HYPERLINK("http://evil.example/?leak","p0")', "=cmd|' /C calc'!A0", "-12", "@SUM(1+1)", "+33",
           *[f"p{i}" for i in range(5, 30)]]
    records = []
    for i, patient in enumerate(ids):
        label = "=1+1" if i % 2 else "-healthy"
        for r in range(3):
            records.append({"name": patient, "a": rng.normal() + (i % 2), "b": rng.normal(), "status": label,
                            "sex": "=2+2" if i % 3 else "@F"})
    path = tmp_path / "voice.csv"
    pd.DataFrame(records).to_csv(path, index=False)
    return path, ids


def test_every_csv_of_a_job_and_of_predict_holds_no_formula(tmp_path):
    data, ids = _voice_file(tmp_path)
    sweep = tmp_path / "sweep"
    proc = run_train("-m", "model=parkinsons", f"data.path={data}", "data.group_pattern=null", "estimator=logreg",
                     "trainer=fast", "trainer.holdout=0.2", "eval.n_boot=0", "eval.subgroups=[sex]",
                     "eval.subgroup_min_patients=2", f"hydra.sweep.dir={sweep}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = sweep / "0"
    assert json.loads((job / "metrics.json").read_text())["status"] == "completed"
    written = [job / n for n in ("predictions.csv", "test_predictions.csv", "subgroups.csv", "history.csv")]
    written.append(sweep / "summary.csv")
    for path in written:
        assert path.is_file(), path
        _no_formula_in(path)
    raw = pd.read_csv(job / "predictions.csv", dtype=str, keep_default_na=False)
    assert "'=cmd|' /C calc'!A0" in set(raw["patient"]) and "-12" in set(raw["patient"])
    assert set(raw["y_true"]) == {"'=1+1", "'-healthy"}
    # medsweep's own reader gives the values of the data file back: patients of both files match the data's.
    patients = set(read_csv(job / "predictions.csv", dtype={"patient": str})["patient"])
    held_out = set(read_csv(job / "test_predictions.csv", dtype={"patient": str})["patient"])
    assert patients | held_out == set(ids) and not patients & held_out
    assert set(read_csv(job / "predictions.csv")["y_true"]) == {"=1+1", "-healthy"}
    assert any(str(s).startswith("'=2+2") or s == "'=2+2" for s in _cells(job / "subgroups.csv"))

    out = tmp_path / "new.predictions.csv"
    predicted = subprocess.run([sys.executable, "-m", "medsweep.cli", "predict", str(job), str(data), "-o", str(out),
                                "--chunk-rows", "7"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    _no_formula_in(out)
    assert set(read_csv(out, dtype={"patient": str})["patient"]) == set(ids)


def test_summary_csv_neutralises_overrides_and_errors(tmp_path):
    job = tmp_path / "0"
    job.mkdir()
    (job / "metrics.json").write_text(json.dumps({
        "status": "failed", "error_type": "DataError", "model": "=1+1", "estimator": "@x",
        "error": "=HYPERLINK(\"http://evil.example\",\"see\")", "overrides": ["+data.x=1", "model=p"]}))
    summarize_sweep(tmp_path)
    _no_formula_in(tmp_path / "summary.csv")
    row = read_csv(tmp_path / "summary.csv").iloc[0]
    assert row["overrides"] == "+data.x=1 model=p" and row["model"] == "=1+1" and row["error"].startswith("=HYPER")


# -- Markdown and HTML -------------------------------------------------------------------------------------

class Tags(HTMLParser):
    """Every tag with its attributes, as a browser would build them."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _rendered(markdown: str) -> list:
    """summary.md as GitHub-like Markdown renders it (raw HTML passed through, tables on)."""
    markdown_it = pytest.importorskip("markdown_it")
    return Tags(markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)).tags


HOSTILE = ["![px](http://evil.example/pixel.png)", "[clickme](http://evil.example/)", "<img src=x onerror=alert(1)>",
           "`code` *bold* _it_ | cell", "<http://evil.example/auto>"]


def test_one_escaper_for_summary_md_and_the_model_card():
    """summary.md and model_card.md escape with escape.md_text and md_code, and define no escaper of their own."""
    from medsweep.escape import md_code
    from medsweep.report import markdown, model_card

    for module in (markdown, model_card):
        assert module.md_text is md_text and module.md_code is md_code
        source = (ROOT / "src" / "medsweep" / "report" / f"{module.__name__.rsplit('.', 1)[1]}.py").read_text()
        assert "html.escape" not in source and "re.sub" not in source


def _sweep_with_hostile_text(tmp_path):
    """A failed job whose error names hostile columns; a completed one whose sweep.json dir is HTML."""
    bad_dir = "<img src=x onerror=alert(1)>"
    for d, record in (("0", {"status": "failed", "error_type": "DataError", "model": "p", "estimator": "logreg",
                             "error": "columns " + " and ".join(HOSTILE)}),
                      (bad_dir, {"status": "completed", "model": "p", "estimator": "logreg", "primary_metric": "roc_auc",
                                 "greater_is_better": True, "metrics": {"roc_auc": {"mean": 0.8, "std": 0.01}}})):
        (tmp_path / d).mkdir()
        (tmp_path / d / "metrics.json").write_text(json.dumps(record))
    (tmp_path / "sweep.json").write_text(json.dumps({"jobs": [{"num": 0, "dir": "0", "overrides": []},
                                                              {"num": 1, "dir": bad_dir, "overrides": []}]}))
    summarize_sweep(tmp_path)
    return bad_dir


def test_summary_md_renders_no_image_link_or_html_from_job_files(tmp_path):
    bad_dir = _sweep_with_hostile_text(tmp_path)
    md = (tmp_path / "summary.md").read_text()
    tags = _rendered(md)
    assert not [t for t, _ in tags if t in ("img", "script")]
    hrefs = [a["href"] for t, a in tags if t == "a"]
    assert hrefs and all(not re.match(r"[a-z]+:", h) and "evil" not in h for h in hrefs), hrefs
    assert f"({link(bad_dir)}/metrics.json)" in md
    # Shown as written: the renderer's text holds each hostile string.
    text = re.sub(r"<[^>]+>", "", pytest.importorskip("markdown_it").MarkdownIt("commonmark").enable("table").render(md))
    for hostile in ("![px](http://evil.example/pixel.png)", "[clickme](http://evil.example/)"):
        assert hostile in html.unescape(text)


def test_report_html_links_a_hostile_dir_as_a_relative_path(tmp_path):
    _sweep_with_hostile_text(tmp_path)
    tags = Tags((tmp_path / "report.html").read_text()).tags
    assert all("onerror" not in attrs for _, attrs in tags)
    for tag, attrs in tags:
        target = attrs.get("href") or attrs.get("src") or ""
        assert not re.match(r"[a-z]+:", target) or target.startswith("data:image/png"), target
    assert not [a for t, a in tags if t == "img" and a.get("src") == "x"]


def test_link_keeps_a_path_inside_its_link():
    assert link("12") == "12" and link("a b/c") == "a%20b/c"
    assert re.fullmatch(r"[A-Za-z0-9/%_.~-]*", link("x) <img src=x onerror=alert(1)> [a](javascript:alert(1))"))


def test_medsweep_reads_its_own_csvs_through_read_csv():
    """A reader of predictions.csv, subgroups.csv or summary.csv must undo the quotes (outputs.read_csv), or a
    class "=1+1" read as "'=1+1" matches no class of metrics.json. pandas' read_csv is for users' data files."""
    user_data_readers = {"_delimited.py", "outputs.py"}  # outputs.py: read_csv itself
    offenders = [p.name for p in (ROOT / "src" / "medsweep").rglob("*.py")
                 if p.name not in user_data_readers and "pd.read_csv(" in p.read_text()]
    assert offenders == [], f"use medsweep.record.outputs.read_csv in {offenders}"


def test_control_characters_in_an_error_never_reach_the_terminal_raw(tmp_path):
    """An ESC sequence in an error text (a column named "\\x1b]0;owned\\x07", say) would retitle or recolour the
    terminal printing the leaderboard or the per-job line: shown as \\xNN instead, in every one-line text."""
    from hydra_plugins.medsweep_sweeper._progress import job_line
    from medsweep.report.summarize import format_leaderboard, summarize_sweep

    error = "column '\x1b]0;owned\x07\x1b[2J' is not numeric"
    line = job_line(3, {"status": "failed", "error_type": "DataError", "error": error, "overrides": ["model=als"]})
    assert "\x1b" not in line and "\x07" not in line and "\\x1b]0;owned\\x07\\x1b[2J" in line
    s = tmp_path / "sweep"
    (s / "0").mkdir(parents=True)
    (s / "0" / "metrics.json").write_text(json.dumps({"status": "failed", "error": error, "error_type": "DataError",
                                                      "overrides": ["model=als"], "model": "als"}))
    (s / "sweep.json").write_text(json.dumps({"jobs": [{"num": 0, "dir": "0", "overrides": ["model=als"]}]}))
    summary = summarize_sweep(s)
    for text in (format_leaderboard(summary), (s / "summary.md").read_text(), (s / "summary.csv").read_text()):
        assert "\x1b" not in text and "\x07" not in text
