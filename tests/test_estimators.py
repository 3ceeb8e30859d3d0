"""The estimator contract: one class per estimator config, found by name, owning its schema, ranges,
epochs and trainer settings; LightGBM and XGBoost (an optional extra) as estimators from outside scikit-learn."""

import dataclasses
import re

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.metrics import roc_auc_score

from helpers import ROOT, metrics_of, run_train
from medsweep.data.prepare import load_dataset
from medsweep.estimators import REGISTRY
from medsweep.config.schema import ConfigError, check_config
from medsweep.learn.training import TrainSettings, cross_validate

YAMLS = sorted(p.stem for p in (ROOT / "conf" / "estimator").glob("*.yaml"))


def test_every_estimator_yaml_has_its_class_and_sets_every_hyperparameter():
    assert sorted(REGISTRY) == YAMLS
    for name in YAMLS:
        values = OmegaConf.load(ROOT / "conf" / "estimator" / f"{name}.yaml")
        fields = {f.name for f in dataclasses.fields(REGISTRY[name].Params)}
        assert values.name == name
        # Defaults live in the YAML only: the schema gives types, the YAML every value.
        assert set(values) - {"defaults"} == fields, name


def test_no_module_outside_an_estimators_own_branches_on_its_name():
    names = "|".join(REGISTRY)
    pattern = re.compile(rf"""["']({names})["']""")
    sources = [p for p in (ROOT / "src").rglob("*.py") if p.parent.name != "estimators"]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in sources
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


@pytest.mark.parametrize("override, message", [
    ("estimator.num_leaves=1", "estimator.num_leaves=1 is not allowed: must be >= 2"),
    ("estimator.subsample=0", "estimator.subsample=0.0 is not allowed: must be > 0 and <= 1"),
    ("estimator.subsample=1.5", "estimator.subsample=1.5 is not allowed: must be > 0 and <= 1"),
    ("estimator.learning_rate=inf", "estimator.learning_rate=inf is not allowed: must be > 0"),
    ("estimator.class_weight=auto", "estimator.class_weight='auto' is not allowed: must be one of null, 'balanced'"),
])
def test_lightgbm_ranges_are_checked_before_training(compose_cfg, override, message):
    with pytest.raises(ConfigError) as err:
        check_config(compose_cfg("estimator=lightgbm", override))
    assert message in str(err.value)


@pytest.fixture(scope="module")
def parkinsons():
    return load_dataset(OmegaConf.create(dict(
        name="parkinsons", source="synthetic", path=None, target="status", task="classification", group="name",
        group_pattern=r"^(.*)_\d+$", drop=[], positive=None, na_values=["?"], delimiter=None, seed=0)))


LGBM = {"name": "lightgbm", "learning_rate": 0.1, "num_leaves": 15, "max_depth": None, "min_child_samples": 10,
        "reg_lambda": 0.0, "subsample": 0.8, "colsample_bytree": 0.8, "class_weight": None}


def test_lightgbm_records_one_row_per_boosting_round_and_its_last_round_is_the_fold_model(parkinsons):
    cv = cross_validate(parkinsons, LGBM, 3, TrainSettings(epochs=6, batch_size=32, seed=0))
    assert cv.history.groupby("fold").epoch.apply(list).tolist() == [list(range(1, 7))] * 3
    for fold, rows in cv.predictions.groupby("fold"):
        # The validation metric after the last round is the fold's ROC-AUC, computed here by scikit-learn.
        expected = roc_auc_score(rows.y_true == 1, rows.proba_1)
        last = cv.history[(cv.history.fold == fold) & (cv.history.epoch == 6)].val_roc_auc.item()
        assert last == pytest.approx(expected, abs=1e-12)
        assert cv.metrics["roc_auc"]["folds"][fold] == pytest.approx(expected, abs=1e-12)
    # Boosting lowers the training loss round after round.
    assert (cv.history.groupby("fold").train_loss.apply(lambda s: s.is_monotonic_decreasing)).all()


