"""The figures report.html shows beside each leaderboard (PNG bytes, embedded in the page; no file of their own):
the top jobs of a model overlaid (ROC, flexible calibration, decision curve: compared at a glance), and, where
the sweep varies settings, the ranked figure with its interval against each swept setting (and a
parallel-coordinates view where three or more vary). Agg, as plots.py; drawn only when the summary is written
(once, at the sweep's end, or by `medsweep summarize`)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Optional

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medsweep.record.files import JobPaths  # noqa: E402
from medsweep.record.outputs import read_csv  # noqa: E402
from medsweep.report.plots import DPI, FONT, display_names  # noqa: E402
from medsweep.report.sweep_plot import short_overrides  # noqa: E402

TOP_JOBS = 3
# The settings figure shows the best this many jobs of a leaderboard (summary.csv keeps every job).
MAX_JOBS = 300
# Override keys that are not settings a reader compares (the model is the board; hydra.* run the sweep).
NOT_SETTINGS = ("model", "seed")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, format="png", pil_kwargs={"compress_level": 6})
    return buffer.getvalue()


def _overrides(row: Mapping) -> list[str]:
    overrides = row.get("overrides") or []
    return overrides.split() if isinstance(overrides, str) else [str(o) for o in overrides]


def job_label(row: Mapping) -> str:
    text = f"#{row['job']} {short_overrides(_overrides(row))}".strip()
    return text if len(text) <= 60 else text[:59] + "…"


# --- Top jobs overlaid -----------------------------------------------------------------------------------

def _binary_curves(predictions: pd.DataFrame, classes: list[str], thresholds: np.ndarray) -> dict:
    """A job's pooled ROC curve, flexible calibration curve and decision curve (no bands: one line per job)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    from medsweep.evaluate.curves import calibration_band
    from medsweep.evaluate.decision_curve import decision_curve

    y = predictions["y_true"].astype(str).to_numpy() == classes[1]
    p = predictions[f"proba_{classes[1]}"].to_numpy(dtype=float)
    fpr, tpr, _ = roc_curve(y, p)
    calibration = calibration_band(y, p, n_boot=0)
    return {"roc": (fpr, tpr, roc_auc_score(y, p)), "calibration": calibration,
            "dca": decision_curve(y, p, thresholds), "prevalence": float(y.mean())}


def setting_labels(rows: list[Mapping]) -> dict:
    """{job: "#job key=value ..."} naming only the settings that differ between ``rows`` (the rest are the
    same for every job of the board)."""
    settings = swept_settings(rows)
    return {row["job"]: " ".join([f"#{row['job']}"] + [f"{key.rsplit('.', 1)[-1]}={values[i] or '(unset)'}"
                                                        for key, values in settings.items()])
            for i, row in enumerate(rows)}


def top_jobs_figure(rows: list[Mapping], sweep_dir: Path, records: Mapping[int, object],
                    top: int = TOP_JOBS, labels: Optional[Mapping] = None) -> Optional[bytes]:
    """The ``top`` best jobs of a leaderboard (``rows``, best first) overlaid: pooled out-of-fold ROC curves,
    flexible calibration curves and decision curves, one colour per job. Binary classification only (None
    otherwise, or where fewer than two jobs have their predictions.csv). ``records``: each job's JobRecord
    (for its classes' names and decision-curve range); ``labels``: {job: legend text} (default job_label)."""
    drawn = []
    for row in rows:
        if len(drawn) == top:
            break
        record = records.get(row["job"])
        classes = [str(c) for c in (getattr(record, "classes", None) or [])]
        path = JobPaths(Path(sweep_dir) / str(row["dir"])).predictions
        if len(classes) != 2 or not path.is_file():
            continue
        try:
            predictions = read_csv(path)
            dca = ((getattr(record, "evaluation", None) or {}).get("decision_curve") or {}).get("thresholds") or [0.01, 0.99]
            thresholds = np.round(np.arange(dca[0], dca[1] + 1e-9, 0.01), 4)
            curves = _binary_curves(predictions, classes, thresholds)
        except (OSError, ValueError, KeyError):  # a damaged or foreign file: the job is left out of the figure
            continue
        drawn.append((row, classes, getattr(record, "positive", None), curves))
    if len(drawn) < 2:
        return None
    with matplotlib.rc_context(FONT):
        fig = Figure(figsize=(15.0, 5.6), dpi=DPI)
        FigureCanvasAgg(fig)
        roc, cal, dca = (fig.add_axes(rect) for rect in ((0.05, 0.28, 0.27, 0.58), (0.38, 0.28, 0.27, 0.58),
                                                         (0.71, 0.28, 0.27, 0.58)))
        for ax in (roc, cal):
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.01)
            ax.set_aspect("equal", adjustable="box")
        top_nb = 0.01
        for (row, classes, positive, c), colour in zip(drawn, ("tab:blue", "tab:orange", "tab:green", "tab:red",
                                                               "tab:purple")):
            fpr, tpr, auc = c["roc"]
            label = (labels or {}).get(row["job"]) or job_label(row)
            roc.plot(fpr, tpr, color=colour, linewidth=1.8, label=f"{label} (AUC {auc:.3f})")
            cal.plot(c["calibration"]["risk"], c["calibration"]["observed"], color=colour, linewidth=1.8)
            frame = c["dca"]
            dca.plot(frame["threshold"], frame["net_benefit"], color=colour, linewidth=1.8)
            top_nb = max(top_nb, float(np.nanmax(frame["net_benefit"])))
        frame = drawn[0][3]["dca"]
        dca.plot(frame["threshold"], frame["treat_all"], color="tab:gray", linewidth=1, label="treat all")
        dca.axhline(0, color="black", linestyle="--", linewidth=1, label="treat none")
        dca.set_ylim(-0.15 * top_nb, 1.1 * top_nb)
        dca.set_xlim(float(frame["threshold"].min()), float(frame["threshold"].max()))
        names = display_names(drawn[0][1], drawn[0][2])
        roc.set(title="Pooled out-of-fold ROC", xlabel="1 - specificity", ylabel="sensitivity")
        cal.set(title="Flexible calibration (spline)", xlabel="predicted risk", ylabel="observed risk")
        dca.set(title="Decision curve", xlabel="threshold probability", ylabel="net benefit")
        for ax in (roc, cal, dca):
            ax.grid(alpha=0.3)
        handles, labels = roc.get_legend_handles_labels()
        more_h, more_l = dca.get_legend_handles_labels()
        fig.legend(handles + more_h, labels + more_l, loc="lower left", bbox_to_anchor=(0.05, 0.01), ncol=2,
                   frameon=False)
        fig.suptitle(f"The best {len(drawn)} jobs compared (positive class: {names[drawn[0][1][1]]})", x=0.05,
                     y=0.97, ha="left", fontsize=13)
        return _png(fig)


