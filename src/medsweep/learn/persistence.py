"""Saving and loading fitted models with skops.

A model file from elsewhere is untrusted input, checked in three steps before it predicts anything:

1. The archive and its schema (:func:`check_archive`), before skops reads an array: every type is one
   medsweep's pipelines are made of (the preprocessing's and each estimator's own, beside their code) and is
   rebuilt the way skops saves it (so no type is called with arguments the file chooses: no
   ``Booster(model_file=...)``, no ``list(bytes(10**9))``); every array's declared shape and dtype match its
   bytes in the archive, each is read once, and the members expand to at most ``MAX_EXPANSION`` times the
   file (no zip bomb). skops never unpickles, but a trusted callable inside a model would still run when it
   predicts, so a file holding any other type is refused naming it.
2. The fitted trees (:func:`check_fitted`), before they predict: scikit-learn indexes their node arrays
   without bounds checks, so every child index must be in range (or a leaf), every split feature below the
   estimator's input width, and no node reachable twice (no cycles).
3. What no check can rule out (LightGBM parses its own model text in C++; memory a valid-looking model
   needs) is contained by :class:`ModelProcess`: the model is loaded and used in a child process under an
   address-space and a time limit, so a bad file ends in one line (:class:`UntrustedModelError`), never in
   a crash or a hang of the caller.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from medsweep.record.outputs import atomic_path

# skops, scikit-learn and the estimators are imported where a model is saved or loaded: a process that only
# hands a model file to a ModelProcess (medsweep predict) does not import them (1.5 s).

# Containers, scalars and arrays inside any fitted pipeline.
VALUE_TYPES = (
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.slice", "builtins.str",
    "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType", "builtins.bytes",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
    "numpy.uint64", "numpy.bool_", "numpy.str_",
)

# How skops rebuilds each kind of node, for the nodes medsweep's files hold (every estimator x task x
# feature kind, tests/test_model_files.py): loader -> the types it may rebuild (None: any trusted type that
# is not a container, scalar or array, which have loaders of their own). ObjectNode sets a new instance's
# state without calling its constructor. Absent on purpose:
# ConstructorFromReduceNode (calls a type with arguments from the file), BytesNode, FunctionNode,
# PartialNode, MethodNode, OperatorFuncNode.
LOADERS: dict[str, Optional[frozenset[str]]] = {
    "DictNode": frozenset({"builtins.dict"}), "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}), "SetNode": frozenset({"builtins.set"}),
    "SliceNode": frozenset({"builtins.slice"}),
    "JsonNode": frozenset(t for t in VALUE_TYPES if t.startswith("builtins.")),
    "DefaultDictNode": frozenset({"collections.defaultdict"}),
    "NdArrayNode": frozenset(t for t in VALUE_TYPES if t.startswith("numpy.")), "DTypeNode": frozenset({"numpy.dtype"}),
    "RandomGeneratorNode": frozenset({"numpy.random._generator.Generator"}),
    "RandomStateNode": frozenset({"numpy.random.mtrand.RandomState"}),
    # Rebuilt by calling the type with the file's arguments: only these types, with numbers as arguments.
    "TreeNode": frozenset({"sklearn.tree._tree.Tree"}),
    "LossNode": frozenset({"sklearn._loss._loss.CyHalfBinomialLoss", "sklearn._loss._loss.CyHalfMultinomialLoss",
                           "sklearn._loss._loss.CyHalfSquaredError"}),
    # A type itself, not an instance (a dtype parameter, LightGBM's dict type): only these.
    "TypeNode": frozenset({*VALUE_TYPES, "collections.OrderedDict", "collections.defaultdict"}),
    "ObjectNode": None, "CachedNode": None,
}
CALLED_WITH_ARGUMENTS = ("TreeNode", "LossNode")
# Loaders that may appear in a called type's arguments: data only.
DATA_LOADERS = frozenset({"TupleNode", "ListNode", "JsonNode", "NdArrayNode", "DTypeNode"})
# The archive's members together may be at most this many times the file's size (medsweep writes them
# uncompressed: about 1x; the zip bomb of issue 22 was 2,000x).
MAX_EXPANSION = 10
# Limits of the child process that loads and uses a model from outside the sweep (ModelProcess); the
# command-line defaults of `medsweep predict`.
MEMORY_MB = 8192
TIMEOUT_S = 600


class UntrustedModelError(ValueError):
    """A model file medsweep cannot safely use: a type its pipelines are not made of, a malformed archive or
    node array, or a file that crashed, exhausted or outlasted the process using it (one line)."""


def trusted_types() -> frozenset[str]:
    from medsweep.estimators import REGISTRY
    from medsweep.preprocess import SAVED_TYPES as PREPROCESSING_TYPES

    return frozenset((*VALUE_TYPES, *PREPROCESSING_TYPES, *(t for e in REGISTRY.values() for t in e.saved_types)))


def save_model(model: Any, path: Path) -> None:
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(model, tmp)


# -- 1. the archive and its schema ------------------------------------------------------------------------

def _nodes(schema: Any):
    """Every node of a skops schema (the dicts with a ``__loader__``); iterative, so a deeply nested file
    cannot exhaust the stack here."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__loader__" in node:
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _types_in(schema: Any) -> set[str]:
    """Every type named in a skops file's schema (skops' own audit only names those it does not trust)."""
    found = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _check_npy(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """The array's header (shape, dtype) accounts for exactly its bytes in the archive."""
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"numpy format {version}")
        header = f.tell()
    if dtype.hasobject:
        raise ValueError(f"an array of Python objects ({dtype})")
    if math.prod(shape) * dtype.itemsize != info.file_size - header:
        raise ValueError(f"an array declared {shape} {dtype} in {info.file_size - header} bytes")


