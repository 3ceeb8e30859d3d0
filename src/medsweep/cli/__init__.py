"""The ``medsweep`` command: one argparse parser with a subcommand per module of this package (``run``,
``predict``, ``reproduce``, ``summarize``, ``compare``, ``track``). ``python -m medsweep <command>``,
``python -m medsweep.cli <command>`` and ``python -m medsweep.cli.<command>`` are the same program. This
package is the only place that parses arguments; the work is done by the layers below (job, tools, report,
tracking).

A command module has ``configure(parser)`` (its arguments and description), ``run(args) -> int`` and
``main(argv) -> int`` (= :func:`run_command`, so it can be called from Python and tests). ``run`` is the
exception: its arguments all go to Hydra untouched (medsweep.cli.run).

Exit codes (README, "The command line"): 0 done; 1 differences found (reproduce), or a sweep or job that
failed (run: Hydra's); 2 a usage or input error, one line on stderr: ``medsweep <command>: error: ...``;
3 two jobs that cannot be compared (compare); 141 the reader of the output went away (``| head``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Callable, NoReturn, Optional

EXIT_OK, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13   # as a program killed by SIGPIPE reports it (`medsweep summarize ... | head`)

# command -> (module, one-line help). A module is imported only when its command runs (pandas, scikit-learn
# and Hydra take seconds).
COMMANDS = {
    "run": ("medsweep.cli.run", "train: one job, or a sweep with -m (every argument goes to Hydra)"),
    "predict": ("medsweep.cli.predict", "predict a CSV/Parquet file with a completed job's model"),
    "reproduce": ("medsweep.cli.reproduce", "re-run a job from its saved config and compare its metrics"),
    "summarize": ("medsweep.cli.summarize", "rebuild a sweep's summary files and print its leaderboard"),
    "compare": ("medsweep.cli.compare", "which of two jobs (or the best jobs of two sweeps) is better: corrected t-test"),
    "track": ("medsweep.cli.track", "log a sweep that has ended to an MLflow tracking store"),
}

EXIT_CODES = ("exit codes: 0 done; 1 differences found (reproduce) or a job failed (run); 2 usage or input "
              "error;\n  3 cannot be compared (compare); 141 output closed early (e.g. | head)")


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``<prog>: error: <message> (see <prog> --help)``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(message: object, prog: str = "medsweep") -> int:
    """Report an input error as one line on stderr (``<prog>: error: ...``); the exit code to return."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_ERROR


def usage(message: str, prog: str) -> int:
    """A usage error found after parsing (a value out of range), said as the parser says its own."""
    print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
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


def _version() -> str:
    from medsweep import __version__
    return f"medsweep {__version__}"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """The commands' help beside their names (argparse wraps after 24 columns otherwise)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=16)
        self._action_max_length = 14  # argparse measures the commands' names without their indent


def build_parser(command: Optional[str] = None) -> Parser:
    """The one parser; only ``command``'s module is imported, to add its arguments."""
    parser = Parser(prog="medsweep", formatter_class=_Formatter,
                    description="Cross-validated clinical models: train them (run), then use the results.",
                    epilog="`medsweep <command> --help` shows a command's options; `medsweep run --help` "
                           "lists every model, estimator and setting.\n" + EXIT_CODES)
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands", parser_class=Parser)
    parser.commands = {}
    for name, (module, help_) in COMMANDS.items():
        sub = parser.commands[name] = commands.add_parser(name, help=help_, description=help_,
                                                          prog=f"medsweep {name}", add_help=name != "run")
        if name == command and name != "run":
            importlib.import_module(module).configure(sub)
    return parser


def _parse(argv: list[str], command: Optional[str]) -> argparse.Namespace:
    """Parse; an argument the command does not take is that command's usage error (argparse would report it
    as the top-level parser's)."""
    parser = build_parser(command)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def run_command(command: str, argv: Optional[list[str]] = None) -> int:
    """``medsweep <command> argv``; usage errors and --help return their exit code instead of exiting."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    return _quiet_pipe(lambda: _run(command, argv))


def _run(command: str, argv: list[str]) -> int:
    if command == "run":
        from medsweep.cli.run import main as run_main
        return run_main(argv)
    try:
        args = _parse([command, *argv], command)
    except SystemExit as exc:
        return int(exc.code or 0)
    return importlib.import_module(COMMANDS[command][0]).run(args)


def main(argv: Optional[list[str]] = None) -> int:
    """``medsweep [--version] <command> ...`` (the console script); bare ``medsweep`` prints the help, exit 0."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    return _quiet_pipe(lambda: _dispatch(argv))


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "run":  # before argparse: Hydra's flags (-m, --cfg, -cd) are not ours to parse
        return _run("run", argv[1:])
    if not argv:
        build_parser().print_help()
        return EXIT_OK
    command = next((a for a in argv if a in COMMANDS), None)
    try:  # --help, --version, an unknown command; with a known one, its arguments are parsed too
        args = _parse(argv, command)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command in (None, "run"):  # nothing to do (run is handled above, when it comes first)
        build_parser().print_help()
        return EXIT_OK
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


def _quiet_pipe(entry: Callable[[], int]) -> int:
    """``entry()``'s exit code; a reader that closed the pipe early (``| head``) ends the program quietly."""
    try:
        code = entry()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python's recipe (docs, "Note on SIGPIPE"): later writes and the flush at exit go to /dev/null
        # instead of raising again; the exit code is a SIGPIPE's, as `cat file | head` leaves it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
