"""A sweep's directory: every path in it, the lock of the one process running it, claiming a new one, its
job list (sweep.json), what a resume must run, and the records of jobs that could not record their own end
(stopped by an interrupt, or lost with their process).

The sweeper, the launcher, the summary and tracking ask a :class:`SweepDir` instead of joining names by hand.
No Hydra, numpy or pandas here: messages name the command-line keys (``resume=true``, ``hydra.sweep.dir``)
because that is how a user reaches a sweep.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Container, Iterable, Optional, Sequence

from medsweep.record.files import (LOCK_FILE, OPTUNA_FILE, SUMMARY_FILES, SWEEP_CONFIG, SWEEP_FILE, TRACKING_FILE,
                                   JobPaths, list_jobs, not_ours)
from medsweep.record.job_record import (JobRecord, Status, model_problem, overwrite_record_in_place, read_record,
                                        write_record)
from medsweep.record.liveness import still_running
from medsweep.record.lock import LockRefused, SweepLock, holder, try_lock
from medsweep.record.outputs import now, overwrite_json_in_place, write_json

log = logging.getLogger(__name__)
# Written by medsweep's Optuna sweeper (hydra_plugins/medsweep_sweeper) when the search has several objectives:
# the trials on the Pareto front, one row each.
PARETO_FILE = "pareto_front.csv"


class SweepRefused(Exception):
    """The directory cannot be this sweep's (one line, said before anything was written)."""


@dataclass
class ResumePlan:
    """What a resume of a sweep must do, from what its jobs recorded."""

    todo: list[int] = field(default_factory=list)            # jobs without a completed, intact result
    running: list[tuple[int, Any]] = field(default_factory=list)  # (job, PID) still run by an earlier run
    damaged: list[tuple[int, str]] = field(default_factory=list)  # (job, why) recorded completed, not intact
    pruned: list[int] = field(default_factory=list)          # stopped by a search: left as they are


