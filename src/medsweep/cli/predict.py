"""``medsweep predict JOB_DIR FILE [-o OUT]``: the command line of medsweep.tools.predict (its arguments,
their checks, and the one-line errors and exit codes every medsweep command has)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Optional

from medsweep.cli import EXIT_OK, fail, run_command, show_warnings, usage
from medsweep.data.errors import DataError
from medsweep.learn.persistence import MEMORY_MB, TIMEOUT_S, UntrustedModelError
from medsweep.record.files import METRICS_FILE, MODEL_FILE, SAVED_CONFIG
from medsweep.tools.predict import CHUNK_ROWS, OUTPUT_SUFFIX, PredictError, default_output, predict_file

PROG = "medsweep predict"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Predict every row of a CSV/Parquet file with a completed job's model, at the job's "
                          "operating point. The file is read with the job's data settings; the target column "
                          "may be absent.")
    parser.add_argument("job_dir", type=Path, help=f"the job's directory (holds {METRICS_FILE}, {MODEL_FILE}, {SAVED_CONFIG.parent}/)")
    parser.add_argument("file", type=Path, help="CSV / delimited text / gzipped text / Parquet with the job's "
                        "feature columns")
    parser.add_argument("-o", "--output", type=Path,
                        help=f"where to write the predictions (CSV); default: <file name>{OUTPUT_SUFFIX} in "
                             "the current directory")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS,
                        help="rows read and predicted at a time (bounds memory; default %(default)s)")
    parser.add_argument("--model-memory-mb", type=int, default=MEMORY_MB,
                        help="address space of the process that loads and uses the model (default %(default)s)")
    parser.add_argument("--model-timeout-s", type=float, default=TIMEOUT_S,
                        help="longest the model may take to load, and to predict one chunk (default %(default)s)")


def main(argv: Optional[list[str]] = None) -> int:
    return run_command("predict", argv)


def run(args: argparse.Namespace) -> int:
    if args.chunk_rows < 1:
        return usage(f"--chunk-rows={args.chunk_rows} is not allowed: must be an integer >= 1", PROG)
    if args.model_memory_mb < 256:
        return usage(f"--model-memory-mb={args.model_memory_mb} is not allowed: must be an integer >= 256", PROG)
    if not (args.model_timeout_s > 0 and math.isfinite(args.model_timeout_s)):
        return usage(f"--model-timeout-s={args.model_timeout_s} is not allowed: must be a finite number > 0", PROG)
    output = args.output or default_output(args.file)
    show_warnings()
    try:
        rows = predict_file(args.job_dir, args.file, output, args.chunk_rows,
                            note=lambda line: print(line, file=sys.stderr), memory_mb=args.model_memory_mb,
                            timeout_s=args.model_timeout_s)
    except (PredictError, DataError, UntrustedModelError) as exc:
        return fail(exc, PROG)
    except OSError as exc:
        return fail(f"cannot write {output}: {exc.strerror or exc}", PROG)
    print(f"Wrote {rows} predictions to {output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
