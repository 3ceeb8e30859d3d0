"""The job wrapper: runs the training pipeline (pipeline.py, then artifacts.py writes its files) with attempts, retries, the time limit, fault
injection and the job's status file (metrics.json: "running", then how it ended).

:func:`run_job` is what ``train.py`` calls; it works on any composed config, with or without Hydra.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import platform
import socket
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig

import medsweep
from medsweep.record import watch as job_watch
from medsweep.data.errors import DataError
from medsweep.estimators import REGISTRY
from medsweep.job.control import Deadline, JobTimeout, TransientError, epoch_hook
from medsweep.record.files import MODEL_CARD_FILE, JobPaths
from medsweep.record.job_record import JobRecord, Status, overwrite_record_in_place, write_record
from medsweep.record.sweep_dir import SweepDir
from medsweep.evaluate.metrics import primary_metric
from medsweep.report.model_card import write_model_card
from medsweep.record.outputs import now
from medsweep.config.schema import ConfigError, check_config
from medsweep.job.artifacts import write_artifacts
from medsweep.job.log_files import quiet_log_files_when_disk_full
from medsweep.job.fold_hooks import fold_hook
from medsweep.job.pipeline import train
from medsweep.job.racing import fold_store
from medsweep.learn.fold_store import FoldStore
from medsweep.learn.stops import FoldsPaused, FoldsStopped

log = logging.getLogger("medsweep")

# Errors in what the user asked for (one-line messages); with a timeout, errors a retry would repeat.
USER_ERRORS = (ConfigError, DataError)
NOT_RETRIED = (*USER_ERRORS, JobTimeout)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(OSError):
    """No space left where the job writes its files (a retry would only fail again)."""


def _disk_full(exc: BaseException, out_dir: Path) -> Optional[DiskFull]:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return DiskFull(exc.errno, f"disk full: no space left for the job's files in {out_dir.resolve()} "
                                   f"({exc.strerror}{f': {exc.filename}' if exc.filename else ''}); free space "
                                   "and resume the sweep")
    return None


@functools.lru_cache(maxsize=None)
def _versions(estimator: str) -> dict:
    """The versions a job's results depend on; an optional extra's package (xgboost) only in the jobs that
    train with it, so installing it changes no other job's metrics.json."""
    out = {"python": platform.python_version(), "medsweep": medsweep.__version__}
    estimator_packages = sorted({e.package for e in REGISTRY.values() if not e.optional or e.name == estimator}
                                - {"scikit-learn"})
    for dist in ("scikit-learn", "hydra-core", "numpy", "pandas", "skops", *estimator_packages):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _base_record(cfg: DictConfig, out_dir: Path, overrides: Sequence[str]) -> JobRecord:
    """What the job is, from its config: the first keys of every record it writes."""
    return JobRecord(model=cfg.model.name, estimator=cfg.estimator.name, task=cfg.data.task,
                     primary_metric=primary_metric(cfg.data.task), folds=cfg.trainer.folds,
                     epochs=cfg.trainer.epochs, batch_size=cfg.trainer.batch_size, seed=cfg.seed,
                     # The job number is its directory's name: a resumed job keeps the number of its first run.
                     job_num=int(out_dir.name) if out_dir.name.isdigit() else None,
                     overrides=list(overrides), job_dir=str(out_dir))


def quiet_console() -> None:
    """Console handlers show warnings and errors only (a sweep's console would interleave every job's
    per-fold lines); file handlers (train.log) keep everything."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(max(handler.level, logging.WARNING))


def _to_log_file(text: str) -> None:
    """The full traceback goes to the job's log file; the console gets the one-line error."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, text.rstrip(), None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _sweep_dir() -> Optional[Path]:
    """The multirun's sweep directory (Hydra's runtime config); None in a single run or without Hydra."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(str(HydraConfig.get().sweep.dir))


def _unwatched() -> bool:
    """True where nobody would record this job if its process died: a single run, a job run without Hydra
    (``medsweep reproduce``), or a sweep running the job in its own process (one worker: joblib runs it
    there; the sweep's lock file holds the sweep's PID). A launcher's worker is watched by the sweep."""
    try:
        sweep_dir = _sweep_dir()
        if sweep_dir is None:
            return True
        return SweepDir(sweep_dir).lock_file.read_text(errors="replace").strip() == str(os.getpid())
    except Exception:  # noqa: BLE001 - no lock to read (another sweeper): its launcher's process, or watched
        return False


def _clear(store: Optional[FoldStore]) -> None:
    """A job that ended has no use for its kept folds."""
    if store is not None:
        store.clear()


