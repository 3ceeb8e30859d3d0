"""What MLflow tracking (tracking=mlflow) adds to a sweep's wall time.

    python benchmarks/tracking_overhead.py                 # 48 tiny jobs, alternating, best of 2
    python benchmarks/tracking_overhead.py --jobs 8 --repeat 1 --check

Runs the same sweep of tiny jobs (`model=breast_cancer estimator=logreg trainer.folds=2 seed=0..N-1
eval.n_boot=0`, n_jobs=2) without and with `tracking=mlflow`, alternating (plain, tracked, plain, tracked,
...) so that a change in the machine's load hits both, and reports the best wall time of each and their
ratio (target <= 1.15), and the CPU time of each kind (user + system of the sweep's process tree: what
tracking costs whatever else the machine runs; wall times on a shared machine swing by more than the
overhead). Every tracked sweep writes to a store of its own, created by that sweep (the first
sweep's cost: MLflow's import and the SQLite schema); `--reuse-store` logs every tracked sweep into one store
created beforehand instead (the cost of every later sweep). Each tracked sweep is checked to have logged
every job. Wall time is `time.perf_counter()` around the `python train.py -m ...` subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.15


def sweep(jobs: int, sweep_dir: Path, extra: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one sweep; CPU is user + system time of its whole process tree (the sweep's
    process and the workers it reaped), which another load on the machine disturbs far less than wall time."""
    args = [sys.executable, str(ROOT / "train.py"), "-m", "model=breast_cancer", "estimator=logreg",
            "trainer.folds=2", f"seed=range(0,{jobs})", "eval.n_boot=0", "hydra.launcher.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tic = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - tic
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=2, help="sweeps of each kind (the best counts)")
    parser.add_argument("--reuse-store", action="store_true", help="one store for every tracked sweep, made first")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when the ratio is above {TARGET}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.cpu_count()} cores  Python {platform.python_version()}  "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="medsweep_tracking_"))
    shared = f"sqlite:///{tmp / 'shared' / 'mlflow.db'}"
    if args.reuse_store:
        sweep(1, tmp / "warm-up", ["tracking=mlflow", f"tracking.uri={shared}"])
    walls: dict[str, list[float]] = {"plain": [], "tracked": []}
    cpus: dict[str, list[float]] = {"plain": [], "tracked": []}
    for i in range(args.repeat):
        for kind in ("plain", "tracked"):
            sweep_dir = tmp / f"{kind}-{i}"
            uri = shared if args.reuse_store else f"sqlite:///{tmp / f'store-{i}' / 'mlflow.db'}"
            extra = ["tracking=mlflow", f"tracking.uri={uri}"] if kind == "tracked" else []
            wall, cpu = sweep(args.jobs, sweep_dir, extra)
            walls[kind].append(wall)
            cpus[kind].append(cpu)
            note = ""
            if kind == "tracked":
                recorded = json.loads((sweep_dir / "tracking.json").read_text())
                logged = len(recorded["logged"])
                if recorded["status"] != "logged" or logged != args.jobs:
                    sys.exit(f"the tracked sweep logged {logged} of {args.jobs} jobs: {recorded['message']}")
                note = f"  ({logged} jobs logged)"
            print(f"{kind:8} #{i + 1}: {wall:6.1f} s wall, {cpu:6.1f} s CPU{note}", flush=True)
    plain, tracked = min(walls["plain"]), min(walls["tracked"])
    ratio = tracked / plain
    extra_cpu = min(cpus["tracked"]) - min(cpus["plain"])
    print(json.dumps({"jobs": args.jobs, "repeat": args.repeat, "reuse_store": args.reuse_store,
                      "plain_s": walls["plain"], "tracked_s": walls["tracked"], "best_plain_s": round(plain, 2),
                      "best_tracked_s": round(tracked, 2), "ratio": round(ratio, 3), "target": TARGET,
                      "plain_cpu_s": cpus["plain"], "tracked_cpu_s": cpus["tracked"],
                      "tracking_cpu_s": round(extra_cpu, 2), "load_average_end": round(os.getloadavg()[0], 2)}))
    print(f"best of {args.repeat}: plain {plain:.1f} s, tracked {tracked:.1f} s: ratio {ratio:.3f} (target <= {TARGET}); "
          f"tracking's CPU {extra_cpu:.1f} s (least of each kind)")
    if args.keep:
        print(f"kept: {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if args.check and ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
