"""Real model files, small, and the means to edit them as an attacker would: the skops archive's schema,
its members and the arrays inside them."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from helpers import ROOT

# Few trees and rounds: files of tens of KB that load in milliseconds.
SMALL = {"random_forest": {"n_estimators": 4}, "hist_gbdt": {}, "lightgbm": {}, "logreg": {}, "mlp": {}, "xgboost": {}}


def training_frame(n: int = 90, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], size=n)})
    y = pd.Series(np.where(X["a"] + rng.normal(size=n) > 0, "yes", "no"))
    return X, y


def estimator_spec(name: str) -> dict:
    from medsweep.config.schema import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            spec = OmegaConf.to_container(compose(config_name="train", overrides=[f"estimator={name}"]).estimator)
    finally:
        GlobalHydra.instance().clear()
    return {**spec, **SMALL[name]}


def save_small_models(folder: Path) -> dict[str, Path]:
    """A binary classifier of every estimator on a numeric and a text feature, saved as medsweep saves."""
    from medsweep.learn.persistence import save_model
    from medsweep.learn.training import TrainSettings, fit_model

    X, y = training_frame()
    paths = {}
    for name in SMALL:
        model, _ = fit_model(estimator_spec(name), X, y, "classification", ["no", "yes"],
                             TrainSettings(epochs=3, batch_size=16, seed=0))
        paths[name] = folder / f"{name}.skops"
        save_model(model, paths[name])
    return paths


def read_archive(path: Path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(members.pop("schema.json")), members


def write_archive(path: Path, schema: dict, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def nodes(tree, predicate) -> list[dict]:
    """The schema's nodes (dicts with a ``__loader__``) for which ``predicate(node)`` holds, in place."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__loader__" in node and predicate(node):
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def of_class(name: str):
    return lambda node: node.get("__class__") == name


def array(members: dict[str, bytes], node: dict) -> np.ndarray:
    return np.load(io.BytesIO(members[node["file"]]), allow_pickle=False)


def set_array(members: dict[str, bytes], node: dict, value: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    members[node["file"]] = buffer.getvalue()


def json_node(value) -> dict:
    return {"__class__": type(value).__name__, "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def tuple_node(*items: dict) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}
