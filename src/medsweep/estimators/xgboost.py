"""`estimator=xgboost`: XGBoost's gradient-boosted trees (its scikit-learn API), an optional extra
(``pip install "medsweep[xgboost]"``); one epoch = one boosting round, with the validation metric recorded
after every round; ``estimator.device=cuda`` trains on a GPU.

Model files hold :class:`XGBoostClassifier`/:class:`XGBoostRegressor` (``XGBClassifier``/``XGBRegressor``
named here, created once XGBoost is imported): their booster is saved as XGBoost's JSON model, which
:func:`check_model_text` checks in Python (tree structure, feature indices, no categorical splits) before
XGBoost's C++ parser reads it, instead of XGBoost's default binary state (which also carries the training
configuration and could only be checked by a UBJSON parser of our own).
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from omegaconf import MISSING

from medsweep.estimators.base import (CLASS_WEIGHT, AfterEpoch, Estimator, Rule, SavedText, at_least, between,
                                      greater_than)

INSTALL = 'estimator=xgboost needs XGBoost, an optional extra: pip install "medsweep[xgboost]"'
DEVICE = Rule(lambda v: isinstance(v, str) and re.fullmatch(r"cpu|cuda(:\d+)?", v) is not None,
              "must be cpu, cuda or cuda:<ordinal> (a GPU)")
# What medsweep trains, so all a model file may hold: tree boosters of these objectives.
OBJECTIVES = ("binary:logistic", "multi:softprob", "reg:squarederror")
_TREE_ARRAYS = ("left_children", "right_children", "parents", "split_indices", "split_conditions", "split_type",
                "default_left", "base_weights", "loss_changes", "sum_hessian")
_INT_ARRAYS = ("left_children", "right_children", "parents", "split_indices", "split_type", "default_left")
_NO_PARENT = 2**31 - 1  # the root's parent in XGBoost's trees


def _int(value: Any, what: str) -> int:
    try:
        number = int(value)  # XGBoost writes its parameters as text
    except (TypeError, ValueError):
        raise ValueError(f"its {what} is not an integer") from None
    return number


def _array(tree: dict, key: str, n: int, what: str) -> np.ndarray:
    values = tree.get(key)
    kind = int if key in _INT_ARRAYS else float
    if not isinstance(values, list) or len(values) != n \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
            or (kind is int and not all(isinstance(v, int) for v in values)):
        raise ValueError(f"{what} has no {key} of {n} numbers")
    return np.array(values, dtype=np.int64 if kind is int else np.float64)


def _check_tree(tree: Any, width: int, what: str) -> None:
    """Children in range (1..n-1, or -1 for both children of a leaf), every node but the root the child of
    exactly one node and its recorded parent that node (no cycles, nothing unreachable), numerical splits on
    features below the model's width."""
    if not isinstance(tree, dict) or not isinstance(tree.get("tree_param"), dict):
        raise ValueError(f"{what} is not a tree")
    param = tree["tree_param"]
    n = _int(param.get("num_nodes"), f"{what}'s num_nodes")
    if n < 1 or _int(param.get("num_deleted"), f"{what}'s num_deleted") != 0 \
            or _int(param.get("num_feature"), f"{what}'s num_feature") != width \
            or _int(param.get("size_leaf_vector"), f"{what}'s size_leaf_vector") not in (0, 1):
        raise ValueError(f"{what} has num_nodes below 1, deleted nodes, leaf vectors or another width")
    if any(tree.get(k) for k in ("categories", "categories_nodes", "categories_segments", "categories_sizes")):
        raise ValueError(f"{what} has categorical splits, which medsweep never trains")
    arrays = {key: _array(tree, key, n, what) for key in _TREE_ARRAYS}
    left, right = arrays["left_children"], arrays["right_children"]
    leaf = left == -1
    if (right[leaf] != -1).any() or (arrays["split_type"] != 0).any():
        raise ValueError(f"{what} has a node with one child or a categorical split")
    children = np.concatenate([left[~leaf], right[~leaf]])
    if (children < 1).any() or (children >= n).any() or len(np.unique(children)) != n - 1:
        raise ValueError(f"{what}'s children are out of range or not a tree")
    parents = arrays["parents"]
    inner = np.flatnonzero(~leaf)
    if parents[0] != _NO_PARENT or (parents[left[inner]] != inner).any() or (parents[right[inner]] != inner).any():
        raise ValueError(f"{what}'s parents are not its nodes' parents")
    features = arrays["split_indices"][~leaf]
    if (features < 0).any() or (features >= width).any():
        raise ValueError(f"{what} splits on a feature outside the model's {width}")


