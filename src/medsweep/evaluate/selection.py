"""The winner's real score: bootstrap bias-corrected cross-validation (BBC-CV; Tsamardinos, Greasidou &
Borboudakis 2018, Machine Learning 107:1895).

The best of C configurations scored on the same folds that picked it is optimistic: with many equally good
configurations the maximum of their noisy scores is above each one's true score. BBC-CV corrects that from
the out-of-fold predictions alone, without retraining: pool the C configurations' out-of-fold predictions of
the same rows (N rows x C); on each bootstrap sample of patients (all their rows, of every repeat) pick the
configuration that scores best on the sample, and score that configuration on the patients left out of the
sample (out-of-bag). The mean of those out-of-bag scores is the estimate of the selected configuration's
performance; their percentiles give an interval.

Selection on each sample uses the pooled metric of the in-bag rows: the same figure the leaderboard ranks by
(summarize.py, compare.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Hashable, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from medsweep.evaluate.bootstrap import bootstrap_weights, percentile_interval, resample_scorer
from medsweep.record.outputs import read_csv

METHOD = ("BBC-CV (Tsamardinos et al. 2018): the best configuration picked on each bootstrap sample of patients "
          "of the pooled out-of-fold predictions, scored on the patients out of that sample; mean and percentiles")
DEFAULT_N_BOOT = 1000
PREDICTIONS_FILE = "predictions.csv"


def bbc_cv(y_true, outs: Sequence, classes, task: str, metric: str, *, greater_is_better: bool = True,
           groups=None, n_boot: int = DEFAULT_N_BOOT, seed: int = 0, level: float = 0.95,
           threshold=None, weights: Optional[np.ndarray] = None) -> dict:
    """BBC-CV of C configurations scored on the same rows.

    ``outs``: one prediction array per configuration, each as the pooled metrics take it (classification:
    rows x classes probabilities; regression: predicted values); ``groups``: the patient of each row (all
    rows of a patient, of every repeat, are drawn together), None: each row is a patient. ``weights``:
    the in-bag samples as a (samples x rows) matrix of draw counts (for tests; default: ``n_boot`` samples of
    medsweep's patient bootstrap with ``seed``). Ties in the in-bag score go to the first configuration.

    Returns {"estimate", "lower", "upper", "level", "n_boot", "n_valid" (samples whose selected configuration
    has a defined out-of-bag score), "selected" (times each configuration was picked, by index),
    "configurations" (C), "method"}. estimate/lower/upper are None when no sample gives a score.
    """
    if len(outs) < 1:
        raise ValueError("bbc_cv needs the predictions of at least one configuration")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")
    n = len(y_true)
    for i, out in enumerate(outs):
        if len(out) != n:
            raise ValueError(f"configuration {i} has predictions for {len(out)} rows; y_true has {n}")
    if weights is None:
        chunks: Iterable[np.ndarray] = bootstrap_weights(n, groups, n_boot, seed)
    else:
        weights = np.atleast_2d(np.asarray(weights, dtype=float))
        if weights.shape[1] != n:
            raise ValueError(f"weights has {weights.shape[1]} columns for {n} rows")
        chunks = [weights]
    sign = 1.0 if greater_is_better else -1.0
    # Prepared once, not per chunk; only the selection metric is computed (it may be one a job does not report).
    scorers = [resample_scorer(y_true, out, classes, task, threshold, [metric]) for out in outs]
    scores, picks = [], []
    for W in chunks:
        out_of_bag = (W == 0).astype(float)
        inbag = np.column_stack([score(W)[metric] for score in scorers])
        # Undefined in-bag scores (a class absent) never win; a sample where all are undefined is dropped.
        ranked = np.where(np.isfinite(inbag), sign * inbag, -np.inf)
        best = np.argmax(ranked, axis=1)  # the first of equal scores
        oob = np.full(len(W), np.nan)
        for c in np.unique(best):
            rows = best == c
            oob[rows] = scorers[c](out_of_bag[rows])[metric]
        oob[~np.isfinite(inbag).any(axis=1)] = np.nan
        scores.append(oob)
        picks.append(best)
    scores, picks = np.concatenate(scores), np.concatenate(picks)
    valid = np.isfinite(scores)
    out = {"estimate": None, "lower": None, "upper": None, "level": level, "n_boot": int(len(scores)),
           "n_valid": int(valid.sum()), "configurations": len(outs),
           "selected": {int(c): int((picks[valid] == c).sum()) for c in range(len(outs))}, "method": METHOD}
    if valid.any():
        interval = percentile_interval(scores, level)
        out.update(estimate=float(scores[valid].mean()), lower=interval["lower"], upper=interval["upper"])
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of m p-values (family-wise error): the i-th smallest p becomes
    max over j <= i of min(1, (m - j + 1) p_(j)); the values come back in the input order."""
    p = [float(x) for x in p_values]
    m = len(p)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda k: p[k])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


