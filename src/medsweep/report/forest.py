"""subgroups.png: a job's subgroup results (subgroups.csv, evaluate/subgroups.py) as a forest plot, one row per
subgroup (grouped by column), one panel per metric (the primary metric; binary: also sensitivity and
specificity), each value with its 95% interval beside the job's overall pooled value. Agg, as plots.py."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Optional

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medsweep.evaluate.metrics import METRICS  # noqa: E402
from medsweep.record.outputs import atomic_path  # noqa: E402
from medsweep.report.plots import DPI, FONT  # noqa: E402


def subgroup_metrics(frame: pd.DataFrame) -> list[str]:
    """The metrics of a subgroups.csv table, in its order: each column that has a ``<name>_lower``."""
    return [c for c in frame.columns if f"{c}_lower" in frame.columns and f"{c}_upper" in frame.columns]


def forest_rows(frame: pd.DataFrame) -> list[dict]:
    """The rows of the plot, top to bottom: a heading per column ({"heading": column}) and each of its subgroups
    ({"label", "values": {metric: (value, lower, upper)}, "note", "flag"})."""
    rows: list[dict] = []
    metrics = subgroup_metrics(frame)
    for column, part in frame.groupby("column", sort=False):
        rows.append({"heading": str(column)})
        for r in part.to_dict("records"):
            events = r.get("events")
            count = f"{int(r['patients'])} patients" + (f", {events} events" if isinstance(events, (int, float))
                                                          and math.isfinite(events) else
                                                          f", {events}" if isinstance(events, str) and events else "")
            rows.append({"label": f"{r['subgroup']} ({count})", "note": r["note"] if isinstance(r.get("note"), str) else "",
                         "flag": bool(r.get("flag")),
                         "values": {m: tuple(float(r[k]) for k in (m, f"{m}_lower", f"{m}_upper")) for m in metrics}})
    return rows


def plot_subgroups(frame: pd.DataFrame, path, overall: Optional[Mapping[str, float]] = None) -> list[dict]:
    """Write the forest plot of ``frame`` (subgroups.csv) to ``path``; ``overall``: {metric: the job's pooled
    value} (a dashed line). Subgroups too small for a metric are named with their note, without a point; a
    flagged subgroup (interval wholly on the worse side of the overall value) is drawn in red. Returns the
    rows drawn (forest_rows)."""
    metrics = subgroup_metrics(frame)
    if not metrics:
        raise ValueError(f"subgroups table has no <metric>, <metric>_lower, <metric>_upper columns: {list(frame.columns)}")
    rows = forest_rows(frame)
    height = 1.5 + 0.32 * len(rows)
    with matplotlib.rc_context(FONT):
        fig = Figure(figsize=(11.0, height), dpi=DPI)
        FigureCanvasAgg(fig)  # attaches itself to fig: savefig draws through it
        left = 0.33
        width = (0.97 - left) / len(metrics)
        y = np.arange(len(rows))
        for i, metric in enumerate(metrics):
            ax = fig.add_axes((left + i * width + 0.015, 0.9 / height, width - 0.03, 1 - 1.5 / height))
            ax.set_ylim(len(rows) - 0.5, -0.5)
            shown = [v for row in rows if "values" in row for v in row["values"][metric] if math.isfinite(v)]
            if all(0.0 <= v <= 1.0 for v in shown):  # a proportion: its whole range
                ax.set_xlim(0.0, 1.0)
                ax.set_xticks([0.0, 0.25, 0.5, 0.75, 1.0], ["0", ".25", ".5", ".75", "1"])
            ax.grid(axis="x", alpha=0.3)
            title = METRICS[metric].display if metric in METRICS else metric
            if overall and overall.get(metric) is not None and math.isfinite(overall[metric]):
                ax.axvline(overall[metric], color="black", linestyle="--", linewidth=1)
                title += f"\n(dashed: overall {overall[metric]:.3f})"
            ax.set_title(title, fontsize=10)
            for j, row in enumerate(rows):
                if "heading" in row:
                    continue
                value, lo, hi = row["values"][metric]
                if not math.isfinite(value):
                    continue
                colour = "tab:red" if row["flag"] and metric == metrics[0] else "tab:blue"
                if math.isfinite(lo) and math.isfinite(hi):
                    ax.plot([lo, hi], [j, j], color=colour, linewidth=2)
                ax.plot([value], [j], "s", color=colour, markersize=6)
            ax.set_yticks(y, [""] * len(rows))
            ax.tick_params(axis="y", length=0)
        for j, row in enumerate(rows):
            ytext = 1 - (0.6 / height) - (j + 0.5) * (1 - 1.5 / height) / len(rows)
            if "heading" in row:
                fig.text(0.01, ytext, row["heading"], fontweight="bold", va="center")
            else:
                text = row["label"] + (f"\n{row['note']}" if row["note"] and not row["flag"] else "")
                fig.text(0.03, ytext, text, va="center", fontsize=9, color="tab:red" if row["flag"] else "black")
        fig.text(0.01, 0.25 / height, "squares: the subgroup's pooled out-of-fold value; bars: its 95% interval "
                 "(patient bootstrap); red: interval wholly worse than overall", fontsize=9, color="#444")
        with atomic_path(Path(path)) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png", pil_kwargs={"compress_level": 1})
    return rows
