"""A sweep's state on disk: its directory (claimed and locked), its job list (sweep.json), which jobs are
done, what a resume must run, and the record of jobs stopped by an interrupt or lost with their process."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from medsweep.record.files import (LOCK_FILE, REQUIRED_FILES, SAVED_CONFIG, SWEEP_FILE, Status,
                                overwrite_metrics_in_place, read_metrics, write_metrics)
from medsweep.record.files import MODEL_FILE, model_problem, not_ours
from medsweep.record.outputs import now, overwrite_json_in_place, write_json
from medsweep.config.schema import RUN_CONTROL_KEYS

from ._job_process import still_running
from medsweep.record.lock import LockRefused, SweepLock, holder, try_lock

log = logging.getLogger(__name__)

# What every completed job has written; a resume runs again a "completed" job that lacks one of them.


def claim_sweep_dir(path: Path, resume: bool) -> tuple[Path, SweepLock]:
    """The directory this sweep owns, locked for its life (_lock.py). A new sweep claims a directory by
    locking it and then creating sweep.json exclusively, so two sweeps started in the same second never
    share one: the later one gets ``<dir>-1``, ``<dir>-2``, ... A resume locks its directory before it
    reads or changes anything, and is refused while another process holds it. A new sweep never writes into
    a folder that is not a medsweep sweep (_foreign): it stops in one line, before anything is written."""
    if resume:
        if not (path / SWEEP_FILE).is_file():
            raise CompactHydraException(
                f"resume=true: {path} holds no medsweep sweep ({SWEEP_FILE} is missing); "
                "pass hydra.sweep.dir=<the directory of the sweep to resume>")
        lock = _lock(path)
        if lock is None:
            raise CompactHydraException(
                f"resume=true refused: {path} is in use by another sweep ({holder(path)}); wait for it to end "
                "or stop it, then resume. Nothing was changed.")
        return path, lock
    not_ours = _foreign(path)
    if not_ours:
        raise CompactHydraException(
            f"hydra.sweep.dir={path} {not_ours}, and is not a medsweep sweep (no {SWEEP_FILE}): nothing was "
            "written; choose a new or empty directory (resume=true continues a medsweep sweep only)")
    candidate, n = path, 0
    while True:
        # A numbered candidate that is someone else's folder is passed over like a sweep's.
        if not (candidate != path and _foreign(candidate)):
            candidate.mkdir(parents=True, exist_ok=True)
            lock = None if (candidate / SWEEP_FILE).exists() else _lock(candidate)
            if lock is not None:
                try:
                    os.close(os.open(candidate / SWEEP_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    return candidate, lock
                except FileExistsError:
                    lock.release()
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")


def _foreign(path: Path) -> Optional[str]:
    """Why ``path`` must not become a new sweep's directory (job_files.not_ours); None for a new or empty
    directory, a medsweep sweep (passed over by claim_sweep_dir), or one holding only the lock of a sweep
    killed as it started."""
    return not_ours(path, SWEEP_FILE, ignore=(LOCK_FILE,))


def _lock(path: Path) -> Optional[SweepLock]:
    """try_lock, with a lock file that cannot be used (a planted link) ending the sweep in one line."""
    try:
        return try_lock(path)
    except OSError as exc:
        why = str(exc) if isinstance(exc, LockRefused) else f"{path / LOCK_FILE}: {exc.strerror}"
        raise CompactHydraException(f"Sweep refused: its lock file cannot be used ({why}); nothing was written "
                                    "through it. Remove it if it is not yours, or choose another "
                                    "hydra.sweep.dir") from None


def _job_overrides(overrides: list[str]) -> list[str]:
    """A job's overrides as recorded: without `resume`, `dry_run`, `verbose` and `tracking`, which describe the
    command, not the job."""
    def command_only(key: str) -> bool:
        return key in ("resume", "dry_run", "verbose", "tracking") or key.startswith("tracking.")

    return [o for o in overrides if not command_only(o.lstrip("+~").split("=", 1)[0])]


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
    """Record the sweep's end in sweep.json; on a full disk, in the space the file already has."""
    record = {**info, "finished_at": now(), "status": status}
    try:
        write_json(sweep_dir / SWEEP_FILE, record)
    except OSError:
        if not overwrite_json_in_place(sweep_dir / SWEEP_FILE, record):
            raise


def task_config(cfg: DictConfig) -> dict:
    """What a job trains, as saved in its .hydra/config.yaml, without the run-control keys."""
    tree = OmegaConf.to_container(cfg, resolve=False)
    tree.pop("hydra", None)
    for key in RUN_CONTROL_KEYS:
        tree.pop(key, None)
    return tree


def _saved_task_config(job_dir: Path) -> Optional[dict]:
    """What the job's .hydra/config.yaml says it trains; None where there is none, or it is empty or
    unreadable (Hydra writes it in place: a full disk leaves it empty): such a job never really started."""
    try:
        saved = OmegaConf.load(job_dir / SAVED_CONFIG)
    except Exception:  # noqa: BLE001 - absent, not YAML, not a file, not readable: nothing to compare
        return None
    return task_config(saved) if isinstance(saved, DictConfig) and len(saved) else None


_ABSENT = object()  # a key one of two configs does not have


