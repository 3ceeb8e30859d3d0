"""The sample size, fairness and missing-data parts of what people read about a job (issue 26), from its record:
each part as a titled table of plain text (``Part``), rendered as Markdown in the model card
(``card_sections``) and as HTML in report.html (the template's "clinical" block, autoescaped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from medsweep.escape import md_text
from medsweep.record.job_record import JobRecord
from medsweep.report.number_text import number

CRITERIA = {"shrinkage": "1. shrinkage >= 0.9", "r2_optimism": "2. optimism in R2 <= 0.05",
            "overall_risk": "3. overall risk within +-0.05", "residual_sd": "3. residual SD (MMOE 1.1)",
            "mean_outcome": "4. mean outcome (MMOE 1.1)"}
RATE_NAMES = {"tpr": "TPR", "fpr": "FPR", "ppv": "PPV", "selection_rate": "selection rate"}
GAP_NAMES = {"equalized_odds_difference": "equalized-odds difference", "equalized_odds_ratio": "equalized-odds ratio",
             "demographic_parity_difference": "demographic-parity difference",
             "demographic_parity_ratio": "demographic-parity ratio"}


@dataclass
class Part:
    title: str
    lines: list[str] = field(default_factory=list)   # sentences before the table
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _num(x: Any, digits: int = 3) -> str:
    return number(x, digits)


def _ci(value: Any, lower: Any, upper: Any) -> str:
    if value is None:
        return "-"
    return _num(value) if lower is None or upper is None else f"{_num(value)} ({_num(lower)}-{_num(upper)})"


def _share(x: Any) -> str:
    return "-" if not isinstance(x, (int, float)) else f"{100 * x:.1f}%"


def sample_size_part(record: JobRecord) -> Optional[Part]:
    size = record.sample_size
    if not isinstance(size, dict):
        return None
    part = Part("Sample size (Riley et al. 2019; 2020)")
    if not size.get("criteria"):
        part.lines.append(f"{size.get('n')} {size.get('unit', 'patients')}: {size.get('note', 'not computed')}.")
        return part
    a = size.get("anticipated") or {}
    if size.get("outcome") == "binary":
        part.lines += [f"The data: {size['n']} {size['unit']}, {size['events']} with the outcome (prevalence "
                       f"{_num(size.get('prevalence'))}), {size['parameters']} candidate parameters (columns after "
                       f"encoding): {_num(size.get('epp'), 1)} events per parameter.",
                       f"Anticipated: C statistic {_num(a.get('c_statistic'), 2)} (eval.sample_size.c_statistic), "
                       f"so Cox-Snell R2 {_num(a.get('r2_cs'))} of at most {_num(a.get('max_r2_cs'))} (Nagelkerke "
                       f"{_num(a.get('nagelkerke_r2'))})."]
        part.header = ["criterion", "required n", "events", "EPP", "met"]
        part.rows = [[CRITERIA.get(c["criterion"], c["criterion"]), _num(c["n"]), _num(c.get("events")),
                      _num(c.get("epp"), 1), "yes" if size["n"] >= c["n"] else "NO"] for c in size["criteria"]]
    else:
        part.lines += [f"The data: {size['n']} {size['unit']}, {size['parameters']} candidate parameters; outcome "
                       f"mean {_num(a.get('mean'))}, SD {_num(a.get('sd'))}; anticipated adjusted R2 "
                       f"{_num(a.get('r2'), 2)} (eval.sample_size.r2)."]
        part.header = ["criterion", "required n", "subjects per parameter", "met"]
        part.rows = [[CRITERIA.get(c["criterion"], c["criterion"]), _num(c["n"]), _num(c.get("spp"), 1),
                      "-" if c["n"] is None else "yes" if size["n"] >= c["n"] else "NO"] for c in size["criteria"]]
    required = size.get("required") or {}
    verdict = "met" if size.get("meets") else "NOT met: expect overfitting"
    part.lines.append(f"Minimum: {required.get('n')}; {verdict}.")
    return part


def fairness_parts(record: JobRecord) -> list[Part]:
    fairness = ((record.evaluation or {}).get("subgroups") or {}).get("fairness") or {}
    parts = []
    for column, f in fairness.items():
        part = Part(f"Fairness by {column} (at the operating point)")
        gaps = f.get("gaps") or {}
        if gaps:
            part.lines.append("; ".join(f"{GAP_NAMES[k]} {_ci(g.get('value'), g.get('lower'), g.get('upper'))}"
                                        for k, g in gaps.items() if k in GAP_NAMES) + ".")
        flagged = f.get("flagged") or []
        part.lines.append("Flagged (the 95% CI of the difference between the groups defining a gap excludes 0): "
                          + (", ".join(flagged) if flagged else "none") + ".")
        if f.get("note"):
            part.lines.append(f["note"] + ".")
        part.header = ["group", "patients", "events"] + list(RATE_NAMES.values()) + ["note"]
        part.rows = [[str(g.get("subgroup")), _num(g.get("patients")), _num(g.get("events"))]
                     + [_ci(g.get(r), g.get(f"{r}_lower"), g.get(f"{r}_upper")) for r in RATE_NAMES]
                     + [str(g.get("note") or "")] for g in f.get("groups") or []]
        parts.append(part)
    return parts


def missing_data_part(record: JobRecord) -> Optional[Part]:
    missing = record.missing_data
    if not isinstance(missing, dict):
        return None
    imputation = missing.get("imputation") or {}
    part = Part("Missing data (TRIPOD+AI item 9)")
    part.lines.append(f"Imputation ({imputation.get('setting')}), fitted {imputation.get('fitted')}: numbers with the "
                      f"{imputation.get('numeric')}; text with the {imputation.get('text')}.")
    part.lines.append(f"{missing.get('complete_rows')} of {missing.get('rows')} rows have no missing feature.")
    features = [f for f in missing.get("features") or [] if f.get("missing")]
    if not features:
        part.lines.append("No feature has a missing value.")
        return part
    site = missing.get("site")
    part.header = ["feature", "kind", "missing", "by outcome class"] + ([f"by {site}"] if site else [])
    for f in features:
        row = [str(f["feature"]), str(f.get("kind")), f"{f['missing']} ({_share(f.get('share'))})",
               ", ".join(f"{k} {_share(v)}" for k, v in (f.get("by_class") or {}).items()) or "-"]
        if site:
            row.append(", ".join(f"{k} {_share(v)}" for k, v in (f.get("by_site") or {}).items()) or "-")
        part.rows.append(row)
    return part


def clinical_parts(record: JobRecord) -> list[Part]:
    """Every part the record has: sample size, fairness (per subgroup column), missing data."""
    return [p for p in (sample_size_part(record), *fairness_parts(record), missing_data_part(record)) if p]


def card_sections(record: JobRecord) -> list[str]:
    """The parts as Markdown sections of the model card (every text cell escaped)."""
    out: list[str] = []
    for part in clinical_parts(record):
        out += ["", f"## {md_text(part.title)}", ""] + [f"- {md_text(line)}" for line in part.lines]
        if part.rows:
            out += ["", f"| {' | '.join(md_text(h) for h in part.header)} |",
                    f"|{'|'.join('---' for _ in part.header)}|"]
            out += [f"| {' | '.join(md_text(c) for c in row)} |" for row in part.rows]
    return out[1:]
