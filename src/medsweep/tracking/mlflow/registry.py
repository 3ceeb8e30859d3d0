"""Which job of a sweep becomes a Model Registry version (``tracking.register_best=true``), and what the
version records. Pure: reads the jobs' files; the tracker registers what this returns."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterable

from medsweep.record.files import MODEL_FILE, Status, model_problem, read_metrics
from medsweep.report.compare import rank_value, ranked_by
from medsweep.tracking.mlflow.runs import number

log = logging.getLogger(__name__)


def best_jobs(keyed: Iterable[tuple[str, Path]], with_run: set[str]) -> dict[str, tuple[float, str, Path, dict]]:
    """Per disease model, its best completed job (of those in ``with_run``, the keys logged as runs):
    model -> (value, key, job dir, record). Best by the figure the leaderboard ranks by (the primary metric's
    pooled out-of-fold value; the mean over folds where a job of that model records no pooled value), in
    metrics.json's direction, the lower job first on a tie, so it is the leaderboard's first job. A job whose
    model file is not the one it saved is never chosen."""
    candidates: dict[str, list[tuple[str, Path, dict]]] = {}
    for key, job_dir in keyed:
        record = read_metrics(job_dir)
        if not record or record.get("status") != Status.COMPLETED or key not in with_run:
            continue
        mean = number(((record.get("metrics") or {}).get(record.get("primary_metric")) or {}).get("mean"))
        if mean is None or not math.isfinite(mean) or not (job_dir / MODEL_FILE).is_file():
            continue
        problem = model_problem(job_dir / MODEL_FILE, record)
        if problem:  # never register a model that is not the job's (an emptied or swapped file)
            log.warning("Job %s is not registered: %s", key, problem)
            continue
        candidates.setdefault(record.get("model"), []).append((key, job_dir, record))
    best: dict[str, tuple[float, str, Path, dict]] = {}
    for model, jobs in candidates.items():
        by = ranked_by([record for *_, record in jobs])  # as the leaderboard ranks them
        for key, job_dir, record in jobs:  # keyed is in job order: a tie keeps the lower job
            value, current = rank_value(record, by), best.get(model)
            greater = record.get("greater_is_better", True)
            if current is None or (value > current[0] if greater else value < current[0]):
                best[model] = (value, key, job_dir, record)
    return best


def version_details(record: dict, value: float, job_dir: Path) -> tuple[list[str], str, dict[str, str]]:
    """(pip requirements, description, tags) of the model version of a job: the versions the job ran with
    (not Python's or Hydra's: the model does not need them to load)."""
    versions = record.get("versions") or {}
    requirements = [f"{d}=={v}" for d, v in versions.items() if v and d not in ("python", "hydra-core")]
    description = record.get("model_description") or record.get("model")
    tags = {"job_dir": str(job_dir), "primary_metric": str(record.get("primary_metric")),
            "primary_value": repr(value), "model_sha256": str(record.get("model_sha256"))}
    return requirements, description, tags
