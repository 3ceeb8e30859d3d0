"""Packing tiny jobs into SLURM array tasks (issue 27), side by side in one run on a local SLURM:

  joblib     python train.py -m ... hydra.launcher.n_jobs=<cpus>            (this machine's CPUs)
  unpacked   hydra/launcher=slurm cpus_per_task=1 jobs_per_task=1          (one array task per job)
  packed     hydra/launcher=slurm cpus_per_task=<cpus> jobs_per_task=<N>   (one task, a warm pool of <cpus>)
  packed_1   hydra/launcher=slurm cpus_per_task=1 jobs_per_task=<N/cpus>   (<cpus> tasks, one worker each)

for N tiny jobs (model=breast_cancer trainer.folds=2 eval.n_boot=0 'seed=range(N)'). Each sweep is a real
`python train.py -m` subprocess; wall time from Popen to exit. Also counts the array tasks a 1,000-job
sweep would submit at several jobs_per_task (the launcher's own chunking, nothing submitted).

    bash .ci/slurm.sh start
    python benchmarks/slurm_packing.py --sizes 24,200 [--skip unpacked@200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TINY = ["model=breast_cancer", "trainer.folds=2", "eval.n_boot=0"]


def sweep(name: str, n: int, extra: list[str], folder: Path) -> dict:
    out = folder / f"{name}-{n}"
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *TINY, f"seed=range({n})", *extra,
           f"hydra.sweep.dir={out}"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    done = sum(1 for p in out.glob("*/metrics.json") if '"status": "completed"' in p.read_text())
    tasks = len(list(out.glob(".submitit/**/*_result.pkl")))  # one per array task (or single job) that ended
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    return {"mode": name, "jobs": n, "wall_s": round(wall, 2), "completed": done, "array_tasks": tasks,
            "rc": proc.returncode, "command": " ".join(cmd[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="24,200")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the node (joblib's n_jobs, packed pool)")
    parser.add_argument("--skip", default="", help="mode@size to leave out, e.g. unpacked@200")
    parser.add_argument("--json")
    args = parser.parse_args()
    from hydra_plugins.medsweep_launcher._packing import task_chunks

    skip = set(filter(None, args.skip.split(",")))
    slurm = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=30",
             "hydra.launcher.array_parallelism=1000"]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} cores, load {os.getloadavg()}, "
          f"python {sys.version.split()[0]}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            modes = {
                "joblib": [f"hydra.launcher.n_jobs={args.cpus}"],
                "unpacked": [*slurm, "hydra.launcher.cpus_per_task=1", "hydra.launcher.jobs_per_task=1"],
                "packed": [*slurm, f"hydra.launcher.cpus_per_task={args.cpus}", f"hydra.launcher.jobs_per_task={n}"],
                "packed_1": [*slurm, "hydra.launcher.cpus_per_task=1",
                             f"hydra.launcher.jobs_per_task={-(-n // args.cpus)}"],
            }
            for name, extra in modes.items():
                if f"{name}@{n}" in skip or name in skip:
                    continue
                row = sweep(name, n, extra, Path(tmp))
                rows.append(row)
                print(f"{n:5d} jobs  {name:9s} {row['wall_s']:8.1f} s  {row['completed']} completed  "
                      f"{row['array_tasks']} array task(s)  rc {row['rc']}", flush=True)
            base = next((r["wall_s"] for r in rows if r["jobs"] == n and r["mode"] == "joblib"), None)
            for r in rows:
                if r["jobs"] == n and base:
                    r["vs_joblib"] = round(r["wall_s"] / base, 2)
                    print(f"      {r['mode']:9s} {r['vs_joblib']:.2f}x joblib")
    counts = {k: len(task_chunks(1000, k)) for k in (1, 10, 25, 40, 50, 100)}
    print("1,000 jobs -> array tasks by jobs_per_task:", counts)
    print(f"# load at the end {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "tasks_for_1000": counts}, indent=1))


if __name__ == "__main__":
    main()