# --- Swept settings --------------------------------------------------------------------------------------

def swept_settings(rows: list[Mapping]) -> dict[str, list[str]]:
    """{override key: each job's value (text; "" where the job does not set it)} for the keys whose value differs
    between ``rows`` (not the model, the seed or hydra.*), in the order the overrides name them."""
    values: dict[str, dict[int, str]] = {}
    for i, row in enumerate(rows):
        for o in _overrides(row):
            key, _, value = o.partition("=")
            key = key.lstrip("+~")
            if key in NOT_SETTINGS or key.startswith("hydra."):
                continue
            values.setdefault(key, {})[i] = value
    return {key: [v.get(i, "") for i in range(len(rows))] for key, v in values.items()
            if len({v.get(i, "") for i in range(len(rows))}) > 1}


def _number(text: str) -> Optional[float]:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _ordered(values: list[str]) -> list[str]:
    """Distinct values, numeric order where every one is a number, else as text."""
    distinct = sorted(set(values))
    if all(_number(v) is not None for v in distinct):
        return sorted(distinct, key=lambda v: _number(v))
    return distinct


# Above this many distinct numbers a setting gets a numeric axis (an Optuna search draws a new value per job).
CONTINUOUS = 8


def _continuous(order: list[str]) -> bool:
    return len(order) > CONTINUOUS and all(_number(v) is not None for v in order)


def _log(order: list[str]) -> bool:
    numbers = [_number(v) for v in order]
    return min(numbers) > 0 and max(numbers) / min(numbers) >= 30


def _figure(row: Mapping, by: str) -> tuple[float, Optional[float], Optional[float]]:
    if by == "pooled" and row.get("primary_pooled") is not None:
        return float(row["primary_pooled"]), row.get("primary_lower"), row.get("primary_upper")
    return float(row["primary_mean"]), None, None


