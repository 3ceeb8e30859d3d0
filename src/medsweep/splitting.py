"""Cross-validation folds: stratified for classification, grouped by patient wherever there is one."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from medsweep.data import Dataset, DataError


class Splits(list):
    """(train indices, test indices) per fold, and the name of the splitter that made them."""

    def __init__(self, folds: list[tuple[np.ndarray, np.ndarray]], splitter: str):
        super().__init__(folds)
        self.splitter = splitter


def make_splitter(task: str, folds: int, seed: int, grouped: bool):
    """The one place the splitter is chosen: stratified for classification, grouped by patient."""
    if task == "classification":
        cls = StratifiedGroupKFold if grouped else StratifiedKFold
    else:
        cls = GroupKFold if grouped else KFold
    return cls(n_splits=folds, shuffle=True, random_state=seed)


def check_folds(data: Dataset, folds: int) -> None:
    """Fail early, with the numbers, when a fold could not hold every class."""
    units = data.groups if data.groups is not None else data.y.index.to_series()
    what = what_of(data)
    if data.task == "classification":
        per_class = units.groupby(data.y.to_numpy()).nunique()
        smallest, count = per_class.idxmin(), int(per_class.min())
        if count < 2:
            raise DataError(f"class {str(smallest)!r} of {data.target!r} has a single {what[:-1]}: "
                            "cross-validation needs at least 2 per class; merge it with data.positive or add data")
        if count < folds:
            raise DataError(f"trainer.folds={folds} but class {str(smallest)!r} of {data.target!r} has only "
                            f"{count} {what}: every test fold needs one; use trainer.folds<={count}")
    elif units.nunique() < folds:
        raise DataError(f"trainer.folds={folds} but the data has only {units.nunique()} {what}; "
                        f"use trainer.folds<={units.nunique()}")


def split(data: Dataset, folds: int, seed: int) -> Splits:
    """(train indices, test indices) per fold; no patient is ever on both sides."""
    check_folds(data, folds)
    grouped = data.groups is not None
    splitter = make_splitter(data.task, folds, seed, grouped)
    splits = list(splitter.split(data.X, data.y, groups=data.groups if grouped else None))
    if data.task == "classification":
        # Grouping can leave a class out of a test fold even with enough patients per class.
        y = data.y.to_numpy()
        for fold, (_, test) in enumerate(splits):
            absent = [c for c in data.classes if not (y[test] == c).any()]
            if absent:
                raise DataError(f"with trainer.folds={folds} and seed={seed}, test fold {fold} holds no "
                                f"{what_of(data)} of class(es) {[str(c) for c in absent]} of {data.target!r}: "
                                "use fewer folds or another seed")
    return Splits(splits, type(splitter).__name__)


def what_of(data: Dataset) -> str:
    return "patients" if data.groups is not None else "rows"
