"""``python -m medsweep <command> ...`` = ``medsweep <command> ...`` (e.g. ``python -m medsweep run -m
model=als,parkinsons``: the interpreter that runs it is the one that trains)."""

import sys

from medsweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
