"""Step 1 of reading a model file from elsewhere (see medsweep.learn.persistence): the skops archive and its
schema, checked before skops builds anything in it.

Every type is one medsweep's pipelines are made of (the preprocessing's and each estimator's own, beside
their code) and is rebuilt the way skops saves it (so no type is called with arguments the file chooses: no
``Booster(model_file=...)``, no ``list(bytes(10**9))``); every array's declared shape and dtype match its
bytes in the archive, each is read once, and the members expand to at most ``MAX_EXPANSION`` times the file
(no zip bomb); text a library parses itself (an estimator's ``saved_texts``: LightGBM's model text, XGBoost's
JSON model) is checked by its estimator. skops never unpickles, but a trusted callable inside a model would
still run when it predicts, so a file holding any other type is refused naming it.

What this reads of skops' schema (its loader names, the keys of a node) is skops' file format, protocol 2:
tests/test_sklearn_compat.py checks it against the installed skops.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from medsweep.escape import one_line


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
    # IterativeImputer's rounds (preprocess.impute=iterative) are namedtuples: built from their fields alone.
    "TupleNode": frozenset({"builtins.tuple", "sklearn.impute._iterative._ImputerTriplet"}),
    "SetNode": frozenset({"builtins.set"}),
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
# The skops schema protocol these loaders were checked against (skops.io._protocol.PROTOCOL).
SKOPS_PROTOCOL = 2


class UntrustedModelError(ValueError):
    """A model file medsweep cannot safely use: a type its pipelines are not made of, a malformed archive or
    node array, or a file that crashed, exhausted or outlasted the process using it (one line)."""


def error_line(exc: BaseException) -> str:
    """An exception as one line of plain text for a refusal: its type and its first 300 characters."""
    return f"{type(exc).__name__}: {one_line(exc, 300)}"


def trusted_types() -> frozenset[str]:
    from medsweep.estimators import REGISTRY
    from medsweep.preprocess import SAVED_TYPES as PREPROCESSING_TYPES

    return frozenset((*VALUE_TYPES, *PREPROCESSING_TYPES, *(t for e in REGISTRY.values() for t in e.saved_types)))


def _saved_texts() -> dict:
    from medsweep.estimators import REGISTRY

    return {t.kind: t for e in REGISTRY.values() for t in e.saved_texts}


def _dicts(schema: Any) -> Iterator[dict]:
    """Every dict of a skops schema (nodes are the dicts with a ``__loader__``); iterative, so a deeply
    nested file cannot exhaust the stack here."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _nodes(schema: Any) -> Iterator[dict]:
    return (d for d in _dicts(schema) if "__loader__" in d)


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



def _check_text(node: dict, kind: str, saved: Any) -> None:
    """The text an estimator's ``saved_texts`` names in the state of an object of type ``kind``, checked by
    its estimator before its library parses it. Raises ValueError."""
    name = kind.rsplit(".", 1)[-1]
    state = node.get("content")
    if not isinstance(state, dict) or state.get("__loader__") != "DictNode":
        raise ValueError(f"a {name} without its state")
    entries = state.get("content") or {}
    for key in saved.attributes:
        entry = entries.get(key)
        if isinstance(entry, dict):
            if entry.get("__loader__") != "JsonNode":
                raise ValueError(f"a {name} whose {key} is not text")
            text = json.loads(entry.get("content", "null"))
            if text is not None and not isinstance(text, str):
                raise ValueError(f"a {name} whose {key} is not text")
            if text is not None:
                saved.check(text)
            return


def check_archive(path: str | Path) -> list[str]:
    """Refuse (:class:`UntrustedModelError`) a file that is not a skops archive as medsweep writes them (see
    this module's docstring), before any of it is built; the types it holds that skops itself does not
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
            dicts = list(_dicts(schema))
            trusted, texts = trusted_types(), _saved_texts()
            foreign = sorted({f"{d['__module__']}.{d['__class__']}" for d in dicts
                              if "__module__" in d and "__class__" in d} - trusted)
            if foreign:
                raise UntrustedModelError(f"{path} holds types medsweep does not trust, so it was not loaded: "
                                          f"{', '.join(foreign)}")
            checked = set()
            for node in (d for d in dicts if "__loader__" in d):
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
                if loader == "ObjectNode" and kind in texts:
                    try:
                        _check_text(node, kind, texts[kind])
                    except ValueError as exc:
                        raise refuse(f"its {texts[kind].what} is malformed: {exc}") from None
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
        foreign = sorted(set(untrusted) - trusted)
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
        raise refuse(f"not a skops archive as medsweep writes them ({error_line(exc)})") from None


def _is_number_json(content: Any) -> bool:
    """A JsonNode's content that is a number (never a path or other text)."""
    try:
        value = json.loads(content)
    except (TypeError, ValueError):
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)

