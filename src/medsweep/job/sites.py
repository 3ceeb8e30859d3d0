"""A job's validation across sites (data.site): the folds of the internal-external cross-validation (each
site held out once; trainer.folds and trainer.repeats are then not used) and, after it, each site's metrics
and their random-effects meta-analysis (evaluate/sites.py), with a reviewer warning for every measure whose
prediction interval for a new site is wide ("heterogeneous")."""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
from omegaconf import DictConfig

from medsweep.data.prepare import Dataset
from medsweep.evaluate.sites import WIDE_PI, site_evidence
from medsweep.learn.splitting import Splits, site_split
from medsweep.record.job_record import ABSENT

log = logging.getLogger("medsweep")


def cv_plan(cfg: DictConfig, data: Dataset) -> tuple[int, int, Optional[Splits]]:
    """(folds, repeats, splits) of the job's cross-validation: trainer.folds x trainer.repeats made by
    cross_validate (splits None), or, with data.site, one fold per site made here."""
    site = cfg.data.get("site")
    if not site:
        return cfg.trainer.folds, cfg.trainer.repeats, None
    splits = site_split(data, data.column(site, "data.site"))
    log.info("Internal-external cross-validation over %d sites of %r (%s): each site held out once, the "
             "others train", len(splits), site, ", ".join(splits.sites))
    ignored = [f"trainer.folds={cfg.trainer.folds}"] + ([f"trainer.repeats={cfg.trainer.repeats}"]
                                                         if cfg.trainer.repeats != 1 else [])
    log.warning("%s not used: with data.site=%s there is one fold per site (%d) and no repeats",
                " and ".join(ignored), site, len(splits))
    return len(splits), 1, splits


def site_record(cfg: DictConfig, data: Dataset, predictions, thresholds) -> tuple[Any, list[dict]]:
    """(metrics.json's "sites", or ABSENT without data.site; warnings for heterogeneous measures)."""
    site = cfg.data.get("site")
    if not site:
        return ABSENT, []
    positions = np.searchsorted(data.rows, predictions["row"].to_numpy())
    sites = data.column(site, "data.site").astype(str).to_numpy()[positions]
    folds = predictions["fold"].to_numpy()
    ev = cfg.eval
    record = site_evidence(predictions, sites, data.classes, data.task,
                           thresholds=None if thresholds is None else np.asarray(thresholds, dtype=float)[folds],
                           n_boot=ev.n_boot, seed=cfg.seed, interval=ev.interval,
                           dca_range=list(ev.dca_thresholds), meta_method=ev.meta_analysis,
                           extra_metrics=list(ev.get("metrics") or ()))
    record = {"column": site, "design": "internal-external cross-validation: each site held out once, the model "
                                        "trained on the other sites", "meta_method": ev.meta_analysis,
              "wide_prediction_interval": dict(WIDE_PI), **record}
    warnings = []
    if record.get("heterogeneous"):
        found = [f"{name} {m['estimate']:.3f}, prediction interval {m['pi_lower']:.3f} to {m['pi_upper']:.3f} (tau2 "
                 f"{m['tau2']:.3g}, I2 {100 * m['i2']:.0f}%)"
                 for name, m in ((n, record["meta_analysis"][n]) for n in record["heterogeneous"])]
        warnings.append({"kind": "heterogeneous_sites",
                         "message": f"heterogeneous across the {record['k']} sites of {site!r} (pooled, 95% "
                                    f"prediction interval for a new site): {'; '.join(found)}"})
    for name, m in record.get("meta_analysis", {}).items():
        if "estimate" in m:
            log.info("Sites, %s: pooled %.3f (%.3f-%.3f), tau2 %.3g, I2 %.0f%%, prediction interval %s", name,
                     m["estimate"], m["lower"], m["upper"], m["tau2"], 100 * m["i2"],
                     "-" if m["pi_lower"] is None else f"{m['pi_lower']:.3f}-{m['pi_upper']:.3f}")
    return record, warnings
