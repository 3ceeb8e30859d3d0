"""Racing over folds (``race.enabled=true``): a sweep's jobs that are clearly worse stop early.

Jobs of one group (same model, data, folds, repeats and seed: the same patients in each fold, see
:func:`group_key`) write each fold's primary-metric score into the sweep directory as it finishes
(``<sweep>/.race/<group>/<job>.json``, one small file per job, written atomically). After ``race.min_folds``
folds, a job compares its scores on the folds it shares with each other job of its group; the leader is the
job with the best mean over those shared folds. The job stops (status "pruned", learn.training.FoldsStopped)
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
from medsweep.learn.training import FoldsStopped
from medsweep.record.outputs import write_json
from medsweep.report.compare import corrected_ttest

log = logging.getLogger("medsweep")

RACE_DIR = ".race"
TESTS = {"corrected_ttest": "corrected resampled t-test (Nadeau & Bengio 2003), one-sided",
         "wilcoxon": "Wilcoxon signed-rank test (exact where possible), one-sided"}


def group_key(cfg: DictConfig) -> str:
    """Which jobs race each other: those scored on the same patients in the same folds (model, data, the data
    folder, folds, repeats, hold-out and the seed that shuffles the folds). 16 hex characters."""
    t = cfg.trainer
    what = {"model": cfg.model.name, "data": OmegaConf.to_container(cfg.data, resolve=True),
            "data_dir": cfg.get("data_dir"), "folds": t.folds, "repeats": t.repeats, "holdout": t.get("holdout"),
            "seed": cfg.seed}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


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
    (``others``: job -> {fold: score}): None to go on, else the record's ``pruned`` details. Only folds both
    jobs scored (finite) are paired; jobs sharing fewer than ``min_folds`` are not compared. The leader is the
    job with the best mean over the folds it shares (ties: the first job by name)."""
    mine = {f: s for f, s in own.items() if math.isfinite(s)}
    if len(mine) < min_folds:
        return None
    sign = 1.0 if higher_is_better else -1.0
    best = None
    for job in sorted(others):
        common = sorted(f for f, s in others[job].items() if f in mine and math.isfinite(s))
        if len(common) < min_folds:
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


def _read_scores(path: Path) -> Optional[dict[int, float]]:
    try:
        data = json.loads(path.read_text())
        return {int(f): math.nan if s is None else float(s) for f, s in data["scores"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a file being replaced, or not one of ours: not raced against


class Race:
    """The fold hook of one job of a racing sweep (job/fold_hooks.py): records each fold's score, then
    stops the job once it loses to its group's leader."""

    def __init__(self, cfg: DictConfig, out_dir: Path, sweep_dir: Path):
        self.settings = cfg.race
        self.metric = primary_metric(cfg.data.task)
        self.higher = greater_is_better(self.metric)
        self.folds = cfg.trainer.folds
        self.dir = Path(sweep_dir) / RACE_DIR / group_key(cfg)
        try:
            name = str(Path(out_dir).resolve().relative_to(Path(sweep_dir).resolve()))
        except ValueError:
            name = Path(out_dir).name
        self.job = name.replace("/", "__")
        self.file = self.dir / f"{self.job}.json"
        self.scores: dict[int, float] = {}

    def others(self) -> dict[str, dict[int, float]]:
        out = {}
        for path in sorted(self.dir.glob("*.json")):
            if path.stem != self.job and (scores := _read_scores(path)) is not None:
                out[path.stem] = scores
        return out

    def __call__(self, fold: int, metrics: dict) -> None:
        score = float(metrics.get(self.metric, math.nan))
        self.scores[fold] = score
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(self.file, {"job": self.job, "metric": self.metric, "greater_is_better": self.higher,
                               "scores": {str(f): (s if math.isfinite(s) else None) for f, s in self.scores.items()}})
        s = self.settings
        stop = decide(self.scores, self.others(), self.higher, s.min_folds, s.alpha, s.test, 1.0 / (self.folds - 1))
        if stop is not None:
            leader = stop["leader"]
            reason = (f"racing: {self.metric} worse than job {leader['job']}'s on {len(stop['folds'])} shared folds "
                      f"(mean difference {stop['mean_difference']:+.4f}; {stop['test']}, p={stop['p_value']:.4g} "
                      f"< race.alpha={s.alpha})")
            raise FoldsStopped(reason, {"by": "racing", "metric": self.metric, **stop})


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
