"""Model files: every model medsweep saves loads back and predicts the same; a file that could run code
when loaded or used is refused, naming the type, and its payload never runs; a file made only of trusted
types but crafted to crash, exhaust or hang the loader is refused in one line before it is used, and what
no check rules out ends in one error of the child process that uses the model."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils._testing import assert_run_python_script_without_output

from helpers.model_archives import (array, json_node, nodes, of_class, read_archive, save_small_models, set_array,
                                    training_frame, tuple_node, write_archive)
from medsweep.estimators import REGISTRY
from medsweep.learn.persistence import UntrustedModelError, load_model, save_model
from medsweep.learn.training import TrainSettings, fit_model


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


# -- files made only of trusted types, crafted to crash, exhaust or hang the loader (issue 22) ----------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return save_small_models(tmp_path_factory.mktemp("small"))


def _node_array(schema, members, owner: str):
    """(the schema node, the array) of the first ``nodes`` array of a Tree or TreePredictor."""
    node = nodes(schema, of_class(owner))[0]["content"]["content"]["nodes"]
    return node, array(members, node)


def _edited_tree(small, tmp_path, estimator, owner, edit):
    schema, members = read_archive(small[estimator])
    node, nodes_array = _node_array(schema, members, owner)
    edit(nodes_array)
    set_array(members, node, nodes_array)
    return write_archive(tmp_path / "model.skops", schema, members)


def test_the_small_models_load_and_predict(small):
    X, _ = training_frame()
    for path in small.values():
        assert load_model(path).predict_proba(X).shape == (len(X), 2)


# Each of these crashed the process at predict (SIGSEGV) or would have: node indices used unchecked.
TREE_EDITS = {
    "forest child out of range": ("random_forest", "Tree", lambda a: a["left_child"].__setitem__(0, 10**6),
                                  "child index outside"),
    "forest cycle": ("random_forest", "Tree", lambda a: a["left_child"].__setitem__(a["left_child"][0], 0),
                     "child index outside"),
    "forest shared node": ("random_forest", "Tree", lambda a: a["right_child"].__setitem__(0, a["left_child"][0]),
                           "child of two nodes"),
    "forest feature out of range": ("random_forest", "Tree", lambda a: a["feature"].__setitem__(0, 400),
                                    "outside the model's 5 input features"),
    "hist_gbdt child out of range": ("hist_gbdt", "TreePredictor", lambda a: a["left"].__setitem__(0, 10**6),
                                     "child index outside"),
    "hist_gbdt feature out of range": ("hist_gbdt", "TreePredictor", lambda a: a["feature_idx"].__setitem__(0, -3),
                                       "outside the model's 5 input features"),
    "hist_gbdt categorical split": ("hist_gbdt", "TreePredictor", lambda a: a["is_categorical"].__setitem__(0, 1),
                                    "categorical split"),
}


@pytest.mark.parametrize("case", TREE_EDITS)
def test_a_tree_whose_nodes_point_outside_is_refused_before_it_predicts(small, tmp_path, case):
    estimator, owner, edit, message = TREE_EDITS[case]
    path = _edited_tree(small, tmp_path, estimator, owner, edit)
    with pytest.raises(UntrustedModelError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def _replace_first(schema, kind: str, replacement: dict) -> None:
    parent = nodes(schema, lambda n: isinstance(n.get("content"), dict)
                   and any(isinstance(v, dict) and v.get("__class__") == kind for v in n["content"].values()))[0]
    key = next(k for k, v in parent["content"].items() if isinstance(v, dict) and v.get("__class__") == kind)
    parent["content"][key] = replacement


def test_a_type_called_with_file_chosen_arguments_is_refused(small, tmp_path):
    """``builtins.list(builtins.bytes(N))`` as a fill value: 1.37 GB from a 4.7 KB file at N = 150,000,000."""
    schema, members = read_archive(small["logreg"])
    imputer = nodes(schema, of_class("SimpleImputer"))[0]
    bomb = {"__class__": "list", "__module__": "builtins", "__loader__": "ConstructorFromReduceNode",
            "content": tuple_node({"__class__": "bytes", "__module__": "builtins",
                                   "__loader__": "ConstructorFromReduceNode", "content": tuple_node(json_node(10**6))})}
    imputer["content"]["content"]["fill_value"] = bomb
    path = write_archive(tmp_path / "model.skops", schema, members)
    with pytest.raises(UntrustedModelError, match="ConstructorFromReduceNode"):
        load_model(path)


@pytest.mark.parametrize("loader", ["ConstructorFromReduceNode", "LossNode"])
def test_a_booster_built_from_a_path_is_refused(small, tmp_path, loader):
    """``Booster(model_file="/dev/zero")`` never returned; any local path could be opened. (Here the path
    is a plain file, so that the old behaviour fails instead of hanging.)"""
    schema, members = read_archive(small["lightgbm"])
    target = tmp_path / "some_local_file.txt"
    target.write_text("not a model\n")
    arguments = tuple_node(json_node(None), json_node(None), json_node(str(target)))
    booster = {"__class__": "Booster", "__module__": "lightgbm.basic", "__loader__": loader}
    booster.update({"content": arguments} if loader == "ConstructorFromReduceNode"
                   else {"content": json_node({}), "__reduce__": {"args": arguments}})
    _replace_first(schema, "Booster", booster)
    path = write_archive(tmp_path / "model.skops", schema, members)
    with pytest.raises(UntrustedModelError, match=loader):
        load_model(path)


def test_a_trusted_type_called_with_text_is_refused(small, tmp_path):
    """A Tree is rebuilt by calling Tree(n_features, n_classes, n_outputs): numbers only, never a path."""
    schema, members = read_archive(small["random_forest"])
    arguments = nodes(schema, of_class("Tree"))[0]["__reduce__"]["args"]
    arguments["content"][0] = json_node("/etc/passwd")
    path = write_archive(tmp_path / "model.skops", schema, members)
    with pytest.raises(UntrustedModelError, match="not numbers or arrays of numbers \\(text \"/etc/passwd"):
        load_model(path)


def test_a_zip_bomb_is_refused_before_it_expands(small, tmp_path):
    """An array of zeros compressed 1,000x (issue 22: a 1.2 MB file expanded to 2.5 GB)."""
    schema, members = read_archive(small["logreg"])
    node = nodes(schema, lambda n: n.get("__loader__") == "NdArrayNode" and n.get("type") == "numpy")[0]
    set_array(members, node, np.zeros(5_000_000))
    path = write_archive(tmp_path / "model.skops", schema, members, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 200_000
    with pytest.raises(UntrustedModelError, match="zip bomb"):
        load_model(path)


def test_an_array_declaring_more_than_its_bytes_is_refused(small, tmp_path):
    schema, members = read_archive(small["logreg"])
    node = nodes(schema, lambda n: n.get("__loader__") == "NdArrayNode" and n.get("type") == "numpy")[0]
    data = members[node["file"]]
    members[node["file"]] = data.replace(b"'shape': (", b"'shape': (999999, ", 1)
    path = write_archive(tmp_path / "model.skops", schema, members)
    with pytest.raises(UntrustedModelError, match="an array declared"):
        load_model(path)


def _lightgbm_text_edit(small, tmp_path, old: str, new: str) -> Path:
    schema, members = read_archive(small["lightgbm"])
    handle = nodes(schema, of_class("Booster"))[0]["content"]["content"]["_handle"]
    text = json.loads(handle["content"])
    assert old in text
    handle["content"] = json.dumps(text.replace(old, new, 1))
    return write_archive(tmp_path / "model.skops", schema, members)


def test_an_edited_lightgbm_model_text_is_refused_before_lightgbm_parses_it(small, tmp_path):
    """A child index out of range (same length, so tree_sizes still hold): SIGABRT inside LightGBM."""
    schema, members = read_archive(small["lightgbm"])
    text = json.loads(nodes(schema, of_class("Booster"))[0]["content"]["content"]["_handle"]["content"])
    line = next(li for li in text.splitlines() if li.startswith("left_child="))
    values = line.split("=")[1].split()
    values[0] = "9" if values[0] != "9" else "8"  # an index past the tree's splits, same number of bytes
    path = _lightgbm_text_edit(small, tmp_path, line, "left_child=" + " ".join(values))
    with pytest.raises(UntrustedModelError, match="LightGBM model is malformed: tree 0's children"):
        load_model(path)
    path = _lightgbm_text_edit(small, tmp_path, "tree_sizes=", "tree_sizes=1")
    with pytest.raises(UntrustedModelError, match="tree_sizes"):
        load_model(path)


def _xgboost_json_edit(small, tmp_path, edit) -> Path:
    schema, members = read_archive(small["xgboost"])
    booster = nodes(schema, of_class("XGBoostClassifier"))[0]["content"]["content"]["_Booster"]
    model = json.loads(json.loads(booster["content"]))
    edit(model["learner"])
    booster["content"] = json.dumps(json.dumps(model))
    return write_archive(tmp_path / "model.skops", schema, members)


@pytest.mark.parametrize("edit, message", [
    # XGBoost's predictor walks children and reads split features without bounds checks.
    (lambda m: m["gradient_booster"]["model"]["trees"][0]["left_children"].__setitem__(0, 10**6),
     "XGBoost model is malformed: tree 0's children are out of range"),
    (lambda m: m["gradient_booster"]["model"]["trees"][0]["left_children"].__setitem__(0, 0),
     "tree 0's children are out of range or not a tree"),
    (lambda m: m["gradient_booster"]["model"]["trees"][0]["split_indices"].__setitem__(0, 99),
     "tree 0 splits on a feature outside the model's"),
    (lambda m: m["gradient_booster"]["model"]["trees"][1]["tree_param"].__setitem__("num_nodes", "99999"),
     "tree 1 has no left_children of 99999 numbers"),
    (lambda m: m["gradient_booster"].__setitem__("name", "gblinear"), "not a tree booster"),
    (lambda m: m["gradient_booster"]["model"]["tree_info"].__setitem__(0, 5), "tree_info"),
])
def test_an_edited_xgboost_model_is_refused_before_xgboost_parses_it(small, tmp_path, edit, message):
    with pytest.raises(UntrustedModelError, match=message) as err:
        load_model(_xgboost_json_edit(small, tmp_path, edit))
    assert "\n" not in str(err.value)


def test_an_xgboost_model_file_holds_its_json_model_not_xgboosts_binary_state(small):
    """The booster is saved as text that the checks read (no bytes member, no training configuration)."""
    schema, members = read_archive(small["xgboost"])
    assert not nodes(schema, lambda n: n.get("__loader__") in ("BytesNode", "BytearrayNode"))
    assert not nodes(schema, of_class("Booster"))
    booster = nodes(schema, of_class("XGBoostClassifier"))[0]["content"]["content"]["_Booster"]
    model = json.loads(json.loads(booster["content"]))
    assert model["learner"]["objective"]["name"] == "binary:logistic" and "Config" not in model


def test_a_malformed_schema_value_is_one_error_not_a_traceback(small, tmp_path):
    """Item 9: a trusted type built with a wrong value failed with a bare ValueError or RecursionError."""
    schema, members = read_archive(small["random_forest"])
    tree = nodes(schema, of_class("Tree"))[0]
    tree["content"]["content"]["node_count"] = json_node("many")
    path = write_archive(tmp_path / "model.skops", schema, members)
    with pytest.raises(UntrustedModelError, match="building it failed"):
        load_model(path)
    nodes(schema, of_class("RandomForestClassifier"))[0]["content"]["content"]["deep"] = "DEEP"
    opening = '{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": ['
    text = json.dumps(schema).replace('"DEEP"', opening * 5000 + "]}" * 5000)
    path = tmp_path / "deep.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", text)
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(UntrustedModelError, match="nested too deeply"):
        load_model(path)


# -- the child process ---------------------------------------------------------------------------------------

def test_a_model_used_in_a_child_process_predicts_exactly_as_in_this_one(small):
    from medsweep.learn.persistence import ModelProcess

    X, _ = training_frame()
    for name in ("random_forest", "lightgbm", "xgboost"):
        with ModelProcess(small[name], timeout_s=120) as model:
            np.testing.assert_array_equal(model.predict_proba(X), load_model(small[name]).predict_proba(X))
            assert model.info == {"classes": ["no", "yes"], "features": ["a", "b", "c"], "text": ["c"]}


def test_whatever_ends_the_child_is_one_error(small, tmp_path):
    """A signal, a timeout, too little memory, an exception while predicting: one UntrustedModelError each."""
    import os
    import signal

    from medsweep.learn.persistence import ModelProcess

    X, _ = training_frame()
    model = ModelProcess(small["logreg"], timeout_s=120)
    os.kill(model._child.pid, signal.SIGSEGV)
    with pytest.raises(UntrustedModelError, match="killed the process using it by SIGSEGV"):
        model.predict_proba(X)
    with pytest.raises(UntrustedModelError, match="took longer than 0.01 s"):
        ModelProcess(small["logreg"], timeout_s=0.01)
    # The limit is on the whole address space (~1.7 GB once numpy, scikit-learn and LightGBM are imported):
    # at 64 MB nothing more can be mapped, whether importing, loading or predicting.
    with pytest.raises(UntrustedModelError, match="MemoryError"):
        with ModelProcess(small["logreg"], memory_mb=64, timeout_s=120) as model:
            model.predict_proba(X)
    # A coefficient array of the wrong width loads, and fails only when it predicts.
    schema, members = read_archive(small["logreg"])
    coef = nodes(schema, of_class("LogisticRegression"))[0]["content"]["content"]["coef_"]
    set_array(members, coef, np.zeros((1, 2)))
    path = write_archive(tmp_path / "model.skops", schema, members)
    with ModelProcess(path, timeout_s=120) as model:
        with pytest.raises(UntrustedModelError, match="failed to predict_proba \\(ValueError"):
            model.predict_proba(X)