def run_job(cfg: DictConfig, out_dir: Optional[Path] = None, overrides: Sequence[str] = ()) -> float:
    """Run one job in ``out_dir`` and return the mean of its primary metric (what Hydra sweepers optimise).

    ``metrics.json`` says "running" while the job runs, then "completed", "failed" (with the error; the
    full traceback is in the log), "timeout" or "interrupted". A failure is re-raised so that Hydra marks
    the job failed; transient failures are retried up to ``retries`` times in the same directory. Where no
    launcher watches this process, a watcher records the job failed if the process dies without recording
    it (a crash, SIGKILL: job_watch.py).
    """
    out_dir = Path(out_dir or ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    quiet_log_files_when_disk_full()  # a full disk: the log file cannot grow either, no traceback per line
    watcher = job_watch.watch(out_dir.resolve()) if _unwatched() else None
    try:
        return _run_job(cfg, out_dir, overrides)
    finally:
        if watcher is not None:
            watcher.close()


def _run_job(cfg: DictConfig, out_dir: Path, overrides: Sequence[str]) -> float:
    started, tic = now(), time.perf_counter()
    record = _base_record(cfg, out_dir, overrides)
    deadline = Deadline(cfg.timeout_min)
    max_attempts = 1 + cfg.retries
    debug = cfg.debug
    attempt = 0
    store: Optional[FoldStore] = None

    def write_status(status: Status, **fields: Any) -> None:
        final = record.updated(**fields).updated(status=status, attempts=attempt, started_at=started,
                                                 finished_at=now(), duration_s=round(time.perf_counter() - tic, 3))
        try:
            write_record(out_dir, final.updated(versions=_versions(cfg.estimator.name)))
        except OSError as exc:  # a full disk: the record without the versions, within the space the file has
            if not (_disk_full(exc, out_dir) and overwrite_record_in_place(out_dir, final)):
                raise

    while True:
        attempt += 1
        # pid and host: a resume refuses while this process still runs the job (on this machine)
        write_record(out_dir, record.updated(status=Status.RUNNING, attempts=attempt, pid=os.getpid(),
                                             host=socket.gethostname(), started_at=started))
        try:
            with deadline.enforced():
                check_config(cfg)
                if attempt <= debug.fail_attempts:
                    raise TransientError(f"injected failure of attempt {attempt} "
                                         f"(debug.fail_attempts={debug.fail_attempts})")
                sweep_dir = _sweep_dir()
                store = fold_store(cfg, out_dir, sweep_dir)  # racing's screening: folds kept to go on from
                result = train(cfg, epoch_hook(deadline, debug.epoch_sleep_s), sweep_dir,
                               on_fold=fold_hook(cfg, out_dir, sweep_dir), store=store)
                written = write_artifacts(result, JobPaths(out_dir))
            break
        except FoldsStopped as stop:
            # Not a failure: a search stopped this job early; nothing reruns it unless asked.
            log.info("Pruned: %s", stop.reason)
            write_status(Status.PRUNED, pruned={"reason": stop.reason, **stop.details})
            _clear(store)
            return float("nan")
        except FoldsPaused as pause:
            # Racing's first stage: the sweeper decides whether the job goes on from its kept folds.
            log.info("Racing: %s; the sweep decides whether this job goes on", pause)
            write_status(Status.SCREENED)
            return float("nan")
        except KeyboardInterrupt:
            log.error("Job interrupted")
            write_status(Status.INTERRUPTED, error="interrupted by the user (SIGINT/SIGTERM)",
                         error_type="KeyboardInterrupt")
            raise
        except Exception as exc:
            full = _disk_full(exc, out_dir)
            log.error("Attempt %d of %d failed: %s: %s", attempt, max_attempts, type(full or exc).__name__,
                      full or exc)
            _to_log_file(traceback.format_exc())
            if attempt < max_attempts and not isinstance(exc, NOT_RETRIED) and not full:
                log.warning("Retrying (retries=%d)", max_attempts - 1)
                continue
            write_status(Status.TIMEOUT if isinstance(exc, JobTimeout) else Status.FAILED, error=str(full or exc),
                         error_type=type(full or exc).__name__)
            _clear(store)
            if full:
                raise full from exc
            raise
    results = result.record(written.model_sha256)
    write_status(Status.COMPLETED, **results.to_json())
    _clear(store)
    try:
        write_model_card(out_dir)
    except Exception as exc:  # noqa: BLE001 - the job's results are written; the card can be rebuilt
        log.warning("Could not write %s (%s: %s)", MODEL_CARD_FILE, type(exc).__name__, exc)
    stats = results.metrics[record.primary_metric]
    log.info("Done: %s = %.4f (mean over %d folds) -> %s", record.primary_metric, stats["mean"],
             len(stats["folds"]), out_dir)
    return float(stats["mean"])
