"""Plots of one job (learning curve, ROC, calibration, decision curve) as PNG files (a whole sweep's
summary.png: sweep_plot.py).

Agg is selected before pyplot is imported: jobs run in worker processes and on servers without a
display, where an interactive backend would fail or open windows. Files are written to a temporary name
first, so a killed job never leaves a half-written PNG.

A job plot's fixed parts (axes, ticks, labels, title, grid) cost two thirds of its drawing, and the jobs
a worker runs mostly share them: each frame is drawn once per process and kept (a few of them, least
recently used first out); a job draws only its lines and legend over a copy of the frame's pixels.
Limits computed from the data are rounded outwards to a round step, so similar jobs share a frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Optional

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from medsweep.record.outputs import atomic_path  # noqa: E402

DPI = 100
# Job plots have a fixed size so that they line up in report.html (two side by side on a wide screen); their
# text is sized to be read at that size.
JOB_FIGSIZE = (8.0, 5.6)
FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
        "legend.fontsize": 10}
# Axes rectangles in pixels (left, bottom, width, height) of the 800 x 560 figure; the legend stands to the
# right of the axes, off the curves.
_SQUARE = (70, 60, 430, 430)
_WIDE = (70, 60, 450, 430)
_ABOVE_HISTOGRAM = (70, 140, 380, 380)
_HISTOGRAM = (70, 50, 380, 70)
BAND = dict(color="tab:blue", alpha=0.18, linewidth=0)
# Above this many folds (or rounds) their lines are grey, under one legend entry: the legend stays beside the axes.
MAX_LEGEND_LINES = 10
BAND_LABEL = "95% pointwise band\n(bootstrap, patients resampled)"


@dataclass(frozen=True)
class _Frame:
    """The fixed parts of a job plot."""
    title: str
    xlabel: str
    ylabel: str
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    square: bool = False  # equal scales on both axes (ROC, calibration)
    xticks: Optional[tuple[float, ...]] = None
    integer_x: bool = False
    histogram: Optional[str] = None  # the label of an axes beneath, sharing x (predicted risks)


def _rect(pixels: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    w, h = JOB_FIGSIZE[0] * DPI, JOB_FIGSIZE[1] * DPI
    left, bottom, width, height = pixels
    return (left / w, bottom / h, width / w, height / h)


# A frame holds two 800x560 RGBA buffers (~3.6 MB): a handful covers a worker's jobs of a few models.
@functools.lru_cache(maxsize=8)
def _drawn_frame(frame: _Frame):
    with matplotlib.rc_context(FONT):
        fig = Figure(figsize=JOB_FIGSIZE, dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        if frame.histogram:
            ax = fig.add_axes(_rect(_ABOVE_HISTOGRAM))
            below = fig.add_axes(_rect(_HISTOGRAM), sharex=ax)
            below.set_ylim(0, 1.08)
            below.set_yticks([])
            below.set_xlabel(frame.xlabel)
            below.set_ylabel(frame.histogram, fontsize=9)
            ax.tick_params(labelbottom=False)
        else:
            ax, below = fig.add_axes(_rect(_SQUARE if frame.square else _WIDE)), None
            ax.set_xlabel(frame.xlabel)
        ax.set_title(frame.title, loc="left")
        ax.set_ylabel(frame.ylabel)
        ax.set_xlim(*frame.xlim)
        ax.set_ylim(*frame.ylim)
        if frame.xticks is not None:
            ax.set_xticks(frame.xticks)
        elif frame.integer_x:
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        canvas.draw()
    return ax, below, canvas, canvas.copy_from_bbox(fig.bbox)


def _draw(frame: _Frame, lines: list[tuple], path, bands: tuple = (), marks: tuple = (),
          histogram: Optional[tuple] = None) -> None:
    """Draw ``bands`` ((x, lower, upper, label) each, shaded), ``lines`` ((x, y, Line2D keywords) each; colours
    cycle afresh per plot), ``marks`` (as lines, drawn on top), the ``histogram`` (values, bins, label) in the
    axes beneath, and the legend (right of the axes) on the frame's pixels, and write the PNG."""
    ax, below, canvas, background = _drawn_frame(frame)
    canvas.restore_region(background)
    ax.set_prop_cycle(None)
    with matplotlib.rc_context(FONT):
        shaded = [ax.fill_between(x, lo, hi, label=label, **BAND) for x, lo, hi, label in bands]
        artists = [ax.plot(x, y, **style)[0] for x, y, style in lines]
        artists += shaded  # drawn first (beneath the lines), listed after them in the legend
        artists += [ax.plot(x, y, **{"linestyle": "none", "zorder": 5, **style})[0] for x, y, style in marks]
        if histogram is not None and below is not None:
            values, bins, label = histogram
            counts, edges = np.histogram(values, bins=bins)
            artists.append(below.stairs(counts / max(counts.max(), 1), edges, fill=True, color="tab:gray",
                                        alpha=0.6, label=label))
        handles = [a for a in artists if not str(a.get_label()).startswith("_")]
        legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0,
                           frameon=False)
    try:
        for artist in shaded + [a for a in artists if a not in shaded] + [legend]:
            (artist.axes or ax).draw_artist(artist)
        # The figure is opaque: RGB is a fifth faster to encode than RGBA; light compression is a third faster
        # than the default, files barely larger.
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        with atomic_path(Path(path)) as tmp:
            image.convert("RGB").save(tmp, format="png", compress_level=1)
    finally:
        for artist in artists + [legend]:
            artist.remove()