def settings_figure(rows: list[Mapping], by: str) -> Optional[bytes]:
    """The ranked figure of each job (pooled value with its 95% interval, ``by`` "pooled"; else the mean over
    folds) against the value of each swept setting, one panel per setting (jobs that share a value side by side,
    the best of each value joined by a line; a numeric axis where a setting takes many numbers); at most
    MAX_JOBS (the first, i.e. best, rows); below, where three or more settings vary, a parallel-coordinates
    view (one line per job through its settings to its figure, coloured by the figure). None where no setting
    varies."""
    rows = rows[:MAX_JOBS]
    settings = swept_settings(rows)
    if not settings:
        return None
    metric = str(rows[0].get("primary_metric") or "")
    higher = rows[0].get("greater_is_better", True) is not False
    figures = [_figure(r, by) for r in rows]
    parallel = len(settings) >= 3
    n = len(settings)
    per_row = min(n, 4)
    grid_rows = math.ceil(n / per_row)
    height = 3.6 * grid_rows + (4.2 if parallel else 0) + 0.9
    with matplotlib.rc_context(FONT):
        fig = Figure(figsize=(max(4.0 * per_row + 1.0, 9.0), height), dpi=DPI)
        FigureCanvasAgg(fig)
        panel_h = 3.6 / height
        for k, (key, values) in enumerate(settings.items()):
            r, c = divmod(k, per_row)
            bottom = 1 - 0.8 / height - (r + 1) * panel_h + 0.9 / height
            ax = fig.add_axes((0.1 + c / per_row * 0.89, bottom, 0.89 / per_row - 0.07, panel_h - 1.25 / height))
            order = _ordered(values)
            xs, ys = [], []
            if _continuous(order):  # many numbers (a search's draws): a numeric axis, log where they span decades
                for i, v in enumerate(values):
                    if _number(v) is not None:
                        xs.append(_number(v))
                        ys.append(figures[i])
                if _log(order):
                    ax.set_xscale("log")
            else:
                best = {}
                for x, value in enumerate(order):
                    jobs = [i for i, v in enumerate(values) if v == value]
                    offsets = np.linspace(-0.2, 0.2, len(jobs)) if len(jobs) > 1 else [0.0]
                    xs += [x + dx for dx in offsets]
                    ys += [figures[i] for i in jobs]
                    best[x] = (max if higher else min)(figures[i][0] for i in jobs)
                ax.plot(list(best), list(best.values()), color="tab:orange", linewidth=1.2, zorder=0)
                ax.set_xticks(range(len(order)), [v if v else "(unset)" for v in order], rotation=30 if
                              max(len(v) for v in order) > 6 else 0, fontsize=9)
                ax.set_xlim(-0.6, len(order) - 0.4)
            y = np.array([f[0] for f in ys])
            lo = np.array([f[0] if f[1] is None else f[1] for f in ys])
            hi = np.array([f[0] if f[2] is None else f[2] for f in ys])
            ax.errorbar(xs, y, yerr=[y - lo, hi - y], fmt="o", color="tab:blue", ecolor="tab:gray", markersize=4,
                        capsize=2, elinewidth=1)
            ax.set_title(key, fontsize=11)
            ax.set_ylabel(metric if c == 0 else "")
            ax.grid(axis="y", alpha=0.3)
        what = "pooled out-of-fold value, 95% interval" if by == "pooled" else "mean over folds"
        fig.suptitle(f"{metric} ({what}) against each swept setting\n(jobs sharing a value side by side; orange: "
                     "the best job at each value)", x=0.02, ha="left", fontsize=11)
        if parallel:
            _parallel(fig.add_axes((0.07, 0.45 / height, 0.86, 3.2 / height)), settings, figures, metric, higher)
        return _png(fig)


def _parallel(ax, settings: dict[str, list[str]], figures: list, metric: str, higher: bool) -> None:
    """One line per job through each setting's value (its axis: the values in order, evenly spaced) to its
    figure (the last axis, its own scale), coloured by that figure; the best job thick."""
    import matplotlib.cm as cm

    keys = list(settings)
    values = np.array([f[0] for f in figures])
    lo, hi = float(values.min()), float(values.max())
    scaled = (values - lo) / (hi - lo) if hi > lo else np.full(len(values), 0.5)
    columns = []
    for key in keys:
        order = _ordered(settings[key])
        if _continuous(order):  # positions on the value's own scale (log where it spans decades)
            x = np.array([_number(v) for v in settings[key]], dtype=float)
            x = np.log10(x) if _log(order) else x
            span = np.nanmax(x) - np.nanmin(x)
            columns.append(list((x - np.nanmin(x)) / span if span else np.full(len(x), 0.5)))
            shown = [order[0], order[-1]]
            places = [0.0, 1.0]
        else:
            columns.append([order.index(v) / max(len(order) - 1, 1) for v in settings[key]])
            shown, places = order, [j / max(len(order) - 1, 1) for j in range(len(order))]
        for v, place in zip(shown, places):
            ax.text(len(columns) - 1 - 0.03, place, v or "(unset)", ha="right", va="center", fontsize=8)
    points = np.column_stack(columns + [scaled])
    best = int(np.argmax(values) if higher else np.argmin(values))
    colours = cm.viridis(scaled if higher else 1 - scaled)
    for i in np.argsort(scaled if higher else -scaled):  # the best drawn last, on top
        ax.plot(range(len(keys) + 1), points[i], color=colours[i], linewidth=3 if i == best else 1, alpha=0.8)
    for x in range(len(keys) + 1):
        ax.axvline(x, color="black", linewidth=0.8)
    ax.text(len(keys) + 0.03, 0, f"{lo:.3f}", va="center", fontsize=8)
    ax.text(len(keys) + 0.03, 1, f"{hi:.3f}", va="center", fontsize=8)
    ax.set_xticks(range(len(keys) + 1), keys + [metric])
    ax.set_yticks([])
    ax.set_xlim(-0.3, len(keys) + 0.3)
    ax.set_ylim(-0.08, 1.08)
    ax.set_title("every job through its settings to its figure (colour: the figure, yellow best; thick: the best job)", fontsize=10,
                 loc="left")
    for spine in ax.spines.values():
        spine.set_visible(False)
