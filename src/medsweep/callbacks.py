"""Hydra callback for single runs: check ranges, and that the run directory is new, empty or an earlier
run's (never the user's own folder), before Hydra makes or writes into it.

(In multirun the medsweep sweeper checks every job before launching any.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from medsweep.schema import config_errors


def _not_a_run_dir(path: Path) -> str:
    """Why a single run must not write into ``path``: it holds files but is not a Hydra run directory (no
    ``.hydra/``: the user's own folder, a sweep's directory); '' where it is new, empty or an earlier run's."""
    if not path.exists():
        return ""
    if not path.is_dir():
        return "exists and is not a directory"
    names = sorted(os.listdir(path))
    if not names or (path / ".hydra").is_dir():
        return ""
    return "already holds " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


class CheckConfig(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(str(config.hydra.run.dir))
        try:
            not_ours = _not_a_run_dir(run_dir)
        except OSError as exc:
            not_ours = f"cannot be listed ({exc.strerror})"
        if not_ours:
            sys.stderr.write(f"hydra.run.dir={run_dir} {not_ours}, and is not a medsweep run (no .hydra/): nothing "
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
        from medsweep.summarize import format_leaderboard, summarize_sweep

        print(format_leaderboard(summarize_sweep(Path(config.hydra.sweep.dir))))
