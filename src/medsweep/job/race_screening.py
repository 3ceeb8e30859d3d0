"""Racing in two stages, as medsweep's grid sweeper runs it (tidymodels' racing screens the same way): first
every job of the sweep scores its first ``race.min_folds`` folds and stops ("screened", its folds kept: learn/
fold_store.py); then, with every job's first folds known, the jobs already worse than their group's leader are
pruned here, and the others are launched again, the most promising of each group first, to go on from their
kept folds with racing's decision after each fold (racing.py).

Why: deciding in each job alone, the first jobs of a sweep have nobody to race and run every fold, and a job
meets only the leader among those that happened to start before it. Screened first, every job is compared with
the best of all of them, and the likely winners run first, so the leader the others meet after each fold is
already a strong one. A job that is not pruned gives exactly the numbers it gives in a sweep without racing.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Optional, Sequence

from omegaconf import DictConfig

from medsweep.job.racing import RACE_DIR, SCREEN, STAGE_FILE, decide, read_race_file, set_stage, stop_reason
from medsweep.learn.fold_store import FoldStore
from medsweep.record.job_record import Status, write_record
from medsweep.record.outputs import now
from medsweep.record.sweep_dir import SweepDir

log = logging.getLogger("medsweep")

CONTINUE = "continue"


def _groups(sweep_dir: Path) -> dict[str, dict[str, dict]]:
    """group -> job name -> its race file (racing.read_race_file)."""
    out: dict[str, dict[str, dict]] = {}
    for group in sorted(p for p in (Path(sweep_dir) / RACE_DIR).glob("*") if p.is_dir()):
        for path in sorted(group.glob("*.json")):
            if (data := read_race_file(path)) is not None:
                out.setdefault(group.name, {})[path.stem] = data
    return out


def screen(sweep_dir: Path, nums: Sequence[int]) -> tuple[list[int], list[int]]:
    """After the first stage: record as pruned each screened job of ``nums`` that is worse than its group's
    leader on the folds all of them scored. Returns (the others: screened, to go on, the most promising of each
    group first, by their mean score: each group's best, then each group's second, ...; the pruned)."""
    sweep = SweepDir(sweep_dir)
    screened = {str(n): r for n in nums if (r := sweep.record(n)) is not None and r.status == Status.SCREENED}
    ranked: list[tuple[int, int]] = []   # (rank in its group, job number)
    pruned: list[int] = []
    for group, files in _groups(sweep_dir).items():
        scores = {job: f["scores"] for job, f in files.items()}
        going_on = []
        for job in sorted(set(screened) & set(files), key=int):
            f = files[job]
            others = {o: s for o, s in scores.items() if o != job}
            stop = decide(scores[job], others, bool(f["greater_is_better"]), int(f["min_folds"]), float(f["alpha"]),
                          str(f["test"]), float(f["test_train_ratio"]))
            if stop is None:
                sign = 1.0 if f["greater_is_better"] else -1.0
                finite = [v for v in scores[job].values() if math.isfinite(v)]
                going_on.append((-sign * math.fsum(finite) / max(len(finite), 1), int(job)))
                continue
            folder = sweep.job(job).folder
            details = {"reason": stop_reason(f["metric"], stop, f["alpha"]) + ", at screening", "by": "racing",
                       "stage": "screening", "metric": f["metric"], **stop}
            write_record(folder, screened[job].updated(status=Status.PRUNED, pruned=details, finished_at=now()))
            FoldStore(folder, "").clear()
            pruned.append(int(job))
        ranked += [(rank, num) for rank, (_, num) in enumerate(sorted(going_on))]
    return [num for _, num in sorted(ranked)], sorted(pruned)


class Screening:
    """The two stages of a racing sweep, for the sweeper: ``start`` before the first launch, ``survivors``
    between the two, ``end`` after the second (whatever happened)."""

    def start(self, sweep_dir: Path) -> None:
        set_stage(sweep_dir, SCREEN)

    def survivors(self, sweep_dir: Path, nums: Sequence[int]) -> list[int]:
        going_on, pruned = screen(sweep_dir, nums)
        set_stage(sweep_dir, CONTINUE)
        log.info("Racing, screened on their first folds: %d of %d jobs go on, %d pruned", len(going_on), len(nums),
                 len(pruned))
        return going_on

    def end(self, sweep_dir: Path) -> None:
        (Path(sweep_dir) / RACE_DIR / STAGE_FILE).unlink(missing_ok=True)


def screening(config: DictConfig) -> Optional[Screening]:
    """The sweep's racing stages, where its config races (``race.enabled``), else None."""
    race = config.get("race")
    return Screening() if race is not None and bool(race.get("enabled")) else None

