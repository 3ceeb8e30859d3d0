"""What the sweep summaries rank and say: the pooled out-of-fold value ranks (the figure whose interval is
shown), one "best" per leaderboard, the selected job's BBC-CV estimate, SYNTHETIC data and the jobs' warnings
in every summary. Job directories are made by hand here (metrics.json and predictions.csv as a job writes
them); figures are computed here with scikit-learn."""

import csv
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medsweep.evaluate.selection import bbc_cv
from medsweep.report.summarize import format_leaderboard, summarize_sweep

CLASSES = ["0", "1"]


def cohort(seed=0, n=90, folds=3):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.45).astype(int)
    fold = rng.permutation(np.arange(n) % folds)
    return y, fold


def write_job(sweep, num, y, fold, score, *, estimator="logreg", fingerprint="f", seed=0, synthetic=False,
              warnings=None, pooled=None):
    """A completed job: predictions.csv with ``score`` as the positive class's probability, metrics.json
    with per-fold and pooled ROC-AUC computed here (``pooled`` overrides the pooled value)."""
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    overrides = ["model=parkinsons", f"estimator={estimator}", f"seed={seed}"]
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    pd.DataFrame({"row": np.arange(len(y)), "patient": np.arange(len(y)), "fold": fold, "y_true": y,
                  "y_pred": (score >= 0.5).astype(int), "proba_0": 1 - score, "proba_1": score}
                 ).to_csv(job / "predictions.csv", index=False)
    k = int(fold.max()) + 1
    folds = [roc_auc_score(y[fold == f], score[fold == f]) for f in range(k)]
    value = roc_auc_score(y, score) if pooled is None else pooled
    record = {"status": "completed", "model": "parkinsons", "estimator": estimator, "task": "classification",
              "primary_metric": "roc_auc", "greater_is_better": True, "classes": CLASSES, "overrides": overrides,
              "seed": seed, "folds": k, "duration_s": 1.0,
              "metrics": {"roc_auc": {"mean": float(np.mean(folds)), "std": float(np.std(folds)), "folds": folds,
                                      "pooled": value, "lower": value - 0.1, "upper": min(1.0, value + 0.1)}},
              "data": {"sha256": "d" * 64, "synthetic": synthetic, "source": "synthetic" if synthetic else "bundled"},
              "splits": {"fingerprint": fingerprint * 64, "folds": k, "repeats": 1,
                         "n_train": [int((fold != f).sum()) for f in range(k)],
                         "n_test": [int((fold == f).sum()) for f in range(k)]},
              "evaluation": {"interval": {"n_boot": 400, "seed": 0}}}
    if warnings is not None:
        record["warnings"] = warnings
    (job / "metrics.json").write_text(json.dumps(record))
    return record


def noisy(y, rng, signal):
    return 1 / (1 + np.exp(-(signal * y + rng.normal(0, 1, len(y)))))


def rows_of(sweep):
    with open(sweep / "summary.csv", newline="") as f:
        return {int(r["job"]): r for r in csv.DictReader(f)}


def texts(sweep, summary):
    return {"console": format_leaderboard(summary), "md": (sweep / "summary.md").read_text().replace("\\", ""),
            "html": (sweep / "report.html").read_text()}


def test_ranked_by_the_pooled_value_one_best_per_leaderboard_and_bbc_cv(tmp_path):
    """A seed sweep of two estimators: two fold sets (seeds), two jobs each. Today each fold set's best was
    marked "best" (two in one table) and the table was ranked by the mean over folds."""
    s = tmp_path / "sweep"
    rng = np.random.default_rng(1)
    outs = {}
    for seed in (0, 1):
        y, fold = cohort(seed)
        for estimator, signal in (("logreg", 1.0), ("random_forest", 1.6)):
            num = len(outs)
            outs[num] = (y, noisy(y, rng, signal))
            write_job(s, num, y, fold, outs[num][1], estimator=estimator, fingerprint="ab"[seed], seed=seed)
    # Job 0: the highest mean over folds but not the highest pooled value.
    record = json.loads((s / "0" / "metrics.json").read_text())
    record["metrics"]["roc_auc"]["mean"] = 0.99
    (s / "0" / "metrics.json").write_text(json.dumps(record))

    summary = summarize_sweep(s)
    pooled = {num: roc_auc_score(y, score) for num, (y, score) in outs.items()}
    order = sorted(pooled, key=lambda n: (-pooled[n], n))
    md = texts(s, summary)["md"]
    ranks = [md.index(f"[{n}]({n}/metrics.json)") for n in order]
    assert ranks == sorted(ranks)  # by the pooled value, not the mean (job 0 would be first)
    assert [int(rows_of(s)[n]["rank"]) for n in order] == [1, 2, 3, 4]
    for name, text in texts(s, summary).items():
        cells = text.count("best on its own folds")
        assert cells == 1, name
        assert text.count("[vs best: best]" if name == "console" else "| best |" if name == "md" else "<td>best</td>") == 1, name
    # BBC-CV of each fold set's best job, from the two jobs' predictions.
    rows = rows_of(s)
    for seed, jobs in ((0, [0, 1]), (1, [2, 3])):
        leader = max(jobs, key=lambda n: (pooled[n], -n))
        y = outs[jobs[0]][0]
        expected = bbc_cv(y.astype(str), [np.column_stack([1 - outs[n][1], outs[n][1]]) for n in jobs], CLASSES,
                          "classification", "roc_auc", groups=np.arange(len(y)).astype(str), n_boot=400, seed=0)
        assert float(rows[leader]["bbc_estimate"]) == pytest.approx(expected["estimate"], abs=1e-12)
        assert rows[leader]["bbc_configurations"] == "2"
        other = next(n for n in jobs if n != leader)
        assert rows[other]["bbc_estimate"] == "" and rows[other]["vs_best_job"] == str(leader)
    selection = {e["selected_job"]: e for e in summary["selection"]}
    assert sorted(selection) == sorted(max(j, key=lambda n: (pooled[n], -n)) for j in ([0, 1], [2, 3]))
    for e in selection.values():
        assert e["naive"] == pytest.approx(pooled[e["selected_job"]]) and e["bbc_cv"]["n_boot"] == 400
    for name, text in texts(s, summary).items():
        assert "BBC-CV" in text and "Holm" in text, name
    assert "what BBC-CV" not in md and "pooled: the primary metric computed once over the out-of-fold" in md


