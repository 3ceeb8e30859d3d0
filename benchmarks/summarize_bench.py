"""How summarize_sweep scales with the number of jobs.

    python benchmarks/summarize_bench.py --sizes 10,100,1000 [--source multirun/.../0]

Builds N job directories in a temporary folder from one real job (run here with `python train.py`
unless --source names an existing job directory): its metrics.json and history.csv with the numbers
rewritten, its learning_curve.png/roc.png copied, a .hydra/overrides.yaml per job, 2% failed jobs and
1% missing ones, no sweep.json (the slower path: overrides read from YAML). Then times summarize_sweep
on each and prints the time per job side by side; a flat time per job means linear scaling.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from medsweep.report.plots import LEARNING_CURVE_FILE, ROC_FILE, plot_learning_curve, plot_roc
from medsweep.report.summarize import summarize_sweep

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("parkinsons", "breast_cancer", "als")


def real_job(workdir: Path) -> Path:
    """One real job's directory (breast_cancer, mlp, 3 folds), with its plots rendered once."""
    job = workdir / "template"
    subprocess.run([sys.executable, str(ROOT / "train.py"), "model=breast_cancer", "estimator=mlp", "trainer=fast",
                    f"hydra.run.dir={job}"], cwd=ROOT, check=True, capture_output=True)
    return job


def make_sweep(template: Path, sweep: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    metrics = json.loads((template / "metrics.json").read_text())
    history = pd.read_csv(template / "history.csv")
    val = next(c for c in history.columns if c.startswith("val_"))
    pngs = [template / name for name in (LEARNING_CURVE_FILE, ROC_FILE) if (template / name).is_file()]
    for i in range(n):
        job = sweep / str(i)
        (job / ".hydra").mkdir(parents=True)
        model = MODELS[i % len(MODELS)]
        overrides = [f"model={model}", "estimator=mlp", f"estimator.alpha={10.0 ** -(i % 5)}", f"seed={i}"]
        (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
        if i % 97 == 96:
            continue  # missing: killed before writing anything
        m = {**metrics, "model": model, "job_num": i, "overrides": overrides, "duration_s": float(rng.uniform(1, 30))}
        if i % 50 == 49:
            for key in ("metrics", "greater_is_better", "classes"):
                m.pop(key, None)
            m.update(status="failed", error=f"fake failure of job {i}", error_type="ValueError")
        else:
            m["metrics"] = {}
            for name, v in metrics["metrics"].items():
                folds = np.clip(np.asarray(v["folds"]) + rng.normal(0, 0.05, len(v["folds"])), 0, None)
                m["metrics"][name] = {"mean": float(folds.mean()), "std": float(folds.std()), "folds": folds.tolist()}
            h = history.copy()
            h[val] = np.clip(h[val] + rng.normal(0, 0.05, len(h)), 0, 1)
            h.to_csv(job / "history.csv", index=False)
            for png in pngs:
                shutil.copy(png, job / png.name)
        (job / "metrics.json").write_text(json.dumps(m, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated job counts")
    parser.add_argument("--source", type=Path, help="a real job directory to copy (default: run one job now)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="summarize_bench_") as tmp:
        tmp = Path(tmp)
        template = args.source or real_job(tmp)
        m = json.loads((template / "metrics.json").read_text())
        if not (template / LEARNING_CURVE_FILE).is_file():
            plot_learning_curve(pd.read_csv(template / "history.csv"), tmp / LEARNING_CURVE_FILE)
            shutil.copy(template / "history.csv", tmp / "history.csv")
            if m.get("classes") and (template / "predictions.csv").is_file():
                plot_roc(pd.read_csv(template / "predictions.csv"), m["classes"], tmp / ROC_FILE)
            shutil.copy(template / "metrics.json", tmp / "metrics.json")
            template = tmp
        results = []
        for n in sizes:
            sweep = tmp / f"sweep_{n}"
            make_sweep(template, sweep, n)
            tic = time.perf_counter()
            summary = summarize_sweep(sweep)
            seconds = time.perf_counter() - tic
            assert len(summary["jobs"]) == n
            html_mb = (sweep / "report.html").stat().st_size / 1e6
            results.append((n, seconds, html_mb))

    base = results[0][1] / results[0][0]
    print(f"{'jobs':>6} {'total s':>9} {'ms/job':>8} {'ms/job vs first':>16} {'report.html MB':>15}")
    for n, seconds, html_mb in results:
        per_job = seconds / n
        print(f"{n:>6} {seconds:>9.2f} {per_job * 1e3:>8.2f} {per_job / base:>15.2f}x {html_mb:>15.2f}")


if __name__ == "__main__":
    main()
