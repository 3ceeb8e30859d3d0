"""The metric registry (medsweep.evaluate.metrics.METRICS): each metric defined once, its fold value and its
value on resampled predictions the same quantity; Matthews correlation coefficient added as one entry and
checked against scikit-learn."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.metrics import matthews_corrcoef

from medsweep.evaluate.evaluation import (bootstrap_intervals, bootstrap_weights, evaluate_predictions,
                                          resample_metrics)
from medsweep.evaluate.metrics import (CLASSIFICATION_METRICS, LOWER_IS_BETTER, METRICS, MULTICLASS_METRICS,
                                       REGRESSION_METRICS, available_metrics, classification_metrics, fold_metrics,
                                       metric_names, regression_metrics)
from medsweep.evaluate.selection import bbc_cv


def binary(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.35, "malignant", "benign")
    p = np.round(expit(rng.normal(size=n) + 1.2 * (y == "malignant")), 2)
    return y, np.c_[1 - p, p], ["benign", "malignant"]


def multiclass(n=200, seed=1):
    rng = np.random.default_rng(seed)
    y = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), (y == "b") + 2 * (y == "c")] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba, ["a", "b", "c"]


def test_a_job_reports_the_metrics_it_always_reported_in_the_same_order():
    """metrics.json's keys and their order: a registry entry not reported by default (mcc) changes no file."""
    assert CLASSIFICATION_METRICS == ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1", "sensitivity",
                                      "specificity", "ppv", "npv", "brier")
    assert MULTICLASS_METRICS == ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1", "specificity", "ppv",
                                  "npv", "brier_multi")
    assert REGRESSION_METRICS == ("rmse", "mae", "r2")
    assert LOWER_IS_BETTER == {"brier", "brier_multi", "rmse", "mae"}
    assert "mcc" in available_metrics("binary") and "mcc" in available_metrics("multiclass")
    assert "mcc" not in available_metrics("regression")


def test_extra_metrics_are_added_in_report_order_and_unknown_ones_refused():
    assert metric_names("binary", ["mcc"]) == CLASSIFICATION_METRICS + ("mcc",)
    assert metric_names("regression", ["mcc"]) == REGRESSION_METRICS  # a sweep may mix tasks
    with pytest.raises(ValueError, match="unknown metric 'auroc'.*roc_auc"):
        metric_names("binary", ["auroc"])


@pytest.mark.parametrize("threshold", [None, 0.3])
def test_mcc_is_scikit_learns_binary(threshold):
    y, proba, classes = binary()
    y_pred = np.where(proba[:, 1] >= (0.5 if threshold is None else threshold), "malignant", "benign")
    if threshold is None:
        y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    got = classification_metrics(y, proba, classes, threshold, metrics=["mcc"])["mcc"]
    assert got == pytest.approx(matthews_corrcoef(y, y_pred), rel=1e-12, abs=1e-15)


def test_mcc_is_scikit_learns_multiclass_and_zero_where_undefined():
    y, proba, classes = multiclass()
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    got = classification_metrics(y, proba, classes, metrics=["mcc"])["mcc"]
    assert got == pytest.approx(matthews_corrcoef(y, y_pred), rel=1e-12, abs=1e-15)
    # Every prediction of one class: the coefficient is 0/0; scikit-learn and the registry say 0.
    constant = np.tile([0.9, 0.1], (6, 1))
    labels = np.array(["benign", "malignant"] * 3)
    assert classification_metrics(labels, constant, ["benign", "malignant"], metrics=["mcc"])["mcc"] == 0.0
    assert matthews_corrcoef(labels, np.array(["benign"] * 6)) == 0.0