def test_a_tie_gives_one_best_the_first_job(tmp_path):
    s = tmp_path / "sweep"
    y, fold = cohort(3)
    score = noisy(y, np.random.default_rng(0), 1.0)
    for num in (0, 1):
        write_job(s, num, y, fold, score, estimator="mlp")
    summary = summarize_sweep(s)
    rows = rows_of(s)
    assert rows[0]["vs_best_job"] == rows[1]["vs_best_job"] == "0"
    for name, text in texts(s, summary).items():
        assert "not distinguishable from #0" in text, name
        assert text.count("best on its own folds") == 0
    assert texts(s, summary)["md"].count("| best |") == 1


def test_synthetic_data_and_warnings_are_shown_in_every_summary(tmp_path):
    s = tmp_path / "sweep"
    y, fold = cohort(4)
    rng = np.random.default_rng(2)
    warnings = [{"kind": "threshold_target_missed", "message": "sensitivity>=0.9 chosen out of fold gives 0.54 "
                 "(0.45-0.63): the target lies outside its interval"},
                {"kind": "small_test_fold", "message": "fold 2 has 3 patients of class 0 (< 5): use fewer folds "
                 "or trainer.repeats"}]
    write_job(s, 0, y, fold, noisy(y, rng, 1.0), synthetic=True, warnings=warnings)
    write_job(s, 1, y, fold, noisy(y, rng, 1.0), estimator="mlp")  # no `warnings` key: an older job
    write_job(s, 2, y, fold, noisy(y, rng, 1.0), estimator="hist_gbdt", warnings=["a bare string"])
    summary = summarize_sweep(s)
    rows = rows_of(s)
    assert (rows[0]["synthetic"], rows[1]["synthetic"]) == ("True", "False")
    assert (rows[0]["n_warnings"], rows[1]["n_warnings"], rows[2]["n_warnings"]) == ("2", "0", "1")
    assert rows[0]["warnings"].startswith("threshold_target_missed: sensitivity>=0.9 chosen out of fold")
    assert rows[2]["warnings"] == "warning: a bare string" and rows[1]["warnings"] == ""
    saved = json.loads((s / "summary.json").read_text())["jobs"]
    assert saved[0]["synthetic"] is True and saved[0]["warnings"] == warnings and saved[1]["warnings"] == []
    t = texts(s, summary)
    for name, text in t.items():
        assert "1 of 3 jobs on SYNTHETIC data" in text and "SYNTHETIC data" in text, name
        assert "threshold_target_missed" in text and "small_test_fold" in text and "a bare string" in text, name
    assert "fold 2 has 3 patients of class 0 (&lt; 5)" in t["html"]
    assert "| 0 | small\\_test\\_fold |" in t["md"] or "| 0 | small_test_fold |" in t["md"]
    assert "2 warnings: small_test_fold, threshold_target_missed" in t["console"]


def test_a_search_summary_gives_the_selected_trials_bbc_cv_estimate(tmp_path):
    s = tmp_path / "sweep"
    y, fold = cohort(5)
    rng = np.random.default_rng(4)
    write_job(s, 0, y, fold, noisy(y, rng, 0.3))
    write_job(s, 1, y, fold, noisy(y, rng, 2.5), estimator="random_forest")
    (s / "optimization_results.yaml").write_text("name: optuna\nbest_params:\n  estimator: random_forest\nbest_value: 0.9\n")
    summary = summarize_sweep(s)
    row = rows_of(s)[1]
    assert summary["optimization"]["selected_job"] == 1 and row["bbc_estimate"] != ""
    assert (f"Its bias-corrected score (BBC-CV over 2 trials): {float(row['bbc_estimate']):.3f}"
            in summary["optimization"]["note"])


def test_a_long_warning_is_shown_whole_in_summary_md_and_report_html(tmp_path):
    """A small-test-fold warning lists every fold: 25 folds make a message of ~700 characters, cut at 300 before."""
    s = tmp_path / "sweep"
    y, fold = cohort(5)
    message = "25 of 25 test folds hold fewer than 5 patients of a class (" + ", ".join(
        f"fold {k}: 1 of class 0" for k in range(25)) + "): use fewer folds (trainer.folds)"
    assert len(message) > 500
    write_job(s, 0, y, fold, noisy(y, np.random.default_rng(3), 1.0),
              warnings=[{"kind": "small_test_fold", "message": message}])
    summary = summarize_sweep(s)
    t = texts(s, summary)
    assert "fold 24: 1 of class 0): use fewer folds (trainer.folds)" in t["md"]
    assert "fold 24: 1 of class 0): use fewer folds (trainer.folds)" in t["html"]
