"""The instability plots of eval.instability (Riley & Collins 2023): left, each bootstrap model's predicted
risk of every row against the original model's (prediction instability), with the 2.5 and 97.5 percentiles
of the bootstrap risks; right, each bootstrap model's calibration curve on the original rows over the original
model's (calibration instability)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from medsweep.record.outputs import atomic_path  # noqa: E402

# Points drawn in the left panel at most (rows x bootstrap models): beyond it a random subset of models.
MAX_POINTS = 200_000


def plot_instability(original: np.ndarray, risks: np.ndarray, rows: dict, path) -> None:
    """Write the two panels to ``path`` (PNG): ``original`` (rows), ``risks`` (B x rows), ``rows``:
    evaluate.instability's per-row values ("lower", "upper", "curves", "original_curve")."""
    fig = Figure(figsize=(11, 4.6), dpi=80)
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    B, n = risks.shape
    show = np.arange(B) if B * n <= MAX_POINTS else np.random.default_rng(0).choice(B, MAX_POINTS // n, False)
    left.scatter(np.tile(original, len(show)), risks[show].ravel(), s=2, alpha=0.15, color="tab:blue",
                 rasterized=True)
    order = np.argsort(original)
    left.plot(original[order], rows["lower"][order], color="black", ls="--", lw=1, label="2.5 / 97.5 percentiles")
    left.plot(original[order], rows["upper"][order], color="black", ls="--", lw=1)
    left.plot([0, 1], [0, 1], color="grey", lw=1)
    left.set(xlim=(0, 1), ylim=(0, 1), xlabel="risk, original model", ylabel="risk, bootstrap models",
             title=f"Prediction instability ({B} bootstrap models)")
    left.legend(fontsize="small", loc="upper left")
    for curve in rows["curves"]:
        right.plot(curve["predicted"], curve["observed"], color="tab:blue", alpha=0.15, lw=0.8)
    oc = rows["original_curve"]
    right.plot(oc["predicted"], oc["observed"], color="black", lw=2, marker="o", ms=3, label="original model")
    right.plot([0, 1], [0, 1], color="grey", lw=1)
    right.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted risk", ylabel="observed share",
              title="Calibration instability (curves on the original rows)")
    right.legend(fontsize="small", loc="upper left")
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.92, wspace=0.2)  # (tight_layout: seconds)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