# -- a group of jobs, from their files -----------------------------------------------------------------------

def _outputs(frame: pd.DataFrame, classes: list, task: str) -> np.ndarray:
    if task == "classification":
        return frame[[f"proba_{c}" for c in classes]].to_numpy(dtype=float)
    return frame["y_pred"].to_numpy(dtype=float)


def read_group_predictions(job_dirs: Mapping[Hashable, Path], records: Mapping[Hashable, Mapping]):
    """(y_true, outs, patients, classes, task) of jobs scored on the same data and folds, from their
    predictions.csv, rows aligned on (repeat, row). Raises ValueError naming the job and file when a file is
    missing or its rows, truths or patients differ from the first job's."""
    first = next(iter(records.values()))
    task = first.get("task")
    classes = [str(c) for c in first.get("classes") or []]
    if task not in ("classification", "regression") or (task == "classification" and not classes):
        raise ValueError(f"records no usable task/classes (task {task!r}, classes {classes!r})")
    base, outs = None, []
    for job, job_dir in job_dirs.items():
        path = Path(job_dir) / PREDICTIONS_FILE
        try:
            frame = read_csv(path, dtype={"y_true": str, "patient": str} if task == "classification"
                                else {"patient": str}, keep_default_na=False)
        except FileNotFoundError:
            raise ValueError(f"job {job}: no {PREDICTIONS_FILE} in {job_dir}") from None
        keys = [c for c in ("repeat", "row") if c in frame.columns]
        if "row" not in keys:
            raise ValueError(f"job {job}: {path} has no `row` column")
        frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        try:
            out = _outputs(frame, classes, task)
        except KeyError as exc:
            raise ValueError(f"job {job}: {path} lacks a prediction column ({exc})") from None
        if base is None:
            base = frame
        elif (len(frame) != len(base) or not frame[keys].equals(base[keys])
              or not frame["y_true"].equals(base["y_true"]) or not frame["patient"].equals(base["patient"])):
            raise ValueError(f"job {job}: {path} holds other rows, truths or patients than job "
                             f"{next(iter(job_dirs))}'s, though both record the same data and folds")
        outs.append(out)
    y = base["y_true"].to_numpy() if task == "classification" else base["y_true"].to_numpy(dtype=float)
    return y, outs, base["patient"].to_numpy(), classes, task


def group_estimate(job_dirs: Mapping[Hashable, Path], records: Mapping[Hashable, Mapping],
                   n_boot: Optional[int] = None, seed: Optional[int] = None) -> dict:
    """BBC-CV of the jobs of one comparison group (same data, folds and primary metric; compare.py), read
    from their predictions.csv. ``n_boot``/``seed``: default the jobs' own bootstrap settings
    (metrics.json evaluation.interval), else 1000 and 0. Returns bbc_cv's dict with "jobs" (the group's
    job ids, in the order of ``selected``) and "selected" keyed by job id."""
    jobs = list(job_dirs)
    first = records[jobs[0]]
    interval = (first.get("evaluation") or {}).get("interval") or {}
    n_boot = n_boot or interval.get("n_boot") or DEFAULT_N_BOOT
    seed = interval.get("seed", 0) if seed is None else seed
    y, outs, patients, classes, task = read_group_predictions(job_dirs, records)
    res = bbc_cv(y, outs, classes, task, first["primary_metric"],
                 greater_is_better=bool(first.get("greater_is_better", True)), groups=patients,
                 n_boot=int(n_boot), seed=int(seed))
    res["selected"] = {jobs[i]: n for i, n in res["selected"].items()}
    res["jobs"] = jobs
    return res
