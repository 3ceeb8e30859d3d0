"""`estimator=lightgbm`: LightGBM's gradient-boosted trees (its scikit-learn API); one epoch = one boosting
round, with the validation metric recorded after every round."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from omegaconf import MISSING

from medsweep.estimators.base import (CLASS_WEIGHT, AfterEpoch, Estimator, SavedText, at_least, between,
                                      greater_than)


# A LightGBM tree's arrays, by length: one per split (num_leaves - 1) or one per leaf; those a tree must have,
# and those of integers.
_SPLIT_ARRAYS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child",
                 "internal_value", "internal_weight", "internal_count")
_LEAF_ARRAYS = ("leaf_value", "leaf_weight", "leaf_count")
_REQUIRED = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_INTEGERS = ("split_feature", "decision_type", "left_child", "right_child", "internal_count", "leaf_count")


def _numbers(text: str, kind: type, what: str) -> list:
    try:
        return [kind(token) for token in text.split()]
    except ValueError:
        raise ValueError(f"{what} is not a list of {kind.__name__}s") from None


def _tree_fields(block: str, what: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        if line.strip():
            key, sep, value = line.partition("=")
            if not sep or key in fields:
                raise ValueError(f"{what} has a malformed or repeated line {line[:40]!r}")
            fields[key] = value
    return fields


def _check_tree(fields: dict[str, str], width: int, what: str) -> None:
    leaves = _numbers(fields.get("num_leaves", ""), int, f"{what}'s num_leaves")
    if len(leaves) != 1 or leaves[0] < 1:
        raise ValueError(f"{what}'s num_leaves is missing or below 1")
    leaves = leaves[0]
    if fields.get("num_cat", "0").strip() != "0" or fields.get("is_linear", "0").strip() != "0":
        raise ValueError(f"{what} has categorical splits or linear leaves, which medsweep never trains")
    _numbers(fields.get("shrinkage", "1"), float, f"{what}'s shrinkage")
    arrays: dict[str, np.ndarray] = {}
    for key in _SPLIT_ARRAYS + _LEAF_ARRAYS:
        if key not in fields and (key == "leaf_value" or (leaves > 1 and key in _REQUIRED)):
            raise ValueError(f"{what} has no {key}")
        if key in fields:
            n = leaves if key in _LEAF_ARRAYS else leaves - 1
            kind = int if key in _INTEGERS else float
            values = _numbers(fields[key], kind, f"{what}'s {key}")
            if len(values) != n:
                raise ValueError(f"{what} has {len(values)} {key} values for {n}")
            if kind is int:
                arrays[key] = np.array(values, dtype=np.int64)
    if leaves == 1:
        return
    decision = arrays["decision_type"]
    if ((decision < 0) | (decision > 255) | (decision & 1 == 1)).any():
        raise ValueError(f"{what} has a decision_type outside 0..255 or a categorical split")
    # Children: an internal node n >= 0, or leaf ~n (-1 is leaf 0). Every node but the root and every leaf
    # is the child of exactly one node: no cycles, nothing unreachable.
    children = np.concatenate([arrays["left_child"], arrays["right_child"]])
    inner, leaf = children[children >= 0], ~children[children < 0]
    if (inner < 1).any() or (inner >= leaves - 1).any() or (leaf >= leaves).any() \
            or len(np.unique(inner)) != leaves - 2 or len(np.unique(leaf)) != leaves:
        raise ValueError(f"{what}'s children are out of range or not a tree")
    features = arrays["split_feature"]
    if (features < 0).any() or (features >= width).any():
        raise ValueError(f"{what} splits on a feature outside the model's {width}")


def check_model_text(text: str) -> None:
    """A LightGBM model's text as LightGBM writes it, before LightGBM's own C++ parser reads it: that parser
    indexes split features and children unchecked, and a malformed tree makes it throw inside a parallel
    loop (SIGABRT). Checked: the tree blocks lie where ``tree_sizes`` says; every tree has arrays of its
    size, numbers where numbers belong, children in range with none reached twice, split features below
    the model's width, and no categorical split or linear leaf (medsweep trains neither). Raises ValueError."""
    if not text.startswith("tree\n"):
        raise ValueError("it does not start as a LightGBM model does")
    end = text.find("\nend of trees\n")
    if end < 0:
        raise ValueError("it has no 'end of trees'")
    blocks = [m.start() for m in re.finditer(r"^Tree=\d+\n", text[:end], re.M)]
    head = dict(line.split("=", 1) for line in text[:blocks[0] if blocks else end].splitlines() if "=" in line)
    width = _numbers(head.get("max_feature_idx", ""), int, "max_feature_idx")
    per_iteration = _numbers(head.get("num_tree_per_iteration", ""), int, "num_tree_per_iteration")
    if len(width) != 1 or width[0] < 0 or len(per_iteration) != 1 or per_iteration[0] < 1:
        raise ValueError("its max_feature_idx or num_tree_per_iteration is missing or out of range")
    width = width[0] + 1
    if len(head.get("feature_names", "").split()) != width:
        raise ValueError(f"its feature_names do not name max_feature_idx + 1 = {width} features")
    bounds = [*blocks, end + 1]
    if "tree_sizes" in head and _numbers(head["tree_sizes"], int, "tree_sizes") != \
            [b - a for a, b in zip(bounds, bounds[1:])]:
        raise ValueError("its tree_sizes are not the sizes of its trees")
    if not blocks or len(blocks) % per_iteration[0]:
        raise ValueError(f"it has {len(blocks)} trees, not a multiple of num_tree_per_iteration")
    for i, (a, b) in enumerate(zip(bounds, bounds[1:])):
        _check_tree(_tree_fields(text[a:b], f"tree {i}"), width, f"tree {i}")


