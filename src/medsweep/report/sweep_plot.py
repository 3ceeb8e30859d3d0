"""summary.png: the ranked figure of every job of a sweep, one panel per model, and the short labels of jobs
that the terminal leaderboard shares. Agg is selected before pyplot is imported (plots.py says why)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Optional

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from medsweep.record.outputs import atomic_path  # noqa: E402
from medsweep.report.ranking import POOLED, rank_value, ranked_by  # noqa: E402

DPI = 100
# Above this many jobs of one model, plot_sweep shows the best ones only: a bar per job stays readable
# and rendering stays fast for 1,000-job sweeps (summary.csv and summary.md keep every job).
MAX_JOBS_PER_MODEL = 40
MAX_LABEL = 48


def _save(fig, path) -> None:
    try:
        with atomic_path(Path(path)) as tmp:
            # Light PNG compression: a third faster to write, files barely larger.
            fig.savefig(tmp, dpi=DPI, format="png", pil_kwargs={"compress_level": 1})
    finally:
        plt.close(fig)


def short_overrides(overrides: Iterable[str]) -> str:
    """`estimator.alpha=0.01 trainer.folds=3` -> `alpha=0.01 folds=3`: the last key part is enough to
    tell jobs of one sweep apart; hydra.* settings are the same for every job, and the model is shown
    apart (jobs are grouped by model)."""
    parts = []
    for o in overrides:
        key, _, value = str(o).partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra.") or key == "model":
            continue
        parts.append(f"{key.rsplit('.', 1)[-1]}={value}" if value else key)
    return " ".join(parts)


def _label(row: Mapping) -> str:
    overrides = row.get("overrides") or []
    if isinstance(overrides, str):  # summary rows hold them space-joined, as in summary.csv
        overrides = overrides.split()
    text = f"#{row['job']} {short_overrides(overrides)}".strip()
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _statuses(rows: Iterable[Mapping]) -> str:
    """How the jobs without a metric ended: "3 failed, 1 pruned" (pruned jobs were stopped by a search, not
    failed)."""
    counts = Counter(str(r.get("status") or "missing") for r in rows)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# Where a metric's values can lie (None: unbounded): summary.png's axis never reaches past them.
_PROPORTIONS = ("roc_auc", "pr_auc", "balanced_accuracy", "accuracy", "f1", "sensitivity", "specificity", "ppv", "npv")
METRIC_RANGE = {**{m: (0.0, 1.0) for m in _PROPORTIONS}, "brier": (0.0, None), "rmse": (0.0, None),
                "mae": (0.0, None), "r2": (None, 1.0)}


def _ranked(row: Mapping, by: str) -> tuple[float, Optional[float], Optional[float]]:
    """(value, lower, upper) of the figure a job is ranked by (ranking.py): the pooled out-of-fold value with
    its interval, or (by == "mean") the mean over folds, without one."""
    value = rank_value(row.get("primary_pooled"), row.get("primary_mean"), by)
    if by == POOLED:
        lo, hi = row.get("primary_lower"), row.get("primary_upper")
        return value, float(lo) if _finite(lo) else None, float(hi) if _finite(hi) else None
    return value, None, None


def _axis_limits(metric: str, points: list[float]) -> tuple[float, float]:
    """The x range of every panel of one metric: its values and limits with a margin, clipped to the
    metric's range."""
    lo, hi = (min(points), max(points)) if points else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    floor, ceiling = METRIC_RANGE.get(metric, (None, None))
    return (lo if floor is None else max(lo, floor), hi if ceiling is None else min(hi, ceiling))


