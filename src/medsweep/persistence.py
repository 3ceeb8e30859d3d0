"""Saving and loading fitted models with skops. Loading trusts exactly the types medsweep's pipelines are
made of (the preprocessing's and each estimator's own, beside their code) and refuses a file holding any
other type, naming it: skops never unpickles, but a trusted callable (``builtins.exec``, ``numpy.load``)
inside a model would still run when the model predicts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import skops.io as sio

from medsweep.estimators import REGISTRY
from medsweep.outputs import atomic_path
from medsweep.preprocess import SAVED_TYPES as PREPROCESSING_TYPES

# Containers, scalars and arrays inside any fitted pipeline.
VALUE_TYPES = (
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.slice", "builtins.str",
    "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType", "builtins.bytes",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
    "numpy.uint64", "numpy.bool_", "numpy.str_",
)


class UntrustedModelError(ValueError):
    """A model file holding a type medsweep's pipelines are not made of."""


def trusted_types() -> frozenset[str]:
    return frozenset((*VALUE_TYPES, *PREPROCESSING_TYPES, *(t for e in REGISTRY.values() for t in e.saved_types)))


def save_model(model: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        sio.dump(model, tmp)


def _types_in(node: Any, found: set[str]) -> set[str]:
    """Every type named in a skops file's schema (skops' own audit only names those it does not trust)."""
    if isinstance(node, dict):
        if "__module__" in node and "__class__" in node:
            found.add(f"{node['__module__']}.{node['__class__']}")
        for child in node.values():
            _types_in(child, found)
    elif isinstance(node, list):
        for child in node:
            _types_in(child, found)
    return found


def load_model(path: str | Path) -> Any:
    """Load a model saved by medsweep (a scikit-learn Pipeline); call ``.predict``/``.predict_proba``
    on a DataFrame with the training columns. Raises :class:`UntrustedModelError` for any other file."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UntrustedModelError(f"{path} is not a model file saved by medsweep (a skops archive): {exc}") from None
    foreign = sorted((_types_in(schema, set()) | set(untrusted)) - trusted_types())
    if foreign:
        raise UntrustedModelError(f"{path} holds types medsweep does not trust, so it was not loaded: "
                                  f"{', '.join(foreign)}")
    return sio.load(path, trusted=untrusted)