@dataclass(frozen=True)
class SweepDir:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- paths ---------------------------------------------------------------------------------------------
    @property
    def sweep_file(self) -> Path:
        return self.path / SWEEP_FILE

    @property
    def config_file(self) -> Path:
        return self.path / SWEEP_CONFIG

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_FILE

    @property
    def tracking_file(self) -> Path:
        return self.path / TRACKING_FILE

    @property
    def optuna_file(self) -> Path:
        return self.path / OPTUNA_FILE

    @property
    def pareto_file(self) -> Path:
        return self.path / PARETO_FILE

    @property
    def summary_files(self) -> tuple[Path, ...]:
        return tuple(self.path / name for name in SUMMARY_FILES)

    def job(self, num: int | str) -> JobPaths:
        """The paths of job ``num`` (its directory is named by its number, or by sweep.json's ``dir``)."""
        return JobPaths(self.path / str(num))

    def record(self, num: int | str) -> Optional[JobRecord]:
        return read_record(self.job(num).folder)

    def jobs(self) -> tuple[dict, list[dict]]:
        """(sweep info, [{num, dir, overrides}]): files.list_jobs."""
        return list_jobs(self.path)

    # -- claiming and locking ------------------------------------------------------------------------------
    @classmethod
    def claim(cls, path: Path, resume: bool) -> tuple["SweepDir", SweepLock]:
        """The directory this sweep owns, locked for its life (lock.py). A new sweep claims a directory by
        locking it and then creating sweep.json exclusively, so two sweeps started in the same second never
        share one: the later one gets ``<dir>-1``, ``<dir>-2``, ... A resume locks its directory before it
        reads or changes anything, and is refused while another process holds it. A new sweep never writes
        into a folder that is not a medsweep sweep: SweepRefused, before anything is written."""
        path = Path(path)
        if resume:
            if not cls(path).sweep_file.is_file():
                raise SweepRefused(f"resume=true: {path} holds no medsweep sweep ({SWEEP_FILE} is missing); "
                                   "pass hydra.sweep.dir=<the directory of the sweep to resume>")
            lock = cls(path).lock()
            if lock is None:
                raise SweepRefused(f"resume=true refused: {path} is in use by another sweep ({holder(path)}); "
                                   "wait for it to end or stop it, then resume. Nothing was changed.")
            return cls(path), lock
        why = cls(path).foreign()
        if why:
            raise SweepRefused(f"hydra.sweep.dir={path} {why}, and is not a medsweep sweep (no {SWEEP_FILE}): "
                               "nothing was written; choose a new or empty directory (resume=true continues a "
                               "medsweep sweep only)")
        candidate, n = path, 0
        while True:
            # A numbered candidate that is someone else's folder is passed over like a sweep's.
            sweep = cls(candidate)
            if not (candidate != path and sweep.foreign()):
                candidate.mkdir(parents=True, exist_ok=True)
                lock = None if sweep.sweep_file.exists() else sweep.lock()
                if lock is not None:
                    try:
                        os.close(os.open(sweep.sweep_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                        return sweep, lock
                    except FileExistsError:
                        lock.release()
            n += 1
            candidate = path.with_name(f"{path.name}-{n}")

    def foreign(self) -> Optional[str]:
        """Why this folder must not become a new sweep's directory (files.not_ours); None for a new or empty
        directory, a medsweep sweep (passed over by claim), or one holding only the lock of a sweep killed as
        it started."""
        return not_ours(self.path, SWEEP_FILE, ignore=(LOCK_FILE,))

    def lock(self) -> Optional[SweepLock]:
        """lock.try_lock: None where another process holds it; SweepRefused where the lock file cannot be used
        (a planted link)."""
        try:
            return try_lock(self.path)
        except OSError as exc:
            why = str(exc) if isinstance(exc, LockRefused) else f"{self.lock_file}: {exc.strerror}"
            raise SweepRefused(f"Sweep refused: its lock file cannot be used ({why}); nothing was written "
                               "through it. Remove it if it is not yours, or choose another hydra.sweep.dir") from None

    def holder(self) -> str:
        return holder(self.path)

    # -- sweep.json ----------------------------------------------------------------------------------------
    def start(self, command: str, launcher: str, n_jobs: Any, overrides: Sequence[Sequence[str]],
              resume: bool) -> dict:
        """Write sweep.json as the sweep starts and return it: the command, its start, the launcher, the jobs it
        runs at once and each job's overrides. A resume keeps the first run's command and start, and adds
        itself to ``resumes``."""
        started = now()
        info = {
            "command": command, "started_at": started, "finished_at": None, "status": Status.RUNNING,
            "launcher": launcher, "n_jobs": n_jobs,
            "jobs": [{"num": n, "overrides": list(o), "dir": str(n)} for n, o in enumerate(overrides)],
        }
        if resume:
            try:
                first = json.loads(self.sweep_file.read_text())
            except ValueError:  # written by a sweep killed before it got this far
                first = {}
            info.update(command=first.get("command", command), started_at=first.get("started_at", started),
                        resumes=[*first.get("resumes", []), {"command": command, "started_at": started}])
        write_json(self.sweep_file, info)
        return info

    def finish(self, info: dict, status: str) -> None:
        """Record the sweep's end in sweep.json; on a full disk, in the space the file already has."""
        record = {**info, "finished_at": now(), "status": status}
        try:
            write_json(self.sweep_file, record)
        except OSError:
            if not overwrite_json_in_place(self.sweep_file, record):
                raise

    # -- the jobs' records ---------------------------------------------------------------------------------
    def resume_plan(self, nums: Sequence[int], rerun_pruned: bool = False) -> ResumePlan:
        """Which jobs a resume runs: not started, failed, stopped, killed (recorded "running" by a process that
        is gone), or completed but missing one of its files or with another model than its own; and which are
        still run by a process of an earlier run (the resume is then refused). A job a search pruned stays
        pruned (``pruned``), unless ``rerun_pruned`` (race.rerun_pruned=true)."""
        plan = ResumePlan()
        for num in nums:
            job = self.job(num)
            record = read_record(job.folder) or JobRecord()
            if still_running(record):
                plan.running.append((num, record.pid))
            if record.status == Status.PRUNED and not rerun_pruned:
                plan.pruned.append(num)
            elif not record.completed:
                plan.todo.append(num)
            elif job.missing():
                plan.damaged.append((num, f"lacks {', '.join(job.missing())}"))
                plan.todo.append(num)
            elif record.model_sha256 and (problem := model_problem(job.model, record)):
                # Another job's model, or an emptied file, is not this job's result (an older job records no
                # sha256: nothing to check it against).
                plan.damaged.append((num, problem))
                plan.todo.append(num)
        return plan

    def _save(self, num: int, record: JobRecord) -> bool:
        """Write a job's record for it; on a full disk within the space its file has; False where neither could
        be done (said in the log)."""
        folder = self.job(num).folder
        try:
            write_record(folder, record)
            return True
        except OSError as exc:
            if overwrite_record_in_place(folder, record):
                return True
            log.error("Could not record job %s as %s: %s", folder.name, record.status, os.strerror(exc.errno or 0))
            return False

    def mark_interrupted(self, nums: Sequence[int], overrides: Sequence[Sequence[str]], reason: str) -> list[int]:
        """Jobs that had started but not finished are recorded as interrupted; finished ones are untouched."""
        marked = []
        for num in nums:
            job = self.job(num)
            if not job.folder.is_dir():
                continue  # never started
            record = read_record(job.folder)
            if record is not None and not record.running:
                continue
            record = (record or JobRecord()).filled(job_num=num, overrides=list(overrides[num]),
                                                    job_dir=str(job.folder))
            if self._save(num, record.ended(Status.INTERRUPTED, reason, "Interrupted")):
                marked.append(num)
        return marked

    def record_lost(self, nums: Sequence[int]) -> list[int]:
        """Jobs recorded "running" whose process is gone (killed by the OS, out of memory, or crashed: it could
        not record anything itself) are recorded as failed, WorkerKilled."""
        lost = []
        for num in nums:
            record = self.record(num)
            if record is None or not record.running or still_running(record):
                continue
            error = (f"the job's process (PID {record.pid}) died without recording a result "
                     "(killed by the OS: out of memory?)")
            if self._save(num, record.ended(Status.FAILED, error, "WorkerKilled")):
                lost.append(num)
        return lost


def ran_by(job: JobPaths, pids: Container[int], since: float) -> Optional[JobRecord]:
    """The record of ``job`` where one of the processes ``pids`` (workers that died) was running it: its
    metrics.json, written since ``since`` (time.time() as those processes started), says "running" with that
    PID. None for a job lost some other way (stopped with the pool, or not started)."""
    record = read_record(job.folder) if job.metrics_written_since(since) else None
    if record is None or not record.running or record.pid not in pids:
        return None
    return record


def job_numbers(nums: Iterable[int], limit: int = 8) -> str:
    """'#0-#3, #7' for jobs 0, 1, 2, 3, 7; past ``limit`` runs, '... (n jobs)'."""
    nums = sorted(set(nums))
    runs: list[list[int]] = []
    for n in nums:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    parts = [f"#{r[0]}" if len(r) == 1 else f"#{r[0]}-#{r[-1]}" for r in runs]
    text = ", ".join(parts[:limit]) + (", ..." if len(parts) > limit else "")
    return text + (f" ({len(nums)} jobs)" if len(parts) > limit else "")
