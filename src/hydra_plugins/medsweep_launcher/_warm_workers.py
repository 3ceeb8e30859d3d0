"""Start joblib's workers warm: forked from one process that has already imported what a job runs.

Loky starts every worker as a fresh interpreter, and each one imports scikit-learn, pandas, matplotlib
and skops again (~3.5 s of CPU per worker) before its first job. Loky also supports Python's
``forkserver`` start method: one server process imports those modules once, in parallel with the sweep's
own start-up, and every worker is then forked from it with the modules already loaded (and shared
copy-on-write). Only that server, which does nothing but import and fork, is forked: never the sweep's
parent, whose threads (progress display, joblib's queues) could hold locks at the moment of a fork.

The server belongs to the process: its thread limits and imports are those of the first launch that
started it (Hydra runs one sweep per process).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing import forkserver

from hydra.core.utils import env_override

from medsweep.cpu import usable_cores

from ._die_with_parent import PARENT_ENV

PRELOAD = ["hydra_plugins.medsweep_launcher._preload"]  # what a job imports

# The thread limits loky gives a spawned worker (cores // workers). A forked worker inherits the server's
# environment, and the libraries read these variables when they load, in the server.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def start_warm_workers(workers: int) -> bool:
    """Start the pre-imported server ``workers`` can be forked from, now (it imports in the background while
    the sweep composes its jobs); False where that is not possible. Loky forks its workers from it within
    ``_joblib_compat.loky_start_method("forkserver")``."""
    if workers < 2 or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    threads = str(max(1, usable_cores() // workers))
    env = {var: os.environ.get(var, threads) for var in THREAD_VARS}
    if threading.current_thread() is threading.main_thread():  # lives as long as the sweep: see _die_with_parent
        env[PARENT_ENV] = str(os.getpid())
    multiprocessing.set_forkserver_preload(PRELOAD)
    with env_override(env):
        forkserver.ensure_running()
    return True
