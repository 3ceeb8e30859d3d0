"""A sweep's state on disk: its directory, its job list (sweep.json), which jobs are done, what a resume
must run, and the record of jobs stopped by an interrupt."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from medsweep.job_files import SAVED_CONFIG, SWEEP_FILE, Status, read_metrics, write_metrics
from medsweep.outputs import now, write_json

# Keys that change how a job is run, not what it trains: a resume may change them.
RUN_CONTROL_KEYS = ("resume", "dry_run", "retries", "timeout_min", "debug")


def claim_sweep_dir(path: Path, resume: bool) -> Path:
    """The directory this sweep owns. Creating sweep.json exclusively is the claim, so two sweeps started
    in the same second never share a directory: the later one gets ``<dir>-1``, ``<dir>-2``, ..."""
    if resume:
        if not (path / SWEEP_FILE).is_file():
            raise CompactHydraException(
                f"resume=true: {path} holds no medsweep sweep ({SWEEP_FILE} is missing); "
                "pass hydra.sweep.dir=<the directory of the sweep to resume>")
        return path
    candidate, n = path, 0
    while True:
        candidate.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(candidate / SWEEP_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.name}-{n}")


def _job_overrides(overrides: list[str]) -> list[str]:
    """A job's overrides as recorded: without `resume` and `dry_run`, which describe the command, not the job."""
    return [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in ("resume", "dry_run")]


def start_sweep_file(sweep_dir: Path, config: DictConfig, jobs: list[list[str]], resume: bool,
                     at_once: Optional[int] = None) -> dict:
    """Write sweep.json as the sweep starts: `n_jobs` is ``at_once``, the jobs the launcher runs at once
    where it says so (medsweep's joblib launcher), else its own `n_jobs` option, if any. A resume keeps the
    first run's command and start, and adds itself to `resumes`."""
    launcher = config.hydra.launcher
    command, started = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), now()
    info = {
        "command": command, "started_at": started, "finished_at": None, "status": Status.RUNNING,
        "launcher": str(launcher.get("_target_", "")).rsplit(".", 1)[-1],
        "n_jobs": at_once if at_once is not None else launcher.get("n_jobs"),
        "jobs": [{"num": n, "overrides": _job_overrides(o), "dir": str(n)} for n, o in enumerate(jobs)],
    }
    if resume:
        try:
            first = json.loads((sweep_dir / SWEEP_FILE).read_text())
        except ValueError:  # written by a sweep killed before it got this far
            first = {}
        info.update(command=first.get("command", command), started_at=first.get("started_at", started),
                    resumes=[*first.get("resumes", []), {"command": command, "started_at": started}])
    write_json(sweep_dir / SWEEP_FILE, info)
    return info


def finish_sweep_file(sweep_dir: Path, info: dict, status: str) -> None:
    write_json(sweep_dir / SWEEP_FILE, {**info, "finished_at": now(), "status": status})


def task_config(cfg: DictConfig) -> dict:
    """What a job trains, as saved in its .hydra/config.yaml, without the run-control keys."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("hydra", None)
    for key in RUN_CONTROL_KEYS:
        tree.pop(key, None)
    return tree


def resume_todo(sweep_dir: Path, configs: list[DictConfig]) -> list[int]:
    """Job numbers without a completed result. Refuses, before anything runs, when a job directory was
    made with a config other than the one the resume would run."""
    todo, conflicts = [], []
    for num, cfg in enumerate(configs):
        job_dir = sweep_dir / str(num)
        saved = job_dir / SAVED_CONFIG
        if saved.is_file() and task_config(OmegaConf.load(saved)) != task_config(cfg):
            conflicts.append(num)
        metrics = read_metrics(job_dir)
        if not (metrics and metrics.get("status") == Status.COMPLETED):
            todo.append(num)
    if conflicts:
        raise CompactHydraException(
            f"resume=true refused: the config of job(s) {', '.join(map(str, conflicts))} in {sweep_dir} differs "
            "from the one this command would run (see their .hydra/config.yaml); resume with the original "
            "arguments, or start a new sweep. Nothing was changed.")
    return todo


def mark_interrupted(sweep_dir: Path, nums: list[int], jobs: list[list[str]], reason: str) -> list[int]:
    """Jobs that had started but not finished are recorded as interrupted; finished ones are untouched."""
    marked = []
    for num in nums:
        job_dir = sweep_dir / str(num)
        if not job_dir.is_dir():
            continue  # never started
        metrics = read_metrics(job_dir)
        if metrics is not None and metrics.get("status") != Status.RUNNING:
            continue
        record = {"job_num": num, "overrides": jobs[num], "job_dir": str(job_dir), **(metrics or {})}
        record.update(status=Status.INTERRUPTED, error=reason, error_type="Interrupted", finished_at=now())
        write_metrics(job_dir, record)
        marked.append(num)
    return marked


def describe(num: int, overrides: list[str], cfg: DictConfig) -> str:
    """One line of a dry run: what the job would train, on what data."""
    from medsweep.data import DataError, resolve_path  # pandas: only a dry run needs it here

    try:
        path = resolve_path(cfg.data, cfg.get("data_dir"))
        source = f"file {path}" if path else f"{cfg.data.source}:{cfg.data.name}"
    except DataError as exc:
        source = f"error: {exc}"
    t = cfg.trainer
    return (f"#{num:<4} {' '.join(overrides) or '(defaults)'}\n"
            f"       model={cfg.model.name} estimator={cfg.estimator.name} epochs={t.epochs} folds={t.folds} "
            f"batch_size={t.batch_size} seed={cfg.seed} data={source}")
