"""Evaluation statistics (medsweep.evaluate.evaluation), each against an independent computation: scikit-learn and
metrics.py on explicitly repeated rows, likelihoods maximised here with scipy, formulas written as loops."""

import json

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_expit
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score, roc_curve

import medsweep.evaluate.bootstrap as bootstrap
from medsweep.evaluate.evaluation import (LOGIT_EPS, bootstrap_intervals, bootstrap_values, bootstrap_weights,
                                 calibration, calibration_report, counts, decision_curve,
                                 multiclass_calibration, pooled_metrics, regression_calibration,
                                 resample_metrics, subgroup_labels, subgroup_table, table_records)
from medsweep.learn.operating_point import (ThresholdRule, choose_threshold, parse_threshold_rule)
from medsweep.evaluate.metrics import (CLASSIFICATION_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS, classification_metrics,
                              regression_metrics)
from medsweep.report.plots import plot_calibration, plot_decision_curve

JOB_SIZE = (560, 800)


def binary_cohort(n=300, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.35, "malignant", "benign")
    score = rng.normal(size=n) + 1.2 * (y == "malignant")
    p = expit(score)
    if ties:
        p = np.round(p, 2)  # tied scores: ROC-AUC counts them 1/2, average precision groups them
    return y, np.c_[1 - p, p], ["benign", "malignant"]


def multiclass_cohort(n=240, seed=1):
    rng = np.random.default_rng(seed)
    classes = ["A", "B", "C"]
    y = rng.choice(classes, n, p=[0.5, 0.3, 0.2])
    proba = rng.dirichlet(np.ones(3), n)
    proba[np.arange(n), [classes.index(v) for v in y]] += 0.6
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 2)
    return y, proba / proba.sum(axis=1, keepdims=True), classes


