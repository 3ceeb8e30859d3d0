"""What a job warns a reviewer about: metrics.json's top-level ``warnings`` (the evaluation's and the job's own,
each {"kind", "message"}), every one also in train.log; the calibration-slope warning's wording."""

import logging

import pytest

import medsweep.job.pipeline as task
from helpers import metrics_of
from medsweep.job.runner import run_job


@pytest.mark.parametrize("kind, slope, says, never", [
    ("binary", -0.4, "the predicted risks are inversely related to the outcome", "over-confident"),
    ("binary", 0.5, "the predicted risks are too extreme (over-confident", "inversely"),
    ("regression", -0.4, "the predictions are inversely related to the outcome", "risk"),
    ("regression", 0.5, "the predictions are too extreme (spread wider than the outcomes", "risk"),
])
def test_the_calibration_slope_warning_says_what_the_slope_means(caplog, kind, slope, says, never):
    record = {"calibration": {"kind": kind, "slope": slope, "citl": 0.0, "ece": 0.1}}
    with caplog.at_level(logging.INFO, logger="medsweep"):
        task._log_evidence(record, None)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and says in warned[0] and never not in warned[0].lower(), warned


def test_a_good_slope_is_not_warned_about(caplog):
    with caplog.at_level(logging.INFO, logger="medsweep"):
        task._log_evidence({"calibration": {"kind": "binary", "slope": 0.95, "citl": 0.0, "ece": 0.1}}, None)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_the_evaluations_warnings_move_to_the_top_level_and_into_the_log(compose_cfg, tmp_path, monkeypatch, caplog):
    evaluate = task.evaluate_predictions

    def with_a_warning(*args, **kwargs):
        evidence = evaluate(*args, **kwargs)
        evidence.record["warnings"] = [{"kind": "small_test_fold", "message": "test fold 1 holds 2 patients of 0"}]
        return evidence

    monkeypatch.setattr(task, "evaluate_predictions", with_a_warning)
    with caplog.at_level(logging.WARNING, logger="medsweep"):
        run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0",
                            "trainer.holdout=0.2"), tmp_path / "job")
    m = metrics_of(tmp_path / "job")
    # (and the sample size's: 455 development rows are fewer than Riley et al.'s minimum at the default C)
    assert [w for w in m["warnings"] if w["kind"] != "sample_size"] == [
        {"kind": "small_test_fold", "message": "test fold 1 holds 2 patients of 0"},
        {"kind": "small_test_fold", "message": "Hold-out: test fold 1 holds 2 patients of 0"}]
    assert "warnings" not in m["evaluation"] and "warnings" not in m["test"]["evaluation"]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert all(w["message"] in logged for w in m["warnings"])


def test_the_sample_size_warning_is_in_the_log_once_before_training(compose_cfg, tmp_path):
    """Cleveland's 303 patients are fewer than Riley et al.'s minimum: the job warns before training, records
    the warning in metrics.json, and its log (a file handler as Hydra gives a job its train.log) says it once."""
    handler = logging.FileHandler(tmp_path / "train.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logger = logging.getLogger("medsweep")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        run_job(compose_cfg("model=cardiovascular", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0"),
                tmp_path / "job")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
    (warning,) = [w["message"] for w in metrics_of(tmp_path / "job")["warnings"] if w["kind"] == "sample_size"]
    lines = (tmp_path / "train.log").read_text().splitlines()
    said = [i for i, line in enumerate(lines) if line.endswith(f"[WARNING] - {warning}")]
    assert warning.startswith("Sample size: 303 rows") and len(said) == 1, said
    trained = next(i for i, line in enumerate(lines) if "[INFO] - Cross-validation: 2 folds" in line)
    assert said[0] < trained   # before training, where it can still change what is run


def test_a_job_without_warnings_records_an_empty_list(compose_cfg, tmp_path):
    # An anticipated C statistic of 0.95 (breast cancer's models reach 0.99): 569 rows are then enough for 30
    # parameters (evaluate/sample_size.py; at the default 0.7 the job warns that they are not).
    run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0",
                        "eval.sample_size.c_statistic=0.95"), tmp_path / "job")
    assert metrics_of(tmp_path / "job")["warnings"] == []


class _Stop(Exception):
    pass


@pytest.fixture
def hydra_runtime():
    """Set Hydra's runtime config as a job launched with ``overrides`` has it (its overrides.task)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from helpers import ROOT

    before = HydraConfig.instance().cfg

    def _set(*overrides):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        return cfg

    yield _set
    HydraConfig.instance().cfg = before
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("overrides, warned", [
    ((), []),                                                   # defaults nobody set: train.log only
    (("trainer.epochs=50",), ["trainer.epochs=50"]),            # set by the user
    (("trainer.batch_size=16", "seed=1"), ["trainer.batch_size=16"]),
    (("trainer=fast",), ["trainer.epochs=5", "trainer.batch_size=64"]),  # a trainer other than the default
    (("trainer=default",), []),
])
def test_an_unused_setting_is_warned_about_only_where_the_user_set_it(hydra_runtime, monkeypatch, caplog, tmp_path,
                                                                     overrides, warned):
    from omegaconf import open_dict

    cfg = hydra_runtime("model=breast_cancer", "estimator=logreg", *overrides)
    with open_dict(cfg):
        del cfg["hydra"]

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(task, "cross_validate", stop)  # right after the settings are checked
    with caplog.at_level(logging.INFO, logger="medsweep"), pytest.raises(_Stop):
        task.train(cfg)
    said = {r.getMessage(): r.levelno for r in caplog.records if "is not used by estimator" in r.getMessage()}
    assert len(said) == 2  # train.log says it for both unused settings, whoever set them
    assert sorted(m.split(" is")[0] for m, level in said.items() if level == logging.WARNING) == sorted(warned)


def test_outside_hydra_an_unused_setting_is_a_log_line(monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    from medsweep.job.user_set import set_by_user

    monkeypatch.setattr(HydraConfig.instance(), "cfg", None)
    assert set_by_user("trainer.epochs") is False
