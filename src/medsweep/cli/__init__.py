"""The ``medsweep`` command: ``medsweep <command> ...`` runs the ``main(argv, prog) -> int`` of that command's
module in this package, so ``medsweep predict ...`` and ``python -m medsweep.cli.predict ...`` are the same
program. This package is the only place that parses arguments; the commands' work is done by library
functions in the layers below (tools, report, tracking).

Exit codes of every command: 0 done, 1 differences found (reproduce), 2 a usage or input error, said in
one line starting with ``error:`` on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from typing import NoReturn, Optional

EXIT_OK, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2

# command -> (module with a main(argv) -> int, one-line help). Modules are imported only when their command
# runs (pandas and scikit-learn take seconds); a command whose module is missing is not offered.
COMMANDS = {
    "predict": ("medsweep.cli.predict", "predict a CSV/Parquet file with a completed job's model"),
    "reproduce": ("medsweep.cli.reproduce", "re-run a job from its saved config and compare its metrics"),
    "summarize": ("medsweep.cli.summarize", "rebuild a sweep's summary files and print its leaderboard"),
    "compare": ("medsweep.cli.compare", "which of two jobs (or the best jobs of two sweeps) is better: corrected t-test"),
    "track": ("medsweep.cli.track", "log a sweep that has ended to an MLflow tracking store"),
}


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (``error: ...``, exit 2), as every medsweep command reports."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message} (see {self.prog} --help)\n")


def fail(message: str) -> int:
    """Report an input error as one line on stderr; the exit code to return."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_ERROR


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is when a record comes (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def show_warnings() -> None:
    """Warnings of the library (``medsweep`` logger: a Latin-1 file, a pattern that matches nothing) on
    stderr, one line each, as a command-line program says them. INFO records still reach a job's train.log
    (a root handler that reproduce adds), not the terminal."""
    logger = logging.getLogger("medsweep")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr(logging.WARNING)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        logger.addHandler(handler)


def available() -> dict[str, tuple[str, str]]:
    return {name: spec for name, spec in COMMANDS.items() if importlib.util.find_spec(spec[0]) is not None}


def main(argv: Optional[list[str]] = None) -> int:
    commands = available()
    listing = "\n".join(f"  {name:<10} {help_}" for name, (_, help_) in commands.items())
    parser = Parser(prog="medsweep", formatter_class=argparse.RawDescriptionHelpFormatter,
                    description="Cross-validated clinical models: use a job's results. Train with "
                                "`python train.py` (see README.md).",
                    epilog=f"commands:\n{listing}\n\n`medsweep <command> --help` shows a command's options.\n"
                           "Exit codes: 0 done, 1 differences found (reproduce), 2 usage or input error.")
    parser.add_argument("command", choices=list(commands), metavar="<command>",
                        help=f"one of: {', '.join(commands)}")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the command's own arguments")
    args = parser.parse_args(argv)
    module = importlib.import_module(commands[args.command][0])
    run = getattr(module, "main", None)
    if not callable(run):
        return fail(f"command {args.command!r}: module {module.__name__} has no main(argv)")
    return run(args.args, prog=f"medsweep {args.command}")


if __name__ == "__main__":
    sys.exit(main())
