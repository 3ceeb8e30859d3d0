"""A sweep at a glance: leaderboard, plots and a one-page report, built from what each job wrote to disk.

Everything is read back from the job directories (and ``sweep.json`` when the sweeper wrote one), never
from the sweeping process, so a summary can be rebuilt after failures, interrupts and kills
(``medsweep summarize <sweep dir>``): summarize_sweep writes summary.csv, summary.json, summary.md,
summary.png and report.html into the sweep directory. Rebuilding from the same files gives identical files
(no timestamps of its own).

The pieces: reading.py reads the jobs' files, table.py turns them into rows and leaderboard tables (ranked
once), text.py, markdown.py and html.py render them, sweep_plot.py draws summary.png.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from medsweep.record.files import SUMMARY_FILES, SWEEP_FILE  # noqa: F401 - SUMMARY_FILES: re-exported (tests)
from medsweep.record.job_record import JobRecord
from medsweep.record.outputs import atomic_path, write_csv, write_json
from medsweep.record.sweep_dir import SweepDir
from medsweep.report import html, markdown, table
from medsweep.report.reading import read_job, read_search
from medsweep.report.sweep_plot import plot_sweep
from medsweep.report.table import DAMAGED, FIGURES, MISSING
from medsweep.report.text import TERMINAL_TOP, format_leaderboard
from medsweep.report.tracking_line import tracking_line

# The sweeper and the job callbacks print the leaderboard of the summary they asked for.
__all__ = ["summarize_sweep", "format_leaderboard", "TERMINAL_TOP", "DAMAGED", "MISSING", "FIGURES"]
log = logging.getLogger("medsweep")


def _selection(rows: list[dict], records: dict[int, JobRecord], sweep: SweepDir) -> list[dict]:
    """Each completed job against the best on its folds, and the BBC-CV estimate of each group's best
    (table.add_comparisons); the estimate reads the group's predictions.csv files. ``records``: the readable,
    undamaged records with at least one key (an empty metrics.json pairs with nothing)."""
    from medsweep.evaluate.selection import group_estimate
    from medsweep.report.compare import compare_to_best

    comparisons = compare_to_best(records)
    by_job = {row["job"]: row for row in rows}

    def estimate(jobs: list) -> dict:  # selection reads metrics.json's content (evaluate is below record's types)
        return group_estimate({j: sweep.path / by_job[j]["dir"] for j in jobs},
                              {j: records[j].to_json() for j in jobs})

    return table.add_comparisons(rows, comparisons, estimate)


def _write(summary: dict, boards: list, metric_cols: list[str], sweep: SweepDir, job_records: dict) -> None:
    rows = summary["jobs"]
    csv_file, json_file, md_file, png_file, html_file = sweep.summary_files
    frame = pd.DataFrame(rows, columns=table.csv_columns(metric_cols))
    # A cell of text per job: its warnings as "kind: message", joined.
    frame["n_warnings"] = [len(r["warnings"]) for r in rows]
    frame["warnings"] = [" | ".join(f"{w['kind']}: {w['message']}" for w in r["warnings"]) for r in rows]
    for col in ("rank", "vs_best_job", "seed", "folds", "bbc_configurations"):  # whole numbers stay whole beside empty cells
        frame[col] = frame[col].astype("Int64")
    for col, cells in table.csv_appended(rows).items():  # pruned / select.constraints: only where the sweep has them
        frame[col] = cells
    write_csv(csv_file, frame)  # spreadsheet formulas neutralised (escape.csv_safe)
    write_json(json_file, summary)
    with atomic_path(md_file) as tmp:
        tmp.write_text(markdown.render(summary, boards))
    plot_sweep(rows, png_file)
    with atomic_path(html_file) as tmp:
        tmp.write_text(html.render(summary, boards, sweep.path, png_file, job_records))


def summarize_sweep(sweep_dir, write: bool = True) -> dict:
    """Read every job of ``sweep_dir`` and write summary.csv/.json/.md/.png and report.html into it (``write=False``:
    read only, nothing written: medsweep.api.summarize_sweep).

    Returns the summary (what summary.json holds): {"sweep": {dir, command, started_at, finished_at,
    launcher, n_jobs, counts}, "optimization": {name, best_params, best_value} or absent, "jobs": [row...]}.
    Raises FileNotFoundError if the directory does not exist, ValueError if it holds no job.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"no such sweep directory: {sweep_dir}")
    sweep = SweepDir(sweep_dir)
    info, jobs = sweep.jobs()
    if not jobs:
        raise ValueError(f"no job in {sweep_dir}: no numbered job directory and no job in {SWEEP_FILE}")

    rows, others, records, job_records = [], [], {}, {}
    for job in jobs:
        record, overrides, damage = read_job(sweep, job)
        row, other = table.job_row(job, record, overrides, damage)
        # read_job gives no record of a damaged job; an empty metrics.json ({}) is compared with nothing
        if record is not None and record.keys:
            records[job["num"]] = record
        job_records[job["num"]] = record  # report.html's blocks and figures: read once, here
        rows.append(row)
        others.append(other)
    selection = _selection(rows, records, sweep)
    metric_cols = table.add_metric_columns(rows, others)

    summary: dict[str, Any] = {"sweep": {"dir": str(sweep_dir.resolve()), **info, "counts": table.counts(rows)}}
    try:
        tracking = tracking_line(sweep_dir)
    except TypeError as exc:  # a hand-edited tracking.json (e.g. "logged": 5)
        tracking = None
        log.warning("tracking.json is not as medsweep writes it (%s): its line is left out of the summary", exc)
    if tracking:
        summary["sweep"]["tracking"] = tracking
    opt = read_search(sweep)
    if opt is not None:
        summary["optimization"] = table.optimization(opt, rows)
    boards = table.leaderboard(rows)
    for board in boards:  # the place in its leaderboard table (1: the one "best")
        for rank, r in enumerate(board.rows, 1):
            r["rank"] = rank
    summary["across_seeds"] = table.across_seeds(rows)
    summary["selection"] = selection
    summary["figures"] = FIGURES
    summary["jobs"] = rows
    if write:
        _write(summary, boards, metric_cols, sweep, job_records)
    return summary


if __name__ == "__main__":  # the command moved to the cli package (report parses no arguments): exit 2, a usage error
    print("error: the command is `medsweep summarize <sweep dir>` (or python -m medsweep.cli.summarize)", file=sys.stderr)
    sys.exit(2)
