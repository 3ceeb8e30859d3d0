"""Sweep summaries, rebuilt from what each job left on disk."""

import csv
import json
import subprocess
import sys
import time
from html.parser import HTMLParser

import matplotlib.image as mpimg
import pandas as pd
import pytest

from helpers import ROOT, run_train
from medsweep.report.plots import plot_learning_curve
from medsweep.cli.summarize import main
from medsweep.report.summarize import SUMMARY_FILES, format_leaderboard, summarize_sweep

CLASSIFICATION = ("roc_auc", "pr_auc", "accuracy")
REGRESSION = ("rmse", "mae", "r2")


def write_job(sweep, num, model="parkinsons", estimator="mlp", primary=0.8, status="completed", extra=(),
              metric="roc_auc"):
    """A job directory as task.py writes it; primary=None writes no metrics.json at all (killed job)."""
    overrides = [f"model={model}", f"estimator={estimator}", *extra]
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if status == "missing":
        return job
    names = CLASSIFICATION if metric == "roc_auc" else REGRESSION
    record = {"model": model, "estimator": estimator, "task": "classification" if metric == "roc_auc" else "regression",
              "primary_metric": metric, "folds": 3, "job_num": num, "overrides": overrides, "status": status,
              "duration_s": 1.5 + num}
    if status == "completed":
        folds = [primary - 0.01, primary, primary + 0.01]
        record.update(greater_is_better=metric != "rmse", metrics={
            name: {"mean": primary if name == metric else 0.5, "std": 0.0082, "folds": folds} for name in names})
    else:
        record.update(error=f"job {num} went wrong\nsecond line", error_type="ValueError")
    (job / "metrics.json").write_text(json.dumps(record))
    return job


@pytest.fixture
def sweep(tmp_path):
    """parkinsons (roc_auc) and diabetes (rmse) jobs, one failed, one killed before metrics.json."""
    s = tmp_path / "sweep"
    write_job(s, 0, primary=0.70)
    write_job(s, 1, estimator="logreg", primary=0.90)
    write_job(s, 2, estimator="hist_gbdt", primary=0.80)
    write_job(s, 3, model="diabetes", metric="rmse", primary=60.0)
    write_job(s, 4, model="diabetes", estimator="logreg", metric="rmse", primary=54.0)
    write_job(s, 5, extra=["trainer.folds=40"], status="failed")
    write_job(s, 6, status="missing")
    job = s / "0"
    plot_learning_curve(pd.DataFrame({"fold": [0, 1], "epoch": [1, 1], "train_loss": [0.1, 0.2],
                                      "val_roc_auc": [0.6, 0.8]}), job / "learning_curve.png")
    return s


