"""Hand-written scikit-learn cross-validation doing what one medsweep job trains, for the framework-overhead
benchmark: same data (breast_cancer, malignant = positive), same folds (StratifiedKFold(5, shuffle=True,
random_state=seed)), same pipeline (median imputation + StandardScaler, then LogisticRegression(max_iter=1000)
or an MLPClassifier trained epoch by epoch with partial_fit), the same per-fold metrics, the same per-epoch
history (training log loss, validation ROC-AUC) and the final refit on all rows. No files are written.

    python benchmarks/plain_sklearn_cv.py                         # print the metrics of both estimators
    python benchmarks/plain_sklearn_cv.py --compare --repeat 5    # time against medsweep's run_job, in-process

With --compare, both run in this one process (imports and interpreter start-up are not timed), BLAS limited
to one thread for both (as medsweep does), alternating, after one warm-up run each; it checks that both give
the same metrics and prints one JSON line with the timings:
  run_job   medsweep.job.runner.run_job(cfg, tmpdir): load data, cross-validate, refit, write every output file
  training  medsweep's load_dataset + cross_validate + fit_final only (no files)
  plain     this script's plain_cv
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

FOLDS, EPOCHS, BATCH = 5, 20, 32   # medsweep's trainer=default


def make_estimator(name: str, seed: int, batch: int):
    if name == "logreg":
        return LogisticRegression(C=1.0, max_iter=1000)
    return MLPClassifier(hidden_layer_sizes=(64, 32), activation="relu", alpha=1e-4, learning_rate_init=1e-3,
                         solver="adam", batch_size=batch, shuffle=True, random_state=seed)


def fold_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    pred = (p > 1 - p).astype(int)   # argmax over (benign, malignant), a tie going to benign, as medsweep
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {"roc_auc": skm.roc_auc_score(y, p), "pr_auc": skm.average_precision_score(y, p),
            "balanced_accuracy": skm.balanced_accuracy_score(y, pred), "accuracy": skm.accuracy_score(y, pred),
            "f1": skm.f1_score(y, pred), "sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp),
            "brier": skm.brier_score_loss(y, p)}


def fit(name: str, X: np.ndarray, y: np.ndarray, seed: int, X_val=None, y_val=None):
    """Pipeline fitted on (X, y); with a validation side, also the per-epoch history."""
    pre = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                    ("scale", StandardScaler())])
    est = make_estimator(name, seed, min(BATCH, len(y)))
    history = []
    if name == "logreg":
        model = Pipeline([("pre", pre), ("est", est)]).fit(X, y)
        if X_val is not None:
            history.append((1, skm.log_loss(y, model.predict_proba(X)),
                            skm.roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])))
        return model, history
    Xt = pre.fit_transform(X, y)
    Xv = pre.transform(X_val) if X_val is not None else None
    for epoch in range(1, EPOCHS + 1):
        est.partial_fit(Xt, y, classes=np.array([0, 1]))
        if Xv is not None:
            history.append((epoch, skm.log_loss(y, est.predict_proba(Xt), labels=[0, 1]),
                            skm.roc_auc_score(y_val, est.predict_proba(Xv)[:, 1])))
    return Pipeline([("pre", pre), ("est", est)]), history


def plain_cv(name: str, seed: int = 0) -> dict:
    """Cross-validated metrics (mean, std, folds), out-of-fold probabilities, history, final model."""
    data = load_breast_cancer()
    X, y = data.data, (data.target == list(data.target_names).index("malignant")).astype(int)
    oof, per_fold, history = np.zeros(len(y)), [], []
    for fold, (tr, te) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(X, y)):
        model, h = fit(name, X[tr], y[tr], seed, X[te], y[te])
        oof[te] = model.predict_proba(X[te])[:, 1]
        per_fold.append(fold_metrics(y[te], oof[te]))
        history += [(fold, *row) for row in h]
    final, _ = fit(name, X, y, seed)
    metrics = {k: {"mean": float(np.mean([f[k] for f in per_fold])), "std": float(np.std([f[k] for f in per_fold])),
                   "folds": [float(f[k]) for f in per_fold]} for k in per_fold[0]}
    return {"metrics": metrics, "oof": oof, "history": history, "model": final}


def compare(repeat: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _compose import compose_jobs

    from medsweep.data.prepare import load_dataset
    from medsweep.cpu import cpu_share
    from medsweep.job.runner import run_job
    from medsweep.learn.training import TrainSettings, cross_validate, fit_final

    import logging

    logging.getLogger("medsweep").setLevel(logging.ERROR)   # no console lines inside the timed region
    out = {}
    with tempfile.TemporaryDirectory(prefix="medsweep_framework_") as tmp:
        for name in ("logreg", "mlp"):
            (cfg,) = compose_jobs([["model=breast_cancer", f"estimator={name}", "trainer=default", "seed=0"]])

            def medsweep_training():
                from omegaconf import OmegaConf

                data = load_dataset(cfg.data)
                spec = OmegaConf.to_container(cfg.estimator, resolve=True)
                settings = TrainSettings(epochs=cfg.trainer.epochs, batch_size=cfg.trainer.batch_size,
                                         seed=cfg.seed, n_threads=cpu_share())
                cv = cross_validate(data, spec, cfg.trainer.folds, settings)
                fit_final(data, spec, settings)
                return cv.metrics

            runs = {"run_job": lambda i: run_job(cfg, Path(tmp) / f"{name}_{i}"),
                    "training": lambda i: medsweep_training(),
                    "plain": lambda i: plain_cv(name)}
            times = {k: [] for k in runs}
            results = {}
            with threadpool_limits(limits=1, user_api="blas"):
                for i in range(repeat + 1):           # i == 0: warm-up, not counted
                    for kind, fn in runs.items():
                        tic = time.perf_counter()
                        results[kind] = fn(i)
                        if i:
                            times[kind].append(time.perf_counter() - tic)
            plain, ms = results["plain"]["metrics"], results["training"]
            same = all(np.allclose(plain[k]["folds"], ms[k]["folds"], rtol=1e-9, atol=1e-12) for k in plain)
            same = same and abs(results["run_job"] - plain["roc_auc"]["mean"]) < 1e-12
            out[name] = {"same_metrics": bool(same), "roc_auc": plain["roc_auc"]["mean"],
                         **{f"{k}_median_s": statistics.median(v) for k, v in times.items()},
                         **{f"{k}_min_s": min(v) for k, v in times.items()}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="time against medsweep in this process")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (after one warm-up)")
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(compare(args.repeat)))
        return
    for name in ("logreg", "mlp"):
        m = plain_cv(name)["metrics"]
        print(name, " ".join(f"{k}={v['mean']:.4f}" for k, v in m.items()))


if __name__ == "__main__":
    main()