@dataclass
class LightGBMParams:
    name: str = MISSING
    learning_rate: float = MISSING
    num_leaves: int = MISSING
    max_depth: Optional[int] = MISSING
    min_child_samples: int = MISSING
    reg_lambda: float = MISSING
    subsample: float = MISSING
    colsample_bytree: float = MISSING
    class_weight: Optional[str] = MISSING


class LightGBM(Estimator):
    name = "lightgbm"
    Params = LightGBMParams
    rules = {"learning_rate": greater_than(0), "num_leaves": at_least(2), "max_depth": at_least(1, null=True),
             "min_child_samples": at_least(1), "reg_lambda": at_least(0), "subsample": between(0, 1),
             "colsample_bytree": between(0, 1), "class_weight": CLASS_WEIGHT}
    epoch = "one boosting round (n_estimators = trainer.epochs)"
    uses = ("epochs",)
    package = "lightgbm"
    saved_types = ("lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor", "lightgbm.basic.Booster",
                   "collections.OrderedDict", "collections.defaultdict", "sklearn.preprocessing._label.LabelEncoder")
    # The Booster's state holds its model text (LightGBM's Booster.__getstate__: "_handle"; "handle" before 4).
    saved_texts = (SavedText("lightgbm.basic.Booster", ("_handle", "handle"), "LightGBM model", check_model_text),)

    @classmethod
    def threads(cls, params: Any, n_rows: int, share: int) -> int:
        # Column-wise histograms scale even on small cohorts (measured: 160 rows 0.78x the time with 2 threads).
        return share

    def build(self) -> Any:
        from lightgbm import LGBMClassifier, LGBMRegressor

        p = self.params
        params = dict(
            n_estimators=self.epochs, learning_rate=p["learning_rate"], num_leaves=p["num_leaves"],
            max_depth=-1 if p["max_depth"] is None else p["max_depth"], min_child_samples=p["min_child_samples"],
            reg_lambda=p["reg_lambda"], subsample=p["subsample"], colsample_bytree=p["colsample_bytree"],
            # Row subsampling happens only when bagging is on (every round).
            subsample_freq=1 if p["subsample"] < 1 else 0,
            random_state=self.seed, n_jobs=self.n_threads, verbose=-1,
            # The same numbers whatever the thread count (checked: 1 and 2 threads give identical models).
            deterministic=True, force_col_wise=True)
        if self.classification:
            return LGBMClassifier(class_weight=p.get("class_weight"), **params)
        return LGBMRegressor(**params)

    def fit(self, model: Any, X: Any, y: np.ndarray, classes: Optional[list], watch: Sequence[Any],
            after_epoch: AfterEpoch) -> Any:
        # The rounds run inside one fit; each round's outputs are predictions with its first rounds.
        model.fit(X, y)
        predict = model.predict_proba if self.classification else model.predict
        for epoch in range(1, self.epochs + 1):
            after_epoch(epoch, [predict(Z, num_iteration=epoch) for Z in watch])
        return model
