"""The model card's sections on validation across sites (data.site) and on instability (eval.instability),
from the job's record; empty (left out) for a job without them."""

from __future__ import annotations

from typing import Any

from medsweep.escape import md_text
from medsweep.record.files import FOREST_PLOT_FILE, INSTABILITY_PLOT_FILE
from medsweep.record.job_record import JobRecord
from medsweep.report.number_text import number


def _num(x: Any, digits: int = 3) -> str:
    return number(x, digits)


def _row(cells: list[str]) -> str:
    return f"| {' | '.join(cells)} |"


def sites_section(record: JobRecord) -> list[str]:
    sites = record.sites
    if not isinstance(sites, dict) or not sites.get("per_site"):
        return []
    out = ["## Validation across sites", "",
           f"Internal-external cross-validation over the {sites.get('k')} sites of column "
           f"{md_text(sites.get('column'))}: each site held out once, the model trained on the others "
           f"(TRIPOD+AI 12d, 23b; plot: {FOREST_PLOT_FILE}).", "",
           _row(["site", "patients", "events", "ROC-AUC (95% CI)"]), "|---|---|---|---|"]
    for s in sites["per_site"]:
        auc = (s.get("metrics") or {}).get("roc_auc") or {}
        ci = f" ({_num(auc.get('lower'))}-{_num(auc.get('upper'))})" if auc.get("lower") is not None else ""
        out.append(_row([md_text(s.get("site")), str(s.get("patients")), str(s.get("events") if s.get("events")
                                                                              is not None else "-"),
                         _num(auc.get("value")) + ci]))
    meta = sites.get("meta_analysis") or {}
    if meta:
        out += ["", f"Random-effects meta-analysis ({md_text(sites.get('meta_method'))}; "
                    f"{md_text(sites.get('variance'))}):", "",
                _row(["measure", "pooled (95% CI)", "95% prediction interval", "tau2", "I2", "heterogeneous"]),
                "|---|---|---|---|---|---|"]
        for name, m in meta.items():
            if "estimate" not in m:
                out.append(_row([md_text(name), md_text(m.get("note", "-")), "-", "-", "-", "-"]))
                continue
            pi = f"{_num(m.get('pi_lower'))} to {_num(m.get('pi_upper'))}" if m.get("pi_lower") is not None else "-"
            flag = {True: "**yes**", False: "no", None: "-"}[m.get("heterogeneous")]
            out.append(_row([md_text(name), f"{_num(m['estimate'])} ({_num(m['lower'])}-{_num(m['upper'])})", pi,
                             _num(m.get("tau2"), 4), f"{_num(100 * m['i2'], 0)}%", flag]))
    return out


def instability_section(record: JobRecord) -> list[str]:
    ins = record.instability
    if not isinstance(ins, dict) or not ins.get("n_refits"):
        return []
    out = ["## Instability", "",
           f"The final pipeline refitted on {ins['n_refits']} bootstrap samples of {md_text(ins.get('resampled'))} "
           f"(Riley & Collins 2023; plot: {INSTABILITY_PLOT_FILE}).", "",
           f"- **Mean absolute prediction error** (bootstrap vs original model): {_num(ins.get('mape'), 4)} "
           f"(largest for one row: {_num(ins.get('mape_max'), 4)})",
           f"- **95% range of a row's bootstrap risks**: median width {_num((ins.get('interval_width') or {}).get('median'))}, "
           f"largest {_num((ins.get('interval_width') or {}).get('max'))}"]
    c = ins.get("classification")
    if c:
        out.append(f"- **Classification at threshold {_num(c['threshold'], 4)}**: a row is classified differently by "
                   f"{_num(100 * c['mean_flip_share'], 1)}% of the bootstrap models on average; "
                   f"{_num(100 * c['rows_ever_flipped'], 1)}% of rows by at least one, "
                   f"{_num(100 * c['rows_flipped_over_20pct'], 1)}% by more than 20%")
    corrected = ins.get("optimism_corrected") or {}
    if corrected:
        out += ["", _row(["measure", "apparent", "optimism", "optimism-corrected (Harrell)", "cross-validated"]),
                "|---|---|---|---|---|"]
        for name, m in corrected.items():
            out.append(_row([md_text(name), _num(m.get("apparent"), 4), _num(m.get("optimism"), 4),
                             _num(m.get("corrected"), 4), _num(m.get("cross_validated"), 4)]))
    return out
