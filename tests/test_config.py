import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from medsweep.config.schema import ConfigError, check_config

MODELS = ["als", "alzheimers", "breast_cancer", "cardiovascular", "diabetes", "parkinsons"]
ESTIMATORS = ["logreg", "random_forest", "hist_gbdt", "mlp", "lightgbm"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_model_composes_with_every_estimator(compose_cfg, model, estimator):
    cfg = compose_cfg(f"model={model}", f"estimator={estimator}")
    check_config(cfg)
    assert cfg.model.name == model and cfg.estimator.name == estimator


def test_model_chooses_its_default_estimator_and_command_line_wins(compose_cfg):
    assert compose_cfg("model=parkinsons").estimator.name == "mlp"
    assert compose_cfg("model=parkinsons", "estimator=logreg").estimator.name == "logreg"


def test_hyperparameters_and_trainer_are_overridable(compose_cfg):
    cfg = compose_cfg("estimator=mlp", "estimator.alpha=0.01", "estimator.hidden_layer_sizes=[8]",
                      "trainer=fast", "trainer.epochs=50")
    assert cfg.estimator.alpha == 0.01 and list(cfg.estimator.hidden_layer_sizes) == [8]
    assert cfg.trainer.epochs == 50 and cfg.trainer.folds == 3


@pytest.mark.parametrize("override", ["trainer.epochs=abc", "estimator.alpha=high", "seed=x"])
def test_types_are_checked_at_composition(compose_cfg, override):
    with pytest.raises((ValidationError, ConfigCompositionException)):
        compose_cfg("estimator=mlp", override)


def test_unknown_estimator_key_is_refused(compose_cfg):
    with pytest.raises(ConfigCompositionException):
        compose_cfg("estimator=mlp", "estimator.alpah=0.1")


@pytest.mark.parametrize("override, message", [
    ("trainer.folds=1", "trainer.folds=1 is not allowed: must be an integer >= 2"),
    ("trainer.epochs=0", "trainer.epochs=0 is not allowed: must be an integer >= 1"),
    ("trainer.batch_size=-3", "trainer.batch_size=-3 is not allowed: must be an integer >= 1"),
    ("estimator.alpha=-1", "estimator.alpha=-1.0 is not allowed: must be >= 0"),
    ("data.task=survival", "data.task='survival' is not allowed: must be one of classification, regression"),
    # numpy seeds are 32-bit unsigned; these used to make a job directory and fail inside numpy, retried
    ("seed=-1", "seed=-1 is not allowed: must be an integer from 0 to 4294967295"),
    ("seed=4294967296", "seed=4294967296 is not allowed: must be an integer from 0 to 4294967295"),
    ("data.seed=-5", "data.seed=-5 is not allowed: must be an integer from 0 to 4294967295"),
    # non-finite numbers used to pass every check
    ("estimator.alpha=inf", "estimator.alpha=inf is not allowed: must be >= 0 (a finite number)"),
    ("estimator.alpha=nan", "estimator.alpha=nan is not allowed: must be >= 0 (a finite number)"),
    ("estimator.learning_rate_init=inf", "estimator.learning_rate_init=inf is not allowed: must be > 0"),
    ("timeout_min=inf", "timeout_min=inf is not allowed: must be null (no limit) or a finite number of minutes > 0"),
    ("debug.epoch_sleep_s=inf", "debug.epoch_sleep_s=inf is not allowed: must be a finite number >= 0"),
    # no upper bound used to let a typo run for days (eval.n_boot) or forever (retries)
    ("eval.n_boot=100000000", "eval.n_boot=100000000 is not allowed: must be 0 (no intervals) or an integer >= 100 "
                              "(fewer resamples give unstable 95% limits) and <= 100000 (more only cost time)"),
    ("retries=1000000000", "retries=1000000000 is not allowed: must be an integer from 0 to 10"),
    ("retries=-1", "retries=-1 is not allowed: must be an integer from 0 to 10"),
])
def test_range_errors_name_key_value_and_what_is_allowed(compose_cfg, override, message):
    with pytest.raises(ConfigError) as err:
        check_config(compose_cfg("estimator=mlp", override))
    assert message in str(err.value)
