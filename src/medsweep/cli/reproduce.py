"""``medsweep reproduce <job dir> [--out DIR] [--tolerance X]``: the arguments and the report of
medsweep.tools.reproduce (which checks, re-runs and compares). Exit 0 when identical, 1 listing each
difference, 2 when the job cannot be reproduced.

The reproduction is written outside the sweep: by default ``./reproduced/<sweep>-<job>-<time>`` in the
current directory (``<sweep>``: the name of the job's sweep directory, or of a single run's directory);
``--out`` chooses another, never the job's sweep or anything inside it (a folder in a sweep would be read
as one of its jobs)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Optional

from medsweep.cli import EXIT_DIFFERENT, EXIT_OK, fail, run_command, show_warnings, usage
from medsweep.data.errors import DataError
from medsweep.record.files import METRICS_FILE, SAVED_CONFIG, SWEEP_CONFIG, SWEEP_FILE
from medsweep.tools.reproduce import ReproduceError, reproduce

PROG = "medsweep reproduce"
SHOWN_DIFFERENCES = 50
DEFAULT_ROOT = Path("reproduced")   # in the current directory


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Re-run a completed job from its saved config into a new directory (after checking "
                          "its data has not changed) and compare every result with the original. Exit 0: "
                          "identical; 1: differences (listed); 2: cannot be reproduced.")
    parser.add_argument("job_dir", type=Path, help=f"the job's directory (holds {METRICS_FILE} and {SAVED_CONFIG.parent}/)")
    parser.add_argument("--out", type=Path, help=f"a new directory for the reproduction (default: "
                        f"./{DEFAULT_ROOT}/<sweep>-<job>-<YYYYmmdd-HHMMSS>); not inside the job's sweep")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="largest absolute difference of a number still counted as equal (default 0: exact)")


def main(argv: Optional[list[str]] = None) -> int:
    return run_command("reproduce", argv)


def sweep_of(job_dir: Path) -> Optional[Path]:
    """The sweep a job directory belongs to (its parent holds sweep.json or multirun.yaml), else None (a
    single run)."""
    parent = job_dir.resolve().parent
    return parent if any((parent / name).is_file() for name in (SWEEP_FILE, SWEEP_CONFIG)) else None


def default_out(job_dir: Path, root: Path = DEFAULT_ROOT) -> Path:
    """``<root>/<sweep name>-<job name>-<time>`` (a single run: ``<root>/<run dir name>-<time>``), made unique
    with ``-1``, ``-2`` ..."""
    job = job_dir.resolve()
    sweep = sweep_of(job)
    name = f"{sweep.name}-{job.name}" if sweep is not None else job.name
    base = root / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 0
    while out.exists():
        n += 1
        out = Path(f"{base}-{n}")
    return out


def outside_problem(job_dir: Path, out: Path) -> Optional[str]:
    """Why ``out`` cannot hold the reproduction (it is the job, or in the job or its sweep), else None."""
    job, target, sweep = job_dir.resolve(), out.resolve(), sweep_of(job_dir)
    if target == job or job in target.parents:
        return (f"{out} is the job's directory or inside it: the reproduction is written to a new directory, so "
                "that the original stays as it was")
    if sweep is not None and (target == sweep or sweep in target.parents):
        return (f"{out} is inside the job's sweep directory {sweep}: the reproduction is written outside the "
                "sweep, whose folders are read as its jobs (choose another with --out)")
    return None


def run(args: argparse.Namespace) -> int:
    if not (args.tolerance >= 0 and math.isfinite(args.tolerance)):
        return usage(f"--tolerance={args.tolerance} is not allowed: must be a finite number >= 0", PROG)
    out = args.out if args.out is not None else default_out(args.job_dir)
    problem = outside_problem(args.job_dir, out)
    if problem:
        return fail(problem if args.out is None else f"--out {problem}", PROG)
    show_warnings()
    try:
        result = reproduce(args.job_dir, out, args.tolerance)
    except (ReproduceError, DataError) as exc:
        return fail(exc, PROG)
    except OSError as exc:
        return fail(f"cannot write the reproduction: {exc.strerror or exc}: {exc.filename or ''}", PROG)
    for key in result.filled:
        print(f"note: the job's config predates {key.split('=')[0]}: this medsweep's default {key} was used",
              file=sys.stderr)
    if result.versions:
        print(f"warning: installed versions differ from the job's: {'; '.join(result.versions)}", file=sys.stderr)
    if not result.differences:
        print(f"Reproduced {args.job_dir} in {result.out_dir}: identical results")
        return EXIT_OK
    print(f"Reproduced {args.job_dir} in {result.out_dir}: {len(result.differences)} difference(s)")
    for line in result.differences[:SHOWN_DIFFERENCES]:
        print(f"  {line}")
    if len(result.differences) > SHOWN_DIFFERENCES:
        print(f"  ... {len(result.differences) - SHOWN_DIFFERENCES} more")
    return EXIT_DIFFERENT


if __name__ == "__main__":
    sys.exit(main())