def regression_cohort(n=200, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.normal(150, 40, n)
    return y, y + rng.normal(0, 25, n)


def fixed_weights(n, seed=3):
    """A few resamples as integer counts, plus one with rows left out and one with every row twice."""
    rng = np.random.default_rng(seed)
    w = rng.multinomial(n, np.full(n, 1 / n), size=4)
    return np.vstack([w, np.where(np.arange(n) % 3 == 0, 0, 1), np.full(n, 2)])


def assert_metrics_equal(ours, theirs, names):
    for name in names:
        assert ours[name] == pytest.approx(theirs[name], abs=1e-10, rel=0), name


# ---------------------------------------------------------------------------------------------- metrics.py

def test_threshold_none_is_argmax_and_threshold_moves_the_operating_point():
    y, proba, classes = binary_cohort(ties=False)
    assert classification_metrics(y, proba, classes) == classification_metrics(y, proba, classes, None)
    low, high = (classification_metrics(y, proba, classes, t) for t in (0.2, 0.8))
    assert low["sensitivity"] > high["sensitivity"] and low["specificity"] < high["specificity"]
    assert low["roc_auc"] == high["roc_auc"] and low["brier"] == high["brier"]  # threshold-free
    pred = np.where(proba[:, 1] >= 0.8, "malignant", "benign")
    assert high["ppv"] == pytest.approx(precision_score(y, pred, pos_label="malignant"), abs=1e-12)
    assert high["npv"] == pytest.approx(precision_score(y, pred, pos_label="benign"), abs=1e-12)
    # At exactly the threshold the row is positive.
    edge = classification_metrics(np.array(["benign", "malignant"]), np.array([[0.5, 0.5], [0.5, 0.5]]),
                                  classes, threshold=0.5)
    assert edge["sensitivity"] == 1 and edge["specificity"] == 0
    assert list(low) == list(CLASSIFICATION_METRICS)


def test_ppv_npv_multiclass_are_macro_and_zero_where_undefined():
    y, proba, classes = multiclass_cohort()
    m = classification_metrics(y, proba, classes)
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    assert m["ppv"] == pytest.approx(precision_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    npvs = []
    for c in classes:  # one-vs-rest: predicted "not c" and truly "not c" / predicted "not c"
        called_neg = pred != c
        npvs.append(np.mean(y[called_neg] != c) if called_neg.any() else 0.0)
    assert m["npv"] == pytest.approx(np.mean(npvs), abs=1e-12)
    # Nothing predicted positive: ppv 0, as scikit-learn's zero_division=0.
    none = classification_metrics(np.array([0, 1, 1]), np.array([[0.9, 0.1]] * 3), [0, 1])
    assert none["ppv"] == 0 and none["npv"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="binary"):
        classification_metrics(y, proba, classes, threshold=0.5)


# ----------------------------------------------------------------------------------- resampled metrics

@pytest.mark.parametrize("threshold", [None, 0.3])
def test_binary_resampled_metrics_equal_metrics_on_repeated_rows(threshold):
    y, proba, classes = binary_cohort()
    W = fixed_weights(len(y))
    ours = resample_metrics(y, proba, classes, "classification", W, threshold)
    for b, w in enumerate(W):
        rows = np.repeat(np.arange(len(y)), w)
        theirs = classification_metrics(y[rows], proba[rows], classes, threshold)
        assert_metrics_equal({k: v[b] for k, v in ours.items()}, theirs, CLASSIFICATION_METRICS)


def test_multiclass_resampled_metrics_equal_metrics_on_repeated_rows():
    y, proba, classes = multiclass_cohort()
    W = fixed_weights(len(y))
    ours = resample_metrics(y, proba, classes, "classification", W)
    for b, w in enumerate(W):
        rows = np.repeat(np.arange(len(y)), w)
        theirs = classification_metrics(y[rows], proba[rows], classes)
        assert_metrics_equal({k: v[b] for k, v in ours.items()}, theirs, MULTICLASS_METRICS)


def test_regression_resampled_metrics_equal_metrics_on_repeated_rows():
    y, pred = regression_cohort()
    W = fixed_weights(len(y))
    ours = resample_metrics(y, pred, None, "regression", W)
    for b, w in enumerate(W):
        rows = np.repeat(np.arange(len(y)), w)
        assert_metrics_equal({k: v[b] for k, v in ours.items()}, regression_metrics(y[rows], pred[rows]),
                             REGRESSION_METRICS)


def test_a_resample_without_a_class_is_dropped_for_the_metrics_it_leaves_undefined():
    y, proba, classes = binary_cohort(n=40)
    W = np.ones((2, len(y)))
    W[1, y == "malignant"] = 0  # no positive row
    m = resample_metrics(y, proba, classes, "classification", W)
    for name in ("roc_auc", "pr_auc", "sensitivity", "balanced_accuracy"):
        assert np.isfinite(m[name][0]) and np.isnan(m[name][1]), name
    for name in ("accuracy", "brier", "specificity", "f1", "ppv", "npv"):
        assert np.isfinite(m[name][1]), name
    # A tiny cohort: some resamples lack the rare class; they are counted out of n_valid.
    small_y = np.array(["benign"] * 9 + ["malignant"])
    small_p = np.c_[np.linspace(0.9, 0.1, 10), np.linspace(0.1, 0.9, 10)]
    ci = bootstrap_intervals(small_y, small_p, classes, "classification", n_boot=500)
    assert 0 < ci["roc_auc"]["n_valid"] < 500
    assert ci["accuracy"]["n_valid"] == 500
    assert np.isnan(bootstrap_values(small_y, small_p, classes, "classification", n_boot=500)["roc_auc"]).sum() \
        == 500 - ci["roc_auc"]["n_valid"]


# ---------------------------------------------------------------------------------------------- intervals

@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_intervals_contain_the_pooled_value_and_repeat_with_the_seed(task):
    if task == "regression":
        y, out = regression_cohort()
        classes, kind = None, "regression"
    else:
        y, out, classes = binary_cohort() if task == "binary" else multiclass_cohort()
        kind = "classification"
    groups = np.arange(len(y)) // 3  # three rows per patient
    ci = bootstrap_intervals(y, out, classes, kind, groups=groups, n_boot=400, seed=7)
    pooled = pooled_metrics(y, out, classes, kind)
    names = {"binary": CLASSIFICATION_METRICS, "multiclass": MULTICLASS_METRICS}.get(task, REGRESSION_METRICS)
    assert list(ci) == list(pooled) == list(names)
    for name, interval in ci.items():
        assert interval["lower"] <= pooled[name] <= interval["upper"], name
        assert interval["n_valid"] == 400
    assert bootstrap_intervals(y, out, classes, kind, groups=groups, n_boot=400, seed=7) == ci
    assert bootstrap_intervals(y, out, classes, kind, groups=groups, n_boot=400, seed=8) != ci
    json.dumps(ci, allow_nan=False)


def test_resamples_draw_patients_with_replacement_whatever_the_chunk_size(monkeypatch):
    patients = np.repeat(np.array(["p1", "p2", "p3", "p4", "p5"], dtype=object), [1, 4, 2, 3, 2])
    W = np.vstack(list(bootstrap_weights(len(patients), patients, n_boot=300, seed=2)))
    assert W.shape == (300, 12)
    first_rows = [0, 1, 5, 7, 10]
    for p, start in zip(np.unique(patients), first_rows):  # a patient's rows are drawn together
        assert (W[:, patients == p] == W[:, [start]]).all()
    assert (W[:, first_rows].sum(axis=1) == 5).all()  # 5 patients drawn per resample
    rows = np.vstack(list(bootstrap_weights(12, None, n_boot=300, seed=2)))
    assert (rows.sum(axis=1) == 12).all()
    y, proba, classes = binary_cohort()
    groups = np.arange(len(y)) // 2
    whole = bootstrap_values(y, proba, classes, "classification", groups, n_boot=200, seed=1)
    monkeypatch.setattr(bootstrap, "MAX_WEIGHT_CELLS", 7 * len(y))  # 7 resamples at a time
    chunked = bootstrap_values(y, proba, classes, "classification", groups, n_boot=200, seed=1)
    for name in whole:
        np.testing.assert_array_equal(whole[name], chunked[name])


def test_pooled_metrics_are_metrics_py_on_all_rows():
    y, proba, classes = binary_cohort()
    assert pooled_metrics(y, proba, classes, "classification", 0.4) == \
        classification_metrics(y, proba, classes, 0.4)


def clustered_cohort(patients=60, rows_each=8, seed=0):
    """Each patient: one label and one score, repeated on many near-identical rows."""
    rng = np.random.default_rng(seed)
    label = rng.random(patients) < 0.4
    score = rng.normal(size=patients) + 1.0 * label
    y = np.repeat(label, rows_each).astype(int)
    p = expit(np.repeat(score, rows_each) + rng.normal(0, 0.01, patients * rows_each))
    return y, np.c_[1 - p, p], np.repeat(np.arange(patients), rows_each)


def test_patient_level_interval_is_wider_when_rows_of_a_patient_are_alike():
    y, proba, groups = clustered_cohort()
    by_patient = bootstrap_intervals(y, proba, [0, 1], "classification", groups=groups, seed=1)
    by_row = bootstrap_intervals(y, proba, [0, 1], "classification", seed=1)
    for name in ("roc_auc", "brier", "accuracy"):
        width_patient = by_patient[name]["upper"] - by_patient[name]["lower"]
        width_row = by_row[name]["upper"] - by_row[name]["lower"]
        assert width_patient > 1.8 * width_row, name  # ~sqrt(8) wider in theory


def test_one_row_per_patient_gives_the_row_level_interval():
    y, proba, classes = binary_cohort()
    patients = np.array([f"P{i:03d}" for i in range(len(y))])
    assert bootstrap_intervals(y, proba, classes, "classification", groups=patients, seed=3) == \
        bootstrap_intervals(y, proba, classes, "classification", seed=3)


# --------------------------------------------------------------------------------------------- calibration

def logistic_fit(y, z):
    """Maximum likelihood of y ~ a + b z, written here."""
    def nll(ab):
        eta = ab[0] + ab[1] * z
        return -np.sum(y * log_expit(eta) + (1 - y) * log_expit(-eta))

    def grad(ab):
        r = expit(ab[0] + ab[1] * z) - y
        return np.array([r.sum(), r @ z])

    return minimize(nll, np.zeros(2), jac=grad, method="BFGS", options={"gtol": 1e-10}).x


def offset_fit(y, z):
    def nll(a):
        return -np.sum(y * log_expit(a + z) + (1 - y) * log_expit(-(a + z)))
    return minimize_scalar(nll, bounds=(-20, 20), method="bounded", options={"xatol": 1e-10}).x


def simulated(n=20000, stretch=1.0, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(-0.5, 1.5, n)  # true log-odds
    y = rng.random(n) < expit(z)
    return y, expit(stretch * z + shift)


def test_calibration_slope_intercept_and_citl_equal_likelihoods_maximised_here():
    y, p = simulated(n=800, stretch=1.6, shift=0.4, seed=5)
    c = calibration(y, p)
    z = np.log(np.clip(p, LOGIT_EPS, 1 - LOGIT_EPS) / (1 - np.clip(p, LOGIT_EPS, 1 - LOGIT_EPS)))
    a, b = logistic_fit(y.astype(float), z)
    assert c["slope"] == pytest.approx(b, abs=1e-4) and c["intercept"] == pytest.approx(a, abs=1e-4)
    assert c["citl"] == pytest.approx(offset_fit(y.astype(float), z), abs=1e-4)
    assert c["brier"] == pytest.approx(np.mean((p - y) ** 2))
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose(c["curve"]["observed"], observed, atol=1e-12)
    np.testing.assert_allclose(c["curve"]["predicted"], predicted, atol=1e-12)
    assert sum(c["curve"]["count"]) == len(y) and len(c["curve"]["count"]) == len(observed)
    ece = sum(k / len(y) * abs(o - q) for k, o, q in zip(c["curve"]["count"], observed, predicted))
    assert c["ece"] == pytest.approx(ece, abs=1e-12)
    json.dumps(c, allow_nan=False)


def test_a_calibrated_model_has_slope_one_and_citl_zero_and_an_overconfident_one_slope_half():
    good = calibration(*simulated())
    assert good["slope"] == pytest.approx(1.0, abs=0.05)
    assert good["citl"] == pytest.approx(0.0, abs=0.05) and good["intercept"] == pytest.approx(0.0, abs=0.05)
    assert good["ece"] < 0.02
    overconfident = calibration(*simulated(stretch=2.0))
    assert overconfident["slope"] == pytest.approx(0.5, abs=0.03)
    underestimated = calibration(*simulated(shift=-1.0))
    assert underestimated["citl"] == pytest.approx(1.0, abs=0.1)  # risks too low: positive CITL


def test_calibration_undefined_cases_say_why():
    one_class = calibration(np.zeros(20, bool), np.linspace(0.1, 0.9, 20))
    assert one_class["slope"] is None and one_class["citl"] is None and "one class" in one_class["note"]
    separated = calibration(np.r_[np.zeros(10, bool), np.ones(10, bool)], np.linspace(0.05, 0.95, 20))
    assert separated["slope"] is None and "separated" in separated["note"] and separated["citl"] is not None


def test_multiclass_calibration_is_one_vs_rest_per_class():
    y, proba, classes = multiclass_cohort()
    c = multiclass_calibration(y, proba, classes)
    assert c["kind"] == "multiclass" and list(c["classes"]) == classes
    for k, cls in enumerate(classes):
        assert c["classes"][cls] == calibration(y == cls, proba[:, k])
    assert calibration_report(y, proba, classes, "classification") == c


def test_regression_calibration_is_the_ols_fit_of_observed_on_predicted():
    y, pred = regression_cohort()
    c = regression_calibration(y, pred, n_bins=5)
    slope, intercept = np.polyfit(pred, y, 1)
    assert c["slope"] == pytest.approx(slope, abs=1e-8) and c["intercept"] == pytest.approx(intercept, abs=1e-6)
    assert c["citl"] == pytest.approx(np.mean(y - pred))
    bins = pd.qcut(pred, 5, labels=False)
    np.testing.assert_allclose(c["curve"]["observed"], pd.Series(y).groupby(bins).mean(), atol=1e-9)
    np.testing.assert_allclose(c["curve"]["predicted"], pd.Series(pred).groupby(bins).mean(), atol=1e-9)
    assert calibration_report(y, pred, None, "regression", n_bins=5) == c


# -------------------------------------------------------------------------------------------- decision curve

def test_decision_curve_equals_the_formula_in_loops():
    y, proba, _ = binary_cohort()
    yb, p = y == "malignant", proba[:, 1]
    thresholds = [0.0, 0.05, 0.2, 0.35, 0.5, 0.61, 0.9]
    frame = decision_curve(yb, p, thresholds)
    assert list(frame.columns) == ["threshold", "net_benefit", "treat_all", "treat_none"]
    n = len(yb)
    for i, t in enumerate(thresholds):
        tp = fp = 0
        for yi, pi in zip(yb, p):
            if pi >= t:
                tp += yi
                fp += not yi
        prevalence = sum(yb) / n
        assert frame["net_benefit"][i] == pytest.approx(tp / n - fp / n * t / (1 - t), abs=1e-12)
        assert frame["treat_all"][i] == pytest.approx(prevalence - (1 - prevalence) * t / (1 - t), abs=1e-12)
        assert frame["treat_none"][i] == 0
    assert len(decision_curve(yb, p)) == 99
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        decision_curve(yb, p, [0.5, 1.0])


# -------------------------------------------------------------------------------------------- operating point

@pytest.mark.parametrize("value, expected", [
    (0.3, ThresholdRule("fixed", 0.3)), ("0.25", ThresholdRule("fixed", 0.25)),
    ("youden", ThresholdRule("youden")), (" Youden ", ThresholdRule("youden")),
    ("sensitivity>=0.9", ThresholdRule("sensitivity", 0.9)), ("specificity >= 1", ThresholdRule("specificity", 1.0)),
])
def test_threshold_rules_accepted(value, expected):
    assert parse_threshold_rule(value) == expected
    assert parse_threshold_rule(str(expected)) == expected


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, float("nan"), True, None, "", "half", "youden2",
                                   "sensitivity>=0", "sensitivity>=1.2", "specificity>0.9", "ppv>=0.9"])
def test_threshold_rules_refused_say_what_is_allowed(value):
    with pytest.raises(ValueError) as err:
        parse_threshold_rule(value)
    assert "youden" in str(err.value) and "sensitivity>=x" in str(err.value) and "(0, 1]" in str(err.value)


def test_youden_is_the_first_maximum_of_roc_curve():
    for seed in range(5):
        y, proba, _ = binary_cohort(n=150, seed=seed)  # tied scores
        yb, p = y == "malignant", proba[:, 1]
        fpr, tpr, thresholds = roc_curve(yb, p, drop_intermediate=False)
        assert choose_threshold("youden", yb, p) == thresholds[np.argmax(tpr - fpr)]


def sens_spec(yb, p, t):
    called = p >= t
    return called[yb].mean(), (~called[~yb]).mean()


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 0.95, 1.0])
def test_sensitivity_and_specificity_targets_are_met_at_the_best_threshold(target):
    y, proba, _ = binary_cohort(n=200, seed=4)
    yb, p = y == "malignant", proba[:, 1]
    scores = np.unique(p)
    t = choose_threshold(f"sensitivity>={target}", yb, p)
    assert sens_spec(yb, p, t)[0] >= target
    higher = scores[scores > t]
    assert not higher.size or sens_spec(yb, p, higher[0])[0] < target  # the highest meeting it
    t = choose_threshold(f"specificity>={target}", yb, p)
    assert sens_spec(yb, p, t)[1] >= target
    lower = scores[scores < t]
    assert not lower.size or sens_spec(yb, p, lower[-1])[1] < target  # the lowest meeting it


