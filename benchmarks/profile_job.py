"""Where a tiny job's time goes, piece by piece (no profiler overhead: perf_counter around each piece).

    python benchmarks/profile_job.py [--jobs 10] [OVERRIDE...]     (default: breast_cancer, logreg, 2 folds)

1. Imports a fresh worker process pays before its first job, one group after the other.
2. Starting loky workers (what the joblib launcher uses), and reusing them.
3. Composing one job's config with Hydra (what every worker does per job, in execute_job).
4. medsweep's run_job, split into data loading, cross-validation, final fit, each output file, the rest.
For a profile of a whole sweep use cProfile with n_jobs=1 (jobs then run in the parent):
    python -m cProfile -o sweep.prof train.py -m ... hydra.launcher.n_jobs=1
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

IMPORTS = [  # in the order a worker meets them
    ("python start-up (python -c pass)", None),
    ("hydra + omegaconf", "import hydra, omegaconf"),
    ("medsweep.config.schema (train.py)", "import medsweep.config.schema"),
    ("joblib / loky", "import joblib, joblib.externals.loky"),
    ("numpy + pandas", "import numpy, pandas"),
    ("scikit-learn (sklearn.base, ensemble, linear_model, neural_network)",
     "import sklearn.base, sklearn.ensemble, sklearn.linear_model, sklearn.neural_network"),
    ("matplotlib.pyplot (Agg)", "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot"),
    ("skops.io (builds its trusted-type list from sklearn.utils.all_estimators)", "import skops.io"),
    ("rest of medsweep.job.runner", "import medsweep.job.runner"),
]


def fresh_imports() -> list[tuple[str, float]]:
    code = ["import time, json, sys; out = []"]
    for label, stmt in IMPORTS[1:]:
        code.append(f"t = time.perf_counter(); {stmt}; out.append(({label!r}, time.perf_counter() - t))")
    code.append("print(json.dumps(out))")
    tic = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - tic
    res = subprocess.run([sys.executable, "-c", "\n".join(code)], cwd=ROOT, check=True, capture_output=True, text=True)
    return [(IMPORTS[0][0], bare)] + [tuple(x) for x in json.loads(res.stdout.strip().splitlines()[-1])]


def _import_task() -> float:
    t = time.perf_counter()
    import medsweep.job.runner  # noqa: F401

    return time.perf_counter() - t


def loky_start() -> dict:
    from joblib import Parallel, delayed

    out = {}
    tic = time.perf_counter()
    Parallel(n_jobs=2)(delayed(time.time)() for _ in range(2))
    out["start 2 loky workers, first trivial task"] = time.perf_counter() - tic
    tic = time.perf_counter()
    Parallel(n_jobs=2)(delayed(time.time)() for _ in range(2))
    out["reuse them (second Parallel call)"] = time.perf_counter() - tic
    tic = time.perf_counter()
    imports = Parallel(n_jobs=2)(delayed(_import_task)() for _ in range(2))
    out["import medsweep.job.runner in both workers at once (wall)"] = time.perf_counter() - tic
    out["  of which the import itself, per worker (mean)"] = sum(imports) / len(imports)
    return out


def timed(fn, bucket: dict, name: str):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            bucket.setdefault(name, []).append(time.perf_counter() - t)

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10, help="timed runs of composition and run_job")
    parser.add_argument("overrides", nargs="*", default=["model=breast_cancer", "estimator=logreg", "trainer.folds=2"])
    args = parser.parse_args()

    print("1. Imports in a fresh process (s, cumulative order)")
    for label, s in fresh_imports():
        print(f"  {s:7.3f}  {label}")

    print("\n2. loky workers (s)")
    for label, s in loky_start().items():
        print(f"  {s:7.3f}  {label}")

    from _compose import compose_jobs

    compose_jobs([args.overrides])  # warm-up: config store, plugin discovery
    tic = time.perf_counter()
    configs = compose_jobs([args.overrides + [f"seed={n}"] for n in range(args.jobs)])
    per_compose = (time.perf_counter() - tic) / args.jobs
    print(f"\n3. Hydra composition of one job's config: {per_compose * 1e3:.0f} ms "
          "(hydra.compose; the joblib launcher's execute_job does the same with load_sweep_config)")

    import medsweep.job.runner as job
    import medsweep.job.pipeline as task

    logging.getLogger("medsweep").setLevel(logging.ERROR)
    bucket: dict = {}
    # What medsweep.job.pipeline calls, by the names it imported them under.
    names = ["_development_and_test", "cross_validate", "evaluate_predictions", "fit_final", "save_model",
             "sha256_of_file", "pooled_threshold", "plot_roc", "plot_learning_curve", "plot_calibration",
             "plot_decision_curve", "write_csv"]
    for name in names:
        setattr(task, name, timed(getattr(task, name), bucket, name))
    for name in ["write_metrics", "write_model_card", "_versions"]:
        setattr(job, name, timed(getattr(job, name), bucket, name))
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        job.run_job(configs[0], Path(tmp) / "warmup")
        bucket.clear()
        for n, cfg in enumerate(configs):
            t = time.perf_counter()
            job.run_job(cfg, Path(tmp) / str(n))
            totals.append(time.perf_counter() - t)
    total = statistics.mean(totals)
    print(f"\n4. medsweep run_job ({' '.join(args.overrides)}), mean of {args.jobs} after a warm-up: "
          f"{total * 1e3:.0f} ms per job")
    accounted = 0.0
    for name in sorted(bucket, key=lambda k: -sum(bucket[k])):
        per_job = sum(bucket[name]) / args.jobs
        accounted += per_job
        print(f"  {per_job * 1e3:7.1f} ms  {per_job / total:5.1%}  {name} ({len(bucket[name]) // args.jobs}x per job)")
    print(f"  {(total - accounted) * 1e3:7.1f} ms  {(total - accounted) / total:5.1%}  rest (logging, config access, "
          "splitter, ...)")


if __name__ == "__main__":
    main()
