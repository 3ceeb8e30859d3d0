"""What a clinical reviewer reads in a job's plots and in report.html: bands drawn where the bootstrap ran, the
classes by name, no learning curve for an estimator fitted in one go, subgroups as a forest plot, the best jobs
overlaid and the ranked figure against each swept setting, a failed job without empty panels, the page named
after the sweep."""

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from medsweep.evaluate.calibration import calibration
from medsweep.evaluate.curves import roc_band
from medsweep.evaluate.decision_curve import decision_curve
from medsweep.job.artifacts import _write_plots
from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord
from medsweep.report.forest import plot_subgroups
from medsweep.report.plots import BAND, display_names, plot_roc
from medsweep.report.summarize import summarize_sweep
from medsweep.report.sweep_figures import setting_labels, settings_figure, swept_settings


def binary_predictions(n=150, folds=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    p = expit(rng.normal(size=n) + 1.6 * y - 0.5)
    return pd.DataFrame({"row": range(n), "patient": range(n), "fold": np.arange(n) % folds, "y_true": y.astype(int),
                         "y_pred": (p >= 0.5).astype(int), "proba_0": 1 - p, "proba_1": p})


def band_pixels(path) -> int:
    """Pixels of the band's colour (its alpha over white)."""
    from matplotlib.colors import to_rgb

    rgb = np.asarray(mpimg.imread(path))[..., :3]
    expected = 1 - BAND["alpha"] * (1 - np.asarray(to_rgb(BAND["color"])))
    return int((np.abs(rgb - expected).max(axis=-1) < 0.02).sum())


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """A binary job's plots written by the artifact writer, with and without a bootstrap, one epoch per fold."""
    frame = binary_predictions()
    history = pd.DataFrame({"fold": [0, 1, 2], "epoch": [1, 1, 1], "train_loss": [0.3] * 3, "val_roc_auc": [0.8] * 3})
    y, p = frame.y_true.to_numpy() == 1, frame.proba_1.to_numpy()
    dirs = {}
    for n_boot in (0, 50):
        evaluation = {"interval": {"n_boot": n_boot, "seed": 1}} if n_boot else {}
        record = JobRecord(metrics={"roc_auc": {"pooled": 0.8, "lower": 0.7, "upper": 0.9}}, positive=["malignant"],
                           operating_point={"rule": "0.5"}, evaluation=evaluation)
        result = SimpleNamespace(history=history, predictions=frame, class_names=["0", "1"],
                                 calibration=calibration(y, p), decision_curve=decision_curve(y, p), subgroups=None,
                                 results=record)
        dirs[n_boot] = tmp_path_factory.mktemp(f"job{n_boot}")
        dirs[n_boot, "written"] = [f.name for f in _write_plots(result, JobPaths(dirs[n_boot]))]
    return dirs


def test_a_job_fitted_in_one_go_gets_no_learning_curve(job):
    assert job[50, "written"] == ["roc.png", "calibration.png", "decision_curve.png"]
    assert not (job[50] / "learning_curve.png").exists()


def test_bands_are_drawn_only_where_the_bootstrap_ran(job):
    for name in ("roc.png", "calibration.png", "decision_curve.png"):
        with_band, without = band_pixels(job[50] / name), band_pixels(job[0] / name)
        assert with_band > 2000 and without < 300, (name, with_band, without)  # the legend's swatch: a few


def test_roc_band_drawn_is_the_pooled_curves_band(tmp_path):
    frame = binary_predictions()
    band = roc_band(frame.y_true == 1, frame.proba_1, frame.patient, n_boot=30, seed=0)
    plot_roc(frame, ["0", "1"], tmp_path / "with.png", band=band)
    plot_roc(frame, ["0", "1"], tmp_path / "without.png")
    assert band_pixels(tmp_path / "with.png") > band_pixels(tmp_path / "without.png") + 2000


def test_classes_are_named_by_what_made_the_positive_class():
    assert display_names(["0", "1"], ["malignant"]) == {"0": "not malignant", "1": "malignant"}
    assert display_names(["0", "1"], ["M", "F"]) == {"0": "not M or F", "1": "M or F"}
    assert display_names(["Converted", "Demented"]) == {"Converted": "Converted", "Demented": "Demented"}


def subgroups_table():
    return pd.DataFrame({"column": ["sex", "sex", "age", "age"], "subgroup": ["F", "M", "[20, 50)", "[50, 90]"],
                         "patients": [40, 35, 8, 67], "rows": [40, 35, 8, 67], "events": [12, 10, 2, 20],
                         "roc_auc": [0.8, 0.6, np.nan, 0.75], "roc_auc_lower": [0.7, 0.45, np.nan, 0.65],
                         "roc_auc_upper": [0.9, 0.7, np.nan, 0.85], "dropped_resamples": [0, 0, np.nan, 0],
                         "flag": [False, True, False, False],
                         "note": ["", "roc_auc interval wholly below overall 0.750", "fewer than 10 patients: counts only",
                                  ""]})


def test_subgroups_forest_plot_has_a_row_per_subgroup_under_its_column(tmp_path):
    rows = plot_subgroups(subgroups_table(), tmp_path / "subgroups.png", {"roc_auc": 0.75})
    assert [r.get("heading") or r["label"] for r in rows] == [
        "sex", "F (40 patients, 12 events)", "M (35 patients, 10 events)", "age", "[20, 50) (8 patients, 2 events)",
        "[50, 90] (67 patients, 20 events)"]
    assert rows[1]["values"]["roc_auc"] == (0.8, 0.7, 0.9) and rows[2]["flag"]
    assert rows[4]["note"] == "fewer than 10 patients: counts only" and np.isnan(rows[4]["values"]["roc_auc"][0])
    small = plot_subgroups(subgroups_table()[:2], tmp_path / "small.png")
    assert len(small) == 3
    assert mpimg.imread(tmp_path / "subgroups.png").shape[0] > mpimg.imread(tmp_path / "small.png").shape[0]


def sweep_row(job, overrides, pooled, status="completed"):
    return {"job": job, "overrides": overrides, "primary_metric": "roc_auc", "greater_is_better": True,
            "primary_pooled": pooled, "primary_lower": pooled - 0.05, "primary_upper": pooled + 0.03,
            "primary_mean": pooled, "status": status, "dir": str(job)}


def test_swept_settings_are_the_keys_that_differ():
    rows = [sweep_row(0, "model=a estimator.C=1 trainer.folds=3 seed=0 hydra.launcher.n_jobs=2", 0.8),
            sweep_row(1, "model=a estimator.C=10 trainer.folds=3 seed=1 hydra.launcher.n_jobs=4", 0.7),
            sweep_row(2, "model=a estimator.C=10 trainer.folds=3 seed=0 +estimator.class_weight=balanced", 0.75)]
    assert swept_settings(rows) == {"estimator.C": ["1", "10", "10"], "estimator.class_weight": ["", "", "balanced"]}
    assert setting_labels(rows) == {0: "#0 C=1 class_weight=(unset)", 1: "#1 C=10 class_weight=(unset)",
                                    2: "#2 C=10 class_weight=balanced"}
    assert settings_figure(rows[:1], "pooled") is None  # one job: nothing varies
    png = settings_figure(rows, "pooled")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def write_job(sweep, num, overrides, pooled=None, predictions=None):
    d = sweep / str(num)
    d.mkdir(parents=True)
    record = {"status": "failed", "error": "boom", "error_type": "ValueError", "overrides": overrides,
              "model": "m", "estimator": "logreg", "task": "classification", "primary_metric": "roc_auc"}
    if pooled is not None:
        record.update(status="completed", greater_is_better=True, classes=["0", "1"], positive=["sick"],
                      metrics={"roc_auc": {"mean": pooled, "std": 0.01, "folds": [pooled] * 3, "pooled": pooled,
                                           "lower": pooled - 0.05, "upper": pooled + 0.03}})
        predictions.to_csv(d / "predictions.csv", index=False)
    (d / "metrics.json").write_text(json.dumps(record))


def test_report_names_the_sweep_compares_the_best_jobs_and_shows_no_plot_of_a_failed_job(tmp_path, monkeypatch):
    sweep = tmp_path / "my_sweep"
    for num, (C, seed) in enumerate([(0.1, 0), (1, 1), (10, 2)]):
        write_job(sweep, num, [f"estimator.C={C}"], pooled=0.7 + num / 20, predictions=binary_predictions(seed=seed))
    write_job(sweep, 3, ["estimator.C=100"])
    reads = Counter()
    read_text = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.update([self]) or read_text(self, *a, **k))
    summarize_sweep(sweep)
    monkeypatch.undo()
    # every job's metrics.json is read once: report.html's job blocks and figures get the summary's records
    assert {p: n for p, n in reads.items() if p.name == "metrics.json"} == {sweep / str(n) / "metrics.json": 1
                                                                            for n in range(4)}
    page = (sweep / "report.html").read_text()
    assert "<title>Sweep my_sweep</title>" in page and "<h1>Sweep my_sweep</h1>" in page
    assert f"<li>directory: <code>{sweep.resolve()}</code></li>" in page
    assert page.count('alt="the best jobs&#x27; ROC, calibration and decision curves overlaid"') == 1
    assert page.count('alt="the primary metric against each swept setting"') == 1
    failed = page[page.index('id="job-3"'):]
    assert "<img" not in failed and 'class="metrics"' not in failed