# A LightGBM tree's arrays, by length: one per split (num_leaves - 1) or one per leaf.
_SPLIT_ARRAYS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child",
                 "internal_value", "internal_weight", "internal_count")
_LEAF_ARRAYS = ("leaf_value", "leaf_weight", "leaf_count")


def _numbers(text: str, kind: type, what: str) -> list:
    try:
        return [kind(token) for token in text.split()]
    except ValueError:
        raise ValueError(f"{what} is not a list of {kind.__name__}s") from None


def check_lightgbm_text(text: str) -> None:
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
        what = f"tree {i}"
        fields: dict[str, str] = {}
        for line in text[a:b].splitlines()[1:]:
            if line.strip():
                key, sep, value = line.partition("=")
                if not sep or key in fields:
                    raise ValueError(f"{what} has a malformed or repeated line {line[:40]!r}")
                fields[key] = value
        leaves = _numbers(fields.get("num_leaves", ""), int, f"{what}'s num_leaves")
        if len(leaves) != 1 or leaves[0] < 1:
            raise ValueError(f"{what}'s num_leaves is missing or below 1")
        leaves = leaves[0]
        if fields.get("num_cat", "0").strip() != "0" or fields.get("is_linear", "0").strip() != "0":
            raise ValueError(f"{what} has categorical splits or linear leaves, which medsweep never trains")
        _numbers(fields.get("shrinkage", "1"), float, f"{what}'s shrinkage")
        for key in _SPLIT_ARRAYS + _LEAF_ARRAYS:
            if key not in fields and (leaves > 1 or key in _LEAF_ARRAYS[:1]) and key in (
                    "split_feature", "threshold", "decision_type", "left_child", "right_child", "leaf_value"):
                raise ValueError(f"{what} has no {key}")
            if key in fields:
                n = leaves if key in _LEAF_ARRAYS else leaves - 1
                kind = int if key in ("split_feature", "decision_type", "left_child", "right_child",
                                      "internal_count", "leaf_count") else float
                values = _numbers(fields[key], kind, f"{what}'s {key}")
                if len(values) != n:
                    raise ValueError(f"{what} has {len(values)} {key} values for {n}")
        if leaves == 1:
            continue
        left = np.array(_numbers(fields["left_child"], int, ""), dtype=np.int64)
        right = np.array(_numbers(fields["right_child"], int, ""), dtype=np.int64)
        decision = np.array(_numbers(fields["decision_type"], int, ""), dtype=np.int64)
        if ((decision < 0) | (decision > 255) | (decision & 1 == 1)).any():
            raise ValueError(f"{what} has a decision_type outside 0..255 or a categorical split")
        # Children: an internal node n >= 0, or leaf ~n (-1 is leaf 0). Every node but the root and every
        # leaf is the child of exactly one node: no cycles, nothing unreachable.
        children = np.concatenate([left, right])
        inner, leaf = children[children >= 0], ~children[children < 0]
        if (inner < 1).any() or (inner >= leaves - 1).any() or (leaf >= leaves).any() \
                or len(np.unique(inner)) != leaves - 2 or len(np.unique(leaf)) != leaves:
            raise ValueError(f"{what}'s children are out of range or not a tree")
        features = np.array(_numbers(fields["split_feature"], int, ""), dtype=np.int64)
        if (features < 0).any() or (features >= width).any():
            raise ValueError(f"{what} splits on a feature outside the model's {width}")