def check_model_text(text: str) -> None:
    """An XGBoost JSON model (``Booster.save_raw("json")``) as medsweep trains them, before XGBoost's C++
    parser reads it (it indexes children and features unchecked): a tree booster of an objective medsweep
    trains, as many trees as it says, each one a tree (:func:`_check_tree`) over the model's features, no
    categorical feature. Raises ValueError."""
    try:
        model = json.loads(text)
    except ValueError:
        raise ValueError("it is not JSON") from None
    learner = model.get("learner") if isinstance(model, dict) else None
    if not isinstance(learner, dict) or not all(isinstance(learner.get(k), dict) for k in (
            "learner_model_param", "objective", "gradient_booster")):
        raise ValueError("it is not an XGBoost model")
    param, booster = learner["learner_model_param"], learner["gradient_booster"]
    width = _int(param.get("num_feature"), "num_feature")
    n_class = _int(param.get("num_class"), "num_class")
    if width < 1 or n_class < 0 or _int(param.get("num_target"), "num_target") != 1:
        raise ValueError("its num_feature, num_class or num_target is out of range")
    if learner["objective"].get("name") not in OBJECTIVES or booster.get("name") != "gbtree":
        raise ValueError(f"it is not a tree booster of {', '.join(OBJECTIVES)}")
    for key in ("feature_names", "feature_types"):
        values = learner.get(key, [])
        if not isinstance(values, list) or len(values) not in (0, width) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"its {key} do not name its {width} features")
    if any(t not in ("float", "int", "i", "q") for t in learner.get("feature_types", [])):
        raise ValueError("it has a categorical feature, which medsweep never trains")
    trees = booster.get("model", {}).get("trees") if isinstance(booster.get("model"), dict) else None
    if not isinstance(trees, list) or not trees:
        raise ValueError("it has no trees")
    gbtree = booster["model"]
    cats = gbtree.get("cats", {})
    if not isinstance(cats, dict) or any(cats.values()):
        raise ValueError("it has categories, which medsweep never trains")
    counts = gbtree.get("gbtree_model_param", {})
    info, indptr = gbtree.get("tree_info"), gbtree.get("iteration_indptr", [0, len(trees)])
    if not isinstance(counts, dict) or _int(counts.get("num_trees"), "num_trees") != len(trees) \
            or _int(counts.get("num_parallel_tree", 1), "num_parallel_tree") != 1:
        raise ValueError(f"it has {len(trees)} trees, not num_trees, or parallel trees")
    if not isinstance(info, list) or len(info) != len(trees) \
            or not all(isinstance(c, int) and 0 <= c < max(n_class, 1) for c in info):
        raise ValueError("its tree_info does not give every tree a class of the model")
    if not isinstance(indptr, list) or not all(isinstance(i, int) for i in indptr) or indptr[:1] != [0] \
            or indptr[-1] != len(trees) or any(b < a for a, b in zip(indptr, indptr[1:])):
        raise ValueError("its iteration_indptr does not cover its trees in order")
    for i, tree in enumerate(trees):
        _check_tree(tree, width, f"tree {i}")


def _get_state(self: Any) -> dict:
    """The state a model file (skops) or a pickle holds: the booster as XGBoost's JSON model text."""
    state = dict(self.__dict__)
    if state.get("_Booster") is not None:
        state["_Booster"] = bytes(state["_Booster"].save_raw("json")).decode()
    return state


def _set_state(self: Any, state: Mapping) -> None:
    import xgboost

    state = dict(state)
    if isinstance(state.get("_Booster"), str):
        booster = xgboost.Booster()
        booster.load_model(bytearray(state["_Booster"].encode()))
        state["_Booster"] = booster
    self.__dict__.update(state)


_CLASSES: dict[str, type] = {}


