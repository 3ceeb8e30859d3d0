"""Which job of a sweep becomes a Model Registry version (``tracking.register_best=true``), and what the
version records. Pure: reads the jobs' files; the tracker registers what this returns."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterable

from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord, model_problem, read_record
from medsweep.report import ranking
from medsweep.report.compare import feasible, selected_metric
from medsweep.tracking.mlflow.runs import number

log = logging.getLogger(__name__)


def best_jobs(keyed: Iterable[tuple[str, Path]],
              with_run: set[str]) -> dict[str, tuple[float, str, Path, JobRecord]]:
    """Per disease model, its best completed job (of those in ``with_run``, the keys logged as runs):
    model -> (value, key, job dir, record). Best by the figure the leaderboard ranks by (the primary metric's
    pooled out-of-fold value; the mean over folds where a job of that model records no pooled value), in
    metrics.json's direction, the lower job first on a tie, so it is the leaderboard's first job. A job whose
    model file is not the one it saved is never chosen, nor one breaking select.constraints (metrics.json
    ``selection``; none meeting them: the model gets no version, and a warning says so)."""
    candidates: dict[str, list[tuple[str, Path, JobRecord]]] = {}
    infeasible: dict[str, list[str]] = {}
    for key, job_dir in keyed:
        record, job = read_record(job_dir), JobPaths(job_dir)
        if record is None or not record.completed or key not in with_run:
            continue
        if feasible(record) is False:  # breaks select.constraints: never the registered model
            infeasible.setdefault(str(record.model), []).append(key)
            continue
        mean = number(record.primary().get("mean"))
        if mean is None or not math.isfinite(mean) or not job.model.is_file():
            continue
        problem = model_problem(job.model, record)
        if problem:  # never register a model that is not the job's (an emptied or swapped file)
            log.warning("Job %s is not registered: %s", key, problem)
            continue
        candidates.setdefault(record.model, []).append((key, job_dir, record))
    for model, keys in infeasible.items():
        if model not in candidates:
            log.warning("No job of model %s meets select.constraints (%s break them): none is registered", model,
                        ", ".join(keys))
    best: dict[str, tuple[float, str, Path, JobRecord]] = {}
    for model, jobs in candidates.items():
        # As the leaderboard ranks them (report.ranking); every candidate has a finite mean. select.metric,
        # where the jobs set one, ranks by its pooled value (ranking.selected_value).
        by = ranking.ranked_by(record.primary().get("pooled") for *_, record in jobs)
        for key, job_dir, record in jobs:  # keyed is in job order: a tie keeps the lower job
            primary = record.primary()
            row = {"primary_pooled": primary.get("pooled"), "primary_mean": primary.get("mean"),
                   "greater_is_better": record.higher_is_better, "primary_metric": record.primary_metric,
                   "select_metric": selected_metric(record),
                   "select_value": ((record.metrics or {}).get(selected_metric(record) or "") or {}).get("pooled")}
            (value, higher), current = ranking.selected_value(row, by), best.get(model)
            if not math.isfinite(value):
                continue
            if current is None or (value > current[0] if higher else value < current[0]):
                best[model] = (value, key, job_dir, record)
    return best


def version_details(record: JobRecord, value: float, job_dir: Path) -> tuple[list[str], str, dict[str, str]]:
    """(pip requirements, description, tags) of the model version of a job: the versions the job ran with
    (not Python's or Hydra's: the model does not need them to load)."""
    versions = record.versions or {}
    requirements = [f"{d}=={v}" for d, v in versions.items() if v and d not in ("python", "hydra-core")]
    description = record.model_description or record.model
    tags = {"job_dir": str(job_dir), "primary_metric": str(record.primary_metric),
            "primary_value": repr(value), "model_sha256": str(record.model_sha256)}
    return requirements, description, tags
