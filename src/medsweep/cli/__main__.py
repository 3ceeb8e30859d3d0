"""``python -m medsweep.cli <command> ...`` = ``medsweep <command> ...``."""

import sys

from medsweep.cli import main

if __name__ == "__main__":
    sys.exit(main())
