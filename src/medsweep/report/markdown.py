"""summary.md: the sweep's leaderboard and its notes as Markdown. Every text from job files, configs or data
goes through one escaper (medsweep.escape: md_text, md_code, link, shared with model_card.md), so a column
named ``<img onerror=...>`` or ``![px](http://host/pixel.png)`` is shown, never rendered."""

from __future__ import annotations

import json

from medsweep.escape import link, md_code, md_text
from medsweep.record.files import METRICS_FILE
from medsweep.report import cells, pareto
from medsweep.report.table import FIGURES, Board, not_completed, pruned_rows


def render(summary: dict, boards: list[Board]) -> str:
    """summary.md of ``summary`` (what summary.json holds) and its leaderboard ``boards`` (table.leaderboard)."""
    s, rows = summary["sweep"], summary["jobs"]
    out = [f"# Sweep summary: {md_text(s['dir'])}", ""]
    for key in ("command", "started_at", "finished_at", "launcher", "n_jobs"):
        if s.get(key) is not None:
            out.append(f"- {key}: {md_code(s[key])}")
    if s.get("tracking"):
        out.append(f"- tracking: {md_text(s['tracking'])}")
    out.append("- jobs: " + ", ".join(f"{n} {k}" for k, n in s["counts"].items()) + f" (total {len(rows)})")
    opt = summary.get("optimization")
    if opt:
        out += [f"- best value ({md_text(opt.get('name'))}): {md_text(opt.get('best_value'))}",
                f"- best params: {md_code(json.dumps(opt.get('best_params'), sort_keys=True))}",
                ][:0 if pareto.front(opt) else 2] + [f"- {md_text(opt['note'])}"]
        out += pareto.markdown(opt)
    if boards:
        out += ["", f"Figures: {md_text(FIGURES)}"]
    for board in boards:
        cols = board.columns
        out += ["", f"## {md_text(board.title)}", "",
                "| rank | job | estimator | overrides | " + " | ".join(h for h, _ in cols) + " | duration |",
                "|---:|---:|---|---|" + "---|" * len(cols) + "---:|"]
        for rank, r in enumerate(board.rows, 1):
            out.append(f"| {rank} | [{r['job']}]({link(r['dir'])}/{METRICS_FILE}) | {md_text(r['estimator'])} | "
                       f"{md_code(r['overrides'])} | " + " | ".join(md_text(f(r)) for _, f in cols) +
                       f" | {cells.duration(r)} |")
    seeds = summary.get("across_seeds") or []
    if seeds:
        out += ["", f"## {cells.SEEDS_TITLE}", "", md_text(cells.SEEDS_NOTE), ""] + \
            [f"- {md_text(c)}: {md_text(f)}" for c, f in cells.seed_lines(seeds)]
    notes = [(r["job"], r["bbc_note"]) for r in rows if r.get("bbc_note")]
    if notes:
        out += ["", "## BBC-CV not computed", ""] + [f"- job {job}: {md_text(note)}" for job, note in notes]
    warned = cells.warning_lines(rows)
    if warned:
        out += ["", "## Warnings", "", "| job | kind | message |", "|---:|---|---|"]
        out += [f"| {job} | {md_text(kind)} | {md_text(message)} |" for job, kind, message in warned]
    pruned = pruned_rows(rows)
    if pruned:
        out += ["", "## Pruned", "", "Stopped early by a search (racing, an Optuna pruner): not failures.", "",
                "| job | overrides | why |", "|---:|---|---|"]
        out += [f"| [{r['job']}]({link(r['dir'])}/{METRICS_FILE}) | {md_code(r['overrides'])} | "
                f"{md_text(r.get('pruned') or '')} |" for r in pruned]
    bad = not_completed(rows)
    if bad:
        out += ["", "## Not completed", "", "| job | status | overrides | error |", "|---:|---|---|---|"]
        for r in bad:
            out.append(f"| [{r['job']}]({link(r['dir'])}/) | {md_text(r['status'])} | {md_code(r['overrides'])} | "
                       f"{md_text(cells.error(r))} |")
    return "\n".join(out) + "\n"
