"""``medsweep reproduce <job dir> [--out DIR] [--tolerance X]``: the arguments and the report of
medsweep.tools.reproduce (which checks, re-runs and compares). Exit 0 when identical, 1 listing each
difference, 2 when the job cannot be reproduced."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Optional

from medsweep.cli import EXIT_DIFFERENT, EXIT_OK, Parser, fail, show_warnings
from medsweep.data.errors import DataError
from medsweep.record.files import METRICS_FILE, SAVED_CONFIG
from medsweep.tools.reproduce import ReproduceError, reproduce

SHOWN_DIFFERENCES = 50


def main(argv: Optional[list[str]] = None, prog: str = "python -m medsweep.cli.reproduce") -> int:
    parser = Parser(prog=prog, description="Re-run a completed job from its saved config into a new directory "
                    "(after checking its data has not changed) and compare every result with the original. "
                    "Exit 0: identical; 1: differences (listed); 2: cannot be reproduced.")
    parser.add_argument("job_dir", type=Path, help=f"the job's directory (holds {METRICS_FILE} and {SAVED_CONFIG.parent}/)")
    parser.add_argument("--out", type=Path, help="a new directory for the reproduction (default: "
                        "<job dir>-reproduced-<YYYYmmdd-HHMMSS>); not the job's directory or inside it")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="largest absolute difference of a number still counted as equal (default 0: exact)")
    args = parser.parse_args(argv)
    if not (args.tolerance >= 0 and math.isfinite(args.tolerance)):
        parser.error(f"--tolerance={args.tolerance} is not allowed: must be a finite number >= 0")
    show_warnings()
    try:
        result = reproduce(args.job_dir, args.out, args.tolerance)
    except (ReproduceError, DataError) as exc:
        return fail(exc)
    except OSError as exc:
        return fail(f"cannot write the reproduction: {exc.strerror or exc}: {exc.filename or ''}")
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
