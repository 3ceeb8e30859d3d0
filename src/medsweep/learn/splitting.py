"""Cross-validation folds: stratified for classification, grouped by patient wherever there is one."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from medsweep.data.errors import DataError

from medsweep.data.prepare import Dataset


class Splits(list):
    """(train indices, test indices) per fold (repeat 0's folds, then repeat 1's, ...), the name of the
    splitter that made them, and how many rounds of k folds they are."""

    def __init__(self, folds: list[tuple[np.ndarray, np.ndarray]], splitter: str, repeats: int = 1):
        super().__init__(folds)
        self.splitter, self.repeats = splitter, repeats

    def fingerprint(self, rows: np.ndarray) -> str:
        """sha256 of every fold's test rows (as data rows of the source): jobs whose folds have the same
        fingerprint were scored on the same patients fold by fold, so their fold scores pair."""
        digest = hashlib.sha256(f"{len(self)} folds, {self.repeats} repeats;".encode())
        for _, test in self:
            digest.update(np.sort(rows[test]).astype(np.int64).tobytes() + b";")
        return digest.hexdigest()

    def record(self, rows: np.ndarray) -> dict:
        """What metrics.json says about the folds."""
        return {"fingerprint": self.fingerprint(rows), "folds": len(self) // self.repeats, "repeats": self.repeats,
                "n_train": [int(len(train)) for train, _ in self], "n_test": [int(len(test)) for _, test in self]}


def repeat_seed(seed: int, repeat: int) -> int:
    """The shuffling seed of one round of k folds: ``seed`` itself for the first (so one round gives the
    folds of earlier versions), a seed derived from both for the others."""
    return seed if repeat == 0 else int(np.random.SeedSequence([seed, repeat]).generate_state(1)[0])


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


def split(data: Dataset, folds: int, seed: int, repeats: int = 1) -> Splits:
    """(train indices, test indices) per fold, ``repeats`` rounds of ``folds`` folds shuffled differently;
    no patient is ever on both sides of a fold, and every patient is in one test fold per round."""
    check_folds(data, folds)
    grouped = data.groups is not None
    splits = []
    for repeat in range(repeats):
        splitter = make_splitter(data.task, folds, repeat_seed(seed, repeat), grouped)
        splits += list(splitter.split(data.X, data.y, groups=data.groups if grouped else None))
    if data.task == "classification":
        # Grouping can leave a class out of a test fold even with enough patients per class.
        y = data.y.to_numpy()
        for fold, (_, test) in enumerate(splits):
            absent = [c for c in data.classes if not (y[test] == c).any()]
            if absent:
                where = f"test {fold_label(fold, folds, repeats)}"
                raise DataError(f"with trainer.folds={folds} and seed={seed}, {where} holds no "
                                f"{what_of(data)} of class(es) {[str(c) for c in absent]} of {data.target!r}: "
                                "use fewer folds or another seed")
    return Splits(splits, type(splitter).__name__, repeats)


def inner_seed(seed: int, fold: int) -> int:
    """The shuffling seed of the inner cross-validation of outer fold ``fold`` (0-based over all repeats):
    derived from the job's seed and the fold, so every fold's inner folds differ and reruns repeat them."""
    return int(np.random.SeedSequence([seed, fold, INNER_TAG]).generate_state(1)[0])


INNER_TAG = 1  # keeps inner_seed's entropy apart from repeat_seed's ([seed, repeat])


def inner_split(data: Dataset, train: np.ndarray, folds: int, seed: int, where: str) -> list:
    """The inner cross-validation of one outer fold's training rows ``train`` (indices into ``data``), split as
    the outer folds are (stratified by class, grouped by patient): (train, test) per inner fold, as indices
    into ``data``. Classification only (it serves the threshold rules of eval.threshold); ``where`` names the
    outer fold in messages. Raises DataError, with the numbers, when an inner fold could not hold every class."""
    y = data.y.to_numpy()[train]
    groups = data.groups.to_numpy()[train] if data.groups is not None else None
    units = pd.Series(groups if groups is not None else np.arange(len(train)))
    per_class = units.groupby(y).nunique().reindex(data.classes, fill_value=0)
    smallest, count = per_class.idxmin(), int(per_class.min())
    what = what_of(data)
    if count < folds:
        remedy = (f"use eval.threshold_folds<={count}" if count >= 2 else "use a fixed eval.threshold") + \
            " or fewer trainer.folds"
        raise DataError(f"eval.threshold_folds={folds} but the training side of {where} has only {count} {what} "
                        f"of class {str(smallest)!r} of {data.target!r}: the inner cross-validation that chooses "
                        f"the threshold needs one in every inner fold; {remedy}")
    splitter = make_splitter(data.task, folds, seed, groups is not None)
    inner = [(train[tr], train[te]) for tr, te in splitter.split(np.zeros((len(y), 1)), y, groups)]
    for k, (tr, _) in enumerate(inner):
        # Grouping can leave a class out of an inner training side: its model could not predict that class.
        if len(np.unique(data.y.to_numpy()[tr])) < len(data.classes):
            raise DataError(f"with eval.threshold_folds={folds}, inner fold {k} of {where} trains on a single "
                            f"class of {data.target!r}: use fewer eval.threshold_folds or another seed")
    return inner


def fold_label(fold: int, folds: int, repeats: int) -> str:
    """How messages name fold ``fold`` (0-based over all repeats): "fold 2", or "fold 2 of repeat 1"."""
    return f"fold {fold % folds}" + (f" of repeat {fold // folds}" if repeats > 1 else "")


def what_of(data: Dataset) -> str:
    return "patients" if data.groups is not None else "rows"


def holdout_split(data: Dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(development rows, held-out rows): ``fraction`` of the patients set aside, with all their rows,
    stratified by class (a patient counts in the class of its first row) and drawn with ``seed`` (the
    data's seed: every job of a sweep holds out the same patients)."""
    patients = data.groups.to_numpy() if data.groups is not None else np.arange(len(data.y))
    first = pd.DataFrame({"patient": patients, "y": data.y.to_numpy()}).drop_duplicates("patient")
    strata = first["y"] if data.task == "classification" else pd.Series(0, index=first.index)
    rng = np.random.default_rng(seed)
    held = []
    for _, members in first.groupby(strata, sort=True):
        ids = members["patient"].to_numpy()
        take = int(round(fraction * len(ids)))
        held += list(rng.permutation(ids)[:take])
    is_held = np.isin(patients, np.asarray(held, dtype=patients.dtype))
    if not is_held.any() or is_held.all():
        raise DataError(f"trainer.holdout={fraction} sets aside {int(is_held.sum())} of {len(patients)} rows: "
                        "too few patients for a hold-out; use a larger fraction or more data")
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def site_split(data: Dataset, sites: pd.Series, key: str = "data.site") -> Splits:
    """Internal-external cross-validation (Royston et al. 2004; Steyerberg & Harrell 2016): one fold per site
    (in order of first appearance), its rows the test side and every other site's the training side. No
    patient may be in two sites (it would be on both sides). Classification: every site needs a patient of
    every class, on its own (a test side) and without it (a training side)."""
    values = pd.Series(sites).reset_index(drop=True)
    if values.isna().any():
        raise DataError(f"{key}={values.name!r} is missing in {int(values.isna().sum())} row(s): every row needs "
                        "its site; fill them in or drop those rows")
    codes, names = pd.factorize(values.astype(str))
    if len(names) < 2:
        raise DataError(f"{key}={values.name!r} holds a single site ({names[0]!r}): internal-external "
                        "cross-validation needs at least 2 sites")
    if data.groups is not None:
        per_patient = pd.Series(codes).groupby(data.groups.to_numpy()).nunique()
        shared = per_patient[per_patient > 1]
        if len(shared):
            raise DataError(f"{key}={values.name!r}: {len(shared)} patient(s) of data.group are in more than one "
                            f"site (e.g. {', '.join(map(str, shared.index[:3]))}): a patient would be on both "
                            "sides of a fold; give each patient one site")
    if data.task == "classification":
        y = data.y.to_numpy()
        for k, name in enumerate(names):
            absent = [str(c) for c in data.classes if not (y[codes == k] == c).any()]
            if absent:
                raise DataError(f"{key}={values.name!r}: site {name!r} has no {what_of(data)} of class(es) "
                                f"{absent} of {data.target!r}: its ROC-AUC and calibration are undefined; merge "
                                "it with another site")
    folds = [(np.flatnonzero(codes != k), np.flatnonzero(codes == k)) for k in range(len(names))]
    splits = Splits(folds, "LeaveOneSiteOut")
    splits.sites = [str(n) for n in names]
    return splits