def test_a_fixed_threshold_is_itself_and_rules_need_their_classes():
    assert choose_threshold(0.42, np.array([True, False]), np.array([0.1, 0.2])) == 0.42
    assert choose_threshold(ThresholdRule("fixed", 0.3), np.zeros(3, bool), np.zeros(3)) == 0.3
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold("youden", np.zeros(5, bool), np.linspace(0, 1, 5))
    # Negatives at the highest score: nobody positive is the only way to specificity 1.
    t = choose_threshold("specificity>=1", np.array([True, False, False]), np.array([0.9, 0.9, 0.1]))
    assert t > 0.9 and sens_spec(np.array([True, False, False]), np.array([0.9, 0.9, 0.1]), t)[1] == 1


# ------------------------------------------------------------------------------------------------ subgroups

def subgroup_cohort(seed=0):
    """Site A predicted well, site B poorly; 3 rows per patient; a tiny site C; one row without a site."""
    rng = np.random.default_rng(seed)
    rows = []
    for site, patients, signal in (("A", 120, 3.0), ("B", 120, 0.3), ("C", 4, 3.0)):
        for i in range(patients):
            label = rng.random() < 0.4
            score = rng.normal() + signal * label
            age = rng.uniform(30, 80)
            for _ in range(3):
                rows.append((f"{site}{i}", site, age, label, expit(score + rng.normal(0, 0.3))))
    frame = pd.DataFrame(rows, columns=["patient", "site", "age", "y", "p"])
    frame.loc[0, "site"] = None
    return frame


