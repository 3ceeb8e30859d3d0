"""Repeated cross-validation, and validation on patients the model never saw: a hold-out share of the data
(trainer.holdout) or an external file (data.test_path)."""

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers import metrics_of, needs_shared_data, run_train
from medsweep.data.prepare import load_dataset
from medsweep.config.schema import ConfigError, check_config
from medsweep.learn.splitting import holdout_split, split
from medsweep.learn.training import TrainSettings, cross_validate

LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


@pytest.fixture(scope="module")
def parkinsons():
    return load_dataset(OmegaConf.create(dict(
        name="parkinsons", source="synthetic", path=None, target="status", task="classification", group="name",
        group_pattern=r"^(.*)_\d+$", drop=[], positive=None, na_values=["?"], delimiter=None, seed=0)))


def test_one_repeat_gives_the_folds_and_numbers_of_plain_cross_validation(parkinsons):
    settings = TrainSettings(epochs=1, batch_size=32, seed=3)
    once = cross_validate(parkinsons, LOGREG, 4, settings)
    thrice = cross_validate(parkinsons, LOGREG, 4, settings, repeats=3)
    assert thrice.metrics["roc_auc"]["folds"][:4] == once.metrics["roc_auc"]["folds"]
    assert len(thrice.metrics["roc_auc"]["folds"]) == 12
    assert "repeat" not in once.predictions and "repeat" not in once.history
    assert once.splits["repeats"] == 1 and thrice.splits["repeats"] == 3 and thrice.splits["folds"] == 4


def test_every_patient_is_in_exactly_one_test_fold_per_repeat_and_the_rounds_differ(parkinsons):
    splits = split(parkinsons, 4, seed=0, repeats=3)
    patients = parkinsons.groups.to_numpy()
    rounds = []
    for r in range(3):
        tests = [test for _, test in splits[4 * r:4 * r + 4]]
        assert sorted(np.concatenate(tests)) == list(range(len(patients)))
        for train, test in splits[4 * r:4 * r + 4]:
            assert not set(patients[train]) & set(patients[test])
        rounds.append([frozenset(patients[t]) for t in tests])
    assert rounds[0] != rounds[1] != rounds[2]


def test_the_split_fingerprint_pairs_jobs_on_the_same_folds(parkinsons):
    a = split(parkinsons, 4, seed=0, repeats=2).fingerprint(parkinsons.rows)
    assert a == split(parkinsons, 4, seed=0, repeats=2).fingerprint(parkinsons.rows)
    assert a != split(parkinsons, 4, seed=1, repeats=2).fingerprint(parkinsons.rows)
    assert a != split(parkinsons, 4, seed=0, repeats=1).fingerprint(parkinsons.rows)


def test_holdout_sets_aside_whole_patients_stratified_and_the_same_ones_for_a_seed(parkinsons):
    dev, held = holdout_split(parkinsons, 0.25, seed=0)
    patients = parkinsons.groups.to_numpy()
    assert not set(patients[dev]) & set(patients[held])
    assert sorted(np.concatenate([dev, held])) == list(range(len(patients)))
    first = pd.DataFrame({"p": patients, "y": parkinsons.y}).drop_duplicates("p")
    held_patients = first[first.p.isin(patients[held])]
    assert held_patients.y.value_counts().to_dict() == {1: 6, 0: 2}  # 25% of 24 and of 8 patients
    assert (holdout_split(parkinsons, 0.25, seed=0)[1] == held).all()
    assert set(holdout_split(parkinsons, 0.25, seed=1)[1]) != set(held)


@pytest.mark.parametrize("override, message", [
    ("trainer.repeats=0", "trainer.repeats=0 is not allowed: must be an integer >= 1"),
    ("trainer.holdout=0.7", "trainer.holdout=0.7 is not allowed: must be null (no hold-out) or the share"),
])
def test_repeats_and_holdout_are_range_checked(compose_cfg, override, message):
    with pytest.raises(ConfigError) as err:
        check_config(compose_cfg(override))
    assert message in str(err.value)


