"""The Pareto front of a search with several objectives (hparams_search=optuna,
``hydra.sweeper.objectives=[roc_auc, calibration_slope_distance]``), as summary.json, summary.md and
report.html show it: the trials no other trial beats on every objective, from optimization_results.yaml's
``pareto_front`` ([{job, values: {objective: value}, params}], written by the sweeper)."""

from __future__ import annotations

from typing import Any, Optional

from medsweep.escape import md_code, md_text

TITLE = "Pareto front"
NOTE = ("Trials no other trial beats on every objective (each objective's value as the search optimised it: "
        "a metric's mean over folds; calibration_slope_distance: |pooled calibration slope - 1|); choosing "
        "among them is a clinical trade-off. pareto_front.csv holds the same rows.")


def front(opt: Optional[dict]) -> list[dict]:
    """The front's rows ({job, values, params}), [] for a search with one objective or a damaged file."""
    rows = (opt or {}).get("pareto_front")
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("values"), dict)]


def objective_names(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(name for r in rows for name in r["values"]))


def _value(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


def table(opt: Optional[dict]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of plain text cells: job, each objective, the trial's params (for report.html)."""
    rows = front(opt)
    names = objective_names(rows)
    return (["job", *names, "params"],
            [[str(r.get("job")), *(_value(r["values"].get(n)) for n in names),
              " ".join(f"{k}={v}" for k, v in (r.get("params") or {}).items())] for r in rows])


def markdown(opt: Optional[dict]) -> list[str]:
    """summary.md's section ([] without a front)."""
    header, rows = table(opt)
    if not rows:
        return []
    out = ["", f"## {TITLE}", "", md_text(NOTE), "",
           "| " + " | ".join(md_text(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join([*(md_text(c) for c in row[:-1]), md_code(row[-1])]) + " |" for row in rows]
    return out
