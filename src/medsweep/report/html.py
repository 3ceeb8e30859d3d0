"""report.html: the sweep on one page (leaderboards, notes, and every job with its plots and metrics), from the
Jinja2 template templates/report.html.j2. Autoescape is on, with Python's html.escape as the escaper (the
page's bytes are as they were when it was written with f-strings): every value from job files, configs or data
is shown as text, and links to job folders are percent-encoded (escape.link)."""

from __future__ import annotations

import base64
import functools
import html
import json
from pathlib import Path
from typing import Any, Mapping, Optional

import jinja2
from markupsafe import Markup

from medsweep.escape import link
from medsweep.record.files import METRICS_FILE, MODEL_CARD_FILE, JobPaths
from medsweep.record.job_record import JobRecord
from medsweep.report import cells, pareto
from medsweep.report.clinical_sections import clinical_parts
from medsweep.report.table import DAMAGED, FIGURES, Board, clean, not_completed, pruned_rows
from medsweep.report import sweep_figures

# Above this many jobs report.html links the per-job PNGs (loaded lazily, as they scroll into view) instead
# of embedding them: with four plots per job, 100 embedded jobs made a 19 MB page that is slow to open.
EMBED_LIMIT = 25
TEMPLATE = "report.html.j2"


def _escaped(value: Any) -> Any:
    """Every {{ value }} of the template as html.escape writes it (markupsafe writes quotes otherwise);
    Markup (a macro's output) is left as it is."""
    return value if hasattr(value, "__html__") else Markup(html.escape(str(value)))


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("medsweep.report", "templates"), autoescape=True,
                             finalize=_escaped, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(TEMPLATE)


def _img(path: Path, embed: bool, rel: str, alt: str) -> dict:
    if embed:
        return {"src": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii"), "alt": alt,
                "lazy": False}
    return {"src": rel, "alt": alt, "lazy": True}


def _metrics(metrics: dict) -> list[tuple[str, str, str]]:
    """A job's metrics as (name, mean ± std over folds, pooled value with its interval)."""
    return [(name, cells.fmt(m["mean"], clean(m.get("std"))),
             cells.ci(clean(m.get("pooled")), clean(m.get("lower")), clean(m.get("upper"))))
            for name, m in metrics.items() if isinstance(m, dict) and clean(m.get("mean")) is not None]


def _png_img(png: bytes, alt: str) -> dict:
    return {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "alt": alt, "lazy": False}


def _board_figures(board: Board, sweep_dir: Path, job_records: Mapping[int, Optional[JobRecord]]) -> list[dict]:
    """Beside a leaderboard: its best jobs overlaid (their records give the classes and ranges), and its figure
    against each swept setting (where any)."""
    figures = []
    top = board.rows[:sweep_figures.TOP_JOBS]
    overlay = sweep_figures.top_jobs_figure(top, sweep_dir, job_records,
                                            labels=sweep_figures.setting_labels(board.rows))
    if overlay:
        figures.append(_png_img(overlay, "the best jobs' ROC, calibration and decision curves overlaid"))
    settings = sweep_figures.settings_figure(board.rows, board.by)
    if settings:
        figures.append(_png_img(settings, "the primary metric against each swept setting"))
    return figures


def _job_block(row: dict, sweep_dir: Path, embed: bool, record: Optional[JobRecord]) -> dict:
    """A job's part of the page; ``record``: its record as the summary read it (None: none, or damaged)."""
    damaged = row["status"] == DAMAGED  # its dir may lie outside the sweep: nothing is read from it
    metrics = (record.metrics if record is not None else None) or {}
    job = JobPaths(sweep_dir / row["dir"])
    pngs = [] if damaged else job.plots
    return {"row": row, "model_card": not damaged and job.model_card.is_file(),
            "plots": [_img(png, embed, f"{link(row['dir'])}/{png.name}", f"job {row['job']} {png.name}")
                      for png in pngs if png.is_file()],
            "metrics": _metrics(metrics) if metrics else None,
            # data.site's forest plot and eval.instability's plots, when the job has them
            "clinical_plots": [_img(png, embed, f"{link(row['dir'])}/{png.name}", f"job {row['job']} {png.name}")
                               for png in ([] if damaged else (job.forest_plot, job.instability_plot))
                               if png.is_file()],
            # sample size, fairness, missing data (clinical_sections.py), from the job's record
            "clinical": [] if damaged or not metrics else clinical_parts(record)}


def render(summary: dict, boards: list[Board], sweep_dir: Path, sweep_png: Path,
           job_records: Mapping[int, Optional[JobRecord]]) -> str:
    """report.html of ``summary`` and its leaderboard ``boards``; ``sweep_png``: summary.png (embedded),
    ``job_records``: each job's record by job number, as the summary read it (None: none, or damaged); no
    metrics.json is read again. The job plots are embedded up to EMBED_LIMIT jobs, linked above."""
    s, rows = summary["sweep"], summary["jobs"]
    embed = len(rows) <= EMBED_LIMIT
    opt = summary.get("optimization")
    return _template().render(
        sweep=s, sweep_name=Path(str(s["dir"])).name or str(s["dir"]), jobs=rows,
        board_figures=[_board_figures(board, sweep_dir, job_records) for board in boards], opt=opt, boards=boards, figures=FIGURES, link=link, metrics_file=METRICS_FILE,
        model_card_file=MODEL_CARD_FILE,
        facts=[("directory", s["dir"])] + [(key, s[key]) for key in ("command", "started_at", "finished_at", "launcher", "n_jobs")
               if s.get(key) is not None],
        counts=", ".join(f"{n} {k}" for k, n in s["counts"].items()),
        best_params=json.dumps(opt.get("best_params"), sort_keys=True) if opt else None,
        pareto=pareto.table(opt), pareto_title=pareto.TITLE, pareto_note=pareto.NOTE,
        sweep_png=_img(sweep_png, True, sweep_png.name, "primary metric of every job") if sweep_png.is_file() else None,
        seeds=cells.seed_lines(summary.get("across_seeds") or []), seeds_title=cells.SEEDS_TITLE,
        seeds_note=cells.SEEDS_NOTE, bbc_notes=[(r["job"], r["bbc_note"]) for r in rows if r.get("bbc_note")],
        warned=cells.warning_lines(rows), bad=not_completed(rows) + pruned_rows(rows),  # pruned: with why
        error=lambda r: cells.error(r) or r.get("pruned") or "", duration=cells.duration,
        row_ci=cells.row_ci, row_mean=cells.row_mean,
        job_blocks=[_job_block(r, sweep_dir, embed, job_records.get(r["job"])) for r in rows])
