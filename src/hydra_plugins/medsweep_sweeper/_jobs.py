"""A sweep's state on disk, for the sweeper: its directory (claimed and locked), its job list (sweep.json),
what a resume must run, and the record of jobs stopped by an interrupt or lost with their process. The files
and their rules are record.sweep_dir's; this module adds what needs the sweep's configs (a resume compares
each job's saved config with the one it would run) and turns a refusal into Hydra's one-line error."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Optional

from hydra.errors import CompactHydraException
from omegaconf import DictConfig, OmegaConf

from medsweep.config.run_control import job_overrides, trained_config
from medsweep.record.files import JobPaths
from medsweep.record.lock import SweepLock
from medsweep.record.sweep_dir import SweepDir, SweepRefused

log = logging.getLogger(__name__)


def claim_sweep_dir(path: Path, resume: bool) -> tuple[Path, SweepLock]:
    """The directory this sweep owns, locked for its life (SweepDir.claim); a refusal in one line."""
    try:
        sweep, lock = SweepDir.claim(path, resume)
    except SweepRefused as exc:
        raise CompactHydraException(str(exc)) from None
    return sweep.path, lock


def start_sweep_file(sweep_dir: Path, config: DictConfig, jobs: list[list[str]], resume: bool,
                     at_once: Optional[int] = None) -> dict:
    """Write sweep.json as the sweep starts: `n_jobs` is ``at_once``, the jobs the launcher runs at once
    where it says so (medsweep's joblib launcher), else its own `n_jobs` option, if any. A resume keeps the
    first run's command and start, and adds itself to `resumes`."""
    launcher = config.hydra.launcher
    return SweepDir(sweep_dir).start(
        command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        launcher=str(launcher.get("_target_", "")).rsplit(".", 1)[-1],
        n_jobs=at_once if at_once is not None else launcher.get("n_jobs"),
        overrides=[job_overrides(o) for o in jobs], resume=resume)


def finish_sweep_file(sweep_dir: Path, info: dict, status: str) -> None:
    """Record the sweep's end in sweep.json; on a full disk, in the space the file already has."""
    SweepDir(sweep_dir).finish(info, status)


def task_config(cfg: DictConfig) -> dict:
    """What a job trains, as saved in its .hydra/config.yaml, without the run-control keys."""
    return trained_config(OmegaConf.to_container(cfg, resolve=False))


def _saved_task_config(job: JobPaths) -> Optional[dict]:
    """What the job's .hydra/config.yaml says it trains; None where there is none, or it is empty or
    unreadable (Hydra writes it in place: a full disk leaves it empty): such a job never really started."""
    try:
        saved = OmegaConf.load(job.saved_config)
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


def resume_todo(sweep_dir: Path, configs: list[DictConfig]) -> list[int]:
    """Job numbers without a completed result (SweepDir.resume_plan). Refuses, before anything runs, when a
    job directory was made with a config other than the one the resume would run, or a job's process from an
    earlier run is still running it."""
    sweep = SweepDir(sweep_dir)
    conflicts = []
    for num, cfg in enumerate(configs):
        saved, wanted = _saved_task_config(sweep.job(num)), task_config(cfg)
        if saved is not None and saved != wanted:
            conflicts.append((num, config_differences(saved, wanted)))
    rerun_pruned = any(bool(OmegaConf.select(c, "race.rerun_pruned", default=False)) for c in configs)
    plan = sweep.resume_plan(range(len(configs)), rerun_pruned=rerun_pruned)
    if plan.pruned:
        log.info("Job(s) %s were pruned by a search and stay pruned (race.rerun_pruned=true reruns them)",
                 ", ".join(map(str, plan.pruned)))
    for num, why in plan.damaged:
        log.warning("Job %d is recorded completed but %s: it runs again", num, why)
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
    if plan.running:
        running = ", ".join(f"{num} (PID {pid})" for num, pid in plan.running)
        raise CompactHydraException(
            f"resume=true refused: job(s) {running} of {sweep_dir} are still running, started by an "
            "earlier run of this sweep; wait for them to end or stop them, then resume. Nothing was changed.")
    return plan.todo


def mark_interrupted(sweep_dir: Path, nums: list[int], jobs: list[list[str]], reason: str) -> list[int]:
    """Jobs that had started but not finished are recorded as interrupted; finished ones are untouched."""
    return SweepDir(sweep_dir).mark_interrupted(nums, jobs, reason)


def record_lost(sweep_dir: Path, nums: list[int]) -> list[int]:
    """Jobs recorded "running" whose process is gone are recorded as failed, WorkerKilled."""
    return SweepDir(sweep_dir).record_lost(nums)