def test_holdout_and_an_external_file_are_not_combined(compose_cfg):
    with pytest.raises(ConfigError, match="cannot be combined with data.test_path"):
        check_config(compose_cfg("trainer.holdout=0.2", "data.test_path=/data/other.csv"))


@pytest.mark.slow
def test_a_sweep_holds_out_the_same_patients_in_every_job_and_never_in_a_fold(tmp_path):
    proc = run_train("-m", "model=parkinsons", "estimator=logreg,mlp", "seed=0,1", "trainer=fast",
                     "trainer.holdout=0.2", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    held = [set(pd.read_csv(tmp_path / str(n) / "test_predictions.csv").patient) for n in range(4)]
    assert held[0] and all(h == held[0] for h in held)
    for n in range(4):
        assert not held[0] & set(pd.read_csv(tmp_path / str(n) / "predictions.csv").patient)
        test = metrics_of(tmp_path / str(n))["test"]
        assert test["source"] == "holdout" and test["patients"] == len(held[0])
        pred = pd.read_csv(tmp_path / str(n) / "test_predictions.csv")
        # The held-out ROC-AUC is the final model's on those patients, computed here by scikit-learn.
        assert test["metrics"]["roc_auc"]["value"] == pytest.approx(roc_auc_score(pred.y_true, pred.proba_1), abs=1e-12)
        assert test["metrics"]["roc_auc"]["lower"] <= test["metrics"]["roc_auc"]["value"]


@pytest.fixture
def cleveland_pair(tmp_path):
    """Cleveland heart split by patients (one row each) into a development file and an 'external' one."""
    source = needs_shared_data("cleveland_heart.csv")
    frame = pd.read_csv(source, na_values=["?"])
    external = frame.sample(frac=0.3, random_state=0)
    dev = frame.drop(external.index)
    paths = tmp_path / "dev.csv", tmp_path / "external.csv"
    dev.to_csv(paths[0], index=False, na_rep="?")
    external.to_csv(paths[1], index=False, na_rep="?")
    return paths, dev, external


@pytest.mark.slow
def test_external_validation_scores_the_final_model_on_the_other_file(tmp_path, cleveland_pair):
    (dev_path, ext_path), dev, external = cleveland_pair
    out = tmp_path / "job"
    proc = run_train("model=cardiovascular", "estimator=logreg", f"data.path={dev_path}",
                     f"data.test_path={ext_path}", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    m = metrics_of(out)
    assert m["test"]["source"] == "external" and m["test"]["rows"] == len(external)
    assert m["test"]["path"] == str(ext_path.resolve()) and len(m["test"]["sha256"]) == 64
    # The final model refitted here by hand on the development file, applied to the external one.
    features = [c for c in dev.columns if c != "num"]
    by_hand = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    by_hand.fit(dev[features], dev["num"] > 0)
    ours = pd.read_csv(out / "test_predictions.csv")
    np.testing.assert_allclose(ours.proba_1, by_hand.predict_proba(external[features])[:, 1], rtol=1e-9, atol=1e-12)
    auc = roc_auc_score(external["num"] > 0, by_hand.predict_proba(external[features])[:, 1])
    assert m["test"]["metrics"]["roc_auc"]["value"] == pytest.approx(auc, abs=1e-9)
    assert "calibration" in m["test"]["evaluation"] and "decision_curve" in m["test"]["evaluation"]


@pytest.mark.slow
def test_an_external_file_missing_a_feature_fails_naming_it(tmp_path, cleveland_pair):
    (dev_path, ext_path), _, external = cleveland_pair
    external.drop(columns=["age", "chol"]).to_csv(ext_path, index=False, na_rep="?")
    proc = run_train("model=cardiovascular", "estimator=logreg", f"data.path={dev_path}",
                     f"data.test_path={ext_path}", f"hydra.run.dir={tmp_path / 'job'}")
    assert proc.returncode != 0
    assert "lacks column(s) the model needs: age, chol" in proc.stderr