def test_subgroup_table_flags_the_group_predicted_worse():
    f = subgroup_cohort()
    y = np.where(f["y"], "yes", "no")
    proba = np.c_[1 - f["p"], f["p"]]
    table = subgroup_table(y, proba, ["no", "yes"], "classification", f["patient"], f["site"], n_boot=300)
    assert list(table["subgroup"]) == ["A", "B", "C", "missing"]
    a, b, c, missing = (table.iloc[i] for i in range(4))
    assert b["flag"] and not a["flag"] and b["roc_auc_upper"] < a["roc_auc_lower"]
    assert "below overall" in b["note"]
    # events: patients with the event (3 rows each here), the unit of the minimum-events rule
    site_a = f.iloc[1:360]
    assert (a["patients"], a["rows"]) == (120, 359) and a["events"] == site_a[site_a.y].patient.nunique()
    assert c["patients"] == 4 and np.isnan(c["roc_auc"]) and not c["flag"] and "fewer than 10" in c["note"]
    assert missing["rows"] == 1
    for name in ("roc_auc", "sensitivity", "specificity"):
        assert a[f"{name}_lower"] <= a[name] <= a[f"{name}_upper"]
    json.dumps(table_records(table), allow_nan=False)


def test_numeric_subgroups_are_quantile_bins_of_the_patients_values():
    f = subgroup_cohort()
    labels = subgroup_labels(f["age"], f["patient"], bins=2)
    per_patient = f.groupby("patient")["age"].first()
    median = np.median(per_patient)
    assert list(labels.cat.categories) == [f"[{float(f'{f.age.min():.4g}')!r}, {float(f'{median:.4g}')!r})",
                                           f"[{float(f'{median:.4g}')!r}, {float(f'{f.age.max():.4g}')!r}]"]
    assert ((labels == labels.cat.categories[0]) == (f["age"] < median)).all()
    with_missing = subgroup_labels(f["age"].where(f.index != 5), f["patient"], bins=3)
    assert with_missing[5] == "missing" and len(with_missing.cat.categories) == 4
    assert list(subgroup_labels(pd.Series([0, 1, 1, 0, None])).cat.categories) == ["0.0", "1.0", "missing"]
    assert list(subgroup_labels([True, False, True]).cat.categories) == ["False", "True"]


