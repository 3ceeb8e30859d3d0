import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, make_scorer, recall_score, roc_auc_score
from sklearn.model_selection import cross_validate as sk_cross_validate
from sklearn.pipeline import Pipeline

from medsweep.data.prepare import load_dataset
from medsweep.evaluate.metrics import LOWER_IS_BETTER, classification_metrics, regression_metrics
from medsweep.preprocess import make_preprocessor
from medsweep.learn.splitting import split
from medsweep.learn.training import TrainSettings, cross_validate

LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


def breast_cancer():
    return load_dataset(OmegaConf.create(dict(
        name="breast_cancer", source="sklearn", path=None, target="diagnosis", task="classification",
        group=None, group_pattern=None, drop=[], positive=["malignant"], na_values=[], delimiter=None, seed=0)))


def test_metrics_agree_with_sklearn_cross_validate_on_the_same_splits():
    data = breast_cancer()
    ours = cross_validate(data, LOGREG, 5, TrainSettings(epochs=1, batch_size=32, seed=0)).metrics
    pipeline = Pipeline([("preprocess", make_preprocessor(data.X)), ("estimator", LogisticRegression(max_iter=1000))])
    scoring = {
        "roc_auc": make_scorer(roc_auc_score, response_method="predict_proba"),
        "pr_auc": "average_precision", "balanced_accuracy": "balanced_accuracy", "accuracy": "accuracy",
        "f1": "f1", "sensitivity": "recall", "specificity": make_scorer(recall_score, pos_label=0),
        "brier": "neg_brier_score",
    }
    theirs = sk_cross_validate(pipeline, data.X, data.y, cv=split(data, 5, seed=0), scoring=scoring)
    for name in scoring:
        expected = theirs[f"test_{name}"] * (-1 if name == "brier" else 1)
        np.testing.assert_allclose(ours[name]["folds"], expected, rtol=0, atol=1e-9, err_msg=name)
        assert ours[name]["mean"] == pytest.approx(np.mean(expected), abs=1e-9)
        assert ours[name]["std"] == pytest.approx(np.std(expected), abs=1e-9)


def test_binary_sensitivity_and_specificity_follow_the_positive_class():
    y = np.array([1, 1, 1, 0, 0])
    proba = np.array([[0.1, 0.9], [0.4, 0.6], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8]])
    m = classification_metrics(y, proba, [0, 1])
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(1 / 2)


def test_multiclass_uses_macro_averages_and_one_vs_rest_auc():
    y = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.eye(3)[[0, 1, 2, 0, 2, 1]] * 0.8 + 0.2 / 3
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    y_pred = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
    assert m["f1"] == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, y_pred))
    onehot = (y[:, None] == np.array(["a", "b", "c"])).astype(float)
    assert m["brier_multi"] == pytest.approx(np.mean(((proba - onehot) ** 2).sum(axis=1)))


def test_multiclass_has_no_duplicate_sensitivity_and_names_its_brier_apart():
    """Multiclass "sensitivity" was the macro recall, i.e. balanced_accuracy under a second name; the Brier score
    summed over classes (range 0-2) was named like the binary one (0-1). Binary keeps both names."""
    y = np.array(["a", "b", "c", "a", "b", "c"])
    proba = np.full((6, 3), 1 / 3)
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert "sensitivity" not in m and "brier" not in m
    assert m["brier_multi"] == pytest.approx(2 / 3)  # (2/3)^2 + 2 * (1/3)^2 per patient
    assert "brier_multi" in LOWER_IS_BETTER
    binary = classification_metrics(np.array([0, 1]), np.array([[0.6, 0.4], [0.3, 0.7]]), [0, 1])
    assert "sensitivity" in binary and "brier" in binary and "brier_multi" not in binary


def test_regression_metrics():
    m = regression_metrics(np.array([1.0, 2, 3]), np.array([1.0, 2, 5]))
    assert m["rmse"] == pytest.approx(np.sqrt(4 / 3)) and m["mae"] == pytest.approx(2 / 3)
