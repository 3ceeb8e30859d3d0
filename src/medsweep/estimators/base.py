"""The contract every estimator fulfils, and the registry that finds one by its config name.

An estimator class owns, in one place: its hyperparameters' types (``Params``, registered as the
``schema/estimator/<name>`` structured config; their values live in ``conf/estimator/<name>.yaml``), their
allowed ranges, how it is built for a task, seed and thread count, what one epoch is and how it is
trained epoch by epoch, which trainer settings it uses, and which types its fitted models hold (trusted
when a model file is loaded). Nothing outside its module branches on its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional, Sequence

import numpy as np

# Called after every epoch with the epoch number (from 1) and the model's outputs on each watched set.
AfterEpoch = Callable[[int, list], None]

TRAINER_SETTINGS = ("epochs", "batch_size")

REGISTRY: dict[str, type["Estimator"]] = {}


def estimator_class(name: str) -> type["Estimator"]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"estimator.name={name!r} is not allowed: must be one of {', '.join(REGISTRY)}") from None


@dataclass(frozen=True)
class Rule:
    """An allowed range: ``ok(value)`` and the words for what is allowed."""

    ok: Callable[[Any], bool]
    allowed: str


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def greater_than(low: float) -> Rule:
    return Rule(lambda v: _number(v) and v > low, f"must be > {low:g} (a finite number)")


def at_least(low: float, null: bool = False) -> Rule:
    if null:
        return Rule(lambda v: v is None or (_number(v) and v >= low), f"must be null or >= {low:g}")
    return Rule(lambda v: _number(v) and v >= low, f"must be >= {low:g} (a finite number)")


def at_most(high: float) -> Rule:
    return Rule(lambda v: _number(v) and v <= high, f"must be <= {high:g}")


def between(low: float, high: float) -> Rule:
    """low < v <= high"""
    return Rule(lambda v: _number(v) and low < v <= high, f"must be > {low:g} and <= {high:g}")


def one_of(*values: Any) -> Rule:
    words = ", ".join("null" if v is None else repr(v) if isinstance(v, str) else str(v) for v in values)
    return Rule(lambda v: v in values, f"must be one of {words}")


CLASS_WEIGHT = one_of(None, "balanced")


@dataclass(frozen=True)
class SavedText:
    """Text in the saved state of one of an estimator's ``saved_types`` that its library parses itself, in a
    format of its own and without bounds checks (LightGBM's model text, XGBoost's JSON model). A model file
    is checked before anything in it is built (learn/model_archive.py): ``check(text)`` raises ValueError
    saying what is malformed, and the file is refused as holding a malformed ``what``."""

    kind: str                     # the saved type whose state holds it (one of saved_types)
    attributes: tuple[str, ...]   # the keys of its saved state that may hold the text
    what: str                     # its name in a refusal, e.g. "LightGBM model"
    check: Callable[[str], None]


class Estimator:
    """One estimator config. Subclasses set the class attributes and :meth:`build`; estimators trained
    epoch by epoch also override :meth:`fit`."""

    name: ClassVar[str]
    Params: ClassVar[type]                  # dataclass: hyperparameter names and types
    rules: ClassVar[Mapping[str, Rule]] = {}  # allowed ranges, checked before any job starts
    epoch: ClassVar[Optional[str]] = None   # what one epoch (trainer.epochs) is; None: fitted in one go
    uses: ClassVar[tuple[str, ...]] = ()    # the trainer settings (TRAINER_SETTINGS) it uses
    saved_types: ClassVar[tuple[str, ...]] = ()  # types in its fitted models (beyond preprocessing)
    saved_texts: ClassVar[tuple[SavedText, ...]] = ()  # text in them that its library parses unchecked
    package: ClassVar[str] = "scikit-learn"  # the distribution it comes from (its version goes in metrics.json)
    optional: ClassVar[bool] = False  # package is an optional extra: recorded only by the jobs that train it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.name] = cls

    def __init__(self, params: Mapping[str, Any], task: str, seed: int, n_threads: int = 1, epochs: int = 1,
                 batch_size: int = 32):
        self.params, self.task, self.seed, self.n_threads = params, task, seed, n_threads
        self.epochs, self.batch_size = epochs, batch_size
        self.classification = task == "classification"

    @classmethod
    def range_errors(cls, params: Mapping[str, Any]) -> list[str]:
        """One message per hyperparameter outside its range (empty when all are allowed)."""
        errors = []
        for key, rule in cls.rules.items():
            value = params.get(key)
            if not rule.ok(value):
                errors.append(f"estimator.{key}={value!r} is not allowed: {rule.allowed}")
        return errors

    @classmethod
    def threads(cls, params: Mapping[str, Any], n_rows: int, share: int) -> int:
        """Threads for one fit, out of the job's CPU ``share``: threads only pay on enough work (on a
        small cohort they make a fit slower). Here: one (single-threaded estimators)."""
        return 1

    @classmethod
    def unused_settings(cls) -> list[str]:
        return [s for s in TRAINER_SETTINGS if s not in cls.uses]

    def build(self) -> Any:
        """The unfitted model (scikit-learn API) for this task."""
        raise NotImplementedError

    def output(self, model: Any, X: Any) -> np.ndarray:
        """Class probabilities (classification) or predictions (regression)."""
        return model.predict_proba(X) if self.classification else model.predict(X)

    def fit(self, model: Any, X: Any, y: np.ndarray, classes: Optional[list], watch: Sequence[Any],
            after_epoch: AfterEpoch) -> Any:
        """Fit ``model`` on the preprocessed training fold; after every epoch call ``after_epoch`` with the
        model's outputs on each of ``watch``. Returns the fitted model. Here: fitted in one go, one epoch."""
        model.fit(X, y)
        after_epoch(1, [self.output(model, Z) for Z in watch])
        return model

    def deployable(self, pipeline: Any) -> Any:
        """The model that predicts, from the fitted preprocessing + estimator pipeline."""
        return pipeline