def test_subgroups_of_multiclass_and_regression():
    y, proba, classes = multiclass_cohort()
    sex = np.where(np.arange(len(y)) % 2, "F", "M")
    table = subgroup_table(y, proba, classes, "classification", None, sex, n_boot=200)
    assert list(table.columns[:7]) == ["subgroup", "patients", "rows", "events", "roc_auc", "roc_auc_lower",
                                       "roc_auc_upper"]
    f_rows = y[sex == "F"]
    assert table.iloc[0]["events"] == " ".join(f"{c}:{(f_rows == c).sum()}" for c in classes)
    yr, pred = regression_cohort()
    pred = pred.copy()
    pred[:100] = yr[:100] + np.random.default_rng(0).normal(0, 80, 100)  # first half predicted worse
    half = np.where(np.arange(len(yr)) < 100, "first", "second")
    table = subgroup_table(yr, pred, None, "regression", None, half, n_boot=300)
    first = table.set_index("subgroup").loc["first"]
    assert first["flag"] and first["rmse_lower"] > pooled_metrics(yr, pred, None, "regression")["rmse"]
    assert table["events"].isna().all()


def test_counts_overall_and_per_fold():
    y = np.array(["a", "b", "b", "a", "b", "a"])
    patients = np.array([1, 1, 2, 3, 3, 4])
    folds = np.array([0, 0, 1, 0, 0, 1])
    c = counts(y, ["a", "b"], patients, folds)
    assert c["patients"] == 4 and c["rows"] == 6 and c["events"] == {"a": 3, "b": 3}
    assert c["patients_with"] == {"a": 3, "b": 3}
    assert c["folds"] == [{"fold": 0, "patients": 2, "rows": 4, "events": {"a": 2, "b": 2},
                           "patients_with": {"a": 2, "b": 2}},
                          {"fold": 1, "patients": 2, "rows": 2, "events": {"a": 1, "b": 1},
                           "patients_with": {"a": 1, "b": 1}}]
    regression = counts(np.arange(6.0), None, None, folds)
    assert regression["patients"] == 6 and "events" not in regression
    json.dumps(c, allow_nan=False)


# ------------------------------------------------------------------------------------------------ plots

def png_shape(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(path).shape[:2]


def test_calibration_and_decision_curve_plots_are_pngs_of_the_job_size(tmp_path):
    y, proba, classes = binary_cohort()
    ym, pm, cm = multiclass_cohort()
    yr, pred = regression_cohort()
    for name, calib in (("binary", calibration_report(y, proba, classes, "classification")),
                        ("multiclass", calibration_report(ym, pm, cm, "classification")),
                        ("regression", calibration_report(yr, pred, None, "regression")),
                        ("undefined", calibration(np.zeros(20, bool), np.linspace(0.1, 0.9, 20)))):
        plot_calibration(calib, tmp_path / f"calibration_{name}.png")
        assert png_shape(tmp_path / f"calibration_{name}.png") == JOB_SIZE
    plot_decision_curve(decision_curve(y == "malignant", proba[:, 1]), tmp_path / "dca.png")
    assert png_shape(tmp_path / "dca.png") == JOB_SIZE
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="kind"):
        plot_calibration({"curve": {}}, tmp_path / "bad.png")
