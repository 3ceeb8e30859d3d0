"""summary.png draws the figure the leaderboard ranks by (the pooled out-of-fold value) with its interval,
on one axis per metric that never leaves the metric's range."""

import matplotlib.image as mpimg
import pytest

from medsweep.report.sweep_plot import plot_sweep


def row(job, model, pooled, lower, upper, mean, metric="roc_auc", std=0.04):
    return {"job": job, "overrides": f"model={model} estimator=mlp seed={job}", "model": model, "status": "completed",
            "primary_metric": metric, "greater_is_better": metric != "rmse", "primary_mean": mean, "primary_std": std,
            "primary_pooled": pooled, "primary_lower": lower, "primary_upper": upper}


def test_the_pooled_interval_is_drawn_on_a_shared_clipped_axis(tmp_path):
    rows = [row(0, "parkinsons", 0.70, 0.43, 0.87, 0.67),      # mean ± SD 0.63-0.71: the interval is far wider
            row(1, "parkinsons", 0.95, 0.80, 1.00, 0.97, std=0.06),   # mean + SD would cross 1.0
            row(2, "parkinsons", 0.80, 0.70, 0.90, 0.99),      # highest mean, ranked by its pooled value
            row(3, "als", 0.60, 0.50, 0.72, 0.61),
            row(4, "diabetes", 55.0, 50.0, 61.0, 54.0, metric="rmse", std=3.0)]
    rows[1]["bbc_estimate"] = 0.41  # the selected job's bias-corrected score, below every interval here
    panels = {p["model"]: p for p in plot_sweep(rows, tmp_path / "s.png")}
    assert mpimg.imread(tmp_path / "s.png").shape[1] == 900
    park = panels["parkinsons"]
    assert park["by"] == "pooled"
    assert park["jobs"] == [(1, 0.95, 0.80, 1.00), (2, 0.80, 0.70, 0.90), (0, 0.70, 0.43, 0.87)]
    # One axis for both ROC-AUC panels, covering every interval and never past 1.
    assert park["xlim"] == panels["als"]["xlim"]
    lo, hi = park["xlim"]
    assert lo <= 0.41 and hi == 1.0
    assert park["bbc"] == [(1, 0.41)] and panels["als"]["bbc"] == []
    rlo, rhi = panels["diabetes"]["xlim"]
    assert 0 <= rlo <= 50 and rhi >= 61 and (rlo, rhi) != (lo, hi)


def test_a_panel_without_pooled_values_draws_means_without_intervals(tmp_path):
    rows = [row(0, "als", None, None, None, 0.9), row(1, "als", 0.7, 0.6, 0.8, 0.8)]
    (panel,) = plot_sweep(rows, tmp_path / "s.png")
    assert panel["by"] == "mean" and panel["jobs"] == [(0, 0.9, None, None), (1, 0.8, None, None)]
    assert panel["xlim"][1] <= 1.0 and panel["xlim"][0] == pytest.approx(0.8 - 0.005)


def test_a_model_without_a_completed_job_gets_no_empty_panel(tmp_path):
    failed = {"job": 2, "overrides": "model=als", "model": "als", "status": "failed", "primary_mean": None}
    panels = plot_sweep([row(0, "parkinsons", 0.7, 0.6, 0.8, 0.7), failed], tmp_path / "s.png")
    assert [p["model"] for p in panels] == ["parkinsons"]
    alone = plot_sweep([row(0, "parkinsons", 0.7, 0.6, 0.8, 0.7)], tmp_path / "alone.png")
    assert [p["model"] for p in alone] == ["parkinsons"]
    # the failed model is one line of text beneath, not a panel of its own
    assert 0 < mpimg.imread(tmp_path / "s.png").shape[0] - mpimg.imread(tmp_path / "alone.png").shape[0] < 60
    assert plot_sweep([failed], tmp_path / "none.png") == [] and mpimg.imread(tmp_path / "none.png").shape[1] == 900


def test_jobs_without_a_metric_are_counted_by_how_they_ended_a_pruned_job_never_as_failed():
    from medsweep.report.sweep_plot import _statuses

    rows = [{"status": "pruned"}, {"status": "pruned"}, {"status": "failed"}, {"status": None}]
    assert _statuses(rows) == "1 failed, 1 missing, 2 pruned"
