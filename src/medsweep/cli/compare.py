"""``medsweep compare A B``: is one model really better than another? Two job directories, or the best job of
each model in two sweeps, by the corrected resampled t-test (the library: medsweep.report.compare and
compare_dirs).

Exit status: 0 compared, 2 usage error (not a job or sweep directory, a job and a sweep), 3 the two cannot be
compared (the reason is printed: a job not completed, no ``splits`` recorded, other data, other folds, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from medsweep.cli import EXIT_ERROR, fail, run_command, usage
from medsweep.report.compare import ALPHA
from medsweep.report.compare_dirs import compare_jobs, compare_sweeps, kind_of

PROG = "medsweep compare"
CANNOT_COMPARE = 3   # exit status when the two cannot be paired
USAGE = EXIT_ERROR   # exit status of a usage error


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Is one model really better than another? The corrected resampled t-test (Nadeau & Bengio 2003) on "
        "two jobs' per-fold scores of their primary metric, paired fold by fold. Two job directories: the "
        "test between them. Two sweep directories: for each model with a completed job in both, the best job "
        "of that model in each sweep.")
    parser.epilog = ("Exit status: 0 compared; 2 usage error (a path that is neither a job nor a sweep "
                     "directory, or a job and a sweep); 3 the two cannot be compared (printed why: a job not "
                     "completed, no `splits` in its metrics.json, other data, other folds or seed, another "
                     "primary metric).")
    parser.add_argument("a", metavar="A", help="a job directory (holding metrics.json) or a sweep directory")
    parser.add_argument("b", metavar="B", help="a job directory or a sweep directory, the same kind as A")
    parser.add_argument("--alpha", type=float, default=ALPHA,
                        help=f"significance level; the interval is 1 - alpha (default {ALPHA})")


def main(argv: Optional[list[str]] = None) -> int:
    return run_command("compare", argv)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.alpha < 1:
        return usage(f"--alpha must be between 0 and 1 (exclusive), got {args.alpha}", PROG)
    dir_a, dir_b = Path(args.a), Path(args.b)
    kind_a, kind_b = kind_of(dir_a), kind_of(dir_b)
    for path, kind in ((dir_a, kind_a), (dir_b, kind_b)):
        if kind is None:
            what = ("does not exist" if not path.exists() else "is neither a job directory (no metrics.json) nor "
                    "a sweep directory (no sweep.json or numbered job directories)")
            return fail(f"{path} {what}", PROG)
    if kind_a != kind_b:
        return fail(f"{dir_a} is a {kind_a} directory and {dir_b} a {kind_b} directory: give two jobs or two "
                    "sweeps", PROG)
    try:
        compared = (compare_jobs if kind_a == "job" else compare_sweeps)(dir_a, dir_b, args.alpha)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # a damaged sweep.json or metrics.json: one line, as summarize says it
        return fail(exc, PROG)
    return 0 if compared else CANNOT_COMPARE


if __name__ == "__main__":
    sys.exit(main())