@pytest.mark.parametrize("data", [binary, multiclass])
def test_mcc_of_each_bootstrap_resample_is_scikit_learns_on_the_repeated_rows(data):
    y, proba, classes = data()
    groups = np.arange(len(y)) // 2
    W = next(bootstrap_weights(len(y), groups, n_boot=20, seed=3))
    values = resample_metrics(y, proba, classes, "classification", W, metrics=["mcc"])["mcc"]
    assert values.shape == (20,)
    for w, value in zip(W, values):
        rows = np.repeat(np.arange(len(y)), w.astype(int))
        y_pred = np.asarray(classes)[proba[rows].argmax(axis=1)]
        assert value == pytest.approx(matthews_corrcoef(y[rows], y_pred), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_every_metric_on_all_rows_once_is_its_fold_value_and_lies_in_its_range(kind):
    """A metric defined twice (on a fold, on resamples) is one quantity: with every row weighing 1 both agree."""
    if kind == "regression":
        rng = np.random.default_rng(2)
        y = rng.normal(size=150)
        out, classes, task = y + rng.normal(size=150), None, "regression"
    else:
        y, out, classes = binary() if kind == "binary" else multiclass()
        task = "classification"
    names = available_metrics(kind)
    folds = fold_metrics(y, out, classes, metrics=names)
    resampled = resample_metrics(y, out, classes, task, np.ones((1, len(y))), metrics=names)
    assert list(folds) == list(resampled) == list(names)
    for name in names:
        assert resampled[name][0] == pytest.approx(folds[name], rel=1e-9, abs=1e-12), name
        low, high = METRICS[name].range
        assert (low is None or folds[name] >= low) and (high is None or folds[name] <= high), name
        assert kind in METRICS[name].tasks
        assert METRICS[name].higher_is_better == (name not in LOWER_IS_BETTER)


def test_regression_metrics_ask_only_for_what_they_name():
    assert list(regression_metrics(np.array([1.0, 2, 3]), np.array([1.0, 2, 5]), metrics=["mae"])) == ["mae"]


def test_a_job_asked_for_mcc_reports_it_with_an_interval_and_the_others_unchanged():
    y, proba, classes = binary(300)
    frame = pd.DataFrame({"row": np.arange(300), "patient": np.arange(300) // 2, "fold": np.arange(300) % 3,
                          "y_true": y, "proba_benign": proba[:, 0], "proba_malignant": proba[:, 1]})
    settings = dict(thresholds=None, n_boot=100, seed=0, dca_range=[0.05, 0.5], subgroup_values={},
                    subgroup_bins=2, subgroup_min_patients=10, grouped=True)
    plain = evaluate_predictions(frame, classes, "classification", **settings)
    asked = evaluate_predictions(frame, classes, "classification", extra_metrics=["mcc"], **settings)
    assert list(plain.metrics) == list(CLASSIFICATION_METRICS)
    assert list(asked.metrics) == list(CLASSIFICATION_METRICS) + ["mcc"]
    assert {k: asked.metrics[k] for k in plain.metrics} == plain.metrics
    mcc = asked.metrics["mcc"]
    assert mcc["pooled"] == pytest.approx(matthews_corrcoef(y, np.asarray(classes)[proba.argmax(axis=1)]))
    ci = bootstrap_intervals(y, proba, classes, "classification", frame.patient, 100, 0, metrics=["mcc"])["mcc"]
    assert (mcc["lower"], mcc["upper"]) == (ci["lower"], ci["upper"])
    assert mcc["lower"] < mcc["pooled"] < mcc["upper"]


def test_bbc_cv_selects_on_a_metric_no_job_reports_by_default():
    y, proba, classes = binary(200)
    worse = np.c_[1 - proba[::-1, 1], proba[::-1, 1]]  # scores of other rows: no skill
    res = bbc_cv(y, [worse, proba], classes, "classification", "mcc", n_boot=50, seed=0)
    assert res["selected"][1] > res["selected"][0] and res["estimate"] > 0


def test_cross_validation_asked_for_mcc_scores_it_on_each_fold():
    from omegaconf import OmegaConf

    from medsweep.data.prepare import load_dataset
    from medsweep.learn.training import TrainSettings, cross_validate

    data = load_dataset(OmegaConf.create(dict(
        name="breast_cancer", source="sklearn", path=None, target="diagnosis", task="classification",
        group=None, group_pattern=None, drop=[], positive=["malignant"], na_values=[], delimiter=None, seed=0)))
    spec = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}
    cv = cross_validate(data, spec, 3, TrainSettings(epochs=1, batch_size=32, seed=0), extra_metrics=["mcc"])
    assert list(cv.metrics) == list(CLASSIFICATION_METRICS) + ["mcc"]
    expected = [matthews_corrcoef(f.y_true, f.y_pred) for _, f in cv.predictions.groupby("fold")]
    np.testing.assert_allclose(cv.metrics["mcc"]["folds"], expected, rtol=1e-12)
