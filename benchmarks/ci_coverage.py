"""Coverage of medsweep's 95% ROC-AUC interval with real cross-validated training (issue 21 item 6).

    python benchmarks/ci_coverage.py                  # n = 60, 100, 300; 400 cohorts each (7-16 min on 2 cores)
    python benchmarks/ci_coverage.py --quick          # 20 cohorts each: checks the script only
    python benchmarks/ci_coverage.py --sizes 100 --reps 1000

What a job reports: 5-fold cross-validation of a model on a cohort of n patients, the pooled out-of-fold
ROC-AUC and its 95% patient-bootstrap interval (medsweep.evaluate.evaluation.bootstrap_intervals, 1,000 resamples,
percentile and BCa). What a reader takes it for: the ROC-AUC of the deployed model (fitted on all n patients)
on new patients. This script measures how often the interval contains that number.

Design, per replication:
  1. draw a cohort of n patients from a fixed generator: 8 standard-normal features, 3 of them carrying signal
     (log-odds 0.9 x1 + 0.6 x2 + 0.4 x3 - 0.7: prevalence ~ 0.35, best possible ROC-AUC ~ 0.79), 5 noise;
  2. run medsweep's own cross_validate (training.py: the job's folds, preprocessing and estimator) with a plain
     scikit-learn logistic regression (estimator=logreg, C=1), and compute both intervals on its out-of-fold
     predictions exactly as a job does;
  3. fit the final model on all n patients (training.fit_final, as a job does) and measure its true ROC-AUC on
     a large independent test set (100,000 patients from the same generator, drawn once);
  4. record whether each interval contains that true ROC-AUC.
Coverage = share of replications whose interval contains it (nominal 95%), with its Monte Carlo standard
error; "miss low/high": the truth below the lower / above the upper limit. The estimand is the final model's
ROC-AUC: the interval describes the out-of-fold predictions of k fold models each trained on (k-1)/k of the
patients, so it carries the pessimism of smaller training sets and misses the final model's own variability.

A script, not a test: the figures depend on the seed and the number of replications (the header says which).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd

BETA = np.array([0.9, 0.6, 0.4, 0, 0, 0, 0, 0])
INTERCEPT = -0.7
LOGREG = {"name": "logreg", "C": 1.0, "class_weight": None, "max_iter": 1000}


def draw(rng, n: int) -> tuple[pd.DataFrame, pd.Series]:
    X = rng.normal(size=(n, len(BETA)))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(INTERCEPT + X @ BETA)))).astype(int)
    return pd.DataFrame(X, columns=[f"x{i + 1}" for i in range(len(BETA))]), pd.Series(y, name="y")


def one_cohort(rng, n: int, folds: int, n_boot: int, seed: int, test_X, test_y) -> dict:
    from sklearn.metrics import roc_auc_score

    from medsweep.data.prepare import Dataset
    from medsweep.evaluate.evaluation import bootstrap_intervals
    from medsweep.learn.training import TrainSettings, cross_validate, fit_final

    while True:  # a cohort needs enough patients of each class for stratified folds
        X, y = draw(rng, n)
        if min(y.sum(), n - y.sum()) >= folds:
            break
    data = Dataset(X=X, y=y, groups=None, task="classification", target="y", classes=[0, 1])
    settings = TrainSettings(epochs=1, batch_size=32, seed=seed)
    cv = cross_validate(data, LOGREG, folds, settings)
    pred = cv.predictions
    proba = pred[["proba_0", "proba_1"]].to_numpy()
    out = {"pooled": roc_auc_score(pred.y_true, pred.proba_1), "mean_folds": cv.metrics["roc_auc"]["mean"]}
    for method in ("percentile", "bca"):
        ci = bootstrap_intervals(pred.y_true.to_numpy(), proba, [0, 1], "classification", pred.patient.to_numpy(),
                                 n_boot=n_boot, seed=seed, method=method)["roc_auc"]
        out[method] = (ci["lower"], ci["upper"])
    final = fit_final(data, LOGREG, settings)
    out["truth"] = roc_auc_score(test_y, final.predict_proba(test_X)[:, 1])
    return out


def run(n: int, args, test_X, test_y) -> dict:
    rng = np.random.default_rng([args.seed, n])
    rows, start = [], time.perf_counter()
    for rep in range(args.reps):
        rows.append(one_cohort(rng, n, args.folds, args.n_boot, rep, test_X, test_y))
    seconds = time.perf_counter() - start
    truth = np.array([r["truth"] for r in rows])
    result = {"n": n, "reps": args.reps, "truth": truth.mean(), "pooled": np.mean([r["pooled"] for r in rows]),
              "mean_folds": np.mean([r["mean_folds"] for r in rows]), "seconds": seconds}
    for method in ("percentile", "bca"):
        lower = np.array([r[method][0] for r in rows], dtype=float)
        upper = np.array([r[method][1] for r in rows], dtype=float)
        hit = (lower <= truth) & (truth <= upper)
        cover = hit.mean()
        result[method] = {"coverage": cover, "se": np.sqrt(cover * (1 - cover) / args.reps),
                          "low": np.mean(truth < lower), "high": np.mean(truth > upper),
                          "width": np.mean(upper - lower)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="60,100,300", help="cohort sizes n, comma-separated")
    parser.add_argument("--reps", type=int, default=400, help="cohorts per size (>= 400 for figures)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--test-size", type=int, default=100_000, help="independent test set of the true AUC")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 cohorts per size, 200 resamples: checks the script")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)  # one BLAS thread, as a job's folds (small fits: threads only contend)
    if args.quick:
        args.reps, args.n_boot, args.test_size = 20, 200, 20_000
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# ci_coverage  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  cores={os.cpu_count()}  "
          f"python={platform.python_version()}  load={os.getloadavg()[0]:.2f}")
    print(f"# {args.reps} cohorts per size, {args.folds}-fold CV of logreg (C=1) by medsweep.learn.training.cross_validate, "
          f"{args.n_boot} patient resamples, seed {args.seed}; truth: the final model's ROC-AUC on "
          f"{args.test_size:,} independent patients\n")
    test_X, test_y = draw(np.random.default_rng([args.seed, 999]), args.test_size)
    print(f"{'n':>5} {'true AUC':>9} {'pooled':>7} {'mean':>6} | {'method':<10} {'coverage':>9} {'± MC se':>8} "
          f"{'miss low':>9} {'miss high':>9} {'width':>6} | {'s':>5}")
    for n in sizes:
        r = run(n, args, test_X, test_y)
        for method in ("percentile", "bca"):
            m = r[method]
            print(f"{n:5d} {r['truth']:9.3f} {r['pooled']:7.3f} {r['mean_folds']:6.3f} | {method:<10} "
                  f"{100 * m['coverage']:8.1f}% {100 * m['se']:7.1f}% {100 * m['low']:8.1f}% {100 * m['high']:8.1f}% "
                  f"{m['width']:6.3f} | {r['seconds']:5.0f}", flush=True)
    print("\ntrue AUC: mean over cohorts of the final model's ROC-AUC on the test set; pooled: mean pooled out-of-fold"
          " ROC-AUC; mean: mean over folds. Nominal coverage 95%.")
    print("load at end:", f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
