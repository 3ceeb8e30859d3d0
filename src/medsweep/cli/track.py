"""``medsweep track <dir>``: log a sweep (or a single run) that has ended to an MLflow tracking store
(medsweep.tracking.offline does it; this module parses its arguments and prints what was done)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from medsweep.cli import EXIT_ERROR, EXIT_OK, fail, run_command
from medsweep.tracking.backend import TrackingError
from medsweep.tracking.mlflow.uri import DEFAULT_DB, DEFAULT_EXPERIMENT, URI_VARIABLE, ui_command
from medsweep.tracking.offline import track

PROG = "medsweep track"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Log a sweep (or a single run) that has ended to an MLflow tracking store: a parent run "
                          "for the sweep, a child run per job. Running it again adds nothing; runs whose job "
                          "changed since (a resume) are updated.")
    parser.add_argument("directory", type=Path, help="the sweep's directory (or a single run's)")
    parser.add_argument("--uri", help="tracking store: sqlite:///<file>.db or http://host:5000 (default: the store "
                        f"it was tracked to, else ${URI_VARIABLE}, else sqlite:///{DEFAULT_DB} under the current "
                        "directory)")
    parser.add_argument("--experiment", help=f"MLflow experiment (default: as tracked before, else {DEFAULT_EXPERIMENT})")
    parser.add_argument("--register-best", action="store_true",
                        help="register each disease model's best completed job in the Model Registry")


def main(argv: Optional[list[str]] = None) -> int:
    return run_command("track", argv)


def run(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        return fail(f"{args.directory} is not a directory", PROG)
    try:
        result = track(args.directory, args.uri, args.experiment, args.register_best)
    except TrackingError as exc:
        return fail(exc, PROG)
    outcomes = result["outcomes"]
    print(f"{result['message']} ({outcomes.get('new', 0)} new, {outcomes.get('updated', 0)} updated, "
          f"{outcomes.get('unchanged', 0)} unchanged)")
    for model, entry in sorted(result["registered"].items()):
        print(f"  registered {model}: {entry['name']} version {entry['version']} (job {entry['job']})")
    print(f"See: {ui_command(result['uri'])}")
    return EXIT_OK if result["status"] == "logged" else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
