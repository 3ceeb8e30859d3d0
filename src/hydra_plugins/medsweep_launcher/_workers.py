"""How many jobs run at once: never more than cores or jobs. Jobs are CPU-bound: a worker beyond the
cores only adds its start-up and time-slicing."""

from __future__ import annotations

import logging

from medsweep.cpu import usable_cores

log = logging.getLogger(__name__)


def worker_count(requested: int | None, n_jobs: int, device_slots: int | None = None) -> int:
    """Workers for ``n_jobs`` jobs when ``hydra.launcher.n_jobs=requested`` (joblib: -1 = all cores,
    -2 = all but one, null = all), and at most ``device_slots`` where jobs need GPUs; 0 for no job."""
    if n_jobs == 0:
        return 0
    cores = usable_cores()
    requested = requested or -1
    effective = cores + 1 + requested if requested < 0 else requested
    return max(1, min(effective, cores, n_jobs, device_slots or n_jobs))


def log_cap(requested: int | None, workers: int) -> None:
    if requested and requested > usable_cores():
        log.info("hydra.launcher.n_jobs=%s but this machine has %d cores: running %d jobs at a time",
                 requested, usable_cores(), workers)


def log_gpus(gpus_per_job: int, slots: tuple, workers: int) -> None:
    log.info("hydra.launcher.gpus_per_job=%d: GPU(s) %s, one slot per worker: running %d job(s) at a time "
             "(at most %d)", gpus_per_job, " ".join(",".join(s) for s in slots), workers, len(slots))
