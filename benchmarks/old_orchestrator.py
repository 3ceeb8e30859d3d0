"""The comparison point for medsweep: a minimal re-creation of the old `run_all_training.py` design.

    python benchmarks/old_orchestrator.py --out DIR --max-workers 2 --jobs 12 OVERRIDE...

A ``ThreadPoolExecutor(max_workers=N)`` starts one ``python benchmarks/old_orchestrator.py --job ...``
subprocess per job, as the old tool started one training script per model: one interpreter start and one
round of imports per job, and no CPU share for the job (OMP_NUM_THREADS & co. are removed from its
environment, so every job may use every core, as the old tool's jobs did). The job itself does the same
work as a medsweep job (``medsweep.job.runner.run_job``: train, write metrics, history, predictions, plots,
model, a log file), so the comparison with a medsweep sweep isolates how jobs are launched.

Jobs are ``OVERRIDES + seed=n`` for n = 0..jobs-1. Prints one JSON line: wall seconds, failures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def run_one_job(out_dir: Path, overrides: list[str]) -> None:
    """What one old-style job subprocess does: compose its config, log to a file, train, write."""
    import logging

    sys.path.insert(0, str(HERE.parent))
    from _compose import compose_jobs

    from medsweep.job.runner import run_job

    out_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out_dir / "train.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    (cfg,) = compose_jobs([overrides])
    run_job(cfg, out_dir)


def orchestrate(out: Path, max_workers: int, jobs: list[list[str]]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}

    def launch(n: int) -> int:
        cmd = [sys.executable, str(HERE), "--job", "--out", str(out / str(n)), *jobs[n]]
        with open(out / f"job_{n}.out", "wb") as log:
            return subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode

    out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        codes = list(pool.map(launch, range(len(jobs))))
    wall = time.perf_counter() - tic
    return {"jobs": len(jobs), "max_workers": max_workers, "wall_s": wall,
            "failed": [n for n, c in enumerate(codes) if c != 0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=12, help="seed=0..jobs-1 on top of the overrides")
    parser.add_argument("--job", action="store_true", help="(internal) run one job in this process")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if args.job:
        run_one_job(args.out, list(args.overrides))
        return
    jobs = [list(args.overrides) + [f"seed={n}"] for n in range(args.jobs)]
    print(json.dumps(orchestrate(args.out, args.max_workers, jobs)))


if __name__ == "__main__":
    main()
