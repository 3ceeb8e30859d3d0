"""What the clinical evaluation (intervals, calibration, decision curve, their plots) adds to one job.

    python benchmarks/evaluation_cost.py --repeat 5

Runs medsweep's run_job in this process on `model=breast_cancer estimator=logreg` (5 folds) and times, inside
each run, the evaluation step (evaluation.evaluate_predictions with eval.n_boot=1000, plot_calibration and
plot_decision_curve) against the rest of the job. Prints one JSON line: medians over the timed runs (after one
warm-up) of the job, the evaluation and their ratio evaluation / (job - evaluation).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path


def measure(repeat: int, overrides: list[str]) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _compose import compose_jobs

    import medsweep.job.pipeline as task
    from medsweep.job.runner import run_job

    logging.getLogger("medsweep").setLevel(logging.ERROR)
    spent = [0.0]

    def timed(fn):
        def wrapper(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - tic
        return wrapper

    for name in ("evaluate_predictions", "plot_calibration", "plot_decision_curve"):
        setattr(task, name, timed(getattr(task, name)))
    (cfg,) = compose_jobs([overrides])
    jobs, evals = [], []
    with tempfile.TemporaryDirectory(prefix="medsweep_evaluation_") as tmp:
        for i in range(repeat + 1):
            spent[0] = 0.0
            tic = time.perf_counter()
            run_job(cfg, Path(tmp) / str(i))
            if i:  # i == 0: warm-up
                jobs.append(time.perf_counter() - tic)
                evals.append(spent[0])
    job, ev = statistics.median(jobs), statistics.median(evals)
    return {"overrides": overrides, "repeat": repeat, "job_median_s": job, "evaluation_median_s": ev,
            "ratio": ev / (job - ev)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("overrides", nargs="*", default=["model=breast_cancer", "estimator=logreg", "eval.n_boot=1000"])
    args = parser.parse_args()
    print(json.dumps(measure(args.repeat, args.overrides)))


if __name__ == "__main__":
    main()
