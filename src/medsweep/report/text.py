"""The leaderboard as plain text for the terminal (printed at the end of a sweep and by `medsweep summarize`)."""

from __future__ import annotations

from typing import Optional

from medsweep.record.sweep_dir import job_numbers
from medsweep.report import cells
from medsweep.report.sweep_plot import short_overrides
from medsweep.report.table import Board, leaderboard, not_completed, pruned_rows

# The terminal leaderboard shows this many jobs per model; summary.md has all.
TERMINAL_TOP = 15


def format_leaderboard(summary: dict, top: Optional[int] = TERMINAL_TOP, boards: Optional[list[Board]] = None,
                       not_completed_jobs: bool = True) -> str:
    """The leaderboard as plain text for the terminal: per model, the best ``top`` jobs (None: all),
    then every job that did not complete with its one-line error (``not_completed_jobs=False``: not those, where
    the caller lists them: the sweep's console says each error once). ``boards``: the summary's leaderboard
    (table.leaderboard of its jobs), where the caller has it already."""
    rows = summary["jobs"]
    boards = leaderboard(rows) if boards is None else boards
    s = summary.get("sweep", {})
    counts = ", ".join(f"{n} {k}" for k, n in s.get("counts", {}).items() if n)
    lines = [f"Sweep {s.get('dir', '')}: {len(rows)} jobs ({counts or 'none'})"]
    if s.get("tracking"):
        lines.append(str(s["tracking"]))
    opt = summary.get("optimization")
    if opt:
        lines.append(f"Best ({opt.get('name')}): {opt.get('best_value')} with {opt.get('best_params')}"
                     if not opt.get("pareto_front") else
                     f"Pareto front ({', '.join(opt.get('objectives') or [])}): trials "
                     + ", ".join(f"#{r.get('job')}" for r in opt["pareto_front"] if isinstance(r, dict)))
        lines.append(f"  {opt['note']}")
    for board in boards:
        lines += ["", board.title]
        group = board.rows
        shown = group if top is None else group[:top]
        width = max(len(str(r["estimator"])) for r in shown)
        for rank, r in enumerate(shown, 1):
            extra = "".join(f"  [{h.split(' (')[0].split(':')[0].split(',')[0]}: {f(r)}]" for h, f in board.columns[2:]
                            if f(r) != "-")
            lines.append(f"  {rank:>3}. #{r['job']:<4} {str(r['estimator']):<{width}}  "
                         f"{cells.row_ci(r):<21}  {cells.row_mean(r)}  {cells.duration(r):>7}  "
                         f"{short_overrides(r['overrides'].split())}{extra}")
        if len(group) > len(shown):
            lines.append(f"  ... {len(group) - len(shown)} more in summary.md")
    if boards:
        lines += ["", "Pooled: one value over all folds' out-of-fold predictions (ranked, 95% patient-bootstrap "
                      "interval); mean ± SD (ddof=0) over folds; BBC-CV: the selected job's bias-corrected score; "
                      "vs-best p Holm-adjusted. Details in summary.md."]
    seeds = summary.get("across_seeds") or []
    if seeds:
        lines += ["", cells.SEEDS_TITLE] + [f"  {c}: {f}" for c, f in cells.seed_lines(seeds)]
    # The same warning of several jobs (e.g. the data's sample size, in every job on them) is one line naming them.
    warned: dict[tuple[str, str], list] = {}
    for job, kind, message in cells.warning_lines(rows, limit=120):
        warned.setdefault((kind, message), []).append(job)
    if warned:
        lines += ["", "Warnings"]
        groups = list(warned.items())
        shown = groups if top is None else groups[: max(top, 20)]
        lines += [f"  {_jobs(jobs):<5} {kind}: {message}" for (kind, message), jobs in shown]
        if len(groups) > len(shown):
            lines.append(f"  ... {len(groups) - len(shown)} more in summary.md")
    pruned = pruned_rows(rows)
    if pruned:
        lines += ["", "Pruned (stopped early by a search; not failures)"]
        shown = pruned if top is None else pruned[: max(top, 20)]
        lines += [f"  #{r['job']:<4} {r['overrides']}: {r.get('pruned') or ''}" for r in shown]
        if len(pruned) > len(shown):
            lines.append(f"  ... {len(pruned) - len(shown)} more in summary.md")
    bad = not_completed(rows) if not_completed_jobs else []
    if bad:
        lines += ["", "Not completed"]
        shown = bad if top is None else bad[: max(top, 20)]
        for r in shown:
            lines.append(f"  #{r['job']:<4} {r['status']:<11} {r['overrides']}: "
                         f"{(r['error_type'] + ': ') if r.get('error_type') else ''}{r.get('error') or ''}")
        if len(bad) > len(shown):
            lines.append(f"  ... {len(bad) - len(shown)} more in summary.md")
    return "\n".join(lines)


def _jobs(jobs: list) -> str:
    """'#0-#11' for job numbers; as they are for anything else (a damaged job's name)."""
    return job_numbers(jobs) if all(isinstance(j, int) for j in jobs) else ", ".join(f"#{j}" for j in jobs)
