"""Hydra callback for single runs: check ranges, and that the run directory is new, empty or an earlier
run's (never the user's own folder), before Hydra makes or writes into it.

(In multirun the medsweep sweeper checks every job before launching any.)
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
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        # Never the user's own folder: new, empty or an earlier run's (it holds .hydra/).
        why = not_ours(run_dir, SAVED_CONFIG.parent.name, marker_is_dir=True)
        if why:
            sys.stderr.write(f"hydra.run.dir={run_dir} {why}, and is not a medsweep run (no .hydra/): nothing "
                             "was written; choose a new or empty directory\n")
            raise SystemExit(1)
        errors = config_errors(config)
        if errors:
            sys.stderr.write("Invalid configuration, nothing was run: " + "; ".join(errors) + "\n")
            # SystemExit, not an exception: Hydra turns callback exceptions into warnings.
            raise SystemExit(1)


class SummarizeSweep(Callback):
    """For sweepers other than medsweep's own (Optuna): write the sweep summary when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.report.summarize import format_leaderboard, summarize_sweep

        print(format_leaderboard(summarize_sweep(Path(config.hydra.sweep.dir))))
