"""Entry point: `python train.py [-m] model=... estimator=... trainer.folds=...` (see README)."""

import atexit
import gc

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from medsweep.config.schema import register_configs

register_configs()
# Every result is written (atomically) before exit; the final garbage collection over every object of
# scikit-learn, pandas and matplotlib then only adds ~0.5 s to each run: skip it.
atexit.register(gc.freeze)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float:
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


if __name__ == "__main__":
    main()
