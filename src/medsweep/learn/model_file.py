"""Saving a fitted model, and loading one in this process: the archive checked (step 1,
medsweep.learn.model_archive), built by skops, then its fitted trees checked (step 2, here) before they
predict: scikit-learn indexes their node arrays without bounds checks, so every child index must be in range
(or a leaf), every split feature below the estimator's input width, and no node reachable twice (no cycles).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from medsweep.learn.model_archive import UntrustedModelError, check_archive, error_line
from medsweep.record.outputs import atomic_path

# skops, scikit-learn and the estimators are imported where a model is saved or loaded: a process that only
# hands a model file to a ModelProcess (medsweep predict) does not import them (1.5 s).


def save_model(model: Any, path: Path) -> None:
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(model, tmp)



# -- 2. the fitted trees ----------------------------------------------------------------------------------

def _check_nodes(left: np.ndarray, right: np.ndarray, leaf: np.ndarray, feature: np.ndarray, width: int,
                 what: str) -> None:
    """Internal nodes' children in range (1..n-1: never the root), no node the child of two (so every path
    from the root ends at a leaf: no cycles), split features below the input width."""
    n = len(left)
    if n < 1:
        raise UntrustedModelError(f"{what} has no nodes")
    inner = ~leaf
    children = np.concatenate([left[inner], right[inner]]).astype(np.int64)
    if len(children) and (children.min() < 1 or children.max() >= n):
        raise UntrustedModelError(f"{what} has a child index outside 1..{n - 1} ({children.min()}..{children.max()})")
    if len(np.unique(children)) != len(children):
        raise UntrustedModelError(f"{what} has a node that is the child of two nodes (a cycle or shared subtree)")
    features = feature[inner].astype(np.int64)
    if len(features) and (features.min() < 0 or features.max() >= width):
        raise UntrustedModelError(f"{what} splits on feature {features.min() if features.min() < 0 else features.max()}"
                                  f", outside the model's {width} input features")


def _check_tree(tree: Any, width: int, what: str) -> None:
    """scikit-learn's ``Tree`` (random forest): leaves have both children -1."""
    if not 1 <= tree.node_count <= tree.capacity:
        raise UntrustedModelError(f"{what} has node_count {tree.node_count} for {tree.capacity} nodes")
    left, right = tree.children_left, tree.children_right
    leaf = left == -1
    if (right[leaf] != -1).any():
        raise UntrustedModelError(f"{what} has a node with one child")
    _check_nodes(left, right, leaf, tree.feature, width, what)


def _check_predictor(predictor: Any, width: int, what: str) -> None:
    """A hist_gbdt ``TreePredictor``: medsweep's features are numeric (text is one-hot encoded), so no node
    splits on categories (their bitsets would be indexed unchecked too)."""
    from medsweep._sklearn_compat import PREDICTOR_NODE_FIELDS

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.ndim != 1 or nodes.dtype.names is None \
            or not PREDICTOR_NODE_FIELDS <= set(nodes.dtype.names):
        raise UntrustedModelError(f"{what} has no node array of scikit-learn's layout")
    if nodes["is_categorical"].any():
        raise UntrustedModelError(f"{what} has a categorical split, which medsweep never trains")
    _check_nodes(nodes["left"], nodes["right"], nodes["is_leaf"] != 0, nodes["feature_idx"], width, what)


def _width(estimator: Any) -> int:
    width = getattr(estimator, "n_features_in_", None)
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise UntrustedModelError(f"{type(estimator).__name__} has n_features_in_={width!r}: not a fitted estimator")
    return int(width)


def check_fitted(model: Any, path: str | Path = "the model") -> None:
    """Refuse a loaded model whose trees could make scikit-learn read outside its arrays (module
    docstring). The width a tree's features must stay below is that of the outermost estimator holding it,
    which is the one that checks the input's columns."""
    from sklearn.ensemble import BaseEnsemble, HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.tree import BaseDecisionTree

    from medsweep._sklearn_compat import hist_gbdt_bin_mapper, tree_types

    Tree, TreePredictor = tree_types()

    stack: list[tuple[Any, Optional[int], str]] = [(model, None, type(model).__name__)]
    seen: set[int] = set()
    while stack:
        obj, width, where = stack.pop()
        if id(obj) in seen or isinstance(obj, (np.ndarray, str, bytes, int, float, type(None))):
            continue
        seen.add(id(obj))
        if isinstance(obj, (Tree, TreePredictor)):
            if width is None:
                raise UntrustedModelError(f"{path}: {where} is a tree outside any tree estimator")
            (_check_tree if isinstance(obj, Tree) else _check_predictor)(obj, width, f"{path}: {where}")
            continue
        if width is None and isinstance(obj, (BaseEnsemble, BaseDecisionTree, HistGradientBoostingClassifier,
                                              HistGradientBoostingRegressor)):
            width = _width(obj)
        if isinstance(obj, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
            mapper = hist_gbdt_bin_mapper(obj)
            for name, owner in (("is_categorical_", obj), ("_bin_mapper.is_categorical_", mapper)):
                flags = getattr(owner, "is_categorical_", None)
                if flags is not None and np.asarray(flags).any():
                    raise UntrustedModelError(f"{path}: {where}.{name} marks categorical features, which medsweep "
                                              "never trains")
        if isinstance(obj, dict):
            stack.extend((v, width, f"{where}[{k!r}]") for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            stack.extend((v, width, f"{where}[{i}]") for i, v in enumerate(obj))
        elif hasattr(obj, "__dict__"):
            stack.extend((v, width, f"{where}.{k}") for k, v in vars(obj).items())
            if isinstance(obj, BaseDecisionTree) and hasattr(obj, "tree_"):
                stack.append((obj.tree_, width, f"{where}.tree_"))


def load_model(path: str | Path) -> Any:
    """Load a model saved by medsweep (a scikit-learn Pipeline) in this process; call
    ``.predict``/``.predict_proba`` on a DataFrame with the training columns. Raises
    :class:`UntrustedModelError` (one line) for any file it cannot safely use. A file from elsewhere is
    better used through :class:`ModelProcess`, which also survives what no check rules out."""
    import skops.io as sio

    untrusted = check_archive(path)
    try:
        model = sio.load(path, trusted=untrusted)
    except RecursionError:
        raise UntrustedModelError(f"{path} is not a model file saved by medsweep: it is nested too deeply") from None
    except (MemoryError, Exception) as exc:  # noqa: BLE001 - any failure to build it: the file is malformed
        raise UntrustedModelError(f"{path} is not a model file saved by medsweep: building it failed "
                                  f"({error_line(exc)})") from None
    try:
        check_fitted(model, path)
    except UntrustedModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - an object of a trusted type in a shape no fit leaves
        raise UntrustedModelError(f"{path} is not a model file saved by medsweep: checking its trees failed "
                                  f"({error_line(exc)})") from None
    return model