def plot_sweep(rows: list[Mapping], path) -> list[dict]:
    """The ranked figure of each job, one panel per model (best job on top): the pooled out-of-fold value
    of the primary metric with its 95% interval (the figure the leaderboard ranks by; a panel where a job
    has no pooled value shows every job's mean over folds, without interval). Panels of the same metric share
    one x axis, clipped to the metric's range (ROC-AUC never past 0 or 1).

    rows: summary rows (see medsweep.report.summarize) with job, overrides, model, status, primary_metric,
    primary_mean, primary_pooled, primary_lower, primary_upper, greater_is_better. Jobs without a metric
    (failed, missing...) are counted in the panel title, not drawn. The figure grows with the number of jobs
    drawn. The selected job of a group of jobs on the same folds also gets its BBC-CV estimate (``bbc_estimate``,
    a hollow diamond). Returns what each panel shows: [{"model", "metric", "by", "xlim", "jobs": [(job, value,
    lower, upper)], "bbc": [(job, estimate)]}].
    """
    groups: dict[str, list[Mapping]] = {}
    for row in rows:
        groups.setdefault(str(row.get("model") or "?"), []).append(row)
    panels = []
    for model in sorted(groups):
        done = [r for r in groups[model] if _finite(r.get("primary_mean"))]
        higher = all(r.get("greater_is_better", True) is not False for r in done)
        by = ranked_by(r.get("primary_pooled") for r in done)
        sign = -1.0 if higher else 1.0
        done.sort(key=lambda r: (sign * _ranked(r, by)[0], int(r["job"])))
        metrics = sorted({str(r.get("primary_metric")) for r in done}) or ["no metric"]
        shown = done[:MAX_JOBS_PER_MODEL]
        panels.append({"model": model, "metric": "/".join(metrics), "by": by, "higher": higher,
                       "n_done": len(done), "n_other": len(groups[model]) - len(done),
                       "other": _statuses(r for r in groups[model] if not _finite(r.get("primary_mean"))),
                       "rows": shown,
                       "jobs": [(r["job"], *_ranked(r, by)) for r in shown],
                       # the selected job of each group of jobs on the same folds: its BBC-CV estimate
                       "bbc": [(r["job"], float(r["bbc_estimate"])) for r in shown if _finite(r.get("bbc_estimate"))]})
    points: dict[str, list[float]] = {}
    for p in panels:
        points.setdefault(p["metric"], []).extend(x for _, *vals in p["jobs"] for x in vals if x is not None)
        points[p["metric"]].extend(v for _, v in p["bbc"])
    for p in panels:
        p["xlim"] = _axis_limits(p["metric"], points[p["metric"]])

    # A model none of whose jobs has a metric gets no (empty) panel: it is named beneath the figure.
    without = [f"{p['model']} ({p['n_other']} job(s): {p['other']})"
               for p in panels if not p["n_done"]]
    panels = [p for p in panels if p["n_done"]]
    if not panels:
        fig = plt.figure(figsize=(9, 1.2))
        fig.text(0.02, 0.5, "No completed job to plot: " + "; ".join(without), fontsize=10, va="center", wrap=True)
        _save(fig, path)
        return []
    heights = [0.26 * max(len(p["rows"]), 1) + 0.9 for p in panels]
    foot = 0.35 if without else 0.0
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, sum(heights) + 0.4 + foot), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, p in zip(axes[:, 0], panels):
        shown = p["rows"]
        y = np.arange(len(shown))
        if len(shown):
            values = np.array([v for _, v, _, _ in p["jobs"]])
            lower = np.array([v if lo is None else lo for _, v, lo, _ in p["jobs"]])
            upper = np.array([v if hi is None else hi for _, v, _, hi in p["jobs"]])
            ax.errorbar(values, y, xerr=[values - lower, upper - values], fmt="o", color="tab:blue",
                        ecolor="tab:gray", capsize=3, markersize=5)
        if p["bbc"]:
            where = {job: i for i, (job, *_) in enumerate(p["jobs"])}
            ax.plot([v for _, v in p["bbc"]], [where[job] for job, _ in p["bbc"]], "D", markerfacecolor="none",
                    color="tab:orange", markersize=7)
        ax.set_yticks(y, [_label(r) for r in shown], fontsize=8)
        ax.set_ylim(len(shown) - 0.5 if len(shown) else 0.5, -0.5)  # best on top
        ax.set_xlim(*p["xlim"])
        what = ("pooled out-of-fold value, 95% interval" if p["by"] == "pooled"
                else "mean over folds (no pooled value recorded)")
        title = f"{p['model']}: {p['metric']} ({'higher' if p['higher'] else 'lower'} is better), {what}"
        if p["bbc"]:
            title += "\norange diamond: the selected job's BBC-CV (bias-corrected) estimate"
        if p["n_done"] > len(shown):
            title += f"\nbest {len(shown)} of {p['n_done']} completed jobs shown"
        if p["n_other"]:
            title += f"\n{p['n_other']} job(s) without a metric ({p['other']})"
        ax.set_title(title, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
    if without:
        fig.text(0.01, 0.01, "No completed job: " + "; ".join(without), fontsize=9, color="#b00")
    fig.tight_layout(rect=(0, foot / (sum(heights) + 0.4 + foot), 1, 1))
    _save(fig, path)
    return [{k: p[k] for k in ("model", "metric", "by", "xlim", "jobs", "bbc")} for p in panels]