def rows_of(sweep):
    with open(sweep / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_summary_file_one_row_per_job_and_failures_with_their_error(sweep):
    summary = summarize_sweep(sweep)
    for name in SUMMARY_FILES:
        assert (sweep / name).is_file(), name
    rows = rows_of(sweep)
    assert [r["job"] for r in rows] == [str(n) for n in range(7)]
    assert [r["status"] for r in rows] == ["completed"] * 5 + ["failed", "missing"]
    failed = rows[5]
    assert failed["error"] == "job 5 went wrong second line" and failed["error_type"] == "ValueError"
    assert failed["overrides"] == "model=parkinsons estimator=mlp trainer.folds=40"
    assert "metrics.json" in rows[6]["error"] and rows[6]["model"] == "parkinsons"
    assert rows[1]["primary_metric"] == "roc_auc" and float(rows[1]["primary_mean"]) == 0.9
    assert float(rows[1]["pr_auc_mean"]) == 0.5 and float(rows[3]["mae_mean"]) == 0.5
    assert float(rows[1]["duration_s"]) == 2.5 and rows[1]["dir"] == "1"
    assert summary["sweep"]["counts"] == {"completed": 5, "failed": 1, "timeout": 0, "interrupted": 0, "pruned": 0,
                                         "missing": 1}
    assert json.loads((sweep / "summary.json").read_text()) == summary
    md = (sweep / "summary.md").read_text()
    assert "job 5 went wrong second line" in md and "missing" in md
    assert "#5" in format_leaderboard(summary) and "ValueError: job 5 went wrong" in format_leaderboard(summary)


def test_rebuilding_gives_identical_files(sweep):
    summarize_sweep(sweep)
    first = {name: (sweep / name).read_bytes() for name in ("summary.csv", "summary.json", "summary.md")}
    summarize_sweep(sweep)
    assert {name: (sweep / name).read_bytes() for name in first} == first
    assert not list(sweep.glob(".*.tmp"))


def test_leaderboard_best_first_in_each_direction(sweep):
    summary = summarize_sweep(sweep)
    text = format_leaderboard(summary)
    diabetes, parkinsons = text.index("diabetes (regression, rmse, lower"), text.index("parkinsons (classification")
    # roc_auc: higher first (jobs 1, 2, 0); rmse: lower first (job 4 before 3)
    assert text.index("#1 ") < text.index("#2 ") < text.index("#0 ")
    assert diabetes < text.index("#4 ") < text.index("#3 ") < parkinsons
    md = (sweep / "summary.md").read_text()
    assert md.index("[1](1/metrics.json)") < md.index("[2](2/metrics.json)") < md.index("[0](0/metrics.json)")
    assert md.index("[4](4/metrics.json)") < md.index("[3](3/metrics.json)")
    assert "0.9000 ± 0.0082" in md and "54.0000 ± 0.0082" in md


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs, self.imgs = set(), set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.add(attrs.get("id"))
        if tag == "a":
            self.hrefs.add(attrs["href"])
        if tag == "img":
            self.imgs.append(attrs["src"])


def test_pngs_are_valid_and_report_mentions_every_job(sweep):
    summarize_sweep(sweep)
    height, width = mpimg.imread(sweep / "summary.png").shape[:2]
    assert width == 900 and 300 < height < 500  # two panels, 5 labelled jobs: sized to them
    assert mpimg.imread(sweep / "0" / "learning_curve.png").shape[:2] == (560, 800)
    assert sorted(p.name for p in sweep.rglob("*.png")) == ["learning_curve.png", "summary.png"]  # nothing re-rendered
    page = Page()
    page.feed((sweep / "report.html").read_text())
    for num in range(7):
        assert f"job-{num}" in page.ids and f"{num}/" in page.hrefs
    for num in range(5):
        assert f"{num}/metrics.json" in page.hrefs
    # self-contained: the sweep plot, job 0's learning curve and, under each of the two leaderboards, its figure
    # against the estimator (the setting that differs) are embedded, nothing fetched
    assert len(page.imgs) == 4 and all(src.startswith("data:image/png;base64,") for src in page.imgs)
    assert "http" not in (sweep / "report.html").read_text()


def test_sweep_json_is_the_job_list_and_optuna_results_are_reported(tmp_path):
    s = tmp_path / "sweep"
    write_job(s, 0, primary=0.6)
    write_job(s, 1, primary=0.7)
    (s / "5").mkdir()  # a stray directory not in the sweep
    (s / "sweep.json").write_text(json.dumps({
        "command": "train.py -m model=parkinsons seed=0,1,2", "started_at": "2026-11-28T09:30:00+00:00",
        "finished_at": None, "launcher": "joblib", "n_jobs": 2,
        "jobs": [{"num": n, "overrides": ["model=parkinsons", f"seed={n}"], "dir": str(n)} for n in range(3)]}))
    (s / "optimization_results.yaml").write_text("name: optuna\nbest_params:\n  estimator.alpha: 0.01\nbest_value: 0.7\n")
    summary = summarize_sweep(s)
    assert [(r["job"], r["status"], r["overrides"]) for r in summary["jobs"]] == [
        (0, "completed", "model=parkinsons seed=0"), (1, "completed", "model=parkinsons seed=1"),
        (2, "missing", "model=parkinsons seed=2")]
    assert summary["sweep"]["command"] == "train.py -m model=parkinsons seed=0,1,2"
    assert (summary["sweep"]["launcher"], summary["sweep"]["n_jobs"], summary["sweep"]["finished_at"]) == ("joblib", 2, None)
    opt = summary["optimization"]
    assert {k: opt[k] for k in ("name", "best_params", "best_value")} == {
        "name": "optuna", "best_params": {"estimator.alpha": 0.01}, "best_value": 0.7}
    # Selected on the folds that score it: the summary says the score is optimistic.
    assert "optimistic" in opt["note"] and "trainer.holdout" not in opt["note"]  # no job has the best params
    for name in ("summary.md", "report.html"):
        text = (s / name).read_text()
        assert "estimator.alpha" in text and "0.7" in text and "seed=0,1,2" in text, name


def test_a_thousand_jobs_in_seconds(tmp_path):
    s = tmp_path / "sweep"
    for num in range(1000):
        write_job(s, num, primary=0.5 + num / 2000, extra=[f"seed={num}"])
    tic = time.perf_counter()
    summary = summarize_sweep(s)
    assert time.perf_counter() - tic < 20  # ~1.5 s here; minutes would mean something quadratic
    assert len(summary["jobs"]) == 1000 and len(rows_of(s)) == 1000
    assert format_leaderboard(summary).count("\n") < 40  # the terminal gets the best jobs, summary.md all
    assert (s / "summary.md").read_text().count("estimator=mlp seed=") == 1000


def summarize_cli(*args):
    return subprocess.run([sys.executable, "-m", "medsweep.cli.summarize", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_command_line(sweep):
    proc = summarize_cli(sweep)
    assert proc.returncode == 0, proc.stderr
    assert "parkinsons (classification, roc_auc, higher is better)" in proc.stdout
    assert (sweep / "report.html").is_file()


def test_command_line_without_a_sweep(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"medsweep summarize: error: no such sweep directory: {tmp_path / 'nowhere'}\n"
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsweep summarize: error: no job in") and err.count("\n") == 1
    assert summarize_cli(tmp_path / "nowhere").returncode == 2  # the exit code a shell sees


@pytest.mark.slow
def test_real_sweep_with_a_failing_job(tmp_path):
    s = tmp_path / "sweep"
    proc = run_train("-m", "model=parkinsons", "estimator=logreg", "trainer=fast", "trainer.folds=3,40",
                     f"hydra.sweep.dir={s}")
    assert proc.returncode == 1  # the folds=40 job fails, the sweep says so
    summary = summarize_sweep(s)
    ok, failed = summary["jobs"]
    assert ok["status"] == "completed" and 0 <= ok["primary_mean"] <= 1 and ok["primary_metric"] == "roc_auc"
    assert failed["status"] == "failed" and "trainer.folds=40" in failed["overrides"] and failed["error"]
    assert all((s / name).is_file() for name in SUMMARY_FILES)
    assert "trainer.folds=40" in (s / "report.html").read_text()


def test_summary_md_shows_data_derived_html_as_text(tmp_path):
    """Errors name columns of the user's data; a Markdown viewer must show them, not render them."""
    s = tmp_path / "sweep"
    payload = "<img src=x onerror=alert(1)>"
    job = write_job(s, 0, status="failed", extra=["data.target=`<script>x</script>`"])
    record = json.loads((job / "metrics.json").read_text())
    record["error"] = f"data.target={payload!r} is not a column of the data; columns are: {payload}, b"
    (job / "metrics.json").write_text(json.dumps(record))
    summarize_sweep(s)
    md = (s / "summary.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py renders the Markdown (optional here)")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in rendered and "<script" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered and "&lt;script&gt;" in rendered


def test_intervals_are_shown_as_pooled_value_and_limits(tmp_path):
    s = tmp_path / "sweep"
    job = write_job(s, 0, primary=0.80)
    record = json.loads((job / "metrics.json").read_text())
    record["metrics"]["roc_auc"].update(pooled=0.7812, lower=0.7123, upper=0.8499)
    record["metrics"]["accuracy"].update(pooled=0.7, lower=0.61, upper=0.79)
    (job / "metrics.json").write_text(json.dumps(record))
    write_job(s, 1, primary=0.70)  # a job without intervals (eval.n_boot=0)
    summary = summarize_sweep(s)
    row = rows_of(s)[0]
    assert (row["primary_pooled"], row["primary_lower"], row["primary_upper"]) == ("0.7812", "0.7123", "0.8499")
    assert (row["accuracy_lower"], row["accuracy_upper"]) == ("0.61", "0.79")
    for text in (format_leaderboard(summary), (s / "summary.md").read_text(), (s / "report.html").read_text()):
        assert "0.781 (0.712-0.850)" in text
    # job 1 has no pooled value (an older medsweep): the table is ranked by the mean, and says so
    assert "| 2 | [1](1/metrics.json) | mlp | `model=parkinsons estimator=mlp` | - | 0.7000 ± 0.0082 |" \
        in (s / "summary.md").read_text()
    assert "ranked by the mean over folds (no pooled value recorded)" in (s / "summary.md").read_text()


def test_jobs_run_with_several_seeds_are_summarised_across_seeds(tmp_path):
    s = tmp_path / "sweep"
    for num, (seed, value) in enumerate([(0, 0.70), (1, 0.74), (2, 0.78)]):
        job = write_job(s, num, primary=value, extra=[f"seed={seed}"])
        record = json.loads((job / "metrics.json").read_text())
        (job / "metrics.json").write_text(json.dumps({**record, "seed": seed}))
    write_job(s, 3, estimator="logreg", primary=0.9, extra=["seed=0"])  # one seed only: not summarised
    summary = summarize_sweep(s)
    (group,) = summary["across_seeds"]
    assert (group["configuration"], group["seeds"], group["jobs"]) == ("model=parkinsons estimator=mlp", [0, 1, 2], [0, 1, 2])
    # One convention for both spreads: population SDs (ddof=0), as metrics.json's fold std.
    assert group["mean"] == pytest.approx(0.74) and group["std_over_seeds"] == pytest.approx(0.04 * (2 / 3) ** 0.5)
    assert group["mean_std_over_folds"] == pytest.approx(0.0082)
    for text in (format_leaderboard(summary), (s / "summary.md").read_text().replace("\\", ""), (s / "report.html").read_text()):
        assert "Across seeds (fold assignment and training randomness)" in text
        assert "0.7400 ± 0.0327 over seeds [0, 1, 2]" in text and "training variance" not in text


def test_the_never_seen_patients_score_is_shown_beside_the_cv_figures(tmp_path):
    s = tmp_path / "sweep"
    job = write_job(s, 0, primary=0.8)
    record = json.loads((job / "metrics.json").read_text())
    record["test"] = {"source": "external", "metrics": {"roc_auc": {"value": 0.7012, "lower": 0.6, "upper": 0.8}}}
    (job / "metrics.json").write_text(json.dumps(record))
    summary = summarize_sweep(s)
    assert rows_of(s)[0]["test_value"] == "0.7012" and rows_of(s)[0]["test_source"] == "external"
    for text in (format_leaderboard(summary), (s / "summary.md").read_text(), (s / "report.html").read_text()):
        assert "0.701 (0.600-0.800) external" in text


def test_each_job_is_compared_with_the_best_on_the_same_folds(tmp_path):
    from scipy import stats

    s = tmp_path / "sweep"
    folds = {0: [0.80, 0.82, 0.84, 0.86, 0.88], 1: [0.79, 0.80, 0.85, 0.84, 0.86], 2: [0.6, 0.61, 0.62, 0.6, 0.61]}
    for num, scores in folds.items():
        job = write_job(s, num, primary=sum(scores) / 5)
        record = json.loads((job / "metrics.json").read_text())
        record["metrics"]["roc_auc"]["folds"] = scores
        record.update(classes=["0", "1"], data={"sha256": "d" * 64}, splits={"fingerprint": "f" * 64 if num < 2 else "e" * 64, "folds": 5,
                                                         "repeats": 1, "n_train": [80] * 5, "n_test": [20] * 5})
        (job / "metrics.json").write_text(json.dumps(record))
    summary = summarize_sweep(s)
    row = {int(r["job"]): r for r in rows_of(s)}
    # Nadeau & Bengio on job 1 - job 0, written out here.
    d = [a - b for a, b in zip(folds[1], folds[0])]
    mean = sum(d) / 5
    var = sum((x - mean) ** 2 for x in d) / 4 * (1 / 5 + 20 / 80)
    p = 2 * stats.t.sf(abs(mean / var ** 0.5), 4)
    assert row[1]["vs_best_job"] == "0" and float(row[1]["vs_best_p"]) == pytest.approx(p)
    assert float(row[1]["vs_best_p_holm"]) == pytest.approx(p)  # one comparison in the group: Holm keeps it
    assert float(row[1]["vs_best_diff"]) == pytest.approx(mean)
    assert row[0]["vs_best_job"] == "0" and row[0]["vs_best_p"] == ""
    assert "same folds" in row[2]["comparison_note"]  # scored on other folds: no p-value, and why
    md = (s / "summary.md").read_text()
    assert f"Holm p={p:.3f}: not distinguishable from #0" in md
    # No predictions.csv here: no BBC-CV estimate, and the summary says why.
    assert "no BBC-CV estimate: job 0: no predictions.csv" in row[0]["bbc_note"] and "BBC-CV not computed" in md
    assert "vs best" in format_leaderboard(summary)