def _round_limits(lo: float, hi: float, pad: float = 0.5) -> tuple[float, float]:
    """[lo, hi] widened by ``pad`` steps and rounded outwards to a multiple of a round step (1, 2 or 5 x 10^k,
    about a fifth of the range, or of 2% of the values' size: fold scores of 0.991-0.995 and of 0.990-0.998
    share a frame)."""
    span = max(hi - lo, 0.02 * max(abs(lo), abs(hi))) or 1.0
    raw = span / 5
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return (round(math.floor(lo / step - pad) * step, 12), round(math.ceil(hi / step + pad) * step, 12))


def display_names(classes, positive=None) -> dict[str, str]:
    """The name a reader sees for each class: with ``positive`` (data.positive: the values that made class 1
    of a binarised target) "1" -> "malignant" and "0" -> "not malignant"; otherwise the classes as they are."""
    classes = [str(c) for c in classes]
    if positive and classes == ["0", "1"]:
        what = " or ".join(str(v) for v in positive)
        return {"0": f"not {what}", "1": what}
    return {c: c for c in classes}


def plot_learning_curve(history: pd.DataFrame, path) -> None:
    """Validation metric per epoch, one line per fold (from history.csv: fold, epoch, train_loss, val_<metric>).

    Estimators fitted in one go have one epoch per fold: markers keep those points visible (a job of such an
    estimator writes no learning curve: job/artifacts.py)."""
    val_cols = [c for c in history.columns if str(c).startswith("val_")]
    if not val_cols:
        raise ValueError(f"history has no val_<metric> column: {list(history.columns)}")
    val = val_cols[0]
    metric = val[len("val_"):]
    epochs = history["epoch"].nunique()
    # Repeated cross-validation: a line per round (the mean of its folds), not one per fold of every round.
    line = "repeat" if "repeat" in history.columns and history["repeat"].nunique() > 1 else "fold"
    per_line = history.groupby([line, "epoch"], sort=True)[val].mean().reset_index()
    groups = list(per_line.groupby(line, sort=True))
    if len(groups) > MAX_LEGEND_LINES:  # many folds: grey lines, one legend entry for all
        lines = [(rows["epoch"], rows[val], dict(marker="o", markersize=2, linewidth=0.7, alpha=0.5, color="tab:gray",
                                                 label="_line")) for _, rows in groups]
        lines.append(([], [], dict(linewidth=0.7, color="tab:gray", label=f"each of {len(groups)} {line}s")))
    else:
        lines = [(rows["epoch"], rows[val], dict(marker="o", markersize=3 if epochs > 1 else 8, linewidth=1.2,
                                                 label=f"{line} {key}" + (" (mean of its folds)" if line == "repeat"
                                                                          else "")))
                 for key, rows in groups]
    if history["fold"].nunique() > 1 and epochs > 1:
        mean = history.groupby("epoch")[val].mean()
        lines.append((mean.index, mean.values, dict(color="black", linestyle="--", linewidth=2,
                                                    label="mean over folds")))
    first, last = float(history["epoch"].min()), float(history["epoch"].max())
    values = per_line[val].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if epochs == 1:
        frame = _Frame(f"Validation {metric} (fitted in one go: one epoch)", "epoch", f"validation {metric}",
                       (first - 0.5, first + 0.5), (0.0, 1.0), xticks=(first,))
    else:
        margin = 0.05 * (last - first)
        frame = _Frame(f"Validation {metric} per epoch (each fold's held-out rows)", "epoch",
                       f"validation {metric}", (first - margin, last + margin), (0.0, 1.0), integer_x=True)
    if len(values):
        frame = replace(frame, ylim=_round_limits(float(values.min()), float(values.max())))
    _draw(frame, lines, path)


