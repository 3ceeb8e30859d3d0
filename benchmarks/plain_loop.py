"""Baseline for the orchestration-overhead benchmark: the same jobs as a sweep, run one after another in
one Python process by calling medsweep's ``run_job`` directly (no Hydra launcher, no worker processes).

    python benchmarks/plain_loop.py --out DIR --seeds N OVERRIDE...

Every job's config is composed first (not timed: composing is orchestration); then the loop of
``run_job(cfg, DIR/<n>)`` is timed, so each job does exactly what a sweep's job does (train, write
metrics, history, predictions, plots, model). Prints one JSON line: loop seconds, per-job seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _compose import compose_jobs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the jobs' directories")
    parser.add_argument("--seeds", type=int, required=True, help="jobs: seed=0..N-1 on top of the overrides")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()

    tic = time.perf_counter()
    from medsweep.job.runner import run_job

    import_s = time.perf_counter() - tic
    logging.getLogger("medsweep").setLevel(logging.WARNING)  # as quiet as a sweep's console
    tic = time.perf_counter()
    configs = compose_jobs([list(args.overrides) + [f"seed={n}"] for n in range(args.seeds)])
    compose_s = time.perf_counter() - tic

    per_job = []
    tic = time.perf_counter()
    for n, cfg in enumerate(configs):
        t = time.perf_counter()
        run_job(cfg, args.out / str(n))
        per_job.append(time.perf_counter() - t)
    loop_s = time.perf_counter() - tic
    print(json.dumps({"jobs": len(configs), "loop_s": loop_s, "import_s": import_s, "compose_s": compose_s,
                      "per_job_s": per_job}))


if __name__ == "__main__":
    main()
