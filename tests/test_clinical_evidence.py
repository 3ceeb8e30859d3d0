"""What every job reports for a clinical reviewer: intervals, calibration, decision curve, operating point,
subgroups and counts, checked end to end; the statistics themselves are checked in test_evaluation.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

import medsweep.learn.training as training
from helpers import metrics_of, run_train
from medsweep.data.prepare import load_dataset
from medsweep.learn.operating_point import parse_threshold_rule
from medsweep.config.schema import ConfigError, check_config
from medsweep.learn.training import TrainSettings, cross_validate


def parkinsons():
    return load_dataset(OmegaConf.create(dict(
        name="parkinsons", source="synthetic", path=None, target="status", task="classification", group="name",
        group_pattern=r"^(.*)_\d+$", drop=[], positive=None, na_values=["?"], delimiter=None, seed=0)))


LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


@pytest.mark.parametrize("rule", ["youden", "sensitivity>=0.9", "specificity>=0.5"])
def test_a_threshold_rule_never_looks_at_the_test_fold(monkeypatch, rule):
    data = parkinsons()
    splits = training.split(data, 4, 0)
    monkeypatch.setattr(training, "split", lambda *args: splits)  # the same folds whatever the labels
    settings = TrainSettings(epochs=1, batch_size=32, seed=0)
    before = cross_validate(data, LOGREG, 4, settings, threshold=parse_threshold_rule(rule))
    test = splits[0][1]
    flipped = data.y.copy()
    flipped.iloc[test] = 1 - flipped.iloc[test]  # every label of fold 0's test side
    data.y = flipped
    after = cross_validate(data, LOGREG, 4, settings, threshold=parse_threshold_rule(rule))
    assert after.thresholds[0] == before.thresholds[0]
    assert (after.predictions.query("fold == 0").y_pred.to_numpy() ==
            before.predictions.query("fold == 0").y_pred.to_numpy()).all()
    # ... while its metrics, computed against the flipped labels, do change.
    assert after.metrics["sensitivity"]["folds"][0] != before.metrics["sensitivity"]["folds"][0]


def test_each_fold_threshold_gives_the_reported_sensitivity_on_its_test_fold(monkeypatch):
    data = parkinsons()
    cv = cross_validate(data, LOGREG, 4, TrainSettings(1, 32, 0), threshold=parse_threshold_rule("sensitivity>=0.9"))
    assert len(cv.thresholds) == 4 and len(set(cv.thresholds)) > 1
    for fold, rows in cv.predictions.groupby("fold"):
        positive = rows.proba_1 >= cv.thresholds[fold]
        assert (rows.y_pred == np.where(positive, 1, 0)).all()
        tp, fn = ((rows.y_true == 1) & positive).sum(), ((rows.y_true == 1) & ~positive).sum()
        assert cv.metrics["sensitivity"]["folds"][fold] == pytest.approx(tp / (tp + fn))


@pytest.mark.parametrize("override, message", [
    ("eval.threshold='sensitivity>=1.5'", "eval.threshold=sensitivity>=1.5 is not allowed: the sensitivity target"),
    ("eval.threshold=1.2", "eval.threshold=1.2 is not allowed: a fixed threshold must be strictly between 0 and 1"),
    ("eval.threshold=median", "eval.threshold=median is not allowed: must be a probability"),
    ("eval.n_boot=10", "eval.n_boot=10 is not allowed: must be 0 (no intervals) or an integer >= 100"),
    ("eval.dca_thresholds=[0.5,0.2]", "eval.dca_thresholds=[0.5, 0.2] is not allowed: must be [from, to]"),
    ("eval.subgroup_bins=1", "eval.subgroup_bins=1 is not allowed: must be an integer >= 2"),
    ("eval.subgroup_min_patients=0", "eval.subgroup_min_patients=0 is not allowed: must be an integer >= 1"),
    ("eval.subgroup_min_events=0", "eval.subgroup_min_events=0 is not allowed: must be an integer >= 1"),
    ("eval.interval=studentized", "eval.interval='studentized' is not allowed: must be percentile or bca"),
])
def test_eval_settings_are_range_checked(compose_cfg, override, message):
    with pytest.raises(ConfigError) as err:
        check_config(compose_cfg(override))
    assert message in str(err.value)


@pytest.mark.slow
def test_a_bad_eval_setting_stops_the_sweep_before_any_job_directory(tmp_path):
    proc = run_train("-m", "model=parkinsons,als", "eval.threshold=\"sensitivity>=1.5\"", f"hydra.sweep.dir={tmp_path / 's'}")
    assert proc.returncode != 0 and "eval.threshold=sensitivity>=1.5 is not allowed" in proc.stderr
    assert not (tmp_path / "s").exists()


@pytest.fixture(scope="module")
def youden_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    proc = run_train("model=alzheimers", "estimator=logreg", "data.positive=[Demented,Converted]",
                     "eval.threshold=youden", "eval.subgroups=[M/F,Age,CDR]", "eval.subgroup_min_patients=70",
                     f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
def test_every_metric_has_its_pooled_value_inside_its_interval(youden_job):
    m = metrics_of(youden_job)
    assert m["evaluation"]["interval"]["n_boot"] == 1000
    assert m["evaluation"]["interval"]["resampled"] == "patients"
    for name, v in m["metrics"].items():
        assert v["lower"] <= v["pooled"] <= v["upper"], name
    # The pooled value is the metric on all out-of-fold rows: ROC-AUC recomputed here by scikit-learn.
    from sklearn.metrics import roc_auc_score
    pred = pd.read_csv(youden_job / "predictions.csv")
    assert m["metrics"]["roc_auc"]["pooled"] == pytest.approx(roc_auc_score(pred.y_true, pred.proba_1), abs=1e-12)


@pytest.mark.slow
def test_operating_point_counts_calibration_and_decision_curve_are_recorded(youden_job):
    m = metrics_of(youden_job)
    op = m["operating_point"]
    assert op["rule"] == "youden" and len(op["fold_thresholds"]) == 5 and 0 < op["final_threshold"] < 1
    counts = m["evaluation"]["counts"]
    pred = pd.read_csv(youden_job / "predictions.csv")
    assert (counts["rows"], counts["patients"]) == (len(pred), pred.patient.nunique())
    assert counts["events"] == {"0": int((pred.y_true == 0).sum()), "1": int((pred.y_true == 1).sum())}
    assert sum(f["rows"] for f in counts["folds"]) == len(pred)
    cal = m["evaluation"]["calibration"]
    assert cal["kind"] == "binary" and cal["slope"] > 0 and len(cal["curve"]["predicted"]) == 10
    # Net benefit at 0.2, computed here from the predictions at that threshold.
    t, n = 0.2, len(pred)
    tp = ((pred.proba_1 >= t) & (pred.y_true == 1)).sum()
    fp = ((pred.proba_1 >= t) & (pred.y_true == 0)).sum()
    nb = m["evaluation"]["decision_curve"]["net_benefit"]["0.2"]
    assert nb["model"] == pytest.approx(tp / n - fp / n * t / (1 - t))
    for name in ("calibration.png", "decision_curve.png", "roc.png"):
        assert (youden_job / name).stat().st_size > 1000


@pytest.mark.slow
def test_subgroups_csv_has_counts_metrics_and_small_groups_without_metric(youden_job):
    table = pd.read_csv(youden_job / "subgroups.csv")
    assert set(table.column) == {"M/F", "Age", "CDR"}
    sexes = table[table.column == "M/F"].set_index("subgroup")
    assert set(sexes.index) == {"F", "M"} and sexes.patients.sum() == 150 and sexes.rows.sum() == 353
    # Groups under eval.subgroup_min_patients=70 (here the 66 men) get their counts and no metric.
    small = table.patients < 70
    assert small.any() and table[small].roc_auc.isna().all() and table[small].note.str.contains("counts only").all()
    assert (table[~small].roc_auc_lower <= table[~small].roc_auc).all()
    assert (table[~small].roc_auc <= table[~small].roc_auc_upper).all()
    # CDR is a dropped column (diagnosis leakage), not a feature: subgroups may still use it.
    assert (table.column == "CDR").any()
    log = (youden_job / "train.log").read_text()
    assert "Calibration: slope" in log


@pytest.mark.slow
def test_eval_n_boot_0_turns_intervals_off(tmp_path):
    proc = run_train("model=breast_cancer", "eval.n_boot=0", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(tmp_path)
    assert "interval" not in m["evaluation"] and "lower" not in m["metrics"]["roc_auc"]
    assert m["metrics"]["roc_auc"]["pooled"] > 0.9


def test_help_lists_the_eval_settings():
    proc = run_train("--help")
    assert "eval.threshold" in proc.stdout and "eval.subgroups" in proc.stdout and "eval.n_boot" in proc.stdout


@pytest.mark.slow
def test_cleveland_subgroups_under_repeats_count_and_resample_patients(tmp_path):
    """Issue 21 item 1, the bundled Cleveland file (one row per patient, no patient column) with 5 rounds of
    cross-validation: sex=1 is 206 patients (not 1,030 predictions), its interval is the bootstrap of those
    patients with all 5 of their predictions (recomputed here with scikit-learn), and thal=missing (2
    patients) gets counts only."""
    from sklearn.metrics import roc_auc_score

    proc = run_train("model=cardiovascular", "estimator=logreg", "trainer.repeats=5", "eval.subgroups=[sex,thal]",
                     "eval.n_boot=300", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "subgroups.csv")
    sex = table[table.column == "sex"].set_index("subgroup")
    assert sex.loc["1.0", "patients"] == 206 and sex.loc["1.0", "rows"] == 206
    assert sex.patients.sum() == 303
    missing = table[(table.column == "thal") & (table.subgroup == "missing")].iloc[0]
    assert missing.patients == 2 and np.isnan(missing.roc_auc) and "counts only" in missing.note
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert len(pred) == 5 * 303 and "dropped_resamples" in table
    source = pd.read_csv(Path(training.__file__).parents[1] / "data" / "datasets" / "cleveland_heart.csv", na_values="?")
    men = pred[pred.row.isin(np.flatnonzero(source.sex == 1))].reset_index(drop=True)  # row: the file's row
    ids = pd.factorize(men.row)[0]
    rows_of = [np.flatnonzero(ids == k) for k in range(206)]
    draws = np.random.default_rng(0).integers(0, 206, size=(300, 206))  # eval's resamples: seed 0, one chunk
    aucs = [roc_auc_score(men.y_true[r], men.proba_1[r]) for r in (np.concatenate([rows_of[k] for k in d])
                                                                   for d in draws)]
    assert [sex.loc["1.0", "roc_auc_lower"], sex.loc["1.0", "roc_auc_upper"]] == pytest.approx(
        np.percentile(aucs, [2.5, 97.5]), abs=1e-12)


@pytest.mark.slow
def test_parkinsons_small_test_folds_are_warned_about(tmp_path):
    """Issue 21 item 7: the bundled Parkinson's file has 8 healthy subjects; 5 folds leave 1 or 2 in each test
    fold. Each fold's patients per class are recorded and a warning names the folds and a remedy."""
    proc = run_train("model=parkinsons", "estimator=logreg", "eval.n_boot=0", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    record = metrics_of(tmp_path)
    evaluation = record["evaluation"]
    pred = pd.read_csv(tmp_path / "predictions.csv")
    healthy = pred[pred.y_true == 0].groupby("fold").patient.nunique().reindex(range(5), fill_value=0)
    assert [f["patients_with"]["0"] for f in evaluation["counts"]["folds"]] == healthy.tolist()
    assert healthy.max() < 5
    # The evaluation's warnings are the job's: metrics.json's top-level list, and train.log.
    (warning,) = [w for w in record["warnings"] if w["kind"] == "small_test_fold"]
    assert "5 of 5 test folds" in warning["message"] and "trainer.repeats" in warning["message"]
    assert warning["message"] in (tmp_path / "train.log").read_text()