def _binary_roc(y: np.ndarray, score: np.ndarray):
    """(fpr, tpr, auc), or None where the fold holds one class only (ROC undefined)."""
    if y.all() or not y.any():
        return None
    from sklearn.metrics import auc, roc_curve  # here: summarising a sweep needs no scikit-learn

    fpr, tpr, _ = roc_curve(y, score)
    return fpr, tpr, auc(fpr, tpr)


def _macro_roc(y_true: np.ndarray, proba: np.ndarray, classes: list[str]):
    """One-vs-rest ROC per class, averaged on a common FPR grid; AUC = mean of per-class AUCs,
    which is the roc_auc in metrics.json (sklearn's multi_class='ovr', average='macro')."""
    grid = np.linspace(0, 1, 201)
    tprs, aucs = [], []
    for k, cls in enumerate(classes):
        curve = _binary_roc(y_true == cls, proba[:, k])
        if curve is None:
            continue
        fpr, tpr, a = curve
        tprs.append(np.interp(grid, fpr, tpr))
        aucs.append(a)
    if not aucs:
        return None
    tpr = np.mean(tprs, axis=0)
    tpr[0] = 0.0
    return grid, tpr, float(np.mean(aucs))


def _interval(ci) -> str:
    return f", 95% CI {ci[0]:.3f}-{ci[1]:.3f}" if ci and all(_finite(v) for v in ci) else ""


