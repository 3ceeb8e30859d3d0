"""What eval.instability=B costs (issue 26): the B bootstrap refits of the final pipeline and the statistics on
their risks, on the data bundled with medsweep (breast_cancer from scikit-learn; parkinsons and cardiovascular,
the bundled real files), with each model's default estimator and with logreg.

    python benchmarks/instability_cost.py --refits 200

Composes each job's config as train.py does, loads its data, fits the final model, then times
learn.instability.bootstrap_refits (the refits) and evaluate.instability's instability + optimism (the
statistics) in this process. Prints one JSON line per job.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

JOBS = [["model=breast_cancer"], ["model=parkinsons"], ["model=parkinsons", "estimator=logreg"],
        ["model=cardiovascular"], ["model=cardiovascular", "estimator=logreg"]]


def measure(overrides: list[str], refits: int) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _compose import compose_jobs
    from omegaconf import OmegaConf

    from medsweep.cpu import cpu_share
    from medsweep.data.prepare import load_dataset
    from medsweep.estimators import estimator_class
    from medsweep.evaluate.instability import instability, optimism
    from medsweep.learn.instability import bootstrap_refits
    from medsweep.learn.training import TrainSettings, fit_final

    cfg = compose_jobs([overrides])[0]
    data = load_dataset(cfg.data, None)
    spec = OmegaConf.to_container(cfg.estimator, resolve=True)
    settings = TrainSettings(epochs=cfg.trainer.epochs, batch_size=cfg.trainer.batch_size, seed=0,
                             n_threads=estimator_class(spec["name"]).threads(spec, len(data.y), cpu_share()))
    start = time.perf_counter()
    final = fit_final(data, spec, settings)
    one_fit = time.perf_counter() - start
    fits = bootstrap_refits(data, spec, settings, refits, 0)
    y = data.y.to_numpy() == data.classes[-1]
    p0 = final.predict_proba(data.X)[:, 1]
    start = time.perf_counter()
    instability(y, p0, fits.risks, 0.5)
    optimism(y, p0, fits.risks, fits.weights)
    stats_s = time.perf_counter() - start
    return {"job": " ".join(overrides), "estimator": spec["name"], "rows": int(len(y)), "refits": refits,
            "one_fit_s": round(one_fit, 3), "refits_s": round(fits.seconds, 1), "statistics_s": round(stats_s, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refits", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("medsweep").setLevel(logging.ERROR)
    for job in JOBS:
        print(json.dumps(measure(job, args.refits)), flush=True)
