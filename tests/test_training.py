import numpy as np
import pytest
from omegaconf import OmegaConf

from medsweep.data.prepare import load_dataset
from medsweep.learn.persistence import load_model, save_model
from medsweep.learn.training import TrainSettings, cross_validate, fit_final

MLP = {"name": "mlp", "hidden_layer_sizes": [16], "activation": "relu", "alpha": 1e-4, "learning_rate_init": 1e-3}
HGB = {"name": "hist_gbdt", "learning_rate": 0.1, "max_leaf_nodes": 15, "max_depth": None,
       "min_samples_leaf": 20, "l2_regularization": 0.0}
RF = {"name": "random_forest", "n_estimators": 20, "max_depth": None, "min_samples_leaf": 1,
      "max_features": "sqrt", "class_weight": None}


def synthetic(name, target, group=None, pattern=None, positive=None, drop=()):
    return load_dataset(OmegaConf.create(dict(
        name=name, source="synthetic", path=None, target=target, task="classification", group=group,
        group_pattern=pattern, drop=list(drop), positive=positive, na_values=["?"], delimiter=None, seed=0)))


@pytest.fixture(scope="module")
def parkinsons():
    return synthetic("parkinsons", "status", group="name", pattern=r"^(.*)_\d+$")


@pytest.mark.parametrize("spec, epochs_recorded", [(MLP, 7), (HGB, 7), (RF, 1)])
def test_history_has_a_row_per_fold_and_epoch(parkinsons, spec, epochs_recorded):
    cv = cross_validate(parkinsons, spec, 3, TrainSettings(epochs=7, batch_size=16, seed=0))
    assert len(cv.history) == 3 * epochs_recorded
    assert list(cv.history.columns) == ["fold", "epoch", "train_loss", "val_roc_auc"]
    assert cv.history.groupby("fold").epoch.max().tolist() == [epochs_recorded] * 3


def test_more_mlp_epochs_lower_the_training_loss(parkinsons):
    cv = cross_validate(parkinsons, MLP, 3, TrainSettings(epochs=30, batch_size=16, seed=0))
    first, last = cv.history[cv.history.epoch == 1], cv.history[cv.history.epoch == 30]
    assert last.train_loss.mean() < first.train_loss.mean()


def test_out_of_fold_predictions_keep_patients_in_one_fold(parkinsons):
    cv = cross_validate(parkinsons, MLP, 4, TrainSettings(epochs=3, batch_size=16, seed=0))
    p = cv.predictions
    assert sorted(p.row) == list(range(len(parkinsons.y)))
    assert (p.groupby("patient").fold.nunique() == 1).all()
    np.testing.assert_allclose(p.proba_0 + p.proba_1, 1.0)


def test_same_seed_same_numbers_other_seed_other_numbers(parkinsons):
    run = lambda seed: cross_validate(parkinsons, MLP, 3, TrainSettings(5, 16, seed)).metrics["roc_auc"]["folds"]
    assert run(0) == run(0)
    assert run(0) != run(1)


def test_multiclass_target_trains(parkinsons):
    oasis = synthetic("alzheimers", "Group", group="Subject ID", drop=["MRI ID", "CDR", "MMSE", "Hand"])
    cv = cross_validate(oasis, HGB, 3, TrainSettings(epochs=5, batch_size=32, seed=0))
    assert oasis.classes == ["Converted", "Demented", "Nondemented"]
    assert {"proba_Converted", "proba_Demented", "proba_Nondemented"} <= set(cv.predictions.columns)
    assert 0.5 < cv.metrics["roc_auc"]["mean"] <= 1


def test_saved_model_loads_back_and_predicts_the_same(parkinsons, tmp_path):
    model = fit_final(parkinsons, MLP, TrainSettings(epochs=3, batch_size=16, seed=0))
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    X = parkinsons.X.head(10)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


class Foreign:
    """A type from outside scikit-learn and numpy: loading it could run its code."""


def test_loading_refuses_foreign_types(tmp_path):
    import skops.io as sio

    sio.dump({"a": Foreign()}, tmp_path / "odd.skops")
    with pytest.raises(ValueError, match="does not trust"):
        load_model(tmp_path / "odd.skops")


@pytest.mark.parametrize("name", ["parkinsons", "alzheimers"])  # numbers only; numbers and text
def test_training_leaves_the_data_as_it_was(name):
    # Folds train on arrays and the scaler works in place: none of that may write into the dataset.
    data = synthetic("parkinsons", "status", group="name", pattern=r"^(.*)_\d+$") if name == "parkinsons" else \
        synthetic("alzheimers", "Group", group="Subject ID", drop=["MRI ID", "CDR", "MMSE", "Hand"])
    before = data.X.copy()
    settings = TrainSettings(epochs=2, batch_size=16, seed=0)
    cross_validate(data, MLP, 3, settings)
    model = fit_final(data, MLP, settings)
    assert data.X.equals(before)
    assert list(model.feature_names_in_) == list(data.X.columns)  # the saved model knows its columns


def test_blas_runs_single_threaded_in_every_fold_and_the_final_fit(parkinsons, monkeypatch):
    # One BLAS thread inside a job (training._one_blas_thread says why): checked where the models are fitted,
    # inner threshold folds included, under a caller that allows 2 threads.
    from threadpoolctl import threadpool_info, threadpool_limits

    from medsweep.learn.operating_point import parse_threshold_rule
    import medsweep.learn.training as training

    if not any(pool["user_api"] == "blas" for pool in threadpool_info()):
        pytest.skip("no BLAS library loaded that threadpoolctl can see")
    seen, fit = [], training.fit_model

    def spy(*args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
        return fit(*args, **kwargs)

    monkeypatch.setattr(training, "fit_model", spy)
    settings = TrainSettings(epochs=2, batch_size=16, seed=0)
    with threadpool_limits(limits=2, user_api="blas"):
        cross_validate(parkinsons, MLP, 3, settings, threshold=parse_threshold_rule("youden"), threshold_folds=2)
        fit_final(parkinsons, MLP, settings)
        outside = {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}
    assert len(seen) == 3 * (1 + 2) + 1 and all(s == {1} for s in seen), seen
    assert outside == {2}  # the limit is the job's own: lifted when it returns
