"""The forest plot of a job validated across sites (data.site): one panel per measure of metrics.json's
"sites" (ROC-AUC, calibration slope, calibration-in-the-large, net benefit at each reported threshold), each
site's estimate with its 95% interval (estimate ± 1.96 x the within-site standard error the meta-analysis
used; ROC-AUC on the logit scale, back-transformed), the pooled estimate as a diamond (its confidence
interval) and the 95% prediction interval for a new site as a bar below it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medsweep.record.outputs import atomic_path  # noqa: E402

TITLES = {"roc_auc": "ROC-AUC", "calibration_slope": "Calibration slope", "citl": "Calibration-in-the-large"}
REFERENCE = {"roc_auc": 0.5, "calibration_slope": 1.0, "citl": 0.0}


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _site_rows(sites: Mapping, name: str) -> list[tuple[str, float, float, float]]:
    """(site, estimate, lower, upper) of each site with the measure and its variance."""
    key = "logit_roc_auc" if name == "roc_auc" else name
    rows = []
    for s in sites["per_site"]:
        m = s.get("measures", {}).get(key, {})
        if m.get("value") is None or m.get("variance") is None:
            continue
        half = 1.959964 * math.sqrt(m["variance"])
        est, lo, hi = m["value"], m["value"] - half, m["value"] + half
        if name == "roc_auc":
            est, lo, hi = _expit(est), _expit(lo), _expit(hi)
        rows.append((s["site"], est, lo, hi))
    return rows


def plot_forest(sites: Mapping, path) -> None:
    """Write the forest plot of ``sites`` (metrics.json's "sites") to ``path`` (PNG)."""
    names = list(sites.get("meta_analysis", {}))
    cols = min(3, max(1, len(names)))
    rows_n = max(1, math.ceil(len(names) / cols))
    k = sites.get("k", len(sites.get("per_site", [])))
    height = 0.9 + (0.32 * (k + 3) + 0.6) * rows_n
    fig = Figure(figsize=(4.2 * cols, height), dpi=80)
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows_n, cols, i + 1)
        meta = sites["meta_analysis"][name]
        rows = _site_rows(sites, name)
        for j, (label, est, lo, hi) in enumerate(rows):
            ax.plot([lo, hi], [j, j], color="black", lw=1)
            ax.plot([est], [j], "s", color="black", ms=4)
        labels = [r[0] for r in rows]
        y = len(rows)
        if "estimate" in meta:
            est, lo, hi = meta["estimate"], meta["lower"], meta["upper"]
            ax.fill([lo, est, hi, est], [y, y + 0.3, y, y - 0.3], color="tab:blue")
            labels.append("pooled")
            if meta.get("pi_lower") is not None:
                ax.plot([meta["pi_lower"], meta["pi_upper"]], [y + 1, y + 1], color="tab:red", lw=3)
                labels.append("prediction")
        ref = REFERENCE.get(name, 0.0)
        ax.axvline(ref, color="grey", ls=":", lw=1)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        flag = " (heterogeneous)" if meta.get("heterogeneous") else ""
        title = TITLES.get(name, name.replace("net_benefit_", "Net benefit at "))
        ax.set_title(f"{title}{flag}", fontsize=9, color="#b00" if flag else "black")
        if "tau2" in meta:
            ax.set_xlabel(f"tau2 {meta['tau2']:.3g}, I2 {100 * meta['i2']:.0f}%", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Across {k} sites of {sites.get('column', 'site')!s}: site estimates (95% CI), pooled "
                 f"(diamond), 95% prediction interval (red)", fontsize=9)
    # Fixed margins: tight_layout measured every label and took seconds on a 3 x 3 grid.
    fig.subplots_adjust(left=0.07, right=0.98, top=1 - 0.55 / height, bottom=0.5 / height, wspace=0.35,
                        hspace=0.9 / (0.32 * (k + 3) + 0.6) + 0.25)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
