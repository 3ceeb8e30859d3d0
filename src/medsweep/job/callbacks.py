"""medsweep's Hydra callbacks, installed by its config (conf/train.yaml, conf/hparams_search/optuna.yaml).

CheckConfig is where medsweep's range checks meet Hydra: a single run is checked, with its run directory
(new, empty or an earlier run's, never the user's own folder), before Hydra makes or writes into it; in a
sweep, medsweep's sweeper asks the same callback about every job before launching any (``job_errors``; and
``describe_job`` for a dry run's listing). The
sweeper checks only what an app's callbacks offer: a plain Hydra app, without CheckConfig, is swept unchecked.
"""

from __future__ import annotations

import sys
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


class SummarizeSweep(Callback):
    """For sweepers other than medsweep's own (Optuna): write the sweep summary when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.job.sweep_end import write_summary  # pandas, matplotlib: only when a sweep ends

        write_summary(Path(config.hydra.sweep.dir))
