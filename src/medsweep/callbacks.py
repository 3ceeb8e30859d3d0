"""Hydra callback for single runs: check ranges before Hydra makes the run's output directory.

(In multirun the medsweep sweeper checks every job before launching any.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from medsweep.schema import config_errors


class CheckConfig(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        errors = config_errors(config)
        if errors:
            sys.stderr.write("Invalid configuration, nothing was run: " + "; ".join(errors) + "\n")
            # SystemExit, not an exception: Hydra turns callback exceptions into warnings.
            raise SystemExit(1)


class SummarizeSweep(Callback):
    """For sweepers other than medsweep's own (Optuna): write the sweep summary when the sweep ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from medsweep.summarize import format_leaderboard, summarize_sweep

        print(format_leaderboard(summarize_sweep(Path(config.hydra.sweep.dir))))