def config_differences(saved: Any, now: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, saved value, value now) of every leaf where two job configs differ (_ABSENT: no such key)."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for key in list(saved) + [k for k in now if k not in saved]
                for d in config_differences(saved.get(key, _ABSENT), now.get(key, _ABSENT), f"{prefix}{key}.")]
    return [] if saved == now else [(prefix.rstrip("."), saved, now)]


def _shown(value: Any) -> str:
    return "absent" if value is _ABSENT else repr(value)[:60]


def missing_files(job_dir: Path) -> list[str]:
    """The files every completed job has that ``job_dir`` lacks."""
    return [name for name in REQUIRED_FILES if not (job_dir / name).is_file()]


def resume_todo(sweep_dir: Path, configs: list[DictConfig]) -> list[int]:
    """Job numbers without a completed result: not started, failed, stopped, killed (recorded "running"
    by a process that is gone), or completed but missing one of its files. Refuses, before anything runs,
    when a job directory was made with a config other than the one the resume would run, or a job's
    process from an earlier run is still running it."""
    todo, conflicts, running = [], [], []
    for num, cfg in enumerate(configs):
        job_dir = sweep_dir / str(num)
        saved, wanted = _saved_task_config(job_dir), task_config(cfg)
        if saved is not None and saved != wanted:
            conflicts.append((num, config_differences(saved, wanted)))
        metrics = read_metrics(job_dir) or {}
        if still_running(metrics):
            running.append(f"{num} (PID {metrics['pid']})")
        if metrics.get("status") != Status.COMPLETED:
            todo.append(num)
        elif missing_files(job_dir):
            log.warning("Job %d is recorded completed but lacks %s: it runs again", num,
                        ", ".join(missing_files(job_dir)))
            todo.append(num)
        elif metrics.get("model_sha256") and (problem := model_problem(job_dir / MODEL_FILE, metrics)):
            # Another job's model, or an emptied file, is not this job's result (an older job records no
            # sha256: nothing to check it against).
            log.warning("Job %d is recorded completed but %s: it runs again", num, problem)
            todo.append(num)
    if conflicts:
        first, differences = conflicts[0]
        shown = ", ".join(f"{key} (saved {_shown(a)}, now {_shown(b)})" for key, a, b in differences[:5])
        more = f" and {len(differences) - 5} more" if len(differences) > 5 else ""
        # Keys the saved config lacks come from a newer medsweep than the one that started the sweep.
        newer = all(a is _ABSENT for _, a, _ in differences)
        raise CompactHydraException(
            f"resume=true refused: the config of job(s) {', '.join(str(n) for n, _ in conflicts)} in {sweep_dir} "
            f"differs from the one this command would run (job {first}: {shown}{more}; see its .hydra/config.yaml); "
            + ("the sweep was started by an older medsweep, which did not have these keys: finish it with that "
               "version, or start a new sweep." if newer else
               "resume with the original arguments, or start a new sweep.") + " Nothing was changed.")
    if running:
        raise CompactHydraException(
            f"resume=true refused: job(s) {', '.join(running)} of {sweep_dir} are still running, started by an "
            "earlier run of this sweep; wait for them to end or stop them, then resume. Nothing was changed.")
    return todo


def _record(job_dir: Path, record: dict) -> bool:
    """Write a job's metrics.json for it; False where the disk is full (said in the log)."""
    try:
        write_metrics(job_dir, record)
        return True
    except OSError as exc:
        if overwrite_metrics_in_place(job_dir, record):
            return True
        log.error("Could not record job %s as %s: %s", job_dir.name, record["status"], os.strerror(exc.errno or 0))
        return False


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
        if _record(job_dir, record):
            marked.append(num)
    return marked


def record_lost(sweep_dir: Path, nums: list[int]) -> list[int]:
    """Jobs recorded "running" whose process is gone (killed by the OS, out of memory, or crashed: it could
    not record anything itself) are recorded as failed, WorkerKilled."""
    lost = []
    for num in nums:
        job_dir = sweep_dir / str(num)
        metrics = read_metrics(job_dir)
        if not metrics or metrics.get("status") != Status.RUNNING or still_running(metrics):
            continue
        error = (f"the job's process (PID {metrics.get('pid')}) died without recording a result "
                 "(killed by the OS: out of memory?)")
        if _record(job_dir, {**metrics, "status": Status.FAILED, "error": error, "error_type": "WorkerKilled",
                             "finished_at": now()}):
            lost.append(num)
    return lost


def describe(num: int, overrides: list[str], cfg: Any) -> str:
    """One line of a dry run: what the job would train, on what data (``cfg``: the job's composed config or
    its values, _compose.JobValues)."""
    from medsweep.data.tables import DataError, resolve_path  # pandas: only a dry run needs it here

    try:
        path = resolve_path(cfg.data, cfg.get("data_dir"))
        source = f"file {path}" if path else f"{cfg.data.source}:{cfg.data.name}"
    except DataError as exc:
        source = f"error: {exc}"
    t = cfg.trainer
    return (f"#{num:<4} {' '.join(overrides) or '(defaults)'}\n"
            f"       model={cfg.model.name} estimator={cfg.estimator.name} epochs={t.epochs} folds={t.folds} "
            f"batch_size={t.batch_size} seed={cfg.seed} data={source}")
