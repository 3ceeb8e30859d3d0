"""The model card says what each figure estimates, never calls a negative calibration slope over-confident,
and lists the job's warnings (metrics.json ``warnings``, hand-made here)."""

from medsweep.report.model_card import render_model_card


def record(**extra):
    base = {"model": "parkinsons", "estimator": "mlp", "task": "classification", "classes": ["0", "1"],
            "primary_metric": "roc_auc", "folds": 5, "seed": 0, "status": "completed",
            "metrics": {"roc_auc": {"mean": 0.7, "std": 0.1, "folds": [0.6, 0.7, 0.8, 0.7, 0.7], "pooled": 0.69,
                                    "lower": 0.5, "upper": 0.85}},
            "evaluation": {"calibration": {"kind": "binary", "slope": -0.31, "intercept": 0.2, "citl": 0.1,
                                           "ece": 0.2, "brier": 0.3}},
            "data": {"source": "synthetic", "synthetic": True, "sha256": "a" * 64}}
    return {**base, **extra}


def test_a_negative_slope_is_not_called_over_confident():
    card = render_model_card(record(), "medsweep reproduce job")
    assert "a slope below 1: over-confident" not in card
    assert "between 0 and 1: over-confident" in card and "not over-confidence" in card
    assert "**Slope 0 or below** (all rows)" in card
    positive = record(evaluation={"calibration": {"kind": "binary", "slope": 0.6, "citl": 0.0}})
    assert "Slope 0 or below" not in render_model_card(positive, "x")


def test_the_card_says_what_pooled_and_mean_estimate():
    card = render_model_card(record(), "x")
    assert "out-of-fold predictions of all folds together, i.e. of k different fold models" in card
    assert "population standard deviation (ddof=0)" in card and "BBC-CV" in card


def test_every_warning_is_listed_and_jobs_without_warnings_still_work():
    warnings = [{"kind": "small_test_fold", "message": "fold 2 has 1 patient of class 0 (< 5): use fewer folds"},
                {"kind": "threshold_target_missed", "message": "sensitivity 0.54 (0.45-0.63) misses 0.9"}]
    card = render_model_card(record(warnings=warnings), "x")
    assert "## Warnings" in card and card.index("## Warnings") < card.index("## Intended use")
    assert "| small\\_test\\_fold | fold 2 has 1 patient of class 0 (&lt; 5): use fewer folds |" in card
    assert "| threshold\\_target\\_missed | sensitivity 0.54 (0.45-0.63) misses 0.9 |" in card
    assert "## Warnings" not in render_model_card(record(), "x")
    assert "| warning | odd |" in render_model_card(record(warnings=["odd"]), "x")
    assert "SYNTHETIC" in card


def test_the_operating_point_says_what_its_thresholds_were_chosen_on_and_whether_the_target_held():
    op = {"rule": "sensitivity>=0.9", "positive_class": "1", "final_threshold": 0.34,
          "fold_thresholds": [0.3, 0.35], "chosen_on": "out-of-fold predictions of an inner 3-fold cross-validation",
          "final_chosen_on": "pooled out-of-fold predictions of the outer cross-validation",
          "out_of_fold": {"metric": "sensitivity", "target": 0.9, "value": 0.81, "lower": 0.72, "upper": 0.88},
          "target_met": False}
    card = render_model_card(record(operating_point=op), "x")
    assert "each chosen on out-of-fold predictions of an inner 3-fold cross-validation" in card
    assert "**Final threshold chosen on**: pooled out-of-fold predictions" in card
    assert "0.8100 (0.7200-0.8800), target 0.9000: **target missed** out of fold" in card
    old = {k: op[k] for k in ("rule", "positive_class", "final_threshold", "fold_thresholds")}
    assert "the fold model's own training predictions (in-sample)" in render_model_card(record(operating_point=old), "x")
