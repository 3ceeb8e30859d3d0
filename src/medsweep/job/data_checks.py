"""What a reviewer asks of a job's development data before any model is trained: is there enough of it (Riley
et al.'s minimum sample size, evaluate/sample_size.py) and what was missing (evaluate/missing_data.py). Each
returns metrics.json's record and says what a reader must see in train.log, before the cross-validation."""

from __future__ import annotations

import logging
from typing import Any

from medsweep.data.prepare import Dataset
from medsweep.evaluate.missing_data import missing_data_record, missing_summary
from medsweep.evaluate.sample_size import sample_size_record, sample_size_warning
from medsweep.preprocess import candidate_parameters

log = logging.getLogger("medsweep")

# What the config says when it predates a setting (a reproduction fills in the current default anyway).
DEFAULT_C_STATISTIC, DEFAULT_R2 = 0.7, 0.2


def impute_setting(cfg: Any) -> str:
    """preprocess.impute (median where the config predates it)."""
    return (cfg.get("preprocess") or {}).get("impute", "median")


def sample_size_check(cfg: Any, data: Dataset) -> dict:
    """metrics.json's ``sample_size`` of the development data: patients (rows without a patient column), events
    (patients with the outcome, binary), candidate parameters (the preprocessed columns) against Riley et al.'s
    minimum at the anticipated eval.sample_size; logged, with a warning when the data are smaller."""
    anticipated = cfg.eval.get("sample_size") or {}
    grouped = data.groups is not None
    n = int(data.n_groups if grouped else len(data.y))
    events, mean, sd = None, None, None
    n_classes = len(data.classes) if data.task == "classification" else None
    if n_classes == 2:
        positive = (data.y == data.classes[-1]).to_numpy()
        events = int(data.groups[positive].nunique() if grouped else positive.sum())
    elif data.task == "regression":
        y = data.y.astype(float)
        mean, sd = float(y.mean()), float(y.std(ddof=1))
    record = sample_size_record(task=data.task, n_classes=n_classes, n=n, events=events,
                                parameters=max(1, candidate_parameters(data.X, impute_setting(cfg))),
                                c_statistic=float(anticipated.get("c_statistic", DEFAULT_C_STATISTIC)),
                                r2=float(anticipated.get("r2", DEFAULT_R2)), mean=mean, sd=sd,
                                unit="patients" if grouped else "rows (one per patient)")
    if record.get("required"):
        log.info("Sample size (Riley et al.): %d %s, %d candidate parameters; minimum %d (%s)", n, record["unit"],
                 record["parameters"], record["required"]["n"], "met" if record["meets"] else "NOT met")
    warning = sample_size_warning(record)
    if warning:
        log.warning("%s", warning)
    return record


def sample_size_warnings(record: dict) -> list[dict]:
    """The job's warnings ({kind, message}) of its sample_size record."""
    warning = sample_size_warning(record or {})
    return [{"kind": "sample_size", "message": warning}] if warning else []


def missing_data_check(cfg: Any, data: Dataset) -> dict:
    """metrics.json's ``missing_data`` of the development data (by site with ``data.site``); one line logged."""
    site_column = cfg.data.get("site")
    site = data.column(site_column, "data.site") if site_column else None
    record = missing_data_record(data.X, data.y, data.task, impute_setting(cfg), site=site, site_column=site_column)
    log.info("%s", missing_summary(record))
    return record
