"""``medsweep summarize <sweep dir>``: rebuild a sweep's summary files from its job directories and print its
leaderboard (the library: medsweep.report.summarize)."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from medsweep.cli import EXIT_OK, fail, run_command, show_warnings
from medsweep.record.files import SUMMARY_FILES
from medsweep.report.summarize import TERMINAL_TOP, format_leaderboard, summarize_sweep

PROG = "medsweep summarize"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Rebuild a sweep's summary files from its job directories and print the leaderboard."
    parser.add_argument("sweep_dir", help="the sweep directory (hydra.sweep.dir), e.g. multirun/<date>/<time>")
    parser.add_argument("--all", action="store_true", help="print every job, not the best %d per model" % TERMINAL_TOP)


def main(argv: Optional[list[str]] = None) -> int:
    return run_command("summarize", argv)


def run(args: argparse.Namespace) -> int:
    show_warnings()
    try:
        summary = summarize_sweep(args.sweep_dir)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # no sweep, an unusable sweep.json, a summary file not writable
        return fail(exc, PROG)
    print(format_leaderboard(summary, top=None if args.all else TERMINAL_TOP))
    print(f"\nWrote {', '.join(SUMMARY_FILES)} in {args.sweep_dir}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
