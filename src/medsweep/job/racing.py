"""Racing over folds (``race.enabled=true``): a sweep's jobs that are clearly worse stop early.

Jobs of one group (same model, data, folds, repeats and seed: the same patients in each fold, see
:func:`group_key`) write each fold's primary-metric score into the sweep directory as it finishes
(``<sweep>/.race/<group>/<job>.json``, one small file per job, written atomically). After ``race.min_folds``
folds, a job pairs its scores with the leader's on its folds: of the jobs of its group that scored every one of
them, the one with the best mean over them (decide). The job stops (status "pruned", learn.stops.FoldsStopped)
when it is worse than the leader by a one-sided paired test at ``race.alpha``.

The test (``race.test``): by default the corrected resampled t-test of Nadeau & Bengio (2003), the one
``medsweep compare`` and the summaries' "vs best" use. Fold scores share most of their training rows, so a
test that treats them as independent (a plain t-test, or the Wilcoxon signed-rank test) rejects far too often;
the corrected variance ``var(d) * (1/n + n_test/n_train)`` accounts for it. It is defined from 2 pairs on.
The Wilcoxon test (``race.test=wilcoxon``) assumes no distribution, but ignores that dependence and its exact
one-sided p on n pairs is never below 1/2^n: with 5 folds it cannot stop a job at 0.05 before all 5 pairs.

The decision lives in the job and reads only the sweep's files, so racing works with every launcher (and
every sweeper that runs jobs of one multirun). Which losers are pruned can depend on the order in which jobs
finish (the leader a job meets is the best of those that had scored its folds by then); a job's numbers never
do: racing only stops a job, it changes nothing of what a job that is not stopped computes.

medsweep's grid sweeper races in two stages, as tidymodels' racing does (job/race_screening.py): while the
sweep's stage file says "screen", every job scores its first ``race.min_folds`` folds, keeps them (its
FoldStore) and stops, recorded "screened"; the sweeper then prunes, against the leader of all of them, the
jobs already worse, and launches the others, the most promising first, to go on from their kept folds with the
decision above after each fold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path
from typing import Mapping, Optional

from omegaconf import DictConfig, OmegaConf

from medsweep.evaluate.metrics import greater_is_better, primary_metric
from medsweep.learn.fold_store import FoldStore
from medsweep.learn.stops import FoldsPaused, FoldsStopped
from medsweep.record.outputs import write_json
from medsweep.report.compare import corrected_ttest

log = logging.getLogger("medsweep")

RACE_DIR = ".race"
STAGE_FILE = "stage.json"  # in RACE_DIR: {"stage": "screen"} while the sweeper screens (race_screening.py)
SCREEN = "screen"
TESTS = {"corrected_ttest": "corrected resampled t-test (Nadeau & Bengio 2003), one-sided",
         "wilcoxon": "Wilcoxon signed-rank test (exact where possible), one-sided"}


def group_key(cfg: DictConfig) -> str:
    """Which jobs race each other: those scored on the same patients in the same folds (model, data, the data
    folder, folds, repeats, hold-out and the seed that shuffles the folds). 16 hex characters."""
    t = cfg.trainer
    what = {"model": cfg.model.name, "data": OmegaConf.to_container(cfg.data, resolve=True),
            "data_dir": cfg.get("data_dir"), "folds": t.folds, "repeats": t.repeats, "holdout": t.get("holdout"),
            "seed": cfg.seed}
    return _digest(what)


def _digest(what: dict) -> str:
    """16 hex characters of the sha256 of ``what`` as sorted JSON."""
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stage(sweep_dir: Path) -> Optional[str]:
    """The racing stage the sweeper set for the sweep's jobs ("screen", "continue"), or None: no stages (another
    sweeper; racing decides in each job as its folds end)."""
    try:
        return str(json.loads((Path(sweep_dir) / RACE_DIR / STAGE_FILE).read_text())["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def set_stage(sweep_dir: Path, name: str) -> None:
    folder = Path(sweep_dir) / RACE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / STAGE_FILE, {"stage": name})


def job_key(cfg: DictConfig) -> str:
    """What a job's kept folds were trained with: its config but the ``race`` keys (which only decide whether
    it goes on). 16 hex characters."""
    what = OmegaConf.to_container(cfg, resolve=True)
    what.pop("race", None)
    return _digest(what)


def fold_store(cfg: DictConfig, out_dir: Path, sweep_dir: Optional[Path]) -> Optional[FoldStore]:
    """Where a racing job of a staged sweep keeps its folds (None: racing off, no sweep, or no stages)."""
    race = cfg.get("race")
    if race is None or not race.enabled or sweep_dir is None or stage(sweep_dir) is None:
        return None
    return FoldStore(Path(out_dir), job_key(cfg))


def stop_reason(metric: str, stop: dict, alpha: float) -> str:
    """The one line a job pruned by racing records as its reason."""
    leader = stop["leader"]
    return (f"racing: {metric} worse than job {leader['job']}'s on {len(stop['folds'])} shared folds "
            f"(mean difference {stop['mean_difference']:+.4f}; {stop['test']}, p={stop['p_value']:.4g} "
            f"< race.alpha={alpha})")


def one_sided_p(own: list[float], leader: list[float], higher_is_better: bool, test: str,
                test_train_ratio: float) -> tuple[Optional[float], float]:
    """(statistic, p) of "``own`` is worse than ``leader``" on paired fold scores. corrected_ttest: t of the
    differences own - leader in the metric's better direction (negative: own worse), p its lower tail;
    wilcoxon: the signed-rank statistic of scipy.stats.wilcoxon(alternative="less"). The statistic is None
    where infinite (the same non-zero difference in every fold)."""
    sign = 1.0 if higher_is_better else -1.0
    d = [sign * (a - b) for a, b in zip(own, leader)]
    if test == "wilcoxon":
        if all(x == 0 for x in d):
            return 0.0, 1.0
        from scipy.stats import wilcoxon

        res = wilcoxon(d, alternative="less")
        return float(res.statistic), float(res.pvalue)
    # corrected_ttest's ratio is n_test / n_train: sizes passed as (1, 1 / ratio) give it exactly.
    res = corrected_ttest(d, [0.0] * len(d), 1.0 / test_train_ratio, 1.0)
    t, p2 = res["t"], res["p_value"]
    if t is None:  # zero variance, a non-zero difference: p = 0 on the side of the difference
        return None, 0.0 if res["mean_difference"] < 0 else 1.0
    return float(t), float(p2 / 2 if t < 0 else 1 - p2 / 2)


def decide(own: Mapping[int, float], others: Mapping[str, Mapping[int, float]], higher_is_better: bool,
           min_folds: int, alpha: float, test: str, test_train_ratio: float) -> Optional[dict]:
    """Whether a job with fold scores ``own`` ({fold: score}) stops against the other jobs of its group
    (``others``: job -> {fold: score}): None to go on, else the record's ``pruned`` details. From ``min_folds``
    (finite) scores on, the job is paired on all its folds with the leader: of the jobs that scored every one of
    them, the one with the best mean over them (ties: the first job by name). Every candidate is judged on the
    same folds: folds differ in how hard they are (ROC-AUC 0.83 to 0.96 across one forest's 15 folds on
    Cleveland), and a job that scored only the easy ones would look best on its few folds and be a weak
    leader to test against."""
    mine = {f: s for f, s in own.items() if math.isfinite(s)}
    if len(mine) < min_folds:
        return None
    sign = 1.0 if higher_is_better else -1.0
    common = sorted(mine)
    best = None
    for job in sorted(others):
        if not all(math.isfinite(others[job].get(f, math.nan)) for f in common):
            continue
        theirs = [float(others[job][f]) for f in common]
        mean = sign * math.fsum(theirs) / len(theirs)
        if best is None or mean > best[0]:
            best = (mean, job, common, theirs)
    if best is None:
        return None
    _, leader, common, theirs = best
    scores = [float(mine[f]) for f in common]
    statistic, p = one_sided_p(scores, theirs, higher_is_better, test, test_train_ratio)
    if not p < alpha:
        return None
    return {"folds": common, "scores": scores, "leader": {"job": leader, "scores": theirs},
            "test": TESTS[test], "statistic": statistic, "p_value": p, "alpha": alpha, "min_folds": min_folds,
            "mean_difference": (math.fsum(scores) - math.fsum(theirs)) / len(common)}


def read_race_file(path: Path) -> Optional[dict]:
    """A job's race file, its scores as {fold: score} (nan: not finite); None where unreadable (being replaced,
    or not one of ours: not raced against)."""
    try:
        data = json.loads(path.read_text())
        data["scores"] = {int(f): math.nan if s is None else float(s) for f, s in data["scores"].items()}
        return data
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class Race:
    """The fold hook of one job of a racing sweep (job/fold_hooks.py): records each fold's score, then
    stops the job once it loses to its group's leader."""

    def __init__(self, cfg: DictConfig, out_dir: Path, sweep_dir: Path):
        self.settings = cfg.race
        self.metric = primary_metric(cfg.data.task)
        self.higher = greater_is_better(self.metric)
        self.test_train_ratio = 1.0 / (cfg.trainer.folds - 1)  # test rows per training row (corrected t-test)
        self.dir = Path(sweep_dir) / RACE_DIR / group_key(cfg)
        try:
            name = str(Path(out_dir).resolve().relative_to(Path(sweep_dir).resolve()))
        except ValueError:
            name = Path(out_dir).name
        self.job = name.replace("/", "__")
        self.file = self.dir / f"{self.job}.json"
        self.scores: dict[int, float] = {}
        # Screening (race_screening.py): stop after min_folds folds, unless they are all the job has.
        n_folds = math.inf if cfg.data.get("site") else cfg.trainer.folds * cfg.trainer.repeats
        self.screening = stage(sweep_dir) == SCREEN and self.settings.min_folds < n_folds

    def others(self) -> dict[str, dict[int, float]]:
        out = {}
        for path in sorted(self.dir.glob("*.json")):
            if path.stem != self.job and (data := read_race_file(path)) is not None:
                out[path.stem] = data["scores"]
        return out

    def __call__(self, fold: int, metrics: dict) -> None:
        score = float(metrics.get(self.metric, math.nan))
        self.scores[fold] = score
        self.dir.mkdir(parents=True, exist_ok=True)
        s = self.settings
        write_json(self.file, {"job": self.job, "metric": self.metric, "greater_is_better": self.higher,
                               "min_folds": s.min_folds, "alpha": s.alpha, "test": s.test,
                               "test_train_ratio": self.test_train_ratio,
                               "scores": {str(f): (v if math.isfinite(v) else None) for f, v in self.scores.items()}})
        if self.screening:  # the sweeper decides, against every job's first folds (race_screening.py)
            if len(self.scores) >= s.min_folds:
                raise FoldsPaused(f"screened: {len(self.scores)} folds scored")
            return
        stop = decide(self.scores, self.others(), self.higher, s.min_folds, s.alpha, s.test, self.test_train_ratio)
        if stop is not None:
            raise FoldsStopped(stop_reason(self.metric, stop, s.alpha), {"by": "racing", "metric": self.metric, **stop})


def race_hook(cfg: DictConfig, out_dir: Path, sweep_dir: Optional[Path]) -> Optional[Race]:
    """The racing hook of this job, or None: racing is off, or the job is not part of a sweep (nothing to
    race against)."""
    race = cfg.get("race")
    if race is None or not race.enabled:
        return None
    if sweep_dir is None:
        log.info("race.enabled=true: a single run has nothing to race against; every fold is run")
        return None
    return Race(cfg, out_dir, sweep_dir)
