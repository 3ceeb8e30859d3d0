"""Model files: every model medsweep saves loads back and predicts the same; a file that could run code
when loaded or used is refused, naming the type, and its payload never runs."""

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils._testing import assert_run_python_script_without_output

from medsweep.estimators import REGISTRY
from medsweep.persistence import UntrustedModelError, load_model, save_model
from medsweep.training import TrainSettings, fit_model


def frames(n=90, seed=0):
    rng = np.random.default_rng(seed)
    numeric = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return {"numeric": numeric, "mixed": numeric.assign(c=rng.choice(["x", "y", "z"], size=n))}


TARGETS = {
    "binary": ("classification", lambda rng, n: pd.Series(rng.choice(["no", "yes"], size=n)), ["no", "yes"]),
    "multiclass": ("classification", lambda rng, n: pd.Series(rng.choice([0, 1, 2], size=n)), [0, 1, 2]),
    "regression": ("regression", lambda rng, n: pd.Series(rng.normal(size=n)), None),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("columns", ["numeric", "mixed"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_estimator_saves_a_model_that_loads_and_predicts_the_same(compose_cfg, tmp_path, name, columns, target):
    from omegaconf import OmegaConf

    spec = OmegaConf.to_container(compose_cfg(f"estimator={name}").estimator)
    task, make_y, classes = TARGETS[target]
    X = frames()[columns]
    y = make_y(np.random.default_rng(1), len(X))
    model, _ = fit_model(spec, X, y, task, classes, TrainSettings(epochs=3, batch_size=16, seed=0))
    save_model(model, tmp_path / "model.skops")
    loaded = load_model(tmp_path / "model.skops")
    out = (lambda m: m.predict_proba(X)) if task == "classification" else (lambda m: m.predict(X))
    np.testing.assert_array_equal(out(loaded), out(model))


def _pipeline_with(func, **kw_args):
    return Pipeline([("payload", FunctionTransformer(func=func, kw_args=kw_args or None)),
                     ("scale", StandardScaler())])


# Each of these loaded without a warning when every builtins.*, numpy.* and sklearn.* type was trusted.
CRAFTED = {
    "builtins.exec": (exec, {}),
    "builtins.eval": (eval, {}),
    "builtins.__import__": (__import__, {}),
    "builtins.compile": (compile, {}),
    "builtins.getattr": (getattr, {}),
    "numpy.load": (np.load, {"allow_pickle": True}),
    "sklearn.utils._testing.assert_run_python_script_without_output":
        (assert_run_python_script_without_output, {}),
}


@pytest.mark.parametrize("callable_name", CRAFTED)
def test_a_model_file_holding_a_callable_is_refused_naming_it(tmp_path, callable_name):
    func, kw = CRAFTED[callable_name]
    path = tmp_path / "model.skops"
    sio.dump(_pipeline_with(func, **kw), path)
    assert callable_name in sio.get_untrusted_types(file=path)  # the crafted file really holds it
    with pytest.raises(UntrustedModelError) as err:
        load_model(path)
    assert callable_name in str(err.value) and str(path) in str(err.value)


def test_the_exec_payload_is_real_and_never_loaded(tmp_path):
    """A FunctionTransformer(func=exec): once its types are trusted, using the model runs its input as code."""
    marker, path = tmp_path / "pwned", tmp_path / "model.skops"
    sio.dump(Pipeline([("payload", FunctionTransformer(func=exec))]), path)
    unsafe = sio.load(path, trusted=sio.get_untrusted_types(file=path))  # what trusting builtins.* did
    unsafe.transform(f"open({str(marker)!r}, 'w').close()")
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UntrustedModelError, match="builtins.exec"):
        load_model(path)
    assert not marker.exists()


def test_a_type_skops_trusts_but_medsweep_never_saves_is_refused(tmp_path):
    """FunctionTransformer is trusted by skops itself; no medsweep pipeline holds one."""
    path = tmp_path / "model.skops"
    sio.dump(_pipeline_with(np.log1p), path)
    with pytest.raises(UntrustedModelError, match="FunctionTransformer"):
        load_model(path)


def test_a_file_that_is_not_a_model_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.skops"
    path.write_text("not a zip")
    with pytest.raises(UntrustedModelError, match="not a model file saved by medsweep"):
        load_model(path)
