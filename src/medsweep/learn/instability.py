"""The development procedure refitted on bootstrap samples of patients (Riley & Collins 2023, Biom J
65:2200302): the final pipeline fitted again on each of B samples drawn with replacement (patients, with all
their rows), each bootstrap model predicting every original row. The statistics are evaluate/instability.py's."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from medsweep.data.errors import DataError
from medsweep.data.prepare import Dataset
from medsweep.evaluate.bootstrap import bootstrap_weights
from medsweep.learn.training import TrainSettings, fit_final


@dataclass
class Refits:
    weights: np.ndarray      # B x rows: how often each original row is in bootstrap sample b
    risks: np.ndarray        # B x rows: bootstrap model b's predicted risk of the positive class on each row
    seconds: float           # wall time of the B refits


def bootstrap_refits(data: Dataset, spec: Any, settings: TrainSettings, n_refits: int, seed: int) -> Refits:
    """``n_refits`` bootstrap models of ``spec`` (binary classification): patients (data.groups; rows without)
    drawn with ``seed`` (bootstrap.bootstrap_weights' resamples), the pipeline fitted on each sample's rows
    (a row as often as its patient is drawn), every original row predicted by it."""
    groups = data.groups.to_numpy() if data.groups is not None else None
    weights = np.vstack(list(bootstrap_weights(len(data.y), groups, n_refits, seed)))
    y = data.y.to_numpy()
    risks = np.empty(weights.shape)
    start = time.perf_counter()
    rows = np.arange(len(y))
    for b, w in enumerate(weights):
        sample = np.repeat(rows, w.astype(int))
        if len(np.unique(y[sample])) < len(data.classes):  # a sample of one class cannot be fitted
            raise DataError(f"bootstrap sample {b} holds a single class of {data.target!r}: too few events for "
                             "eval.instability")
        model = fit_final(data.subset(sample), spec, settings)
        risks[b] = model.predict_proba(data.X)[:, 1]
    return Refits(weights=weights, risks=risks, seconds=time.perf_counter() - start)
