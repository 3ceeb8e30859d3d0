"""The training pipeline of one job: load the data -> cross-validate -> write the outputs -> fit and save the
final model. Returns plain data; attempts, retries, time limits and the status file are the job wrapper's
(job.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from omegaconf import DictConfig, OmegaConf

from medsweep.cpu import cpu_share
from medsweep.data import load_dataset
from medsweep.estimators import estimator_class
from medsweep.job_files import (HISTORY_FILE, LEARNING_CURVE_FILE, MODEL_FILE, PREDICTIONS_FILE, ROC_FILE)
from medsweep.metrics import LOWER_IS_BETTER, primary_metric
from medsweep.outputs import write_csv
from medsweep.persistence import save_model
from medsweep.plots import plot_learning_curve, plot_roc
from medsweep.training import TrainSettings, cross_validate, fit_final

log = logging.getLogger("medsweep")


def train(cfg: DictConfig, out_dir: Path, on_epoch: Optional[Callable[[], None]] = None) -> dict:
    """Train as configured and write history, predictions, plots and the final model to ``out_dir``.
    Returns what the job's metrics.json records about the training."""
    data = load_dataset(cfg.data, cfg.get("data_dir"))
    label = "SYNTHETIC cohort (not real patients)" if data.info["synthetic"] else f"real data ({data.info['source']})"
    log.info("Data %r: %s, %d rows x %d columns%s", cfg.data.name, label, data.info["rows"], data.info["columns"],
             f", from {data.info['path']}" if data.info["path"] else "")
    if data.info["dropped_rows_missing_target"]:
        log.warning("Dropped %d rows whose target %r is missing", data.info["dropped_rows_missing_target"],
                    data.target)
    log.info("Features used (%d): %s", data.X.shape[1], ", ".join(data.X.columns))
    for column, reason in data.excluded.items():
        log.info("Not a feature: %r (%s)", column, reason)

    spec = OmegaConf.to_container(cfg.estimator, resolve=True)
    estimator = estimator_class(spec["name"])
    trainer = cfg.trainer
    for setting in estimator.unused_settings():
        log.warning("trainer.%s=%s is not used by estimator %r", setting, trainer[setting], estimator.name)
    if estimator.epoch:
        log.info("Epoch for %s: %s", estimator.name, estimator.epoch)

    settings = TrainSettings(epochs=trainer.epochs, batch_size=trainer.batch_size, seed=cfg.seed,
                             n_threads=cpu_share(), on_epoch=on_epoch)
    cv = cross_validate(data, spec, trainer.folds, settings)
    log.info("Cross-validation: %d folds, %s, %d %s, seed %d", trainer.folds, cv.splitter, data.n_groups,
             "patients" if data.groups is not None else "rows (one per patient)", cfg.seed)
    for name, m in cv.metrics.items():
        log.info("%-17s %.4f ± %.4f  folds: %s", name, m["mean"], m["std"], ", ".join(f"{v:.4f}" for v in m["folds"]))

    write_csv(out_dir / HISTORY_FILE, cv.history)
    write_csv(out_dir / PREDICTIONS_FILE, cv.predictions)
    plot_learning_curve(cv.history, out_dir / LEARNING_CURVE_FILE)
    if data.task == "classification":
        plot_roc(cv.predictions, [str(c) for c in data.classes], out_dir / ROC_FILE)
    save_model(fit_final(data, spec, settings), out_dir / MODEL_FILE)

    return {
        "greater_is_better": primary_metric(data.task) not in LOWER_IS_BETTER,
        "metrics": cv.metrics,
        "n_samples": int(len(data.y)), "n_features": int(data.X.shape[1]), "n_groups": data.n_groups,
        "splitter": cv.splitter,
        "classes": [str(c) for c in data.classes] if data.classes is not None else None,
        # With data.positive the target is binarised: class 1 = these values.
        "positive": OmegaConf.to_container(cfg.data.positive) if cfg.data.get("positive") else None,
        "data": data.info,
        "features": {"used": list(data.X.columns), "excluded": data.excluded},
        "unused_settings": [f"trainer.{s}" for s in estimator.unused_settings()],
        "n_threads": settings.n_threads,
    }