def _lightgbm_text(node: dict) -> Optional[str]:
    """The model text inside a Booster's schema node (its state's ``_handle``), None where it has none."""
    state = node.get("content")
    if not isinstance(state, dict) or state.get("__loader__") != "DictNode":
        raise ValueError("a Booster without its state")
    entries = state.get("content") or {}
    for key in ("_handle", "handle"):
        entry = entries.get(key)
        if isinstance(entry, dict):
            if entry.get("__loader__") != "JsonNode":
                raise ValueError(f"a Booster whose {key} is not text")
            text = json.loads(entry.get("content", "null"))
            if text is not None and not isinstance(text, str):
                raise ValueError(f"a Booster whose {key} is not text")
            return text
    return None


def check_archive(path: str | Path) -> list[str]:
    """Refuse (:class:`UntrustedModelError`) a file that is not a skops archive as medsweep writes them (see
    the module's docstring, step 1), before any of it is built; the types it holds that skops itself does not
    trust (to pass to ``skops.io.load``)."""
    import skops.io as sio

    def refuse(why: str) -> UntrustedModelError:
        return UntrustedModelError(f"{path} is not a model file saved by medsweep: {why}")

    try:
        size = os.path.getsize(path)
        with zipfile.ZipFile(path) as archive:
            members = {i.filename: i for i in archive.infolist()}
            expanded = sum(i.file_size for i in members.values())
            if expanded > MAX_EXPANSION * size:
                raise refuse(f"its {len(members)} members expand to {expanded} bytes, more than {MAX_EXPANSION} "
                             f"times the file's {size} (a zip bomb?)")
            schema = json.loads(archive.read("schema.json"))
            foreign = sorted(_types_in(schema) - trusted_types())
            if foreign:
                raise UntrustedModelError(f"{path} holds types medsweep does not trust, so it was not loaded: "
                                          f"{', '.join(foreign)}")
            checked = set()
            for node in _nodes(schema):
                loader, kind = node["__loader__"], f"{node.get('__module__')}.{node.get('__class__')}"
                if loader not in LOADERS:
                    raise refuse(f"it rebuilds {kind} with skops' {loader}, which medsweep never saves")
                allowed = LOADERS[loader]
                if allowed is not None and kind not in allowed:
                    raise refuse(f"it rebuilds {kind} with skops' {loader}, which rebuilds only "
                                 f"{', '.join(sorted(allowed))}")
                if loader == "ObjectNode" and kind.split(".")[0] in ("builtins", "numpy"):
                    raise refuse(f"it rebuilds {kind} with skops' {loader}, not with the loader of its own")
                if loader in CALLED_WITH_ARGUMENTS:
                    arguments = (node.get("__reduce__") or {}).get("args")
                    bad = sorted({n["__loader__"] for n in _nodes(arguments)} - DATA_LOADERS)
                    bad += [f"text {n.get('content', '')[:40]}" for n in _nodes(arguments)
                            if n["__loader__"] == "JsonNode" and not _is_number_json(n.get("content"))]
                    if not isinstance(arguments, dict) or bad:
                        raise refuse(f"the arguments {kind} is called with are not numbers or arrays of numbers "
                                     f"({', '.join(bad) or 'none given'})")
                if loader == "ObjectNode" and kind == "lightgbm.basic.Booster":
                    try:
                        text = _lightgbm_text(node)
                        if text is not None:
                            check_lightgbm_text(text)
                    except ValueError as exc:
                        raise refuse(f"its LightGBM model is malformed: {exc}") from None
                if loader == "NdArrayNode" and node.get("type") == "numpy":
                    name = node.get("file")
                    if name not in members:
                        raise refuse(f"an array names member {name!r}, which is not in the archive")
                    # Each reference reads the member again: the total read is bounded, not each.
                    expanded += members[name].file_size
                    if expanded > MAX_EXPANSION * size:
                        raise refuse(f"its arrays, as its schema reads them, expand to more than {MAX_EXPANSION} "
                                     f"times the file's {size} bytes")
                    if name not in checked:
                        try:
                            _check_npy(archive, members[name])
                        except ValueError as exc:
                            raise refuse(f"its member {name} holds {exc}") from None
                        checked.add(name)
        untrusted = sio.get_untrusted_types(file=path)
        foreign = sorted(set(untrusted) - trusted_types())
        if foreign:
            raise UntrustedModelError(f"{path} holds types medsweep does not trust, so it was not loaded: "
                                      f"{', '.join(foreign)}")
        return untrusted
    except UntrustedModelError:
        raise
    except RecursionError:
        raise refuse("its schema is nested too deeply") from None
    except OSError as exc:
        raise UntrustedModelError(f"{path} cannot be read: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 - not a zip, no schema, a schema of the wrong shape: one line
        raise refuse(f"not a skops archive as medsweep writes them ({_one_line(exc)})") from None


def _is_number_json(content: Any) -> bool:
    """A JsonNode's content that is a number (never a path or other text)."""
    try:
        value = json.loads(content)
    except (TypeError, ValueError):
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    """Refuse a loaded model whose trees could make scikit-learn read outside its arrays (module docstring,
    step 2). The width a tree's features must stay below is that of the outermost estimator holding it,
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
                                  f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
    try:
        check_fitted(model, path)
    except UntrustedModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - an object of a trusted type in a shape no fit leaves
        raise UntrustedModelError(f"{path} is not a model file saved by medsweep: checking its trees failed "
                                  f"({_one_line(exc)})") from None
    return model


# -- 3. a model in a child process ------------------------------------------------------------------------

def model_info(model: Any) -> dict:
    """What a caller needs to know of a loaded pipeline without holding it: its classes, its input
    columns, and the text (one-hot encoded) ones among them (preprocess.py: the "categorical" step)."""
    pipeline = getattr(model, "regressor_", model)  # MLP regression wraps the pipeline
    text: list = []
    steps = getattr(pipeline, "named_steps", {})
    for name, _, columns in getattr(steps.get("preprocess"), "transformers_", []) if "preprocess" in steps else []:
        if name == "categorical":
            text.extend(str(c) for c in columns)
    names = getattr(pipeline, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    return {"classes": None if classes is None else [str(c) for c in classes],
            "features": None if names is None else [str(c) for c in names], "text": text}


def _frame(stream: Any, limit: int) -> Optional[bytes]:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    if n > limit:
        raise ValueError(f"a message of {n} bytes (at most {limit} expected)")
    data = stream.read(n)
    if len(data) < n:
        return None
    return data


def _send(stream: Any, header: dict, array: Optional[np.ndarray] = None) -> None:
    data = json.dumps(header).encode()
    stream.write(struct.pack("<Q", len(data)) + data)
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        stream.write(struct.pack("<Q", buffer.tell()) + buffer.getvalue())
    stream.flush()


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _serve(path: str, memory_mb: int) -> None:
    """The child: load under the memory limit, say what the model is, then answer requests (a pickled
    ``(method, frame)`` from the parent, trusted) with plain JSON and .npy bytes (never a pickle: once the
    model is loaded this process is not trusted)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    parent = os.getppid()

    def end_with_the_parent() -> None:  # a model that hangs must not outlive a caller killed meanwhile
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=end_with_the_parent, daemon=True).start()
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        model = load_model(path)
        info = model_info(model)
    except UntrustedModelError as exc:
        _send(out, {"error": str(exc)})
        sys.exit(2)
    except (MemoryError, Exception) as exc:  # noqa: BLE001 - one line to the parent, whatever it was
        _send(out, {"error": f"{path} could not be loaded ({_one_line(exc)})"})
        sys.exit(2)
    _send(out, {"info": info})
    requests = sys.stdin.buffer
    while True:
        data = _frame(requests, 1 << 40)
        if data is None:
            return
        method, frame = pickle.loads(data)
        try:
            result = np.asarray(getattr(model, method)(frame))
            if result.dtype.kind not in "fiub":
                raise TypeError(f"{method} gave {result.dtype} values, not numbers")
            _send(out, {"ok": True}, result)
        except (MemoryError, Exception) as exc:  # noqa: BLE001
            _send(out, {"error": f"{path} failed to {method} ({_one_line(exc)})"})


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


