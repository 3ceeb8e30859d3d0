"""medsweep benchmarks (issue 6): every figure measured side by side in one run of this script.

    python benchmarks/run_benchmarks.py                          # all, full sizes (about 15 min on 2 cores)
    python benchmarks/run_benchmarks.py --only speedup,oversub   # some of them
    python benchmarks/run_benchmarks.py --quick                  # tiny sizes: checks that it works; the
                                                                 # figures then mean nothing
    python benchmarks/run_benchmarks.py --json results.json      # also keep every number

Benchmarks (what each measures is in benchmarks/README.md):
  speedup   6 equal CPU-bound jobs, n_jobs=1 against n_jobs=2             target >= 1.8x
  oversub   the same 6 jobs, n_jobs=6 against n_jobs=2                      target <= 1.10x slower
  overhead  48 tiny jobs: sweep wall time against a plain Python process looping run_job   target < 60 ms per job
  old       12 short jobs: one `python` subprocess per job from a thread pool (old design) against a sweep
                                                                            target >= 2x faster
  framework one job in-process: medsweep training against hand-written scikit-learn  target <= 1.10x
  growth    10, 100, 1000 trivial jobs: time per job and start-up time to the first job   flat
  startup   first finished job of a 10-job and a 1,000-job sweep          target <= 1.5x
            and a 10,000-job dry_run                                      target < 10 s
  memory    12 jobs on a 1,000,000 x 50 CSV file without and with the parsed-table cache: wall time and peak
            memory (VmHWM) of the parent and each worker              target worker <= 2.5 copies of X

Sweeps are real `python train.py -m ...` subprocesses, timed with time.perf_counter from just before the
process starts to just after it exits, with hydra.sweep.dir in a temporary folder. Nothing here asserts a
time: the table says PASS or MISS against each target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
BENCHMARKS = ("speedup", "oversub", "overhead", "old", "framework", "growth", "startup", "memory")

# Sizes: full, and --quick (only to keep the script working; its figures mean nothing).
# repeat: benchmarks 1-3 run each side that many times, alternating, and keep the fastest run (on a
# shared machine noise only ever adds time).
FULL = dict(repeat=3, cpu_jobs=6, cpu_epochs=50, rf_trees=600, overhead_jobs=48, old_jobs=12, framework_repeat=5,
            growth=(10, 100, 1000), startup=(10, 1000), dry_run_jobs=10_000, memory_rows=1_000_000)
QUICK = dict(repeat=1, cpu_jobs=4, cpu_epochs=3, rf_trees=30, overhead_jobs=6, old_jobs=4, framework_repeat=1,
             growth=(5, 10, 20), startup=(5, 20), dry_run_jobs=100, memory_rows=20_000)
TINY_JOB = ["model=breast_cancer", "estimator=logreg", "trainer.folds=2"]


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------- processes

def _proc_status(pid: int) -> dict:
    """VmHWM (peak resident set size) and VmRSS of a live process, in kB, and its PPid; {} once it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:", "PPid:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return ""


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class Run:
    cmd: list[str]
    rc: int
    wall_s: float
    started_epoch: float                       # time.time() at start, to compare with file mtimes
    first_s: Optional[float] = None            # until the watched file (first job's metrics.json) appeared
    peaks_kb: dict = field(default_factory=dict)   # pid -> {"kind", "hwm_kb", "cmd"}
    children_maxrss_kb: int = 0
    stdout: str = ""
    stderr: str = ""
    sweep_dir: Optional[Path] = None


