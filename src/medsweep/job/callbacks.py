"""medsweep's Hydra callbacks, installed by its config (conf/train.yaml, conf/hparams_search/optuna.yaml).

CheckConfig is where medsweep's range checks meet Hydra: a single run is checked, with its run directory
(new, empty or an earlier run's, never the user's own folder), before Hydra makes or writes into it; in a
sweep, medsweep's sweeper asks the same callback about every job before launching any (``job_errors``; and
``describe_job`` for a dry run's listing). The
sweeper checks only what an app's callbacks offer: a plain Hydra app, without CheckConfig, is swept unchecked.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from medsweep.record.files import SAVED_CONFIG, not_ours
from medsweep.config.schema import config_errors


class CheckConfig(Callback):
    """What medsweep's sweeper asks the app about each job before it launches any: ``job_errors`` (is it
    valid?) and, for ``dry_run=true``, ``describe_job`` (what would it train?). ``values``: the job's
    composed config, or its values outside the ``hydra`` node as the sweeper reads them (_compose.JobValues)."""

    @staticmethod
    def job_errors(values: Any) -> list[str]:
        """Every out-of-range value of one job of a sweep, one message each; empty when valid."""
        return config_errors(values)

    @staticmethod
    def describe_job(num: int, overrides: list[str], values: Any) -> str:
        """A job's lines in a dry run: what it would train, on what data."""
        from medsweep.job.describe import describe  # pandas: only a dry run needs it

        return describe(num, overrides, values)

    @staticmethod
    def race_stages(config: DictConfig) -> Any:
        """Where the sweep races (``race.enabled``): its two stages (job/race_screening.py: screen every job on
        its first folds, prune, go on), which medsweep's grid sweeper runs; None otherwise."""
        from medsweep.job.race_screening import screening

        return screening(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """A job of a sweep by medsweep's sweeper prints nothing on the console (unless ``verbose=true``): the
        sweep draws its progress there and shows the job's warnings from its train.log, once per sweep
        (hydra_plugins/medsweep_sweeper/_job_warnings.py); the log file keeps every line."""
        if _relayed_by_sweeper(config):
            quiet_job_console()
            logging.captureWarnings(True)  # Python's warnings (scikit-learn's) too: into the log, not the console

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        # Never the user's own folder: new, empty or an earlier run's (it holds .hydra/).
        why = not_ours(run_dir, SAVED_CONFIG.parent.name, marker_is_dir=True)
        if why:
            sys.stderr.write(f"hydra.run.dir={run_dir} {why}, and is not a medsweep run (no .hydra/): nothing "
                             "was written; choose a new or empty directory\n")
            raise SystemExit(1)
        errors = self.job_errors(config)
        if errors:
            sys.stderr.write("Invalid configuration, nothing was run: " + "; ".join(errors) + "\n")
            # SystemExit, not an exception: Hydra turns callback exceptions into warnings.
            raise SystemExit(1)


def _relayed_by_sweeper(config: DictConfig) -> bool:
    """A job of a multirun by medsweep's sweeper, without ``verbose=true``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN or config.get("verbose"):
        return False
    return str(HydraConfig.get().sweeper.get("_target_", "")).startswith("hydra_plugins.medsweep_sweeper.")


class _WhileJobRuns(logging.Filter):
    """Drops the console's records of the job running now in this thread: from ``on_job_start`` until Hydra
    puts back the runtime config it replaced for the job (its run_job does, however the job ends). A sweep
    running its job in its own process (one worker) keeps its own lines between and after jobs."""

    def __init__(self) -> None:
        from hydra.core.hydra_config import HydraConfig

        super().__init__()
        self.thread = threading.get_ident()
        self.job_config = HydraConfig.instance().cfg

    def filter(self, record: logging.LogRecord) -> bool:
        from hydra.core.hydra_config import HydraConfig

        return not (threading.get_ident() == self.thread and HydraConfig.instance().cfg is self.job_config)


def quiet_job_console() -> None:
    """The console handlers (not the log files) drop this job's lines while it runs."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.addFilter(_WhileJobRuns())


class SummarizeSweep(Callback):
    """For sweepers other than medsweep's own (Optuna): write the sweep summary when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.job.sweep_end import write_summary  # pandas, matplotlib: only when a sweep ends

        write_summary(Path(config.hydra.sweep.dir))