def plot_roc(predictions: pd.DataFrame, classes: list[str], path, *, band: Optional[Mapping] = None,
             names: Optional[Mapping[str, str]] = None, auc_interval: Optional[tuple] = None,
             operating_point: Optional[str] = None) -> dict[str, float]:
    """Out-of-fold ROC curve of each fold (thin), all folds pooled (thick) with its AUC, and, binary: the
    pooled curve's pointwise bootstrap ``band`` (evaluate.curves.roc_band) and the operating point (the pooled
    sensitivity and 1 - specificity of y_pred, each row classified at its fold's threshold; ``operating_point``
    names the rule).

    predictions.csv columns: row, patient, fold, y_true, y_pred, proba_<class>... Binary: the positive
    class is classes[1]. Multiclass: one macro-averaged one-vs-rest curve per fold. Classification only:
    raises ValueError when a proba_<class> column is missing (regression jobs have none). ``names``: the
    classes as a reader knows them (display_names); ``auc_interval``: the pooled AUC's interval (metrics.json).
    Returns the AUCs shown in the legend: {"fold 0": ..., "pooled": ...} (NaN where undefined).
    """
    classes = [str(c) for c in classes]
    names = {c: str((names or {}).get(c, c)) for c in classes}
    cols = [f"proba_{c}" for c in classes]
    missing = [c for c in cols if c not in predictions.columns]
    if missing or len(classes) < 2:
        raise ValueError(f"plot_roc needs proba columns for classes {classes}; missing {missing}")
    # y_true is read back from CSV as int or str depending on the labels: compare as text.
    y_all = predictions["y_true"].astype(str).to_numpy()
    p_all = predictions[cols].to_numpy(dtype=float)
    binary = len(classes) == 2

    def curve(mask):
        if binary:
            return _binary_roc(y_all[mask] == classes[1], p_all[mask, 1])
        return _macro_roc(y_all[mask], p_all[mask], classes)

    lines = [([0, 1], [0, 1], dict(color="grey", linestyle=":", linewidth=1, label="chance"))]
    folds = predictions["fold"].to_numpy()
    aucs = {}
    # Repeated cross-validation: the first round's folds (every round's would be unreadable), all pooled.
    first = predictions["repeat"].to_numpy() == 0 if "repeat" in predictions.columns else np.ones(len(folds), bool)
    fold_ids = sorted(np.unique(folds[first]))
    for fold in fold_ids:
        c = curve(folds == fold)
        aucs[f"fold {fold}"] = c[2] if c else float("nan")
        if len(fold_ids) > MAX_LEGEND_LINES:  # many folds: grey lines, one legend entry for all (below)
            if c is not None:
                lines.append((c[0], c[1], dict(linewidth=0.7, alpha=0.5, color="tab:gray", label="_fold")))
            continue
        if c is None:
            lines.append(([], [], dict(linestyle="none", label=f"fold {fold}: AUC undefined (one class)")))
            continue
        lines.append((c[0], c[1], dict(linewidth=0.9, alpha=0.55, label=f"fold {fold} (AUC {c[2]:.3f})")))
    if len(fold_ids) > MAX_LEGEND_LINES:
        defined = [a for a in aucs.values() if math.isfinite(a)]
        span = f", AUC {min(defined):.3f}-{max(defined):.3f}" if defined else ""
        lines.append(([], [], dict(linewidth=0.7, color="tab:gray", label=f"each of {len(fold_ids)} folds{span}")))
    pooled = curve(np.ones(len(folds), dtype=bool))
    aucs["pooled"] = pooled[2] if pooled else float("nan")
    if pooled is not None:
        lines.append((pooled[0], pooled[1], dict(color="black", linewidth=2.2,
                                                 label=f"all folds pooled\n(AUC {pooled[2]:.3f}{_interval(auc_interval)})")))
    bands = [(band["fpr"], band["lower"], band["upper"], BAND_LABEL)] if binary and band and band.get("n_valid") else []
    marks = []
    if binary and "y_pred" in predictions.columns:
        y_bool, called = y_all == classes[1], predictions["y_pred"].astype(str).to_numpy() == classes[1]
        if y_bool.any() and (~y_bool).any():
            sens, spec = called[y_bool].mean(), 1.0 - called[~y_bool].mean()
            rule = f" ({operating_point})" if operating_point else ""
            marks.append(([1.0 - spec], [sens], dict(marker="o", markersize=9, color="tab:red", markeredgecolor="white",
                                                     label=f"operating point{rule}:\nsensitivity {sens:.2f}, "
                                                           f"specificity {spec:.2f}")))
    what = f"positive class: {names[classes[1]]}" if binary else f"{len(classes)} classes, macro one-vs-rest"
    frame = _Frame(f"Out-of-fold ROC ({what})", "false positive rate (1 - specificity)",
                   "true positive rate (sensitivity)", (0.0, 1.0), (0.0, 1.01), square=True)
    _draw(frame, lines, path, bands=bands, marks=marks)
    return {k: float(v) for k, v in aucs.items()}


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def _calibration_label(name: str, c: Mapping) -> str:
    def num(key):
        v = c.get(key)
        return f"{v:.2f}" if _finite(v) else "n/a"
    gap = "\n" if len(name) > 10 else " "  # a long class name: the figures on a line of their own
    return f"{name}{gap}(slope {num('slope')}, CITL {num('citl')})"


