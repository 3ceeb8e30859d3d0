"""``medsweep run [-m] key=value ...``: the Hydra app that trains (one job, or a sweep with ``-m``). Every
argument goes to Hydra untouched: overrides, ``-m``, ``--help``, ``--cfg job``, ``-cd <your config dir>``.

The configs are read from the package (``pkg://medsweep.conf``: the repository's ``conf/`` folder, shipped in
the wheel), so an installed medsweep trains from any directory; ``train.py`` in a clone runs this same app.
Outputs go where Hydra puts them, relative to the working directory (``outputs/``, ``multirun/``)."""

from __future__ import annotations

import atexit
import gc
import sys
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from medsweep.config.schema import register_configs

CONFIG_PATH = "pkg://medsweep.conf"   # conf/ (src/medsweep/conf links to it; the wheel holds a copy)
CONFIG_NAME = "train"
PROG = "medsweep run"

register_configs()


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=CONFIG_NAME)
def app(cfg: DictConfig) -> float:
    from medsweep.job.runner import USER_ERRORS, quiet_console, run_job

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN and not cfg.verbose:
        quiet_console()  # the sweep prints one line per finished job; train.log keeps everything
    try:
        return run_job(cfg, hydra_cfg.runtime.output_dir, hydra_cfg.overrides.task)
    except USER_ERRORS as exc:
        # A single run ends with the one-line message; the traceback is in the job's train.log.
        if hydra_cfg.mode == RunMode.RUN:
            raise CompactHydraException(f"{type(exc).__name__}: {exc}") from None
        raise


def main(argv: Optional[list[str]] = None, prog: str = PROG) -> int:
    """Run the app on ``argv`` (default: this process's own arguments, as ``python train.py ...`` gives
    them). Hydra reads ``sys.argv``: it gets ``[prog, *argv]``, so a sweep records its command as
    ``medsweep run -m ...``. Hydra exits itself on an error (1) or a usage error of its own flags (2)."""
    # Every result is written (atomically) before exit; the final garbage collection over every object of
    # scikit-learn, pandas and matplotlib then only adds ~0.5 s to each run: skip it.
    atexit.register(gc.freeze)
    if argv is None:
        app()
        return 0
    saved = sys.argv
    sys.argv = [prog, *argv]
    try:
        app()
    finally:
        sys.argv = saved
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
