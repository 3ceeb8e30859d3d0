"""The end of a sweep: its summary, written from what the jobs wrote.

The one place that writes it for a sweep that has just ended: medsweep's sweeper calls it (the Hydra plugins
reach the report only through the job layer), and so does the SummarizeSweep callback that other sweepers
(Optuna) run. Imported lazily by both: pandas and matplotlib take ~1 s to import.
"""

from __future__ import annotations

import logging
from pathlib import Path

from medsweep.report.summarize import format_leaderboard, summarize_sweep

log = logging.getLogger(__name__)


def write_summary(sweep_dir: Path, not_completed_jobs: bool = True) -> bool:
    """Write ``sweep_dir``'s summary files and print its leaderboard (``not_completed_jobs=False``: without the
    jobs that did not complete, which medsweep's sweeper lists itself). A summary problem never fails the
    sweep: the jobs' results are on disk already, so it is logged, with the command that rebuilds the
    summary, and False returned."""
    try:
        summary = summarize_sweep(sweep_dir)
        print(format_leaderboard(summary, not_completed_jobs=not_completed_jobs))
        return True
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the results are safe; say so and go on
        log.warning("Could not write the sweep summary (%s: %s); rebuild it with "
                    "`medsweep summarize %s`", type(exc).__name__, exc, sweep_dir)
        return False
