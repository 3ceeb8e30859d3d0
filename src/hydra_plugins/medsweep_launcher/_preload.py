"""Imported once, by the server the sweep's workers are forked from (see _warm_workers.py)."""

import gc
import os
import sys

from hydra_plugins.medsweep_launcher._die_with_parent import PARENT_ENV, children_die_with_this_process, die_with_parent

# First, before the imports (seconds): this server and its workers die with the sweep process.
if os.environ.get(PARENT_ENV):
    die_with_parent(int(os.environ.pop(PARENT_ENV)))
children_die_with_this_process()

try:
    from hydra.core.plugins import Plugins

    import hydra_plugins.medsweep_launcher._core  # noqa: F401 - runs each job (with Hydra's joblib _core)
    import medsweep.job.runner  # noqa: F401 - the job wrapper and its pipeline: scikit-learn, pandas, matplotlib, skops
    import sklearn.metrics  # noqa: F401 - imported by the ROC plot

    Plugins.instance()  # each job re-scans Hydra's plugins: import their modules (and what they import) once
except Exception as exc:  # noqa: BLE001 - the server must live: workers then import what they need themselves
    print(f"medsweep: workers start cold (pre-import failed: {type(exc).__name__}: {exc})", file=sys.stderr)

# What is imported now lives as long as the workers: keep it out of the garbage collector's scans (loky
# collects after a job every second, ~100 ms for these modules) and out of copy-on-write page faults.
gc.freeze()