def plot_calibration(calib: Mapping, path, *, curves: Optional[Mapping[str, Mapping]] = None,
                     risks=None, names: Optional[Mapping[str, str]] = None) -> None:
    """Calibration plot, with the diagonal (perfect calibration); slope and calibration-in-the-large (from
    medsweep.evaluate.evaluation's calibration dicts, ``calib``) in the legend.

    ``curves`` ({class: evaluate.curves.calibration_band's dict}; binary: the positive class only): the
    flexible (spline) curve of each, with its band where it has one, and ``risks`` (the predicted risks of the
    positive class, binary) as a histogram beneath. Without ``curves`` (regression, or an older caller):
    observed against predicted per quantile bin of calib["curve"]. calib["kind"]: "binary", "multiclass" (one
    curve per class, one-vs-rest: calib["classes"][name]) or "regression" (mean observed against mean
    predicted per bin, with the identity line; CITL = mean of observed - predicted).
    """
    kind = calib.get("kind")
    if kind == "multiclass":
        stats = list(calib["classes"].items())
    elif kind in ("binary", "regression"):
        stats = [("model", calib)]
    else:
        raise ValueError(f"calibration kind must be binary, multiclass or regression; got {kind!r}")
    names = names or {}
    flexible = bool(curves) and kind != "regression"
    if flexible:
        lines, bands = [([0.0, 1.0], [0.0, 1.0], dict(color="grey", linestyle=":", linewidth=1,
                                                      label="perfect calibration"))], []
        for (name, c), (label, fc) in zip(stats, curves.items()):
            shown = names.get(str(label), str(label)) if kind == "multiclass" else "model"
            if fc.get("lower") is not None and fc.get("n_valid"):
                bands.append((fc["risk"], fc["lower"], fc["upper"], BAND_LABEL))
            lines.append((fc["risk"], fc["observed"], dict(linewidth=2, label=_calibration_label(shown, c))))
        what = "positive class" if kind == "binary" else "one-vs-rest per class"
        frame = _Frame(f"Calibration ({what}): flexible curve", "predicted risk", "observed risk (spline fit)",
                       (0.0, 1.0), (0.0, 1.0), square=True,
                       histogram="count" if risks is not None else None)
        histogram = None
        if risks is not None:
            histogram = (np.asarray(risks, dtype=float), np.linspace(0, 1, 51),
                         f"predicted risks ({len(risks)} predictions)")
        _draw(frame, lines, path, bands=tuple(bands), histogram=histogram)
        return
    points = [v for _, c in stats for key in ("predicted", "observed") for v in c["curve"][key]]
    if kind == "regression":
        lo, hi = _round_limits(min(points), max(points), pad=0.25) if points else (0.0, 1.0)
    else:
        lo, hi = 0.0, 1.0
    lines = [([lo, hi], [lo, hi], dict(color="grey", linestyle=":", linewidth=1, label="perfect calibration"))]
    lines += [(c["curve"]["predicted"], c["curve"]["observed"],
               dict(marker="o", markersize=4, linewidth=1.4, label=_calibration_label(name, c))) for name, c in stats]
    n_bins = stats[0][1].get("n_bins", "")
    if kind == "regression":
        frame = _Frame(f"Calibration: observed vs predicted ({n_bins} quantile bins)", "mean predicted value",
                       "mean observed value", (lo, hi), (lo, hi), square=True)
    else:
        what = "positive class" if kind == "binary" else "one-vs-rest per class"
        frame = _Frame(f"Calibration ({what}, {n_bins} quantile bins)", "mean predicted probability",
                       "observed fraction of events", (lo, hi), (lo, hi), square=True)
    _draw(frame, lines, path)


def plot_decision_curve(dca_frame: pd.DataFrame, path, *, band: Optional[Mapping] = None,
                        positive: Optional[str] = None) -> None:
    """Decision curve (from medsweep.evaluate.evaluation.decision_curve: threshold, net_benefit, treat_all,
    treat_none): net benefit of the model, of treating everyone and of treating no one, per threshold
    probability, with the model's pointwise bootstrap ``band`` (evaluate.curves.net_benefit_band). The y-axis
    runs from a little below 0 (treat-all falls steeply towards high thresholds) to a little above the largest
    net benefit. ``positive``: the name of the positive class (who is treated)."""
    t = dca_frame["threshold"].to_numpy(dtype=float)
    model, treat_all = dca_frame["net_benefit"].to_numpy(dtype=float), dca_frame["treat_all"].to_numpy(dtype=float)
    who = f" as {positive}" if positive else ""
    lines = [(t, model, dict(color="tab:blue", linewidth=2, label="model")),
             (t, treat_all, dict(color="tab:gray", linewidth=1.2, label=f"treat all{who}")),
             (t, dca_frame["treat_none"].to_numpy(dtype=float), dict(color="black", linestyle="--", linewidth=1.2,
                                                                     label="treat none"))]
    bands = [(band["threshold"], band["lower"], band["upper"], BAND_LABEL)] if band and band.get("n_valid") else []
    finite = np.concatenate([model[np.isfinite(model)], treat_all[np.isfinite(treat_all)], [0.0]]
                            + ([band["upper"][np.isfinite(band["upper"])]] if bands else []))
    top = max(float(finite.max()), 0.01)
    frame = _Frame("Decision curve: net benefit per threshold probability", "threshold probability",
                   "net benefit", (float(t.min()), float(t.max())) if len(t) else (0.0, 1.0),
                   _round_limits(-0.15 * top, 1.1 * top, pad=0))
    _draw(frame, lines, path, bands=tuple(bands))
