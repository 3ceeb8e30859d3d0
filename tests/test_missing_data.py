"""What was missing, and how it was imputed: the share missing per feature (overall, by class, by site) against
pandas, preprocess.impute=median|iterative|indicator against scikit-learn's own imputers fitted on the training
fold only, and a model of each imputer saved, loaded and predicting the same."""

import logging
import logging.handlers

import numpy as np
import pandas as pd
import pytest
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from medsweep.evaluate.missing_data import missing_data_record
from medsweep.learn.persistence import load_model, save_model
from medsweep.learn.training import TrainSettings, fit_model
from medsweep.preprocess import IMPUTERS, candidate_parameters, make_preprocessor

LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 200}


@pytest.fixture(scope="module")
def frame():
    """120 rows: a, b numeric with values missing more often in the positive class, c text with gaps."""
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "d": rng.normal(size=n),
                      "c": rng.choice(["x", "y", "z"], size=n).astype(object)})
    y = pd.Series(np.where(X["a"] + X["b"] + rng.normal(size=n) > 0, "yes", "no"))
    X.loc[(y == "yes") & (rng.random(n) < 0.4), "a"] = np.nan
    X.loc[rng.random(n) < 0.1, "b"] = np.nan
    X.loc[rng.random(n) < 0.05, "c"] = None
    site = pd.Series(rng.choice(["north", "south"], size=n))
    return X, y, site


def test_shares_missing_overall_by_class_and_by_site_are_pandas(frame):
    X, y, site = frame
    record = missing_data_record(X, y, "classification", "median", site=site, site_column="hospital")
    assert record["rows"] == 120 and record["complete_rows"] == int(X.notna().all(axis=1).sum())
    assert record["site"] == "hospital"
    assert record["imputation"]["setting"] == "preprocess.impute=median"
    for f in record["features"]:
        column = X[f["feature"]]
        assert f["missing"] == int(column.isna().sum()) and f["share"] == pytest.approx(column.isna().mean())
        for cls in ("no", "yes"):
            assert f["by_class"][cls] == pytest.approx(column[y == cls].isna().mean())
        for s in ("north", "south"):
            assert f["by_site"][s] == pytest.approx(column[site == s].isna().mean())
    a = next(f for f in record["features"] if f["feature"] == "a")
    assert a["by_class"]["no"] == 0 and a["by_class"]["yes"] > 0.2    # missing not at random, and it shows
    assert missing_data_record(X, y.map({"no": 0.0, "yes": 1.0}), "regression", "iterative")["features"][0][
        "by_class"] is None


def _numeric_block(pre):
    """The numeric part of a fitted preprocessor (a Pipeline of impute + scale)."""
    return pre.named_transformers_["numeric"] if hasattr(pre, "named_transformers_") else pre


@pytest.mark.parametrize("impute", ["median", "indicator", "iterative"])
def test_each_imputer_is_scikit_learns_fitted_on_the_training_fold_only(frame, impute):
    X, y, _ = frame
    train, test = np.arange(80), np.arange(80, 120)
    model, _ = fit_model(LOGREG, X.iloc[train], y.iloc[train], "classification", ["no", "yes"],
                         TrainSettings(1, 32, 0, impute=impute))
    numeric = X[["a", "b", "d"]]
    reference = {"median": SimpleImputer(strategy="median"),
                 "indicator": SimpleImputer(strategy="median", add_indicator=True),
                 "iterative": IterativeImputer(initial_strategy="median", skip_complete=True, random_state=0)}[impute]
    reference.fit(numeric.iloc[train])
    scaler = StandardScaler().fit(reference.transform(numeric.iloc[train]))
    expected = scaler.transform(reference.transform(numeric.iloc[test]))
    got = _numeric_block(model.named_steps["preprocess"]).transform(numeric.iloc[test])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert got.shape[1] == (5 if impute == "indicator" else 3)   # a and b are missing in the training fold


@pytest.mark.parametrize("impute", IMPUTERS)
def test_a_model_of_each_imputer_saves_loads_and_predicts_the_same(frame, impute, tmp_path):
    X, y, _ = frame
    model, _ = fit_model(LOGREG, X, y, "classification", ["no", "yes"], TrainSettings(1, 32, 0, impute=impute))
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("impute", IMPUTERS)
def test_candidate_parameters_are_the_preprocessed_columns(frame, impute):
    X, _, _ = frame
    width = make_preprocessor(X, impute).fit_transform(X).shape[1]
    assert candidate_parameters(X, impute) == width == 3 + 3 + (2 if impute == "indicator" else 0)