def run_process(cmd: list[str], workdir: Path, *, watch: Optional[Path] = None, memory: bool = False,
                env: Optional[dict] = None, timeout: float = 3600) -> Run:
    """Run ``cmd`` from the repository root; time it; optionally note when ``watch`` appears and poll the
    peak memory (VmHWM) of the process and every descendant until it exits."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    peaks: dict = {}
    first = None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started_epoch = time.time()
        tic = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env=env)
        last_mem = 0.0
        while proc.poll() is None:
            now = time.perf_counter()
            if now - tic > timeout:
                proc.kill()
                raise BenchError(f"timed out after {timeout:.0f} s: {shlex.join(cmd)}")
            if watch is not None and first is None and watch.exists():
                first = now - tic
            if memory and now - last_mem >= 0.2:
                last_mem = now
                for pid in [proc.pid] + _descendants(proc.pid):
                    hwm = _proc_status(pid).get("VmHWM")
                    if hwm is None:
                        continue
                    if pid not in peaks:
                        line = _cmdline(pid)
                        # Workers are forked from a forkserver (same command line) or spawned by loky.
                        server = "forkserver" in line and _proc_status(pid).get("PPid") == proc.pid
                        kind = ("parent" if pid == proc.pid else "resource tracker" if "resource_tracker" in line
                                else "forkserver" if server else "worker"
                                if "forkserver" in line or "loky" in line or "joblib" in line else "other")
                        peaks[pid] = {"kind": kind, "hwm_kb": hwm, "cmd": line[:200]}
                    peaks[pid]["hwm_kb"] = max(peaks[pid]["hwm_kb"], hwm)
            time.sleep(0.01 if first is None and watch is not None else 0.05)
        wall = time.perf_counter() - tic
    if watch is not None and first is None and watch.exists():
        first = wall
    return Run(cmd=cmd, rc=proc.returncode, wall_s=wall, started_epoch=started_epoch, first_s=first,
               peaks_kb=peaks, children_maxrss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
               stdout=out_path.read_text(errors="replace"), stderr=err_path.read_text(errors="replace"))


def _check(run: Run, what: str) -> Run:
    if run.rc != 0:
        tail = "\n".join((run.stderr or run.stdout).strip().splitlines()[-15:])
        raise BenchError(f"{what} exited {run.rc}: {shlex.join(run.cmd)}\n{tail}")
    return run


def sweep(tmp: Path, name: str, overrides: list[str], n_jobs: int, **kw) -> Run:
    """`python train.py -m OVERRIDES hydra.launcher.n_jobs=N hydra.sweep.dir=<tmp>/<name>`."""
    sweep_dir = tmp / name
    cmd = [PY, "train.py", "-m", *overrides, f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={sweep_dir}"]
    run = _check(run_process(cmd, tmp / f"{name}.proc", watch=sweep_dir / "0" / "metrics.json", **kw),
                 f"sweep {name}")
    run.sweep_dir = sweep_dir
    return run


def job_records(sweep_dir: Path) -> list[dict]:
    out = []
    for path in sweep_dir.glob("*/metrics.json"):
        m = json.loads(path.read_text())
        m["_mtime"] = path.stat().st_mtime
        out.append(m)
    return out


def seeds(n: int) -> str:
    return "seed=" + ",".join(map(str, range(n)))


def python_json(cmd: list[str], workdir: Path, what: str, **kw) -> tuple[dict, Run]:
    run = _check(run_process(cmd, workdir, **kw), what)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{what} printed no JSON result:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return json.loads(lines[-1]), run


# ---------------------------------------------------------------------------------------------- reporting

@dataclass
class Verdict:
    benchmark: str
    figure: str
    value: str
    target: str
    status: str   # PASS, MISS or INFO


def table(title: str, headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in headers]] + [[c if isinstance(c, str) else f"{c:.3f}" if isinstance(c, float)
                                            else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title, "  " + "  ".join(h.rjust(w) for h, w in zip(cells[0], widths)),
             "  " + "  ".join("-" * w for w in widths)]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------------------------------------- benchmarks

class Bench:
    def __init__(self, tmp: Path, sizes: dict, cpu_estimator: str, only: Iterable[str] = BENCHMARKS):
        self.tmp, self.sizes, self.only = tmp, sizes, set(only)
        self.cpu_estimator = cpu_estimator
        self.verdicts: list[Verdict] = []
        self.results: dict = {}
        self._cpu_runs: dict[int, Run] = {}

    # 1 and 2 share the n_jobs=2 sweep of the CPU-bound jobs.
    def cpu_overrides(self) -> list[str]:
        s = self.sizes
        if self.cpu_estimator == "random_forest":
            job = ["model=breast_cancer", "estimator=random_forest", f"estimator.n_estimators={s['rf_trees']}"]
        else:
            job = ["model=breast_cancer", "estimator=mlp", f"trainer.epochs={s['cpu_epochs']}"]
        return job + ["trainer.folds=5", seeds(s["cpu_jobs"])]

    def cpu_sweeps(self, *n_jobs: int) -> None:
        """Sweep the CPU-bound jobs with each ``n_jobs``, alternating, ``repeat`` times; keep the fastest."""
        todo = [n for n in n_jobs if n not in self._cpu_runs]
        for r in range(self.sizes["repeat"]):
            for n in todo:
                run = sweep(self.tmp, f"cpu_n{n}_{r}", self.cpu_overrides(), n)
                if n not in self._cpu_runs or run.wall_s < self._cpu_runs[n].wall_s:
                    self._cpu_runs[n] = run

    def cpu_sweep(self, n_jobs: int) -> Run:
        self.cpu_sweeps(n_jobs)
        return self._cpu_runs[n_jobs]

    def _cpu_row(self, n_jobs: int) -> list:
        run = self.cpu_sweep(n_jobs)
        jobs = job_records(run.sweep_dir)
        durations = [j["duration_s"] for j in jobs]
        threads = sorted({j.get("n_threads") for j in jobs})
        return [f"n_jobs={n_jobs}", len(jobs), run.wall_s, sum(durations) / len(durations), run.first_s or 0.0,
                ",".join(map(str, threads))]

    CPU_HEADERS = ["launcher", "jobs", "wall s", "mean job s", "first job s", "n_threads"]

    def ceiling(self) -> dict:
        """This machine's own limit: the same training in plain Python processes (no medsweep, no Hydra),
        two at once against one alone. Two busy cores of a virtual machine run slower than one."""
        job = self.cpu_overrides()[:-1] + ["seed=0"]

        def loop(name: str) -> float:
            res, _ = python_json([PY, str(HERE / "plain_loop.py"), "--out", str(self.tmp / name), "--seeds", "2", *job],
                                 self.tmp / f"{name}.proc", "plain loop")
            return res["loop_s"]

        alone, both = float("inf"), [float("inf")] * 2
        for r in range(self.sizes["repeat"]):
            alone = min(alone, loop(f"ceiling_alone_{r}"))
            with ThreadPoolExecutor(2) as pool:
                pair = list(pool.map(loop, [f"ceiling_a_{r}", f"ceiling_b_{r}"]))
            both = min(both, pair, key=max)
        return {"alone_s": alone, "two_at_once_s": both, "ceiling": 2 * alone / max(both)}

    def speedup(self) -> str:
        self.cpu_sweeps(1, 2, *((self.sizes["cpu_jobs"],) if "oversub" in self.only else ()))
        r1, r2 = self.cpu_sweep(1), self.cpu_sweep(2)
        ratio = r1.wall_s / r2.wall_s
        ceiling = self.ceiling()
        # A launcher with no cost at all: n_jobs=1's serial part (interpreter, Hydra, imports, summary:
        # its wall time minus its jobs) plus the jobs in rounds of two, as long as they take two at once.
        jobs1, jobs2 = job_records(r1.sweep_dir), job_records(r2.sweep_dir)
        serial = r1.wall_s - sum(j["duration_s"] for j in jobs1)
        rounds = -(-len(jobs2) // 2)
        ideal = r1.wall_s / (serial + rounds * sum(j["duration_s"] for j in jobs2) / len(jobs2))
        self.verdicts.append(Verdict("speedup", "wall(n_jobs=1) / wall(n_jobs=2)", f"{ratio:.2f}x", ">= 1.80x",
                                     verdict(ratio >= 1.8)))
        self.results["speedup"] = {"overrides": self.cpu_overrides(), "wall_n1_s": r1.wall_s,
                                   "wall_n2_s": r2.wall_s, "ratio": ratio, "machine": ceiling,
                                   "serial_s": serial, "ideal_launcher": ideal}
        return table(f"1. Parallel speedup: {self.sizes['cpu_jobs']} CPU-bound jobs ({' '.join(self.cpu_overrides()[:3])})",
                     self.CPU_HEADERS, [self._cpu_row(1), self._cpu_row(2)]) + \
            f"\n  speedup n_jobs=1 -> 2: {ratio:.2f}x (target >= 1.80x, limit 2.0x): {verdict(ratio >= 1.8)}" \
            f"\n  this machine's ceiling: the same training in plain Python processes, two at once against one " \
            f"alone: {ceiling['ceiling']:.2f}x ({ceiling['alone_s']:.2f} s alone; " \
            f"{' s and '.join(f'{t:.2f}' for t in ceiling['two_at_once_s'])} s at once)" \
            f"\n  a launcher costing nothing would reach {ideal:.2f}x here: n_jobs=1's serial part ({serial:.2f} s: " \
            f"interpreter, Hydra, imports, summary) plus {rounds} rounds of two jobs as long as they take " \
            f"side by side; medsweep reaches {ratio / ideal:.0%} of it"

    def oversub(self) -> str:
        many = self.sizes["cpu_jobs"]
        r2, rn = self.cpu_sweep(2), self.cpu_sweep(many)
        ratio = rn.wall_s / r2.wall_s
        self.verdicts.append(Verdict("oversub", f"wall(n_jobs={many}) / wall(n_jobs=2)", f"{ratio:.2f}x",
                                     "<= 1.10x", verdict(ratio <= 1.10)))
        self.results["oversub"] = {"wall_n2_s": r2.wall_s, f"wall_n{many}_s": rn.wall_s, "ratio": ratio}
        return table(f"2. Oversubscription: the same {many} jobs, n_jobs={many} against n_jobs=2",
                     self.CPU_HEADERS, [self._cpu_row(2), self._cpu_row(many)]) + \
            f"\n  n_jobs={many} / n_jobs=2: {ratio:.2f}x (target <= 1.10x): {verdict(ratio <= 1.10)}"

    def overhead(self) -> str:
        n = self.sizes["overhead_jobs"]
        loop_run, runs, one = None, {}, None
        for r in range(self.sizes["repeat"]):  # alternating; the fastest of each is kept
            res, run = python_json([PY, str(HERE / "plain_loop.py"), "--out", str(self.tmp / f"loop_{r}"), "--seeds",
                                    str(n), *TINY_JOB], self.tmp / f"loop_{r}.proc", "plain loop")
            if loop_run is None or run.wall_s - res["compose_s"] < loop_run.wall_s - loop["compose_s"]:
                loop, loop_run = res, run
            for n_jobs in (1, 2):
                run = sweep(self.tmp, f"overhead_n{n_jobs}_{r}", TINY_JOB + [seeds(n)], n_jobs)
                if n_jobs not in runs or run.wall_s < runs[n_jobs].wall_s:
                    runs[n_jobs] = run
            # The issue's figure: what each job beyond the first adds, less its own training on 2 workers.
            run = sweep(self.tmp, f"overhead_one_{r}", TINY_JOB + ["seed=0"], 2)
            if one is None or run.wall_s < one.wall_s:
                one = run
        # The plain Python process: interpreter start-up and imports, then the loop (its Hydra composing
        # is left out: a hand-written loop has none). As in the issue's stock-Hydra figure (48 jobs in 6.5 s
        # against 1.3 s for one), start-up is paid once by both sides and is not per-job overhead.
        start_s = loop_run.wall_s - loop["compose_s"] - loop["loop_s"]
        rows, per_job, strict = [], {}, {}
        for n_jobs, run in runs.items():
            # With 2 workers the same training can take half the loop's time: that share is not overhead.
            parallel = min(n_jobs, os.cpu_count() or 1)
            per_job[n_jobs] = (run.wall_s - start_s - loop["loop_s"] / parallel) / n
            strict[n_jobs] = (run.wall_s - loop["loop_s"] / parallel) / n
            rows.append([f"n_jobs={n_jobs}", n, run.wall_s, f"{start_s:.2f} + {loop['loop_s']:.2f}/{parallel}",
                         per_job[n_jobs] * 1e3, strict[n_jobs] * 1e3, run.first_s or 0.0])
        ok = per_job[2] < 0.060
        # Issue 17, item 2: (wall of n jobs - wall of 1) / (n - 1) - mean recorded job duration / 2 workers.
        mean_job = sum(j["duration_s"] for j in job_records(runs[2].sweep_dir)) / n
        issue = (runs[2].wall_s - one.wall_s) / max(1, n - 1) - mean_job / 2
        issue_ok = issue < 0.060
        self.verdicts.append(Verdict("overhead", f"(wall {n} - wall 1) / {n - 1} - mean job / 2, n_jobs=2",
                                     f"{issue * 1e3:.0f} ms", "< 60 ms", verdict(issue_ok)))
        self.verdicts.append(Verdict("overhead", "(wall - plain process) / jobs, n_jobs=2",
                                     f"{per_job[2] * 1e3:.0f} ms", "< 60 ms", verdict(ok)))
        self.results["overhead"] = {"jobs": n, "loop": loop, "plain_start_s": start_s,
                                    "per_job_overhead_s": per_job, "per_job_overhead_strict_s": strict,
                                    "wall_one_s": one.wall_s, "mean_job_s": mean_job, "per_job_issue_s": issue}
        rows.append(["1 job, n_jobs=2", 1, one.wall_s, "", "", "", one.first_s or 0.0])
        return table(f"3. Orchestration overhead: {n} tiny jobs ({' '.join(TINY_JOB)}); plain Python process "
                     f"running the loop of run_job: start-up and imports {start_s:.2f} s, loop {loop['loop_s']:.2f} s "
                     f"({loop['loop_s'] / n * 1e3:.0f} ms/job)",
                     ["launcher", "jobs", "sweep wall s", "plain process s", "overhead ms/job",
                      "strict ms/job", "first job s"], rows) + \
            "\n  overhead = (sweep wall - (plain start-up + loop / workers)) / jobs; strict also counts the start-up" \
            f"\n  overhead per job with n_jobs=2: {per_job[2] * 1e3:.0f} ms (target < 60 ms): {verdict(ok)}" \
            f"\n  issue 17's figure: ({runs[2].wall_s:.2f} s - {one.wall_s:.2f} s) / {n - 1} - mean job " \
            f"{mean_job * 1e3:.0f} ms / 2 = {issue * 1e3:.0f} ms per job (target < 60 ms): {verdict(issue_ok)}"

    def old(self) -> str:
        n = self.sizes["old_jobs"]
        job = ["model=breast_cancer", "estimator=logreg"]
        res, _ = python_json([PY, str(HERE / "old_orchestrator.py"), "--out", str(self.tmp / "old"),
                              "--max-workers", "2", "--jobs", str(n), *job], self.tmp / "old.proc", "old orchestrator")
        if res["failed"]:
            raise BenchError(f"old orchestrator: jobs {res['failed']} failed (logs in {self.tmp / 'old'})")
        new = sweep(self.tmp, "old_vs_medsweep", job + [seeds(n)], 2)
        ratio = res["wall_s"] / new.wall_s
        self.verdicts.append(Verdict("old", "wall(old design) / wall(medsweep)", f"{ratio:.2f}x", ">= 2.00x",
                                     verdict(ratio >= 2.0)))
        self.results["old"] = {"jobs": n, "old_wall_s": res["wall_s"], "medsweep_wall_s": new.wall_s, "ratio": ratio}
        return table(f"4. Against the old design: {n} short jobs ({' '.join(job)}, 5 folds), 2 at a time",
                     ["design", "jobs", "wall s", "s/job"],
                     [["thread pool + one python per job", n, res["wall_s"], res["wall_s"] / n],
                      ["medsweep sweep, n_jobs=2", n, new.wall_s, new.wall_s / n]]) + \
            f"\n  medsweep is {ratio:.2f}x faster (target >= 2x): {verdict(ratio >= 2.0)}"

    def framework(self) -> str:
        res, _ = python_json([PY, str(HERE / "plain_sklearn_cv.py"), "--compare", "--repeat",
                              str(self.sizes["framework_repeat"])], self.tmp / "framework.proc", "framework")
        rows = []
        for name, r in res.items():
            # The hand-written script trains and writes nothing: compare training with training.
            ratio = r["training_median_s"] / r["plain_median_s"]
            rows.append([name, r["plain_median_s"], r["training_median_s"], r["run_job_median_s"], ratio,
                         r["run_job_median_s"] / r["plain_median_s"], "yes" if r["same_metrics"] else "NO"])
            self.verdicts.append(Verdict("framework", f"{name}: training / plain scikit-learn", f"{ratio:.2f}x",
                                         "<= 1.10x", verdict(ratio <= 1.10 and r["same_metrics"])))
            if name == "logreg":  # issue 17, item 5: a tiny job's own files against its training
                full = r["run_job_median_s"] / r["plain_median_s"]
                self.verdicts.append(Verdict("framework", "logreg: run_job with every output file / plain",
                                             f"{full:.2f}x", "<= 1.5x", verdict(full <= 1.5)))
        self.results["framework"] = res
        return table("5. Framework overhead in one job (breast_cancer, 5 folds, 20 epochs for mlp; medians of "
                     f"{self.sizes['framework_repeat']} in-process runs, BLAS 1 thread)",
                     ["estimator", "plain s", "training s", "run_job s", "training/plain", "run_job/plain",
                      "same metrics"], rows) + \
            "\n  training = medsweep load_dataset + cross_validate + fit_final; run_job adds the evaluation (patient" \
            " bootstrap, calibration, decision curve) and every output file (metrics, history, predictions, 4 PNG" \
            " plots, model.skops, model card), which the plain script neither computes nor writes." \
            "\n  Target: training/plain <= 1.10x with the same metrics."

    def growth(self) -> str:
        rows, steady = [], {}
        for n in self.sizes["growth"]:
            run = sweep(self.tmp, f"growth_{n}", TINY_JOB + [seeds(n)], 2)
            jobs = job_records(run.sweep_dir)
            if len(jobs) != n or any(j["status"] != "completed" for j in jobs):
                raise BenchError(f"growth {n}: {len(jobs)} metrics.json, not all completed")
            last_done = max(j["_mtime"] for j in jobs) - run.started_epoch
            first = run.first_s or 0.0
            steady[n] = (last_done - first) / n
            rows.append([n, run.wall_s, run.wall_s / n * 1e3, first, steady[n] * 1e3, run.wall_s - last_done])
        sizes = list(steady)
        base = steady[sizes[1]] if len(sizes) > 2 else steady[sizes[0]]
        growth = steady[sizes[-1]] / base
        ok = growth <= 1.25
        self.verdicts.append(Verdict("growth", f"ms/job at {sizes[-1]} / at {sizes[1] if len(sizes) > 2 else sizes[0]}"
                                     " (between first and last job)", f"{growth:.2f}x", "<= 1.25x (flat)", verdict(ok)))
        self.verdicts.append(Verdict("growth", "start-up to first job", f"{rows[0][3]:.2f} s", "(reported)", "INFO"))
        self.results["growth"] = {"rows": rows}
        return table(f"6. Growth: trivial jobs ({' '.join(TINY_JOB)}), n_jobs=2",
                     ["jobs", "wall s", "ms/job", "start-up to first job s", "ms/job first->last job",
                      "after last job s"], rows) + \
            f"\n  steady ms/job at {sizes[-1]} jobs vs {sizes[1] if len(sizes) > 2 else sizes[0]}: {growth:.2f}x " \
            f"(flat: <= 1.25x): {verdict(ok)}. 'after last job' = summary + shut-down."

    def startup(self) -> str:
        """Issue 17, item 3: launch to the first finished job, small sweep against a large one (each sweep is
        interrupted once a job has finished: the rest is growth's business), and a large dry run."""
        import signal

        small, large = self.sizes["startup"]

        def first_finished(name: str, n: int) -> tuple[float, float]:
            """(seconds to the first job recorded completed, seconds to the first job's metrics.json)."""
            sweep_dir, work = self.tmp / name, self.tmp / f"{name}.proc"
            work.mkdir(parents=True, exist_ok=True)
            cmd = [PY, "train.py", "-m", *TINY_JOB, f"seed=range(0,{n})", "hydra.launcher.n_jobs=2",
                   f"hydra.sweep.dir={sweep_dir}"]
            started = finished = None
            with open(work / "stdout.txt", "wb") as out, open(work / "stderr.txt", "wb") as err:
                tic = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err)
                while finished is None and proc.poll() is None:
                    now = time.perf_counter()
                    if now - tic > 600:
                        proc.kill()
                        raise BenchError(f"no job finished in 600 s: {shlex.join(cmd)}")
                    for num in range(min(n, 4)):  # two workers: the first jobs are the first to finish
                        path = sweep_dir / str(num) / "metrics.json"
                        if started is None and path.exists():
                            started = now - tic
                        try:
                            status = json.loads(path.read_text()).get("status")
                        except (OSError, ValueError):
                            continue
                        if status == "completed":
                            finished = now - tic
                            break
                    time.sleep(0.01)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # the sweep stops its workers and exits
                    try:
                        proc.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            if finished is None:
                tail = (work / "stderr.txt").read_text(errors="replace").strip().splitlines()[-15:]
                raise BenchError(f"sweep {name} exited {proc.returncode} before a job finished\n" + "\n".join(tail))
            return finished, started if started is not None else finished

        best: dict[int, tuple[float, float]] = {}
        for r in range(self.sizes["repeat"]):  # alternating; the fastest of each is kept
            for n in (small, large):
                got = first_finished(f"startup_{n}_{r}", n)
                if n not in best or got[0] < best[n][0]:
                    best[n] = got
        ratio = best[large][0] / best[small][0]
        ok = ratio <= 1.5

        n_dry = self.sizes["dry_run_jobs"]
        dry = _check(run_process([PY, "train.py", "-m", *TINY_JOB, f"seed=range(0,{n_dry})", "dry_run=true",
                                  f"hydra.sweep.dir={self.tmp / 'dry_run'}"], self.tmp / "dry_run.proc"), "dry run")
        listed = sum(1 for line in dry.stdout.splitlines() if line.startswith("#"))
        if listed != n_dry or (self.tmp / "dry_run").exists():
            raise BenchError(f"dry run listed {listed} of {n_dry} jobs, or made a directory")
        dry_ok = dry.wall_s < 10
        self.verdicts.append(Verdict("startup", f"first finished job, {large} jobs / {small} jobs (n_jobs=2)",
                                     f"{ratio:.2f}x", "<= 1.50x", verdict(ok)))
        self.verdicts.append(Verdict("startup", f"dry_run of {n_dry:,} jobs", f"{dry.wall_s:.1f} s", "< 10 s",
                                     verdict(dry_ok)))
        self.results["startup"] = {"first_finished_s": {n: b[0] for n, b in best.items()},
                                   "first_started_s": {n: b[1] for n, b in best.items()}, "ratio": ratio,
                                   "dry_run_jobs": n_dry, "dry_run_s": dry.wall_s}
        return table(f"8. Start-up: {' '.join(TINY_JOB)} seed=range(0,N), n_jobs=2 (fastest of "
                     f"{self.sizes['repeat']}, alternating; each sweep interrupted after its first finished job)",
                     ["jobs", "first job started s", "first job finished s"],
                     [[n, best[n][1], best[n][0]] for n in (small, large)]) + \
            f"\n  first finished job, {large} jobs against {small}: {ratio:.2f}x (target <= 1.5x): {verdict(ok)}" \
            f"\n  dry_run=true of {n_dry:,} jobs: {dry.wall_s:.1f} s, {listed:,} jobs listed (target < 10 s): " \
            f"{verdict(dry_ok)}"

    def memory(self) -> str:
        """A sweep of `memory_jobs` jobs on the big CSV, n_jobs=2, without the parsed-table cache ("before":
        every job parses the file) and with it ("after": data_cache=auto, parsed once per sweep), side by side."""
        rows_n, n_jobs = self.sizes["memory_rows"], self.sizes.get("memory_jobs", 12)
        sides = self.sizes.get("memory_sides", ("before", "after"))
        csv, gen_s, x_bytes, file_bytes = make_big_csv(self.tmp / "big.csv", rows_n)
        job = ["model=breast_cancer", f"data.path={csv}", "data.target=outcome", "data.task=classification",
               "data.positive=null", "data.group=null", "estimator=logreg", "trainer.folds=2", seeds(n_jobs)]
        # Code without the data_cache key (a checkout from before it) runs "before" as it is.
        has_key = "data_cache:" in (ROOT / "conf" / "train.yaml").read_text()
        base = sweep(self.tmp, "memory_base", TINY_JOB + [seeds(2)], 2, memory=True)
        base_worker = max((p["hwm_kb"] for p in base.peaks_kb.values() if p["kind"] == "worker"), default=0)
        base_parent = max((p["hwm_kb"] for p in base.peaks_kb.values() if p["kind"] == "parent"), default=0)
        runs, rows, procs, results = {}, [], [], {}
        for side in sides:
            cache = ["data_cache=null"] if side == "before" and has_key else []
            run = runs[side] = sweep(self.tmp, f"memory_{side}", job + cache, 2, memory=True, timeout=3600)
            peaks = {pid: dict(p, kind="cache builder" if "medsweep.data.cache" in p["cmd"] else p["kind"])
                     for pid, p in run.peaks_kb.items()}
            for pid, p in sorted(peaks.items(), key=lambda kv: (kv[1]["kind"], kv[0])):
                extra = p["hwm_kb"] - (base_worker if p["kind"] == "worker" else base_parent if p["kind"] == "parent"
                                       else 0)
                procs.append([side, p["kind"], pid, p["hwm_kb"] / 1024, extra / 1024,
                              f"{extra * 1024 / x_bytes:.2f}" if p["kind"] in ("worker", "parent") else "-"])
            worker = max((p["hwm_kb"] for p in peaks.values() if p["kind"] == "worker"), default=0)
            parent = max((p["hwm_kb"] for p in peaks.values() if p["kind"] == "parent"), default=0)
            copies = (worker - base_worker) * 1024 / x_bytes
            records = job_records(run.sweep_dir)
            mean_job = sum(j["duration_s"] for j in records) / max(1, len(records))
            entries = len(list((run.sweep_dir / ".data_cache").glob("*.arrow")))
            rows.append([side, len(records), run.wall_s, mean_job, parent / 1024, worker / 1024,
                         (worker - base_worker) / 1024, copies, entries])
            self.verdicts.append(Verdict("memory", f"{side}: worker peak above an idle worker, in copies of X",
                                         f"{copies:.2f}", "<= 2.5" if side == "after" else "(reported)",
                                         verdict(copies <= 2.5) if side == "after" else "INFO"))
            self.verdicts.append(Verdict("memory", f"{side}: wall of {n_jobs} jobs", f"{run.wall_s:.1f} s",
                                         "(reported)", "INFO"))
            results[side] = {"peaks": run.peaks_kb, "wall_s": run.wall_s, "mean_job_s": mean_job,
                             "parent_kb": parent, "worker_kb": worker, "worker_copies": copies, "cache_entries": entries,
                             "children_maxrss_kb": run.children_maxrss_kb,
                             "folds": {m.parent.name: json.loads(m.read_text())["metrics"]["roc_auc"]["folds"]
                                       for m in run.sweep_dir.glob("*/metrics.json")}}
        same = ""
        if len(results) == 2:
            a, b = (results[s]["folds"] for s in sides)
            same = f"\n  same metrics, fold by fold (roc_auc of every job): {'yes' if a == b else 'NO'}"
        self.results["memory"] = {"rows": rows_n, "jobs": n_jobs, "file_mb": file_bytes / 1e6, "x_mb": x_bytes / 1e6,
                                  "base_worker_kb": base_worker, "base_parent_kb": base_parent, "sides": results}
        return table(f"7. Memory: {rows_n:,} x 50 CSV ({file_bytes / 1e6:.0f} MB on disk, X = {x_bytes / 1e6:.0f} MB "
                     f"as float64; written in {gen_s:.0f} s), {n_jobs} jobs (logreg, 2 folds), n_jobs=2; before: "
                     "data_cache=null (every job parses the file), after: data_cache=auto (parsed once per sweep)",
                     ["side", "jobs", "wall s", "mean job s", "parent peak MB", "worker peak MB", "above idle MB",
                      "in copies of X", "cache entries"], rows) + "\n" + \
            table("  every process (VmHWM)", ["side", "process", "pid", "peak MB", "above idle MB", "in copies of X"],
                  procs) + \
            f"\n  idle = the same processes in a sweep of 2 tiny jobs: parent {base_parent / 1024:.0f} MB, worker " \
            f"{base_worker / 1024:.0f} MB. The cache builder is the child process of the first job that parses the " \
            "file into the cache." + same

