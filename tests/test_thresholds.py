"""Threshold rules (eval.threshold) chosen without peeking: each outer fold's threshold on the out-of-fold
predictions of an inner cross-validation of its training rows, the final model's on the pooled outer
out-of-fold predictions; a missed target said in train.log and metrics.json. The rule's choice is recomputed
here with scikit-learn (cross_val_predict, roc_curve), never with medsweep's own."""

import logging

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

import medsweep.learn.training as training
from helpers import metrics_of, run_train
from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset
from medsweep.job.runner import run_job
from medsweep.learn.operating_point import parse_threshold_rule
from medsweep.preprocess import make_preprocessor
from medsweep.config.schema import ConfigError, check_config
from medsweep.learn.splitting import inner_seed, inner_split
from medsweep.job.pipeline import _operating_point
from medsweep.learn.training import CVResult, TrainSettings, cross_validate

LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


def parkinsons():  # several recordings per patient: folds grouped by patient
    return load_dataset(OmegaConf.create(dict(
        name="parkinsons", source="synthetic", path=None, target="status", task="classification", group="name",
        group_pattern=r"^(.*)_\d+$", drop=[], positive=None, na_values=["?"], delimiter=None, seed=0)))


def breast_cancer():  # one row per patient
    return load_dataset(OmegaConf.create(dict(
        name="breast_cancer", source="sklearn", path=None, target="diagnosis", task="classification",
        group=None, group_pattern=None, drop=[], positive=["malignant"], na_values=[], delimiter=None, seed=0)))


def roc_rule(y_bool, p, rule) -> float:
    """The rule's threshold from scikit-learn's ROC curve (thresholds descending; positive iff p >= t)."""
    fpr, tpr, t = roc_curve(y_bool, p, drop_intermediate=False)
    if rule.kind == "youden":
        return float(t[np.argmax(tpr - fpr)])                         # first maximum: the highest threshold
    if rule.kind == "sensitivity":
        return float(t[np.flatnonzero(tpr >= rule.value - 1e-12)[0]])  # the highest meeting it
    ok = np.flatnonzero(1 - fpr >= rule.value - 1e-12)
    assert ok[-1] > 0, "the rule puts the threshold above every score: not this test's case"
    return float(t[ok[-1]])                                           # the lowest meeting it


@pytest.mark.parametrize("dataset, rule", [(parkinsons, "youden"), (parkinsons, "sensitivity>=0.9"),
                                           (breast_cancer, "specificity>=0.95"), (breast_cancer, "youden")])
def test_each_fold_threshold_is_the_rule_on_inner_out_of_fold_predictions(dataset, rule):
    data, rule, seed = dataset(), parse_threshold_rule(rule), 3
    cv = cross_validate(data, LOGREG, 4, TrainSettings(1, 32, seed), threshold=rule, threshold_folds=3)
    assert cv.threshold_folds == 3
    expected = []
    for fold, (train, _) in enumerate(training.split(data, 4, seed)):
        X, y = data.X.iloc[train], data.y.iloc[train].to_numpy()
        groups = data.groups.iloc[train].to_numpy() if data.groups is not None else None
        # The inner folds as the issue defines them: split like the outer ones (stratified, grouped by
        # patient), shuffled with a seed of the job's seed and the fold.
        splitter = (StratifiedGroupKFold if groups is not None else StratifiedKFold)(
            n_splits=3, shuffle=True, random_state=inner_seed(seed, fold))
        inner = list(splitter.split(X, y, groups))
        pipeline = Pipeline([("preprocess", make_preprocessor(data.X)),
                             ("estimator", LogisticRegression(max_iter=1000))])
        p = cross_val_predict(pipeline, X, y, cv=inner, method="predict_proba")[:, 1]
        expected.append(roc_rule(y == data.classes[-1], p, rule))
    np.testing.assert_allclose(cv.thresholds, expected, rtol=0, atol=1e-9)
    # ... and the test fold's predictions are at that threshold.
    for fold, rows in cv.predictions.groupby("fold"):
        positive = rows[f"proba_{data.classes[-1]}"] >= cv.thresholds[fold]
        assert (rows.y_pred == np.where(positive, data.classes[-1], data.classes[0])).all()


def test_inner_folds_group_patients_stratify_classes_and_cover_the_training_rows_once():
    data = parkinsons()
    y, groups = data.y.to_numpy(), data.groups.to_numpy()
    seeds = set()
    for fold, (train, _) in enumerate(training.split(data, 4, 0)):
        inner = inner_split(data, train, 3, inner_seed(0, fold), f"outer fold {fold}")
        again = inner_split(data, train, 3, inner_seed(0, fold), "")
        assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(inner, again))  # deterministic
        assert len(inner) == 3
        assert sorted(np.concatenate([te for _, te in inner])) == sorted(train)
        for tr, te in inner:
            assert set(tr) | set(te) == set(train) and not set(tr) & set(te)
            assert not set(groups[tr]) & set(groups[te])                      # no patient on both sides
            assert set(y[te]) == set(y[tr]) == set(data.classes)              # every class on each side
        seeds.add(inner_seed(0, fold))
    assert len(seeds) == 4 and inner_seed(0, 0) != inner_seed(1, 0)


def test_too_many_inner_folds_fail_before_any_model_is_fitted(monkeypatch):
    data = parkinsons()
    monkeypatch.setattr(training, "fit_model", lambda *a, **k: pytest.fail("a model was fitted"))
    with pytest.raises(DataError, match=r"eval.threshold_folds=12 but the training side of outer fold 0 has only "
                                        r"\d+ patients of class '0' of 'status'.*use eval.threshold_folds<="):
        cross_validate(data, LOGREG, 4, TrainSettings(1, 32, 0), threshold=parse_threshold_rule("youden"),
                       threshold_folds=12)