def test_the_key_is_checked_and_reaches_every_fold(compose_cfg, caplog, tmp_path):
    from medsweep.config.run_control import trained_config
    from medsweep.config.schema import IMPUTERS as SCHEMA_IMPUTERS, config_errors
    from omegaconf import OmegaConf

    assert SCHEMA_IMPUTERS == IMPUTERS
    assert any(e == "preprocess.impute='mice' is not allowed: must be one of median, iterative, indicator"
               for e in config_errors(compose_cfg("preprocess.impute=mice")))
    assert any(e.startswith("eval.sample_size.c_statistic=0.4 is not allowed")
               for e in config_errors(compose_cfg("eval.sample_size.c_statistic=0.4")))
    # A sweep started before these keys resumes: its saved config trains what the defaults train.
    now = OmegaConf.to_container(compose_cfg(), resolve=False)
    older = {k: v for k, v in now.items() if k != "preprocess"}
    older["eval"] = {k: v for k, v in now["eval"].items() if k != "sample_size"}
    assert trained_config(older) == trained_config(now)
    assert trained_config(OmegaConf.to_container(compose_cfg("preprocess.impute=indicator"))) != trained_config(now)



@pytest.fixture(scope="module")
def cleveland_job():
    """A real job on the bundled Cleveland file (ca and thal have '?'), imputed with indicators, sex a subgroup."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from helpers import ROOT
    from medsweep.job.pipeline import train

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["model=cardiovascular", "estimator=logreg", "trainer.folds=2",
                                                      "eval.n_boot=100", "preprocess.impute=indicator",
                                                      "eval.subgroups=[sex]"])
    GlobalHydra.instance().clear()
    logger = logging.getLogger("medsweep")
    handler = logging.handlers.MemoryHandler(10_000)
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        result = train(cfg)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return result, [r.getMessage() for r in handler.buffer]


def test_a_job_records_what_was_missing_and_imputes_it_in_every_fold(cleveland_job):
    result, log = cleveland_job
    record = result.record("0" * 64)
    missing = {f["feature"]: f for f in record.missing_data["features"]}
    assert missing["ca"]["missing"] == 4 and missing["thal"]["missing"] == 2
    assert record.missing_data["imputation"]["setting"] == "preprocess.impute=indicator"
    assert any(m.startswith("Missing data: 2 feature(s) with missing values") for m in log)
    steps = _numeric_block(result.model.named_steps["preprocess"]).named_steps
    assert steps["impute"].add_indicator and steps["impute"].indicator_.features_.size == 2
    # The sample size's candidate parameters are the final model's preprocessed columns; 303 patients are
    # too few at the default anticipated C of 0.7: warned before training and in the record.
    assert record.sample_size["parameters"] == len(result.model.named_steps["preprocess"].get_feature_names_out())
    assert record.sample_size["meets"] is False and record.sample_size["n"] == 303
    warning = next(w for w in record.warnings if w["kind"] == "sample_size")["message"]
    assert log.index(warning) < next(i for i, m in enumerate(log) if m.startswith("Cross-validation:"))


def test_the_model_card_and_report_show_sample_size_fairness_and_missing_data(cleveland_job, tmp_path):
    import json

    from medsweep.report.model_card import render_model_card
    from medsweep.report.summarize import summarize_sweep

    result, _ = cleveland_job
    record = result.record("0" * 64).updated(status="completed", model="cardiovascular", estimator="logreg",
                                             task="classification", primary_metric="roc_auc", folds=2)
    card = render_model_card(record, "medsweep reproduce x")
    for title in ("## Sample size (Riley et al. 2019; 2020)", "## Fairness by sex (at the operating point)",
                  "## Missing data (TRIPOD+AI item 9)"):
        assert title in card
    assert "| 1. shrinkage &gt;= 0.9 | 1048 | 481 | 32.1 | NO |" in card and "| ca | numeric | 4 (1.3%) |" in card
    job = tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    (job / "metrics.json").write_text(json.dumps(record.to_json()))
    summarize_sweep(tmp_path / "sweep")
    html = (tmp_path / "sweep" / "report.html").read_text()
    assert '<div class="clinical"><h4>Fairness by sex (at the operating point)</h4>' in html
    assert "<h4>Sample size (Riley et al. 2019; 2020)</h4>" in html and "<h4>Missing data (TRIPOD+AI item 9)</h4>" in html
