"""Waiting for a launch's array tasks, and what SLURM says about one that ended without a result.

submitit learns a task's state from ``sacct``, which needs SLURM's accounting database: on a cluster
without one (and on a one-node test cluster) it never learns that a cancelled or timed-out task has
ended, and waits for ever. Here a task is done when its result file exists, or when ``squeue`` (always
available) no longer lists it as pending or running; sacct is not asked.

A task SLURM ended writes why in its error stream: ``slurmstepd: error: *** JOB 12 ON node CANCELLED AT
2026-12-02T06:00:00 DUE TO TIME LIMIT ***`` (without "DUE TO": scancel).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Sequence

# squeue states of a task that has not ended yet
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED",
          "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}
_ENDED_BY_SLURM = re.compile(r"\*\*\* (?:JOB|STEP) (\S+) ON (\S+) CANCELLED AT (\S+)(?: DUE TO ([A-Z_ ]+?))?"
                             r"(?: \(.*?\))? \*\*\*")


@dataclass(frozen=True)
class Ending:
    """Why SLURM ended a task: ``timeout`` (its time limit), else ``cancelled`` (scancel, preemption, a
    node failure); ``line``: SLURM's words."""

    timeout: bool
    line: str


def slurm_ending(stderr: Optional[str], last_state: Optional[str] = None) -> Optional[Ending]:
    """What SLURM wrote when it ended the task (its last such line), else what squeue last said."""
    found = list(_ENDED_BY_SLURM.finditer(stderr or ""))
    if found:
        match = found[-1]
        due = (match.group(4) or "").strip()
        return Ending(timeout=due == "TIME LIMIT", line=match.group(0).strip("* "))
    if last_state and last_state not in ACTIVE and last_state != "COMPLETED":
        return Ending(timeout=last_state == "TIMEOUT", line=f"SLURM state {last_state}")
    return None


# Why a task may be pending for ever: the request exceeds what the partition allows.
NEVER_RUNS = ("PartitionTimeLimit", "PartitionNodeLimit", "PartitionConfig", "BadConstraints", "InvalidAccount",
              "InvalidQOS", "QOSMaxWallDurationPerJobLimit")


UNLISTED_GRACE_S = 10.0


class NeverRuns(RuntimeError):
    """SLURM holds an array task that cannot start with the options given (too long for the partition ...)."""


def queue_states(job_ids: Iterable[str]) -> Optional[Dict[str, str]]:
    """squeue's state of each array task ('123_4' -> 'RUNNING'); None where squeue fails. Raises NeverRuns
    for a task pending for a reason that does not go away by waiting."""
    masters = sorted({str(j).split("_")[0] for j in job_ids})
    try:
        out = subprocess.run(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r",
                              f"--jobs={','.join(masters)}"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        # every job named has left the controller's memory (MinJobAge): none is active
        return {} if "Invalid job id" in out.stderr else None
    states = {}
    for line in out.stdout.splitlines():
        task, state, reason = (line.strip().split("|") + ["", ""])[:3]
        states[task] = state
        if state == "PENDING" and reason in NEVER_RUNS:
            raise NeverRuns(f"SLURM will not start array task {task}: pending ({reason}); check "
                            "hydra.launcher.timeout_min, partition, account, qos and the resources asked for")
    return states


def wait(jobs: Sequence[Any], poll_s: float = 0.5, max_queue_poll_s: float = 5.0) -> Dict[str, str]:
    """Until every submitit job of ``jobs`` has its result file or has left squeue's active states; the
    last squeue state seen of each. squeue (one request for the launch's array) is asked less and less
    often, 0.5 s doubling up to 5 s; results are seen within ``poll_s`` (their files)."""
    pending = {job.job_id: job for job in jobs}
    last: Dict[str, str] = {}
    unlisted: Dict[str, int] = {}  # squeue calls in a row that did not list the task
    since = time.monotonic()
    next_queue, interval = since + poll_s, poll_s
    while pending:
        for job_id in [j for j, job in pending.items() if job.paths.result_pickle.exists()]:
            del pending[job_id]
        if pending and time.monotonic() >= next_queue:
            states = queue_states(pending)
            if states is not None:
                last.update({j: states[j] for j in pending if j in states})
                for job_id in list(pending):
                    state = states.get(job_id)
                    unlisted[job_id] = unlisted.get(job_id, 0) + 1 if state is None else 0
                    # ended: a final state, or absent three times running and not just submitted (a busy
                    # controller may not list a new task yet; one that ended long ago has left its memory)
                    ended = (state is not None and state not in ACTIVE) or (
                        unlisted[job_id] >= 3 and time.monotonic() - since > UNLISTED_GRACE_S)
                    if ended and not pending[job_id].paths.result_pickle.exists():
                        del pending[job_id]
            interval = min(max_queue_poll_s, interval * 2)
            next_queue = time.monotonic() + interval
        if pending:
            time.sleep(poll_s)
    return last


def cancel(jobs: Sequence[Any]) -> None:
    """scancel the tasks of ``jobs`` that have not finished (on an interrupted sweep)."""
    ids = [job.job_id for job in jobs if not job.paths.result_pickle.exists()]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=60)