def test_a_fixed_probability_needs_no_inner_cross_validation(monkeypatch):
    monkeypatch.setattr(training, "inner_split", lambda *a, **k: pytest.fail("inner folds for a fixed threshold"))
    cv = cross_validate(breast_cancer(), LOGREG, 3, TrainSettings(1, 32, 0), threshold=parse_threshold_rule("0.3"))
    assert cv.thresholds == [0.3, 0.3, 0.3] and cv.threshold_folds is None


def test_threshold_folds_is_range_checked(compose_cfg):
    with pytest.raises(ConfigError, match="eval.threshold_folds=1 is not allowed: must be an integer >= 2"):
        check_config(compose_cfg("eval.threshold_folds=1"))


def _cv(thresholds) -> CVResult:
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.2, 0.5, 0.7, 0.9])
    predictions = pd.DataFrame({"fold": 0, "y_true": y, "proba_0": 1 - p, "proba_1": p})
    return CVResult(metrics={}, predictions=predictions, history=pd.DataFrame(), splitter="",
                    thresholds=thresholds, threshold_folds=3)


@pytest.mark.parametrize("upper, met", [(0.92, True), (0.9, True), (0.88, False), (None, False)])
def test_target_met_means_the_target_is_not_above_the_out_of_fold_interval(upper, met):
    metrics = {"sensitivity": {"pooled": 0.85, **({"lower": 0.8, "upper": upper} if upper else {})},
               "specificity": {"pooled": 0.7}}
    op = _operating_point(parse_threshold_rule("sensitivity>=0.9"), _cv([0.4]), metrics, 1)
    assert op["target_met"] is met  # without an interval (eval.n_boot=0): the value 0.85 < 0.9
    assert op["out_of_fold"]["metric"] == "sensitivity" and op["out_of_fold"]["target"] == 0.9
    # The final threshold: the rule on the pooled out-of-fold predictions (positives 0.2, 0.5, 0.7, 0.9:
    # sensitivity >= 0.9 needs all four).
    assert op["final_threshold"] == 0.2
    assert op["final_chosen_on"] == "pooled out-of-fold predictions of the outer cross-validation"


def test_youden_has_no_target_and_a_fixed_probability_is_not_chosen_on_data():
    metrics = {"sensitivity": {"pooled": 0.75}, "specificity": {"pooled": 0.5}}
    op = _operating_point(parse_threshold_rule("youden"), _cv([0.4]), metrics, 1)
    assert op["target_met"] is None and op["out_of_fold"] == {"metric": "youden_j", "target": None, "value": 0.25}
    assert op["final_threshold"] == roc_rule(_cv(None).predictions.y_true == 1, _cv(None).predictions.proba_1,
                                             parse_threshold_rule("youden"))
    op = _operating_point(parse_threshold_rule("0.5"), _cv([0.5]), metrics, 1)
    assert op["final_threshold"] == 0.5 and op["target_met"] is None and "out_of_fold" not in op


@pytest.mark.slow
def test_the_issue_example_now_delivers_its_sensitivity_out_of_fold(compose_cfg, tmp_path, caplog):
    # Bundled Cleveland, a random forest, sensitivity>=0.9. Chosen on in-sample predictions the pooled
    # out-of-fold sensitivity was 0.540 (0.454-0.614), every fold 0.46-0.57, final threshold 0.737;
    # chosen on inner out-of-fold predictions it is 0.921 (0.875-0.961), folds 0.857-1.0.
    caplog.set_level(logging.ERROR, logger="medsweep")  # quiet, and restored after the test
    run_job(compose_cfg("model=cardiovascular", "estimator=random_forest", 'eval.threshold="sensitivity>=0.9"'),
            tmp_path / "job")
    m = metrics_of(tmp_path / "job")
    sensitivity, op = m["metrics"]["sensitivity"], m["operating_point"]
    assert 0.85 <= sensitivity["pooled"] and sensitivity["lower"] <= 0.9 <= sensitivity["upper"]
    assert min(sensitivity["folds"]) >= 0.8
    # (303 patients are fewer than Riley et al.'s minimum for its parameters: that warning only.)
    assert op["target_met"] is True and [w["kind"] for w in m["warnings"]] == ["sample_size"]
    assert op["out_of_fold"] == {"metric": "sensitivity", "target": 0.9, "value": sensitivity["pooled"],
                                 "lower": sensitivity["lower"], "upper": sensitivity["upper"]}
    assert op["threshold_folds"] == 3 and "inner 3-fold cross-validation" in op["chosen_on"]
    pred = pd.read_csv(tmp_path / "job" / "predictions.csv")
    assert op["final_threshold"] == pytest.approx(roc_rule(pred.y_true == 1, pred.proba_1,
                                                           parse_threshold_rule("sensitivity>=0.9")), abs=1e-12)


@pytest.mark.slow
def test_a_missed_target_is_said_in_train_log_and_metrics_json(tmp_path):
    # Without intervals (eval.n_boot=0) the target is missed when the out-of-fold value is below it:
    # logistic regression on Cleveland reaches specificity 0.988 out of fold for a 0.99 target.
    proc = run_train("model=cardiovascular", "estimator=logreg", 'eval.threshold="specificity>=0.99"',
                     "eval.n_boot=0", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(tmp_path)
    op = m["operating_point"]
    assert op["target_met"] is False and op["out_of_fold"]["value"] == m["metrics"]["specificity"]["pooled"] < 0.99
    missed = [w for w in m["warnings"] if w["kind"] == "threshold_target_missed"]
    assert len(missed) == 1 and "eval.threshold=specificity>=0.99 misses its target out of fold" in missed[0]["message"]
    assert missed[0]["message"] in (tmp_path / "train.log").read_text()
