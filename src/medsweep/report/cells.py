"""The text of a summary's figures, shared by the terminal, Markdown and HTML renderers so that the three say
the same numbers the same way: "0.781 (0.712-0.850)", "0.7800 ± 0.0082", the comparison with the best job,
BBC-CV, never-seen patients, flags. Each function takes one summary row (table.py) and returns plain text;
escaping is the renderer's.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from medsweep.escape import one_line
from medsweep.report.ranking import MEAN, POOLED

# The seed moves the fold assignment of every job, and the training randomness of randomised estimators only.
SEEDS_TITLE = "Across seeds (fold assignment and training randomness)"
SEEDS_NOTE = ("The seed reshuffles the folds of every job and, for a randomised estimator (random_forest, mlp, "
              "...), its training: for a deterministic one (logreg) the spread over seeds is fold-partition "
              "variance alone. Both standard deviations are population SDs (ddof=0), as metrics.json's std.")

Column = tuple[str, Callable[[dict], str]]


def fmt(mean, std) -> str:
    return f"{mean:.4f} ± {std:.4f}" if std is not None else f"{mean:.4f}"


def ci(pooled, lower, upper) -> str:
    """The pooled out-of-fold value with its 95% interval: `0.781 (0.712-0.850)`."""
    if pooled is None:
        return "-"
    return f"{pooled:.3f} ({lower:.3f}-{upper:.3f})" if lower is not None and upper is not None else f"{pooled:.3f}"


def row_ci(row: dict) -> str:
    return ci(row.get("primary_pooled"), row.get("primary_lower"), row.get("primary_upper"))


def row_mean(row: dict) -> str:
    return fmt(row["primary_mean"], row["primary_std"])


def row_test(row: dict) -> str:
    if row.get("test_value") is None:
        return "-"
    return f"{ci(row['test_value'], row.get('test_lower'), row.get('test_upper'))} {row.get('test_source') or ''}".strip()


def row_vs_best(row: dict, top: Optional[dict] = None) -> str:
    """The corrected resampled t-test against the best job on the same folds (compare.py), Holm-adjusted
    within those jobs. "best" marks one job per leaderboard table (``top``, its first row): the best of jobs
    scored on other folds (another seed) says so instead."""
    if row.get("vs_best_job") is None:
        return row.get("comparison_note") or "-"
    if row["vs_best_job"] == row["job"]:
        if top is None or top["job"] == row["job"]:
            return "best"
        # The table's first job is on other folds, unless the table is ranked by the mean (a job without a
        # pooled value) and the first is in this group, whose best is by the pooled value.
        where = "" if top.get("vs_best_job") == row["job"] else ": other folds"
        return f"best on its own folds (#{top['job']} ranks first{where})"
    verdict = "different" if row.get("distinguishable") else "not distinguishable"
    p = row.get("vs_best_p_holm", row.get("vs_best_p"))
    return (f"{row['vs_best_diff']:+.3f} ({row['vs_best_lower']:+.3f} to {row['vs_best_upper']:+.3f}), "
            f"Holm p={p:.3f}: {verdict} from #{row['vs_best_job']}")


def row_bbc(row: dict) -> str:
    """The selected job's BBC-CV estimate with its interval, and how many configurations it was picked from."""
    if row.get("bbc_estimate") is not None:
        left_out = f" ({row['bbc_pruned']} pruned left out)" if row.get("bbc_pruned") else ""
        return (f"{ci(row['bbc_estimate'], row.get('bbc_lower'), row.get('bbc_upper'))} of "
                f"{row['bbc_configurations']}{left_out}")
    return "not computed (see bbc_note)" if row.get("bbc_note") else "-"


def row_flags(row: dict) -> str:
    """SYNTHETIC data and the job's warnings (their kinds), or "-"."""
    flags = ["SYNTHETIC data"] if row.get("synthetic") else []
    warnings = row.get("warnings") or []
    if warnings:
        kinds = sorted({w["kind"] for w in warnings})
        flags.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}: {', '.join(kinds)}")
    return "; ".join(flags) or "-"


def duration(row: dict) -> str:
    return f"{row['duration_s']:.1f}s" if isinstance(row.get("duration_s"), (int, float)) else "-"


def error(row: dict) -> str:
    """A job's error as "ErrorType: message" (or the message alone)."""
    return f"{row['error_type']}: {row['error']}" if row.get("error_type") else (row.get("error") or "")


def columns(group: list[dict], by: str) -> list[Column]:
    """A leaderboard table's figure columns: (header, row -> text), the ranked figure ``by`` first; BBC-CV,
    hold-out, comparison and flags only where present."""
    top = group[0] if group else None
    cols: list[Column] = [("pooled (95% CI)" + (", ranked" if by == POOLED else ""), row_ci),
                          ("mean ± SD over folds" + (", ranked" if by == MEAN else ""), row_mean)]
    if any(r.get("bbc_estimate") is not None or r.get("bbc_note") for r in group):
        cols.append(("BBC-CV, selected job (95% CI) of n configurations", row_bbc))
    if any(r.get("test_value") is not None for r in group):
        cols.append(("never-seen patients (95% CI)", row_test))
    if any(r.get("vs_best_diff") is not None for r in group):
        cols.append(("vs best: mean fold difference (95% CI), Holm p", lambda r: row_vs_best(r, top)))
    if any(row_flags(r) != "-" for r in group):
        cols.append(("flags", row_flags))
    return cols


def seed_lines(seeds: list[dict]) -> list[tuple[str, str]]:
    """(configuration, figures) per configuration run with several seeds (table.across_seeds)."""
    return [(f"{g['model']} {g['configuration']}",
             f"{g['metric']} {g['mean']:.4f} ± {g['std_over_seeds']:.4f} over seeds {g['seeds']} "
             f"(range {g['min']:.4f}-{g['max']:.4f}; mean SD over folds: "
             f"{'-' if g['mean_std_over_folds'] is None else format(g['mean_std_over_folds'], '.4f')})")
            for g in seeds]


def _cut(message: Optional[str], limit: Optional[int]) -> Optional[str]:
    if limit is None:
        return message
    return "" if message is None else one_line(message, limit)


def warning_lines(rows: list[dict], limit: Optional[int] = None) -> list[tuple[Any, str, str]]:
    """(job, kind, message) of every warning of every job (messages cut to ``limit`` characters)."""
    return [(r["job"], w["kind"], _cut(w["message"], limit)) for r in rows for w in r.get("warnings") or []]
