"""Job and sweep plots: valid PNGs of a predictable size, honest AUCs, no display needed."""

import os
import subprocess
import sys

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medsweep.report.plots import plot_learning_curve, plot_roc
from medsweep.report.sweep_plot import MAX_JOBS_PER_MODEL, plot_sweep, short_overrides

JOB_SIZE = (560, 800)  # (height, width) in pixels: 8.0 x 5.6 inches at 100 dpi


def png_shape(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(path).shape[:2]


def no_leftovers(directory):
    """Written atomically (no temporary file left) and every figure closed."""
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert plt.get_fignums() == []


def history(folds=3, epochs=5):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"fold": f, "epoch": e, "train_loss": 1 / e, "val_roc_auc": rng.uniform(0.5, 1)}
                         for f in range(folds) for e in range(1, epochs + 1)])


def predictions(classes, n=120, folds=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(classes, n)
    proba = rng.dirichlet(np.ones(len(classes)), n)
    proba[np.arange(n), [list(classes).index(v) for v in y]] += 0.5  # better than chance
    proba /= proba.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"row": range(n), "patient": range(n), "fold": np.arange(n) % folds, "y_true": y,
                          "y_pred": np.asarray(classes)[proba.argmax(axis=1)]})
    for k, c in enumerate(classes):
        frame[f"proba_{c}"] = proba[:, k]
    return frame


@pytest.mark.parametrize("epochs", [5, 1])
def test_learning_curve_is_a_png_of_fixed_size(tmp_path, epochs):
    # epochs=1: estimators fitted in one go (logreg, random_forest) still get a plot
    path = tmp_path / "learning_curve.png"
    plot_learning_curve(history(epochs=epochs), path)
    assert png_shape(path) == JOB_SIZE
    no_leftovers(tmp_path)