def _model_classes() -> dict[str, type]:
    """XGBoostClassifier and XGBoostRegressor, created on first use (XGBoost is imported only then). Their
    first base is XGBoost's own class, whose get_params reads the parameters of ``__bases__[0]``."""
    if not _CLASSES:
        try:
            import xgboost
        except ImportError:
            raise ImportError(INSTALL) from None

        def fit(self: Any, X: Any, y: Any, **params: Any) -> Any:
            # XGBoost wants classes 0..k-1 (and checks classes_ to be them while it fits); the labels are the
            # fitted model's classes_, as scikit-learn's are.
            labels = np.unique(y)
            self.__dict__.pop("labels_", None)
            xgboost.XGBClassifier.fit(self, X, np.searchsorted(labels, y), **params)
            self.labels_ = labels
            return self

        def classes(self: Any) -> np.ndarray:
            return self.__dict__["labels_"] if "labels_" in self.__dict__ else np.arange(self.n_classes_)

        def predict(self: Any, X: Any, **params: Any) -> np.ndarray:
            return self.labels_[xgboost.XGBClassifier.predict(self, X, **params)]

        common = {"__module__": __name__, "__getstate__": _get_state, "__setstate__": _set_state}
        _CLASSES["XGBoostClassifier"] = type("XGBoostClassifier", (xgboost.XGBClassifier,), {
            **common, "__doc__": "XGBClassifier of any class labels, saved with its JSON model.", "fit": fit,
            "predict": predict, "classes_": property(classes)})
        _CLASSES["XGBoostRegressor"] = type("XGBoostRegressor", (xgboost.XGBRegressor,), {
            **common, "__doc__": "XGBRegressor saved with its JSON model."})
    return _CLASSES


def __getattr__(name: str) -> type:
    # The classes model files name: `medsweep.estimators.xgboost.XGBoostClassifier` (skops and pickle look
    # them up here).
    if name in ("XGBoostClassifier", "XGBoostRegressor"):
        return _model_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class XGBoostParams:
    name: str = MISSING
    learning_rate: float = MISSING
    max_depth: int = MISSING
    min_child_weight: float = MISSING
    reg_lambda: float = MISSING
    subsample: float = MISSING
    colsample_bytree: float = MISSING
    class_weight: Optional[str] = MISSING
    device: str = MISSING


class XGBoost(Estimator):
    name = "xgboost"
    Params = XGBoostParams
    rules = {"learning_rate": greater_than(0), "max_depth": at_least(1), "min_child_weight": at_least(0),
             "reg_lambda": at_least(0), "subsample": between(0, 1), "colsample_bytree": between(0, 1),
             "class_weight": CLASS_WEIGHT, "device": DEVICE}
    epoch = "one boosting round (n_estimators = trainer.epochs)"
    uses = ("epochs",)
    package = "xgboost"
    optional = True
    saved_types = (f"{__name__}.XGBoostClassifier", f"{__name__}.XGBoostRegressor")
    saved_texts = (SavedText(f"{__name__}.XGBoostClassifier", ("_Booster",), "XGBoost model", check_model_text),
                   SavedText(f"{__name__}.XGBoostRegressor", ("_Booster",), "XGBoost model", check_model_text))

    @classmethod
    def range_errors(cls, params: Mapping[str, Any]) -> list[str]:
        # Said before any job starts, like a value out of range.
        missing = [INSTALL] if importlib.util.find_spec("xgboost") is None else []
        return missing + super().range_errors(params)

    # Histograms are built in OpenMP threads, as hist_gbdt's: the same threshold (not measured for XGBoost on
    # an idle machine; on a loaded one a second thread made 195 and 20,000 rows 3-4x slower).
    MIN_ROWS_FOR_THREADS = 5_000

    @classmethod
    def threads(cls, params: Any, n_rows: int, share: int) -> int:
        return share if n_rows >= cls.MIN_ROWS_FOR_THREADS else 1

    def build(self) -> Any:
        classes = _model_classes()
        p = self.params
        params = dict(n_estimators=self.epochs, learning_rate=p["learning_rate"], max_depth=p["max_depth"],
                      min_child_weight=p["min_child_weight"], reg_lambda=p["reg_lambda"], subsample=p["subsample"],
                      colsample_bytree=p["colsample_bytree"], tree_method="hist", device=p["device"],
                      random_state=self.seed, n_jobs=self.n_threads)
        if self.classification:
            return classes["XGBoostClassifier"](**params)
        return classes["XGBoostRegressor"](**params)

    def fit(self, model: Any, X: Any, y: np.ndarray, classes: Optional[list], watch: Sequence[Any],
            after_epoch: AfterEpoch) -> Any:
        # The rounds run inside one fit; each round's outputs are predictions with its first rounds.
        weight = None
        if self.classification and self.params.get("class_weight"):
            from sklearn.utils.class_weight import compute_sample_weight

            weight = compute_sample_weight(self.params["class_weight"], y)
        model.fit(X, y, sample_weight=weight, verbose=False)
        predict = model.predict_proba if self.classification else model.predict
        with warnings.catch_warnings():
            # Trained on a GPU, the watched sets (in host memory) are predicted through a DMatrix: said once
            # per round otherwise.
            warnings.filterwarnings("ignore", message=".*mismatched devices")
            for epoch in range(1, self.epochs + 1):
                after_epoch(epoch, [predict(Z, iteration_range=(0, epoch)) for Z in watch])
        return model