def make_big_csv(path: Path, rows: int, seed: int = 0) -> tuple[Path, float, int, int]:
    """rows x 50: 47 numeric columns (1% missing), 2 text columns, a binary target `outcome`."""
    import numpy as np
    import pandas as pd

    tic = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_num = 47
    chunk = 200_000
    for start in range(0, rows, chunk):
        m = min(chunk, rows - start)
        X = rng.normal(size=(m, n_num)).astype(np.float32)
        X[rng.random(X.shape) < 0.01] = np.nan
        frame = pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(n_num)])
        frame["site"] = rng.choice(["north", "south", "east", "west", "centre"], m)
        frame["sex"] = rng.choice(["F", "M"], m)
        logit = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) + (frame["sex"] == "F") * 0.3
        frame["outcome"] = (rng.random(m) < 1 / (1 + np.exp(-logit))).astype(int)
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False, float_format="%.4f")
    x_bytes = rows * (n_num + 2 + 5) * 8   # X after preprocessing: 47 numeric + one-hot (2 + 5) as float64
    return path, time.perf_counter() - tic, x_bytes, path.stat().st_size


# ---------------------------------------------------------------------------------------------- main

def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        commit, dirty = "", False
    return {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "host": platform.node(),
            "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)), "cpu": cpu,
            "python": platform.python_version(), "commit": commit + ("+dirty" if dirty else ""),
            "load_avg_start": os.getloadavg()}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated, from: {','.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script works")
    parser.add_argument("--cpu-estimator", choices=("mlp", "random_forest"), default="mlp",
                        help="the CPU-bound job of speedup/oversub (default mlp: single-threaded by design)")
    parser.add_argument("--cpu-epochs", type=int, help="trainer.epochs of the mlp CPU-bound job (default 50: "
                        "about 3 s per job)")
    parser.add_argument("--growth", help="job counts of the growth benchmark, e.g. 10,100,1000")
    parser.add_argument("--memory-rows", type=int, help="rows of the memory benchmark's CSV file")
    parser.add_argument("--memory-jobs", type=int, help="jobs of each memory sweep (default 12; --quick: 2)")
    parser.add_argument("--memory-sides", default="before,after",
                        help="memory sweeps to run: before (data_cache=null), after (the cache), or both (default)")
    parser.add_argument("--json", type=Path, help="write every measured number to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (sweeps, logs)")
    args = parser.parse_args(argv)

    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}: choose from {', '.join(BENCHMARKS)}")
    sizes = dict(QUICK if args.quick else FULL)
    if args.cpu_epochs:
        sizes["cpu_epochs"] = args.cpu_epochs
    if args.growth:
        sizes["growth"] = tuple(int(n) for n in args.growth.split(","))
    if args.memory_rows:
        sizes["memory_rows"] = args.memory_rows
    sizes["memory_jobs"] = args.memory_jobs or (2 if args.quick else 12)
    sizes["memory_sides"] = tuple(x.strip() for x in args.memory_sides.split(",") if x.strip())
    if not sizes["memory_sides"] or set(sizes["memory_sides"]) - {"before", "after"}:
        parser.error(f"--memory-sides {args.memory_sides!r}: choose before, after or before,after")
    info = machine()
    command = shlex.join(["python", "benchmarks/run_benchmarks.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"medsweep benchmarks  {info['date']}  {info['cores']} cores ({info['usable_cores']} usable), "
          f"{info['cpu']}, Python {info['python']}, commit {info['commit']}")
    print(f"command: {command}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in info['load_avg_start'])}"
          + ("   (--quick: tiny sizes, the figures mean nothing)" if args.quick else ""))
    print(flush=True)

    tmp_ctx = None if args.keep else tempfile.TemporaryDirectory(prefix="medsweep_bench_")
    tmp = Path(tmp_ctx.name if tmp_ctx else tempfile.mkdtemp(prefix="medsweep_bench_"))
    bench = Bench(tmp, sizes, args.cpu_estimator, chosen)
    errors = 0
    tic = time.perf_counter()
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        t = time.perf_counter()
        try:
            text = getattr(bench, name)()
        except BenchError as exc:
            errors += 1
            text = f"{name}: ERROR {exc}"
            bench.verdicts.append(Verdict(name, "-", "error", "-", "ERROR"))
        print(text)
        print(f"  ({name}: {time.perf_counter() - t:.0f} s)\n", flush=True)
    total = time.perf_counter() - tic
    info["load_avg_end"] = os.getloadavg()

    print(table("Summary", ["benchmark", "figure", "measured", "target", "result"],
                [[v.benchmark, v.figure, v.value, v.target, v.status] for v in bench.verdicts]))
    print(f"\ntotal {total:.0f} s; load average at end: {' '.join(f'{x:.2f}' for x in info['load_avg_end'])}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "command": command, "sizes": {k: v for k, v in sizes.items()},
                                         "total_s": total, "verdicts": [v.__dict__ for v in bench.verdicts],
                                         "results": bench.results}, indent=2, default=str))
    if tmp_ctx:
        tmp_ctx.cleanup()
    else:
        print(f"kept {tmp}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