def test_learning_curve_without_validation_column_is_refused(tmp_path):
    with pytest.raises(ValueError, match="val_"):
        plot_learning_curve(history().drop(columns="val_roc_auc"), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_binary_roc_auc_per_fold_is_the_metric_of_that_fold(tmp_path):
    # labels read back from predictions.csv are ints while metrics.json lists classes as text
    frame = predictions([0, 1])
    aucs = plot_roc(frame, ["0", "1"], tmp_path / "roc.png")
    for fold, rows in frame.groupby("fold"):
        assert aucs[f"fold {fold}"] == pytest.approx(roc_auc_score(rows.y_true == 1, rows.proba_1))
    assert aucs["pooled"] == pytest.approx(roc_auc_score(frame.y_true == 1, frame.proba_1))
    assert png_shape(tmp_path / "roc.png") == JOB_SIZE
    no_leftovers(tmp_path)


def test_multiclass_roc_auc_is_macro_one_vs_rest(tmp_path):
    classes = ["Converted", "Demented", "Nondemented"]
    frame = predictions(classes)
    aucs = plot_roc(frame, classes, tmp_path / "roc.png")
    cols = [f"proba_{c}" for c in classes]
    for fold, rows in frame.groupby("fold"):
        expected = roc_auc_score(rows.y_true, rows[cols].to_numpy(), multi_class="ovr", average="macro", labels=classes)
        assert aucs[f"fold {fold}"] == pytest.approx(expected)
    assert png_shape(tmp_path / "roc.png") == JOB_SIZE


def test_roc_of_a_fold_with_one_class_is_undefined_not_an_error(tmp_path):
    frame = predictions(["no", "yes"])
    frame.loc[frame.fold == 0, "y_true"] = "yes"
    aucs = plot_roc(frame, ["no", "yes"], tmp_path / "roc.png")
    assert np.isnan(aucs["fold 0"]) and 0.5 < aucs["fold 1"] <= 1
    assert png_shape(tmp_path / "roc.png") == JOB_SIZE


def test_roc_of_a_regression_job_is_refused(tmp_path):
    frame = pd.DataFrame({"row": [0, 1], "patient": [0, 1], "fold": [0, 1], "y_true": [1.0, 2.0],
                          "y_pred": [1.5, 1.5]})
    with pytest.raises(ValueError, match="proba"):
        plot_roc(frame, [], tmp_path / "roc.png")


def sweep_rows(n, models=("parkinsons",)):
    rng = np.random.default_rng(1)
    return [{"job": i, "overrides": f"model={models[i % len(models)]} estimator=mlp estimator.alpha={i}",
             "model": models[i % len(models)], "status": "completed", "primary_metric": "roc_auc",
             "greater_is_better": True, "primary_mean": float(rng.uniform(0.5, 1)), "primary_std": 0.05}
            for i in range(n)]


def test_sweep_plot_grows_with_the_number_of_jobs(tmp_path):
    plot_sweep(sweep_rows(3), tmp_path / "small.png")
    plot_sweep(sweep_rows(60, models=("als", "parkinsons")), tmp_path / "large.png")
    (h_small, w_small), (h_large, w_large) = png_shape(tmp_path / "small.png"), png_shape(tmp_path / "large.png")
    assert w_small == w_large == 900
    assert h_large > h_small + 60 * 0.2 * 100  # room for 60 labelled rows
    no_leftovers(tmp_path)


def test_sweep_plot_of_a_huge_sweep_is_capped(tmp_path):
    plot_sweep(sweep_rows(MAX_JOBS_PER_MODEL), tmp_path / "cap.png")
    plot_sweep(sweep_rows(1000), tmp_path / "huge.png")
    assert png_shape(tmp_path / "huge.png") == png_shape(tmp_path / "cap.png")


def test_sweep_plot_with_only_failed_jobs(tmp_path):
    rows = [{"job": 0, "overrides": "model=als", "model": "als", "status": "failed", "primary_mean": None}]
    plot_sweep(rows, tmp_path / "s.png")
    assert png_shape(tmp_path / "s.png")[1] == 900


def test_short_overrides():
    assert short_overrides(["model=als", "estimator=mlp", "estimator.alpha=0.01", "hydra.launcher.n_jobs=2"]) \
        == "estimator=mlp alpha=0.01"


def test_plots_need_no_display(tmp_path):
    # an interactive backend asked for by the environment, and no display: Agg still wins
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"
    code = ("import sys, pandas as pd, matplotlib; from medsweep.report.plots import plot_learning_curve;"
            "plot_learning_curve(pd.DataFrame({'fold': [0, 1], 'epoch': [1, 1], 'train_loss': [0.1, 0.2],"
            " 'val_rmse': [3.0, 4.0]}), sys.argv[1]); print(matplotlib.get_backend())")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lc.png")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().lower() == "agg"
    assert png_shape(tmp_path / "lc.png") == JOB_SIZE


def pixels(path):
    return mpimg.imread(path)


def test_a_plot_on_a_kept_frame_is_the_plot_of_its_own_data_only(tmp_path):
    """The frames are drawn once per process and reused: a job's lines and legend must not remain on the
    next job's plot, and a plot drawn on a kept frame must be the one a fresh frame gives."""
    from medsweep.report import plots
    plots._drawn_frame.cache_clear()
    a, b = predictions(["0", "1"], seed=1), predictions(["0", "1"], n=60, folds=2, seed=2)
    plot_roc(a, ["0", "1"], tmp_path / "a_fresh.png")
    plot_roc(b, ["0", "1"], tmp_path / "b.png")
    plot_roc(a, ["0", "1"], tmp_path / "a_kept.png")
    assert plots._drawn_frame.cache_info().hits == 2  # one frame served all three plots
    assert np.array_equal(pixels(tmp_path / "a_fresh.png"), pixels(tmp_path / "a_kept.png"))
    assert not np.array_equal(pixels(tmp_path / "a_fresh.png"), pixels(tmp_path / "b.png"))
    plot_learning_curve(history(), tmp_path / "lc.png")
    plot_learning_curve(history(folds=2), tmp_path / "lc2.png")
    plot_learning_curve(history(), tmp_path / "lc_again.png")
    assert np.array_equal(pixels(tmp_path / "lc.png"), pixels(tmp_path / "lc_again.png"))
    no_leftovers(tmp_path)


@pytest.mark.parametrize("lo, hi", [(0.9946, 0.998), (0.2, 0.9), (-0.055, 0.41), (20.0, 68.0), (0.97, 0.97),
                                    (0.0, 0.0), (-3e4, -2e4)])
def test_rounded_limits_hold_the_data_on_round_ticks(lo, hi):
    from medsweep.report.plots import _round_limits

    low, high = _round_limits(lo, hi)
    assert low < lo and high > hi
    # a round step (1, 2 or 5 x 10^k) divides both ends, and about five of them span the data
    span = high - low
    steps = [m * 10.0 ** k for k in range(-6, 6) for m in (1, 2, 5)]
    assert any(abs(low / s - round(low / s)) < 1e-6 and abs(high / s - round(high / s)) < 1e-6
               and span / s <= 20 for s in steps)
