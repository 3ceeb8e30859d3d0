"""Racing over folds (issue 25, item 1): a grid on the bundled Cleveland data (model=cardiovascular), run in full
and raced (race.enabled=true), for several seeds (each seed: other folds).

    python benchmarks/racing.py                         # 72 configurations, 5 folds x 3 repeats, seeds 0 1 2
    python benchmarks/racing.py --quick                 # 4 configurations, 3 folds: checks the script only
    python benchmarks/racing.py race.test=wilcoxon race.min_folds=5 --seeds 5 6   # overrides for both sweeps
    python benchmarks/racing.py --trees 100,300         # forests of the sizes people train (sklearn's default: 100)

For each seed it prints the wall time of the full and the raced sweep (each a real `python train.py -m`
subprocess; the two alternate which runs first), how many jobs racing pruned and after how many folds, the
full grid's winner (highest pooled out-of-fold ROC-AUC, the summary's first) and the raced one, and whether
they are the same configuration or, if not, whether they are distinguishable: the corrected resampled t-test
(report/compare.py, the one `medsweep compare` uses) on their fold scores in the full sweep, two-sided, 0.05.
Target: raced / full wall time <= 0.5, the same or an indistinguishable winner in every seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medsweep.report.compare import corrected_ttest  # noqa: E402

GRID = ["estimator=random_forest", "estimator.n_estimators=5,25", "estimator.max_depth=1,3,null",
        "estimator.min_samples_leaf=1,20,100", "estimator.max_features=sqrt,null",
        "estimator.class_weight=null,balanced"]                                    # 2 x 3 x 3 x 2 x 2 = 72
QUICK_GRID = ["estimator=random_forest", "estimator.n_estimators=5", "estimator.max_depth=1,null",
              "estimator.min_samples_leaf=1,100"]
RACE_KEYS = ("race.", "hydra.")


def sweep(folder: Path, grid: list[str], folds: int, repeats: int, seed: int, n_jobs: int, raced: bool,
          extra: list[str]) -> float:
    args = [sys.executable, str(ROOT / "train.py"), "-m", "model=cardiovascular", *grid,
            f"trainer.folds={folds}", f"trainer.repeats={repeats}", f"seed={seed}", f"race.enabled={str(raced).lower()}",
            f"hydra.sweep.dir={folder}", f"hydra.launcher.n_jobs={n_jobs}", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    tic = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        sys.exit(f"sweep {folder} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def jobs(folder: Path) -> dict[str, dict]:
    """configuration (its overrides without the race and seed keys) -> metrics.json."""
    out = {}
    for metrics in sorted(folder.glob("*/metrics.json"), key=lambda p: int(p.parent.name)):
        record = json.loads(metrics.read_text())
        config = " ".join(o for o in record["overrides"] if not o.startswith(RACE_KEYS) and not o.startswith("seed="))
        out[config] = record
    return out


def winner(records: dict[str, dict]) -> str:
    done = {c: r for c, r in records.items() if r["status"] == "completed"}
    return max(done, key=lambda c: done[c]["metrics"]["roc_auc"]["pooled"])  # first of equals: lowest job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--trees", default="5,25", help="the forests' sizes (estimator.n_estimators values)")
    ap.add_argument("--quick", action="store_true", help="4 configurations, 3 folds x 1: checks the script")
    ap.add_argument("--keep", action="store_true", help="keep the sweeps' folders (printed)")
    ap.add_argument("extra", nargs="*", help="more overrides for both sweeps (e.g. race.min_folds=5)")
    a = ap.parse_args()
    grid, folds, repeats = (QUICK_GRID, 3, 1) if a.quick else (GRID, a.folds, a.repeats)
    grid = [f"estimator.n_estimators={a.trees}" if g.startswith("estimator.n_estimators=") and not a.quick else g
            for g in grid]
    n_configs = 1
    for g in grid[1:]:
        n_configs *= len(g.split("=", 1)[1].split(","))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"# racing benchmark {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, commit {commit}, load {os.getloadavg()[0]:.2f}")
    print(f"# model=cardiovascular (Cleveland, 303 patients), {n_configs} configurations: {' '.join(grid)}; "
          f"trainer.folds={folds} trainer.repeats={repeats}, n_jobs={a.n_jobs}, extra: {' '.join(a.extra) or '-'}")
    base = Path(tempfile.mkdtemp(prefix="racing_bench_"))
    rows = []
    for i, seed in enumerate(a.seeds):
        walls = {}
        for raced in ((False, True) if i % 2 == 0 else (True, False)):
            name = f"seed{seed}_{'raced' if raced else 'full'}"
            walls[raced] = sweep(base / name, grid, folds, repeats, seed, a.n_jobs, raced, a.extra)
        full, race = jobs(base / f"seed{seed}_full"), jobs(base / f"seed{seed}_raced")
        w_full, w_race = winner(full), winner(race)
        pruned = [r for r in race.values() if r["status"] == "pruned"]
        folds_run = sum(len(r["pruned"]["folds"]) for r in pruned) + sum(
            len(r["metrics"]["roc_auc"]["folds"]) for r in race.values() if r["status"] == "completed")
        if w_full == w_race:
            verdict, p = "same", None
        else:
            a_rec, b_rec = full[w_race], full[w_full]
            res = corrected_ttest(a_rec["metrics"]["roc_auc"]["folds"], b_rec["metrics"]["roc_auc"]["folds"],
                                  b_rec["splits"]["n_train"], b_rec["splits"]["n_test"])
            p = res["p_value"]
            verdict = "distinguishable" if p < 0.05 else "not distinguishable"
        row = {"seed": seed, "full_s": walls[False], "raced_s": walls[True], "ratio": walls[True] / walls[False],
               "jobs": len(full), "pruned": len(pruned), "folds_run": folds_run, "folds_full": len(full) * folds * repeats,
               "full_winner": w_full, "full_auc": full[w_full]["metrics"]["roc_auc"]["pooled"],
               "raced_winner": w_race, "raced_auc": race[w_race]["metrics"]["roc_auc"]["pooled"],
               "raced_winner_in_full": full[w_race]["metrics"]["roc_auc"]["pooled"], "verdict": verdict, "p": p}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| seed | full (s) | raced (s) | raced / full | pruned | folds trained | full winner (pooled AUC) | "
          "raced winner (pooled AUC) | winner |")
    print("|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in rows:
        p = f", p={r['p']:.3f}" if r["p"] is not None else ""
        print(f"| {r['seed']} | {r['full_s']:.0f} | {r['raced_s']:.0f} | {r['ratio']:.2f} | {r['pruned']}/{r['jobs']} | "
              f"{r['folds_run']}/{r['folds_full']} | `{r['full_winner']}` ({r['full_auc']:.3f}) | "
              f"`{r['raced_winner']}` ({r['raced_auc']:.3f}) | {r['verdict']}{p} |")
    total = sum(r["raced_s"] for r in rows) / sum(r["full_s"] for r in rows)
    print(f"\nAll seeds: raced / full wall time {total:.2f} (target <= 0.5); winners "
          f"{sum(r['verdict'] != 'distinguishable' for r in rows)}/{len(rows)} the same or not distinguishable "
          f"(target: all). Load at the end {os.getloadavg()[0]:.2f}.")
    if a.keep:
        print(f"Sweeps kept in {base}")
    else:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
