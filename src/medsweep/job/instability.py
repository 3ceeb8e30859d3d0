"""eval.instability=B: would another sample give another model? The final pipeline refitted on B bootstrap
samples of patients (learn/instability.py), its prediction, classification and calibration instability and
the optimism-corrected ROC-AUC, calibration slope and Brier beside the cross-validated ones
(evaluate/instability.py); binary classification only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from omegaconf import DictConfig

from medsweep.data.prepare import Dataset
from medsweep.evaluate.instability import instability, optimism
from medsweep.learn.instability import Refits, bootstrap_refits
from medsweep.learn.training import TrainSettings, binary

log = logging.getLogger("medsweep")


@dataclass
class Instability:
    record: dict             # metrics.json's "instability"
    original: np.ndarray     # the final model's risk of each development row
    refits: Refits           # the B bootstrap models' risks
    rows: dict               # per-row percentiles, MAPE, flips; the calibration curves (its plot)
    y: np.ndarray            # the outcome (positive class) of each row


def instability_analysis(cfg: DictConfig, data: Dataset, spec: Any, settings: TrainSettings, final: Any,
                         threshold: Optional[float], metrics: dict, calibration: dict) -> Optional[Instability]:
    """None unless eval.instability > 0 (and binary classification: else a warning). ``metrics`` and
    ``calibration``: the cross-validation's, shown beside the optimism-corrected values."""
    n_refits = int(cfg.eval.get("instability") or 0)
    if not n_refits:
        return None
    if not binary(data):
        log.warning("eval.instability=%d is not used: it is for binary classification", n_refits)
        return None
    log.info("Instability: refitting the final pipeline on %d bootstrap samples of %s", n_refits,
             "patients" if data.groups is not None else "rows (one per patient)")
    refits = bootstrap_refits(data, spec, settings, n_refits, cfg.seed)
    y = data.y.to_numpy() == data.classes[-1]
    p0 = final.predict_proba(data.X)[:, 1]
    found = instability(y, p0, refits.risks, threshold)
    corrected = optimism(y, p0, refits.risks, refits.weights)
    cv_values = {"roc_auc": metrics.get("roc_auc", {}).get("pooled"), "brier": metrics.get("brier", {}).get("pooled"),
                 "calibration_slope": calibration.get("slope")}
    for name, m in corrected.items():
        m["cross_validated"] = cv_values[name]
    record = {"n_refits": n_refits, "seed": int(cfg.seed),
              "resampled": "patients" if data.groups is not None else "rows (one per patient)",
              **found["record"], "optimism_corrected": corrected}
    log.info("Instability: MAPE %.4f (max %.4f); optimism-corrected ROC-AUC %s, calibration slope %s, Brier %s "
             "(%.1f s for %d refits)", record["mape"], record["mape_max"],
             *(_fmt(corrected[m]["corrected"]) for m in ("roc_auc", "calibration_slope", "brier")), refits.seconds,
             n_refits)
    return Instability(record=record, original=p0, refits=refits, rows=found["rows"], y=y)


def _fmt(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.4f}"