def test_lightgbm_gives_the_same_numbers_with_one_or_two_threads(parkinsons):
    runs = [cross_validate(parkinsons, LGBM, 3, TrainSettings(epochs=8, batch_size=32, seed=3, n_threads=t))
            for t in (1, 2)]
    assert runs[0].metrics == runs[1].metrics
    np.testing.assert_array_equal(runs[0].predictions.proba_1, runs[1].predictions.proba_1)


def test_lightgbm_seed_changes_the_bagged_model(parkinsons):
    a, b = (cross_validate(parkinsons, LGBM, 3, TrainSettings(epochs=8, batch_size=32, seed=s)) for s in (0, 1))
    assert a.metrics["roc_auc"]["folds"] != b.metrics["roc_auc"]["folds"]


def test_help_lists_lightgbm():
    proc = run_train("--help")
    assert proc.returncode == 0 and re.search(r"estimator:.*\blightgbm\b", proc.stdout.replace("\n", " "))


@pytest.mark.slow
def test_lightgbm_sweep_has_per_round_history_and_the_same_metrics_with_one_or_two_workers(tmp_path):
    results = {}
    for n_jobs in (1, 2):
        out = tmp_path / f"n{n_jobs}"
        proc = run_train("-m", "model=parkinsons,alzheimers", "estimator=lightgbm", "trainer=fast",
                         f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={out}")
        assert proc.returncode == 0, proc.stderr
        results[n_jobs] = [metrics_of(out / str(n))["metrics"] for n in range(2)]
        history = (out / "1" / "history.csv").read_text().splitlines()
        assert history[0] == "fold,epoch,train_loss,val_roc_auc" and len(history) == 1 + 3 * 5
        assert metrics_of(out / "0")["unused_settings"] == ["trainer.batch_size"]
    assert results[1] == results[2]


XGB = {"name": "xgboost", "learning_rate": 0.3, "max_depth": 3, "min_child_weight": 1.0, "reg_lambda": 1.0,
       "subsample": 0.8, "colsample_bytree": 0.8, "class_weight": None, "device": "cpu"}


def test_xgboost_records_one_row_per_boosting_round_and_its_last_round_is_the_fold_model(parkinsons):
    cv = cross_validate(parkinsons, XGB, 3, TrainSettings(epochs=6, batch_size=32, seed=0))
    assert cv.history.groupby("fold").epoch.apply(list).tolist() == [list(range(1, 7))] * 3
    for fold, rows in cv.predictions.groupby("fold"):
        expected = roc_auc_score(rows.y_true == 1, rows.proba_1)
        last = cv.history[(cv.history.fold == fold) & (cv.history.epoch == 6)].val_roc_auc.item()
        assert last == pytest.approx(expected, abs=1e-12)
        assert cv.metrics["roc_auc"]["folds"][fold] == pytest.approx(expected, abs=1e-12)
    assert (cv.history.groupby("fold").train_loss.apply(lambda s: s.is_monotonic_decreasing)).all()


def test_xgboost_epochs_are_boosting_rounds_and_each_rounds_outputs_are_a_model_of_that_many_rounds():
    """n_estimators = trainer.epochs; after round k the outputs are those of a model trained k rounds."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(150, 4)), rng.choice(["no", "yes"], size=150)
    outputs = {}

    def estimator(epochs):
        return REGISTRY["xgboost"](XGB, "classification", seed=5, n_threads=1, epochs=epochs)

    five = estimator(5)
    model = five.fit(five.build(), X, y, ["no", "yes"], [X], lambda k, out: outputs.__setitem__(k, out[0]))
    assert model.get_params()["n_estimators"] == 5 and model.get_booster().num_boosted_rounds() == 5
    assert sorted(outputs) == [1, 2, 3, 4, 5] and list(model.classes_) == ["no", "yes"]
    three = estimator(3)
    alone = three.fit(three.build(), X, y, ["no", "yes"], [], lambda *a: None)
    np.testing.assert_array_equal(outputs[3], alone.predict_proba(X))
    np.testing.assert_array_equal(outputs[5], model.predict_proba(X))


def test_xgboost_is_reproducible_with_its_seed_whatever_the_thread_count(parkinsons):
    runs = [cross_validate(parkinsons, XGB, 3, TrainSettings(epochs=8, batch_size=32, seed=s, n_threads=t))
            for s, t in ((3, 1), (3, 2), (3, 1), (4, 1))]
    for run in runs[1:3]:
        assert run.metrics == runs[0].metrics
        np.testing.assert_array_equal(run.predictions.proba_1, runs[0].predictions.proba_1)
    # Rows and columns are subsampled with the seed: another seed, another model.
    assert runs[3].metrics["roc_auc"]["folds"] != runs[0].metrics["roc_auc"]["folds"]


def test_xgboost_trains_on_the_cpu_by_default_and_passes_device_cuda_to_xgboost(compose_cfg):
    cfg = compose_cfg("estimator=xgboost")
    assert cfg.estimator.device == "cpu"
    for device in ("cuda", "cuda:1"):
        cfg = compose_cfg("estimator=xgboost", f"estimator.device={device}")
        check_config(cfg)
        model = REGISTRY["xgboost"](cfg.estimator, "classification", seed=0, n_threads=2, epochs=4).build()
        assert model.get_params()["device"] == device and model.get_params()["n_jobs"] == 2
    with pytest.raises(ConfigError, match="estimator.device='tpu' is not allowed: must be cpu, cuda or cuda:<ordinal>"):
        check_config(compose_cfg("estimator=xgboost", "estimator.device=tpu"))


def test_xgboost_not_installed_is_said_before_any_job_naming_the_extra(compose_cfg, monkeypatch):
    import sys

    from medsweep.estimators import xgboost as module

    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` fails as when it is not installed
    monkeypatch.setattr(module, "_CLASSES", {})
    install = 'pip install "medsweep[xgboost]"'
    with pytest.raises(ConfigError, match=re.escape(install)):
        check_config(compose_cfg("estimator=xgboost"))
    with pytest.raises(ImportError, match=re.escape(install)):
        REGISTRY["xgboost"](XGB, "classification", seed=0).build()
    check_config(compose_cfg("estimator=lightgbm"))  # the other estimators do not need it


@pytest.mark.slow
def test_an_xgboost_job_records_its_rounds_and_version_and_saves_a_model_that_loads_safely(tmp_path):
    from medsweep.learn.persistence import load_model

    proc = run_train("model=parkinsons", "estimator=xgboost", "trainer=fast", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    record = metrics_of(tmp_path)
    assert record["unused_settings"] == ["trainer.batch_size"] and record["versions"]["xgboost"]
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert history[0] == "fold,epoch,train_loss,val_roc_auc" and len(history) == 1 + 3 * 5
    model = load_model(next(tmp_path.glob("*.skops")))
    assert [str(c) for c in model.classes_] == [str(c) for c in record["classes"]]


@pytest.mark.parametrize("name, params, rows, share, threads", [
    # measured on 2 cores: a second thread slows these down on a small cohort, and pays on larger data
    ("random_forest", {"n_estimators": 300}, 195, 2, 1),      # Parkinson's: 1.45x slower with 2 threads
    ("random_forest", {"n_estimators": 300}, 1_000, 2, 2),
    ("random_forest", {"n_estimators": 300}, 200_000, 4, 4),
    ("hist_gbdt", {}, 195, 2, 1),                              # 2.5x slower with 2 threads
    ("hist_gbdt", {}, 200_000, 2, 2),                          # 1.9x faster with 2 threads
    ("lightgbm", {}, 195, 2, 2),
    ("xgboost", {}, 195, 2, 1),
    ("xgboost", {}, 200_000, 2, 2),
    ("logreg", {}, 200_000, 2, 1),
    ("mlp", {}, 200_000, 2, 1),
])
def test_a_job_uses_threads_only_where_they_pay(name, params, rows, share, threads):
    assert REGISTRY[name].threads(params, rows, share) == threads


@pytest.mark.slow
def test_a_small_random_forest_job_runs_single_threaded_whatever_its_share(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "model=parkinsons", "estimator=random_forest",
                           "trainer=fast", f"hydra.run.dir={tmp_path}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert metrics_of(tmp_path)["n_threads"] == 1
