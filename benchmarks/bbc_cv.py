"""How optimistic the best of N configurations is, and how much of that BBC-CV (medsweep.evaluate.selection.bbc_cv,
Tsamardinos et al. 2018) removes: the naive best pooled value vs the BBC-CV estimate vs the truth.

    python benchmarks/bbc_cv.py                        # 200 cohorts per line, N = 1, 10, 50
    python benchmarks/bbc_cv.py --reps 500 --configs 1,5,10,50,100
    python benchmarks/bbc_cv.py --quick                # 10 cohorts: checks the script only

Each replication draws a cohort of --patients patients (prevalence 0.4, --rows-per-patient rows each, the
rows of one patient sharing their outcome) and the out-of-fold scores of N configurations, as a sweep's
predictions.csv would hold them: score = mu_c * y + sqrt(rho) * u_patient + sqrt(1 - rho) * e_row,config
(u: how hard a patient is, shared by every configuration, rho = 0.5; e: each configuration's own noise).
With unit variance the true ROC-AUC of configuration c on new patients is Phi(mu_c / sqrt(2)).
Two scenarios:

  equal    N configurations, all with true AUC --auc (0.75): whichever is picked, the truth is 0.75.
  better   N equally good configurations plus one with true AUC --better-auc (0.80): the truth is the true
           AUC of the configuration that was picked (0.80 when the better one wins).

Per cohort: the naive estimate is the highest pooled ROC-AUC of the N (+1) configurations, the one a
leaderboard shows first; BBC-CV is medsweep's (patients resampled, --boot samples); the truth is the
picked configuration's true AUC. Reported: means over cohorts, bias (estimate - truth), RMSE, and how
often the BBC-CV 95% interval holds the truth. Predictions are simulated rather than trained: the benchmark
measures the selection effect, not a learner. A script, not a test: Monte Carlo estimates.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medsweep.evaluate.selection import bbc_cv  # noqa: E402

RHO = 0.5
PREVALENCE = 0.4


def mu_of(auc: float) -> float:
    """The score shift giving a true ROC-AUC of ``auc`` (equal-variance binormal, unit variance)."""
    return float(stats.norm.ppf(auc) * math.sqrt(2))


def auc_by_ranks(y: np.ndarray, score: np.ndarray) -> float:
    ranks = stats.rankdata(score)
    pos = y == 1
    n_pos = int(pos.sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos)))


def replicate(seed: int, n_configs: int, scenario: str, args) -> dict:
    rng = np.random.default_rng([seed, n_configs, scenario == "better"])
    patients = np.repeat(np.arange(args.patients), args.rows_per_patient)
    y_patient = (rng.random(args.patients) < PREVALENCE).astype(int)
    y = y_patient[patients]
    hard = rng.normal(size=args.patients)[patients]
    true_auc = [args.auc] * n_configs + ([args.better_auc] if scenario == "better" else [])
    outs, pooled = [], []
    for auc in true_auc:
        score = mu_of(auc) * y + math.sqrt(RHO) * hard + math.sqrt(1 - RHO) * rng.normal(size=len(y))
        p = 1 / (1 + np.exp(-score))
        outs.append(np.column_stack([1 - p, p]))
        pooled.append(auc_by_ranks(y, p))
    picked = int(np.argmax(pooled))  # the leaderboard's first (ties: the first)
    res = bbc_cv(y.astype(str), outs, ["0", "1"], "classification", "roc_auc", groups=patients,
                 n_boot=args.boot, seed=seed)
    truth = true_auc[picked]
    return {"naive": pooled[picked], "bbc": res["estimate"], "truth": truth,
            "covered": res["lower"] <= truth <= res["upper"], "better_picked": picked == n_configs}


def header(args) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"# bbc_cv.py {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load {load:.2f}\n"
            f"# {args.reps} cohorts per line, {args.patients} patients x {args.rows_per_patient} row(s), "
            f"B = {args.boot}, true AUC {args.auc} (better: {args.better_auc}), rho {RHO}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="1,10,50", help="numbers of equally good configurations N")
    parser.add_argument("--reps", type=int, default=200, help="cohorts per line")
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--rows-per-patient", type=int, default=1)
    parser.add_argument("--boot", type=int, default=500, help="BBC-CV bootstrap samples")
    parser.add_argument("--auc", type=float, default=0.75)
    parser.add_argument("--better-auc", type=float, default=0.80)
    parser.add_argument("--quick", action="store_true", help="10 cohorts, 200 samples: checks the script only")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.boot = 10, 200
    configs = [int(x) for x in args.configs.split(",")]
    print(header(args))
    print(f"{'scenario':<8} {'N':>4} {'naive best':>10} {'BBC-CV':>8} {'truth':>7} {'bias naive':>10} "
          f"{'bias BBC':>9} {'RMSE naive':>10} {'RMSE BBC':>9} {'BBC 95% CI covers':>17} {'better picked':>13} {'s':>6}")
    for scenario in ("equal", "better"):
        for n in configs:
            tic = time.perf_counter()
            runs = [replicate(seed, n, scenario, args) for seed in range(args.reps)]
            naive, bbc, truth = (np.array([r[k] for r in runs]) for k in ("naive", "bbc", "truth"))
            covered = np.mean([r["covered"] for r in runs])
            picked = np.mean([r["better_picked"] for r in runs]) if scenario == "better" else float("nan")
            rmse = [float(np.sqrt(np.mean((x - truth) ** 2))) for x in (naive, bbc)]
            print(f"{scenario:<8} {n:>4} {naive.mean():>10.4f} {bbc.mean():>8.4f} {truth.mean():>7.4f} "
                  f"{(naive - truth).mean():>+10.4f} {(bbc - truth).mean():>+9.4f} {rmse[0]:>10.4f} {rmse[1]:>9.4f} "
                  f"{covered:>17.1%} {'' if math.isnan(picked) else format(picked, '.0%'):>13} "
                  f"{time.perf_counter() - tic:>6.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
