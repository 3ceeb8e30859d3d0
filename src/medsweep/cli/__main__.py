import sys

from medsweep.cli import main

sys.exit(main())