class ModelProcess:
    """A model file loaded and used in a child process limited to ``memory_mb`` of address space and
    ``timeout_s`` per step (loading, each call): ``predict_proba(X)``/``predict(X)`` return the child's
    arrays, ``info`` what :func:`model_info` says. Whatever the file does (refused by the checks, an
    exception, a crash by a signal, exhausted memory, a hang), the caller gets one
    :class:`UntrustedModelError`. Use it as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path, memory_mb: int = MEMORY_MB, timeout_s: float = TIMEOUT_S):
        self.path, self.timeout_s = Path(path), timeout_s
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])  # this medsweep, whatever sys.path says
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("MALLOC_ARENA_MAX", "2")  # address space per thread stays small under the limit
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c",
                 f"from medsweep.learn.persistence import _serve; _serve({str(self.path)!r}, {int(memory_mb)})"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        except OSError as exc:
            raise UntrustedModelError(f"{self.path}: the process to load it could not start "
                                      f"({exc.strerror or exc})") from None
        info = self._answer(1 << 24, "loading it").get("info")
        described = isinstance(info, dict) and _texts(info.get("text")) and all(
            info.get(k) is None or _texts(info.get(k)) for k in ("classes", "features"))
        if not described:
            raise self._fail("loading it", "gave no description of the model")
        self.info = info

    def _fail(self, doing: str, why: str) -> UntrustedModelError:
        self.close()
        return UntrustedModelError(f"{self.path}: {doing} {why}")

    def _read(self, n: int, deadline: float, doing: str) -> bytes:
        data = bytearray()
        pipe = self._child.stdout
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                raise self._fail(doing, f"took longer than {self.timeout_s:g} s, so it was stopped")
            chunk = os.read(pipe.fileno(), min(n - len(data), 1 << 20))
            if not chunk:
                self._child.wait()
                code = self._child.returncode
                if code < 0:
                    name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                    raise self._fail(doing, f"killed the process using it by {name}: the file is malformed, or "
                                     "needs more memory than the limit allows")
                raise self._fail(doing, f"ended the process using it (exit {code}){self._last_error()}")
            data += chunk
        return bytes(data)

    def _last_error(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read()[-4000:].decode(errors="replace").splitlines() if line.strip()]
        return f": {' '.join(lines[-1].split())[:300]}" if lines else ""

    def _answer(self, limit: int, doing: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        (n,) = struct.unpack("<Q", self._read(8, deadline, doing))
        if n > 1 << 24:
            raise self._fail(doing, f"gave an answer of {n} bytes")
        header = json.loads(self._read(n, deadline, doing))
        if not isinstance(header, dict):
            raise self._fail(doing, "gave no answer")
        if "error" in header:  # the child's words: printable characters only
            message = "".join(ch for ch in " ".join(str(header["error"]).split())[:1000] if ch.isprintable())
            self.close()
            raise UntrustedModelError(message)
        if header.get("ok"):
            (n,) = struct.unpack("<Q", self._read(8, deadline, doing))
            if n > limit:
                raise self._fail(doing, f"gave {n} bytes of predictions (at most {limit} expected)")
            try:
                header["array"] = np.load(io.BytesIO(self._read(n, deadline, doing)), allow_pickle=False)
            except ValueError as exc:
                raise self._fail(doing, f"gave no array of numbers ({exc})") from None
        return header

    def _call(self, method: str, X: Any) -> np.ndarray:
        if self._child.poll() is not None:
            raise UntrustedModelError(f"{self.path}: the process using it has ended")
        data = pickle.dumps((method, X), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._child.stdin.write(struct.pack("<Q", len(data)) + data)
            self._child.stdin.flush()
        except BrokenPipeError:
            pass  # it died: _answer says how
        n_classes = len(self.info.get("classes") or ()) or 1
        limit = 1024 + 8 * len(X) * max(n_classes, 1) * 2
        array = self._answer(limit, f"predicting with it ({method})")["array"]
        if len(array) != len(X):
            raise self._fail(method, f"gave {len(array)} predictions for {len(X)} rows")
        return array

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._call("predict_proba", X)

    def predict(self, X: Any) -> np.ndarray:
        return self._call("predict", X)

    def warnings(self) -> str:
        """What the child wrote on stderr (warnings of the libraries, as the caller would have seen them)."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        for stream in (self._child.stdin, self._child.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def __enter__(self) -> "ModelProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
        self._stderr.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass
