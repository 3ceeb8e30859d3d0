"""One job: config -> data -> cross-validation -> final model -> files in the job's directory.

:func:`run_job` is what ``train.py`` calls; it works on any composed config, with or without Hydra.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

from omegaconf import DictConfig, OmegaConf

import medsweep
from medsweep.cpu import cpu_share
from medsweep.data import DataError, load_dataset
from medsweep.estimators import EPOCH_MEANING, UNUSED_TRAINER_SETTINGS
from medsweep.job_control import Deadline, JobTimeout, TransientError, epoch_hook
from medsweep.metrics import LOWER_IS_BETTER, primary_metric
from medsweep.job_files import (HISTORY_FILE, LEARNING_CURVE_FILE, MODEL_FILE, PREDICTIONS_FILE, ROC_FILE,
                                Status, write_metrics)
from medsweep.outputs import now, write_csv
from medsweep.persistence import save_model
from medsweep.plots import plot_learning_curve, plot_roc
from medsweep.schema import ConfigError, check_config
from medsweep.splitting import splitter_class
from medsweep.training import TrainSettings, cross_validate, fit_final

log = logging.getLogger("medsweep")


@functools.lru_cache(maxsize=1)
def _versions() -> dict:
    out = {"python": platform.python_version(), "medsweep": medsweep.__version__}
    for dist in ("scikit-learn", "hydra-core", "numpy", "pandas", "skops"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _hydra_job() -> dict:
    """Output directory, job number and overrides when running under Hydra."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    hc = HydraConfig.get()
    return {"output_dir": hc.runtime.output_dir, "job_num": hc.job.get("num"),
            "overrides": list(hc.overrides.task)}


def _base_record(cfg: DictConfig, job: dict, out_dir: Path) -> dict:
    # The job number is its directory's name: a resumed job keeps the number of its first run.
    job_num = int(out_dir.name) if out_dir.name.isdigit() else job.get("job_num")
    return {"model": cfg.model.name, "estimator": cfg.estimator.name, "task": cfg.data.task,
            "primary_metric": primary_metric(cfg.data.task),
            "folds": cfg.trainer.folds, "epochs": cfg.trainer.epochs, "batch_size": cfg.trainer.batch_size,
            "seed": cfg.seed, "job_num": job_num, "overrides": job.get("overrides", []), "job_dir": str(out_dir)}


def train_and_write(cfg: DictConfig, out_dir: Path, on_epoch: Optional[Callable[[], None]] = None) -> dict:
    """Train as configured and write history, predictions, model and metrics to ``out_dir``."""
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
    trainer = cfg.trainer
    for setting in UNUSED_TRAINER_SETTINGS[spec["name"]]:
        log.warning("trainer.%s=%s is not used by estimator %r", setting, trainer[setting], spec["name"])
    if spec["name"] in EPOCH_MEANING:
        log.info("Epoch for %s: %s", spec["name"], EPOCH_MEANING[spec["name"]])

    settings = TrainSettings(epochs=trainer.epochs, batch_size=trainer.batch_size, seed=cfg.seed,
                             n_threads=cpu_share(), on_epoch=on_epoch)
    splitter = splitter_class(data.task, data.groups is not None).__name__
    log.info("Cross-validation: %d folds, %s, %d %s, seed %d", trainer.folds, splitter, data.n_groups,
             "patients" if data.groups is not None else "rows (one per patient)", cfg.seed)
    cv = cross_validate(data, spec, trainer.folds, settings)
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
        "splitter": splitter,
        "classes": [str(c) for c in data.classes] if data.classes is not None else None,
        # With data.positive the target is binarised: class 1 = these values.
        "positive": OmegaConf.to_container(cfg.data.positive) if cfg.data.get("positive") else None,
        "data": data.info,
        "features": {"used": list(data.X.columns), "excluded": data.excluded},
        "unused_settings": [f"trainer.{s}" for s in UNUSED_TRAINER_SETTINGS[spec["name"]]],
        "n_threads": settings.n_threads,
    }


def _to_log_file(text: str) -> None:
    """The full traceback goes to the job's log file; the console gets the one-line error."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, text.rstrip(), None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


# Errors in what the user asked for (one-line messages); with a timeout, errors a retry would repeat.
USER_ERRORS = (ConfigError, DataError)
NOT_RETRIED = (*USER_ERRORS, JobTimeout)


def run_job(cfg: DictConfig, out_dir: Optional[Path] = None) -> float:
    """Run one job and return the mean of its primary metric (what Hydra sweepers optimise).

    ``metrics.json`` says "running" while the job runs, then "completed", "failed" (with the error; the
    full traceback is in the log), "timeout" or "interrupted". A failure is re-raised so that Hydra marks
    the job failed; transient failures are retried up to ``retries`` times in the same directory.
    """
    started, tic = now(), time.perf_counter()
    job = _hydra_job()
    out_dir = Path(out_dir or job.get("output_dir") or ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    record = _base_record(cfg, job, out_dir)
    deadline = Deadline(cfg.get("timeout_min"))
    max_attempts = 1 + cfg.get("retries", 0)
    debug = cfg.get("debug") or {"fail_attempts": 0, "epoch_sleep_s": 0}
    attempt = 0

    def write_status(status: str, **fields: Any) -> None:
        write_metrics(out_dir, {**record, **fields, "status": status, "attempts": attempt,
                                            "started_at": started, "finished_at": now(),
                                            "duration_s": round(time.perf_counter() - tic, 3),
                                            "versions": _versions()})

    while True:
        attempt += 1
        write_metrics(out_dir, {**record, "status": "running", "attempts": attempt,
                                            "pid": os.getpid(), "started_at": started})
        try:
            with deadline.enforced():
                check_config(cfg)
                if attempt <= debug["fail_attempts"]:
                    raise TransientError(f"injected failure of attempt {attempt} "
                                         f"(debug.fail_attempts={debug['fail_attempts']})")
                result = train_and_write(cfg, out_dir, epoch_hook(deadline, debug["epoch_sleep_s"]))
            break
        except KeyboardInterrupt:
            log.error("Job interrupted")
            write_status("interrupted", error="interrupted by the user (SIGINT/SIGTERM)",
                         error_type="KeyboardInterrupt")
            raise
        except Exception as exc:
            log.error("Attempt %d of %d failed: %s: %s", attempt, max_attempts, type(exc).__name__, exc)
            _to_log_file(traceback.format_exc())
            if attempt < max_attempts and not isinstance(exc, NOT_RETRIED):
                log.warning("Retrying (retries=%d)", max_attempts - 1)
                continue
            write_status("timeout" if isinstance(exc, JobTimeout) else "failed", error=str(exc),
                         error_type=type(exc).__name__)
            raise
    write_status("completed", **result)
    primary = result["metrics"][record["primary_metric"]]["mean"]
    log.info("Done: %s = %.4f (mean over %d folds) -> %s", record["primary_metric"], primary,
             cfg.trainer.folds, out_dir)
    return float(primary)
