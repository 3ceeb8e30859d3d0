"""What a trial costs: medsweep's grid sweep, its Optuna search (hparams_search=optuna) and plain Optuna 5
running the same objective, on the same tiny jobs (issue 25, item 4).

    python benchmarks/trial_cost.py                       # 48 trials, 2 at a time
    python benchmarks/trial_cost.py --trials 8 --json out.json

Every trial is the same job: ``model=breast_cancer estimator=logreg trainer.folds=2 eval.n_boot=0`` with its
own ``estimator.C`` (log-uniform in [1e-3, 1e2], the logreg search space of conf/hparams_search/optuna.yaml),
which trains, scores and writes its files exactly as a sweep's job does (``run_job``). Side by side:

- ``loop``: the minimum. One Python process composes the configs, then calls ``run_job`` for each trial one
  after another (no launcher, no sampler). Its start-up (imports) and its loop time are measured apart.
- ``grid``: ``python train.py -m ... estimator.C=<the N values>`` with ``hydra.launcher.n_jobs=J``.
- ``optuna-bJ`` / ``optuna-b8``: ``python train.py -m hparams_search=optuna hydra.sweeper.n_trials=N`` with
  batches of J (and 8) trials on J workers (TPE, a journal file in the sweep directory; the WilcoxonPruner
  hook opens the study and reports each fold: with 2 folds it never prunes, so every trial does the same work).
- ``plain-threads``: plain Optuna in one process: an in-memory study, ``study.optimize(objective,
  n_trials=N, n_jobs=J)`` (Optuna's threads), the objective calling ``run_job``.
- ``plain-processes``: J processes, each ``study.optimize(objective, n_trials=N/J)`` on one JournalStorage
  file (Optuna's recipe for several processes).
- ``racing``: the grid with ``race.enabled=true race.min_folds=2``. With 2 folds racing tests a job once, after
  its last fold, and has no screening stage (a job is screened only where it has folds after ``min_folds``):
  what racing's bookkeeping costs (each fold's score written, the group's files read).
- ``grid-3folds`` / ``racing-3folds``: the same trials with ``trainer.folds=3``, without and with racing
  (``race.min_folds=2``): every job is screened on 2 folds, and those that go on are launched a second time.
  Racing also prunes here, so the two do different work: their wall times are compared, not their overheads.

Figures: wall time (``time.perf_counter`` around the subprocess(es)), trials per second, and the per-trial
overhead ``(wall - (loop start-up + loop time / min(J, cores))) / N``: what each way of running the trials
adds to the least time the same work can take on J workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
JOB = ["model=breast_cancer", "estimator=logreg", "trainer.folds=2", "eval.n_boot=0"]
LOW, HIGH = 1e-3, 1e2


def grid_values(n: int) -> list[float]:
    import math

    return [10 ** (math.log10(LOW) + (math.log10(HIGH) - math.log10(LOW)) * i / max(n - 1, 1)) for i in range(n)]


# -- in-process workers (run by this script in a subprocess, so that start-up is counted as for a sweep) ---

def _objective(out: Path):
    """Optuna's objective: the tiny job with the trial's C, run by run_job into out/<trial number>."""
    import copy
    import logging

    from _compose import compose_jobs
    from medsweep.job.runner import run_job

    logging.getLogger("medsweep").setLevel(logging.WARNING)
    [base] = compose_jobs([JOB])

    def objective(trial) -> float:
        cfg = copy.deepcopy(base)
        cfg.estimator.C = trial.suggest_float("C", LOW, HIGH, log=True)
        return run_job(cfg, out / str(trial.number))

    return objective


def worker(mode: str, out: Path, trials: int, jobs: int, storage: str) -> None:
    tic = time.perf_counter()
    import optuna  # noqa: F401 - imported in every mode: start-up is the same

    from medsweep.job.runner import run_job

    start_s = time.perf_counter() - tic
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if mode == "loop":
        import logging

        from _compose import compose_jobs

        logging.getLogger("medsweep").setLevel(logging.WARNING)
        configs = compose_jobs([JOB + [f"estimator.C={c!r}"] for c in grid_values(trials)])
        tic = time.perf_counter()
        for n, cfg in enumerate(configs):
            run_job(cfg, out / str(n))
        print(json.dumps({"start_s": start_s, "loop_s": time.perf_counter() - tic}))
        return
    objective = _objective(out)
    if mode == "threads":
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(objective, n_trials=trials, n_jobs=jobs)
    else:  # one of several processes sharing a journal file
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        study = optuna.load_study(study_name="bench", storage=JournalStorage(JournalFileBackend(storage)),
                                  sampler=optuna.samplers.TPESampler(seed=os.getpid()))
        study.optimize(objective, n_trials=trials)
    print(json.dumps({"start_s": start_s, "trials": len(study.trials)}))


# -- the runs ------------------------------------------------------------------------------------------------

def timed(commands: list[list[str]]) -> tuple[float, list[str]]:
    """(wall seconds, stdouts) of commands started together and waited for."""
    tic = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    outs = [p.communicate() for p in procs]
    wall = time.perf_counter() - tic
    for p, (out, err), c in zip(procs, outs, commands):
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {' '.join(c)}\n{err[-3000:]}")
    return wall, [o for o, _ in outs]


def count_trials(sweep: Path) -> int:
    return sum(1 for p in sweep.glob("*/metrics.json")
               if json.loads(p.read_text()).get("status") in ("completed", "pruned"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=48)
    parser.add_argument("--jobs", type=int, default=2, help="trials at once (workers, threads, processes)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--worker", choices=["loop", "threads", "process"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--storage", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.out, args.trials, args.jobs, args.storage)
        return 0

    n, j = args.trials, args.jobs
    cores = os.cpu_count() or 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {cores} cores  Python {platform.python_version()}  commit {commit}  "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"# {n} trials of `{' '.join(JOB)}` with their own estimator.C, {j} at a time", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="trial_cost_"))
    me = [sys.executable, str(Path(__file__).resolve())]
    train = [sys.executable, str(ROOT / "train.py"), "-m", *JOB, f"hydra.launcher.n_jobs={j}"]
    runs: dict[str, dict] = {}

    wall, [out] = timed([me + ["--worker", "loop", "--out", str(tmp / "loop"), "--trials", str(n)]])
    loop = json.loads(out.strip().splitlines()[-1])
    floor = loop["start_s"] + loop["loop_s"] / min(j, cores)
    runs["loop"] = {"wall_s": wall, "trials": n, **loop}
    print(f"loop: start-up {loop['start_s']:.2f} s, {loop['loop_s'] / n * 1000:.0f} ms per trial of work; "
          f"least wall time on {min(j, cores)} workers {floor:.2f} s", flush=True)

    grid = ",".join(repr(c) for c in grid_values(n))
    sweeps = {
        "grid": train + [f"estimator.C={grid}"],
        f"optuna-b{j}": train + ["hparams_search=optuna", f"hydra.sweeper.n_trials={n}", f"hydra.sweeper.n_jobs={j}"],
        "optuna-b8": train + ["hparams_search=optuna", f"hydra.sweeper.n_trials={n}", "hydra.sweeper.n_jobs=8"],
    }
    sweeps["racing"] = sweeps["grid"] + ["race.enabled=true", "race.min_folds=2"]
    sweeps["grid-3folds"] = sweeps["grid"] + ["trainer.folds=3"]
    sweeps["racing-3folds"] = sweeps["grid-3folds"] + ["race.enabled=true", "race.min_folds=2"]
    for name, command in sweeps.items():
        wall, _ = timed([command + [f"hydra.sweep.dir={tmp / name}"]])
        runs[name] = {"wall_s": wall, "trials": count_trials(tmp / name)}
        if name.startswith("racing"):
            runs[name]["pruned"] = sum(1 for p in (tmp / name).glob("*/metrics.json")
                                       if json.loads(p.read_text()).get("status") == "pruned")

    wall, _ = timed([me + ["--worker", "threads", "--out", str(tmp / "threads"), "--trials", str(n),
                                "--jobs", str(j)]])
    runs["plain-threads"] = {"wall_s": wall, "trials": n}

    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journal = tmp / "plain.journal"
    optuna.create_study(study_name="bench", direction="maximize",
                        storage=JournalStorage(JournalFileBackend(str(journal))))
    share = [n // j + (1 if k < n % j else 0) for k in range(j)]
    wall, _ = timed([me + ["--worker", "process", "--out", str(tmp / f"proc{k}"), "--trials", str(share[k]),
                                "--storage", str(journal)] for k in range(j)])
    runs["plain-processes"] = {"wall_s": wall, "trials": n}

    print("\n| run | wall s | trials/s | overhead ms/trial |\n|---|---:|---:|---:|")
    for name, r in runs.items():
        if name == "loop":
            continue
        r["trials_per_s"] = r["trials"] / r["wall_s"]
        if name.endswith("3folds"):  # other work than the loop's: no floor to subtract
            pruned = f" ({r['pruned']} pruned)" if "pruned" in r else ""
            print(f"| {name}{pruned} | {r['wall_s']:.1f} | {r['trials_per_s']:.2f} | - |")
            continue
        r["overhead_ms"] = (r["wall_s"] - floor) / r["trials"] * 1000
        print(f"| {name} | {r['wall_s']:.1f} | {r['trials_per_s']:.2f} | {r['overhead_ms']:.0f} |")
    print(f"| loop (1 process, one after another) | {runs['loop']['wall_s']:.1f} | "
          f"{n / runs['loop']['wall_s']:.2f} | - |")
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"trials": n, "jobs": j, "cores": cores, "commit": commit, "runs": runs},
                                        indent=2))
    if args.keep:
        print(f"# kept: {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
