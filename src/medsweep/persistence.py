"""Saving and loading fitted models with skops: loading never runs code from the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import skops.io as sio

from medsweep.outputs import atomic_path

# Types a medsweep model is built from; anything else in a file is refused.
_TRUSTED_MODULES = ("sklearn.", "numpy.", "builtins.")


def save_model(model: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        sio.dump(model, tmp)


def load_model(path: str | Path) -> Any:
    """Load a model saved by medsweep (a scikit-learn Pipeline); call ``.predict``/``.predict_proba``
    on a DataFrame with the training columns."""
    untrusted = sio.get_untrusted_types(file=path)
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_MODULES)]
    if foreign:
        raise ValueError(f"{path} holds types medsweep does not trust: {', '.join(foreign)}")
    return sio.load(path, trusted=untrusted)
