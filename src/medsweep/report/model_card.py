"""The model card of a completed job (``model_card.md``): what the model is for, what it was trained and
validated on, how well it did with intervals, its calibration, clinical utility and operating point, the
software it ran with and the command that reproduces it. Built from the job's metrics.json only, so any
completed job's card can be (re)written later; text from data or configs (column names, classes,
descriptions, paths) is HTML-escaped, so it is shown and never rendered.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
from typing import Any, Optional

# Data-derived text as inert Markdown, and code spans their content cannot close: the escapers of summary.md
# too (escape.py). sha256 values come from metrics.json, which may be a file from elsewhere.
from medsweep.escape import md_code, md_text
from medsweep.record.files import METRICS_FILE, SUBGROUPS_FILE, JobPaths
from medsweep.record.job_record import JobRecord, read_record, record_warnings
from medsweep.record.outputs import atomic_path
from medsweep.report.clinical_sections import card_sections
from medsweep.report.records import Record, as_record
from medsweep.report.model_card_clinical import instability_section, sites_section
from medsweep.report.number_text import number

# -- Markdown pieces ---------------------------------------------------------------------------------------

def _code_block(lines: list[str]) -> list[str]:
    text = "\n".join(lines)
    fence = "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return [f"{fence}sh", text, fence]


def _num(x: Any, digits: int = 4) -> str:
    return number(x, digits)


def _interval(value: Any, lower: Any, upper: Any) -> str:
    """``0.7812 (0.7120-0.8500)``; the value alone where there is no interval (eval.n_boot=0)."""
    if value is None:
        return "-"
    if lower is None or upper is None:
        return _num(value)
    return f"{_num(value)} ({_num(lower)}-{_num(upper)})"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ([f"| {' | '.join(header)} |", f"|{'|'.join('---' for _ in header)}|"]
            + [f"| {' | '.join(row)} |" for row in rows])


def _names(values: Any) -> str:
    return ", ".join(md_text(v) for v in values) if values else "none"


# -- sections ----------------------------------------------------------------------------------------------

def _target(record: JobRecord) -> Optional[str]:
    excluded = (record.features or {}).get("excluded") or {}
    return next((c for c, reason in excluded.items() if reason == "target"), None)


def _intended_use(record: JobRecord) -> list[str]:
    target, classes = _target(record), record.classes
    if record.task == "regression":
        task = f"regression: predicts {md_text(target)}"
    elif classes and len(classes) == 2:
        positive = (record.operating_point or {}).get("positive_class", classes[-1])
        values = f" ({md_text(target)} in {_names(record.positive)})" if record.positive else ""
        task = (f"binary classification of {md_text(target)}: the probability of class {md_text(positive)}{values} "
                f"against {md_text(classes[0])}")
    else:
        task = f"classification of {md_text(target)} into {len(classes or [])} classes: {_names(classes)}"
    description = record.model_description
    data = record.data or {}
    out = ["## Intended use", "",
           f"- **Disease model**: {md_text(record.model)}"
           + (f": {md_text(description)}" if description else " (no description recorded)"),
           f"- **Task**: {task}",
           f"- **Estimator**: {md_text(record.estimator)}",
           "- **Use**: research. Validated only as described under *Validation* below, on the data below; "
           "a clinical use needs an external validation in the population it is meant for."]
    if data.get("synthetic"):
        out.append("- **Trained on a SYNTHETIC cohort, not real patients**: for testing the pipeline only.")
    return out


def _data(record: JobRecord) -> list[str]:
    data = record.data or {}
    out = ["## Data", "",
           f"- **Source**: {md_text(data.get('source'))}{' (synthetic)' if data.get('synthetic') else ''}, "
           f"name {md_text(data.get('name'))}" + (f", cohort seed {data['cohort_seed']}" if "cohort_seed" in data else ""),
           f"- **File**: {md_text(data['path'])}" if data.get("path") else "- **File**: none (embedded data)",
           f"- **sha256**: {md_code(data.get('sha256'))}",
           f"- **Table**: {data.get('rows')} rows x {data.get('columns')} columns; "
           f"{data.get('dropped_rows_missing_target', 0)} rows dropped for a missing target"]
    for key in ("licence", "citation"):
        if data.get(key):
            out.append(f"- **{key.capitalize()}**: {md_text(data[key])}")
    counts = (record.evaluation or {}).get("counts") or {}
    if counts:
        out += ["", f"Used for training and cross-validation: {counts.get('patients')} patients, "
                    f"{counts.get('rows')} rows.", ""]
        events = counts.get("events") or {}
        if events:
            with_ = counts.get("patients_with") or {}
            out += _table(["class", "rows", "patients with it"],
                          [[md_text(c), str(n), str(with_.get(c, "-"))] for c, n in events.items()])
    return out


def _features(record: JobRecord) -> list[str]:
    features = record.features or {}
    used, excluded = features.get("used") or [], features.get("excluded") or {}
    out = ["## Features", "", f"Used ({len(used)}): {_names(used)}", ""]
    if excluded:
        out += ["Left out:", ""] + _table(["column", "reason"], [[md_text(c), md_text(r)] for c, r in excluded.items()])
    return out


def _validation(record: JobRecord) -> list[str]:
    splits = record.splits or {}
    repeats = splits.get("repeats", record.extra.get("repeats"))
    design = (f"{record.folds}-fold cross-validation"
              + (f", {repeats} repeats" if repeats and repeats > 1 else "")
              + f" ({md_text(record.splitter)}), seed {record.seed}")
    grouped = record.n_groups != record.n_samples
    out = ["## Validation", "", f"- **Design**: {design}; "
           + ("patients never on both sides of a fold" if grouped else "one row per patient")]
    interval = (record.evaluation or {}).get("interval") or {}
    if interval:
        out.append(f"- **Intervals**: {md_text(interval.get('method'))}, level {interval.get('level')}, "
                   f"{interval.get('n_boot')} resamples of {md_text(interval.get('resampled'))}, seed {interval.get('seed')}")
    test = record.test
    if test:
        where = (f"hold-out of {test.get('fraction')} of the patients (data.seed {test.get('seed')})"
                 if test.get("source") == "holdout" else f"external file {md_text(test.get('path'))}, sha256 "
                                                          f"{md_code(test.get('sha256'))}")
        out.append(f"- **Never-seen patients**: {where}: {test.get('patients')} patients, {test.get('rows')} rows, "
                   "scored once by the final model")
    folds = ((record.evaluation or {}).get("counts") or {}).get("folds") or []
    if folds:
        classes = list((folds[0].get("events") or {}).keys())
        out += ["", "Test side of each fold:", ""]
        out += _table(["fold", "patients", "rows", *[f"rows {md_text(c)}" for c in classes]],
                      [[str(f.get("fold")), str(f.get("patients")), str(f.get("rows")),
                        *[str((f.get("events") or {}).get(c, "-")) for c in classes]] for f in folds])
    return out


def _performance(record: JobRecord) -> list[str]:
    primary = record.primary_metric
    rows = []
    for name, m in (record.metrics or {}).items():
        label = f"**{md_text(name)}** (primary)" if name == primary else md_text(name)
        rows.append([label, f"{_num(m.get('mean'))} ± {_num(m.get('std'))}",
                     _interval(m.get("pooled"), m.get("lower"), m.get("upper")),
                     ", ".join(_num(v) for v in m.get("folds") or [])])
    out = ["## Performance", "",
           "Out-of-fold, two figures per metric. **Pooled**: the metric computed once over the out-of-fold "
           "predictions of all folds together, i.e. of k different fold models, each predicting the patients it "
           "did not train on; its 95% interval is a bootstrap of patients. It estimates the performance of "
           "models fitted this way on data like this, and is the figure sweeps rank jobs by. **Mean ± SD**: the "
           "average of the k per-fold values and their population standard deviation (ddof=0), the spread from "
           "fold to fold (small folds make it noisy), not an interval. A job selected as the best of several "
           "on the same folds is scored optimistically by either; the sweep summary gives its BBC-CV estimate.",
           ""]
    out += _table(["metric", "mean ± std", "pooled (95% CI)", "folds"], rows)
    out += _constraints(record)
    test = record.test
    if test and test.get("metrics"):
        out += ["", f"Never-seen patients ({md_text(test.get('source'))}), final model:", ""]
        out += _table(["metric", "value (95% CI)"],
                      [[md_text(n), _interval(m.get("value"), m.get("lower"), m.get("upper"))]
                       for n, m in test["metrics"].items()])
    return out


def _constraints(record: JobRecord) -> list[str]:
    """Whether the job meets the sweep's select.constraints (metrics.json ``selection``; none set: nothing)."""
    sel = record.selection
    if not isinstance(sel, dict) or not sel.get("constraints"):
        return []
    on = "the 95% interval's limit on the unfavourable side" if sel.get("on") == "bound" else "the pooled value"
    verdict = ("**Meets** the sweep's constraints" if sel.get("feasible") else
               "**Does not meet** the sweep's constraints, so it is never the sweep's best: breaks "
               + md_text("; ".join(map(str, sel.get("broken") or []))))
    return ["", f"{verdict} ({md_code(', '.join(map(str, sel['constraints'])))}, checked on {on})."]


def _calibration(record: JobRecord) -> list[str]:
    calibration = (record.evaluation or {}).get("calibration")
    if not calibration:
        return []
    keys = ("slope", "intercept", "citl", "ece", "brier")
    per_class = calibration.get("classes") or {"all rows": calibration}
    shown = [k for k in keys if any(c.get(k) is not None for c in per_class.values())]
    if calibration.get("kind") == "regression":
        how = "Slope and intercept of observed on predicted values (least squares; 1 and 0 are ideal)"
    else:
        how = ("Slope and intercept of the logistic recalibration of the outcome on logit(p) (1 and 0 are ideal; "
               "a slope between 0 and 1: over-confident, too extreme risks; above 1: under-confident, too moderate "
               "risks; 0 or below: the risks do not rise with the outcome at all, a failure of discrimination, not "
               "over-confidence)" + ("; one-vs-rest per class" if "classes" in calibration else ""))
    out = ["## Calibration", "", f"{how}; calibration-in-the-large (citl) 0 is ideal.", ""]
    out += _table(["", *shown], [[md_text(c), *[_num(v.get(k)) for k in shown]] for c, v in per_class.items()])
    if calibration.get("kind") != "regression":
        reversed_ = [md_text(c) for c, v in per_class.items()
                     if isinstance(v.get("slope"), (int, float)) and math.isfinite(v["slope"]) and v["slope"] <= 0]
        if reversed_:
            out += ["", f"**Slope 0 or below** ({', '.join(reversed_)}): higher predicted risks do not go with more "
                        "events; the predictions carry no usable ranking there, and recalibration cannot mend that."]
    return out


def _warnings(record: JobRecord) -> list[str]:
    """metrics.json's ``warnings`` ([{"kind", "message"}], written by the job): every one, in full."""
    rows = [[md_text(w["kind"]), md_text(w["message"])] for w in record_warnings(record)]
    if not rows:
        return []
    return ["## Warnings", "", "Read these before using any figure below.", ""] + _table(["kind", "message"], rows)


def _decision_curve(record: JobRecord) -> list[str]:
    curve = (record.evaluation or {}).get("decision_curve")
    if not curve or not curve.get("net_benefit"):
        return []
    out = ["## Clinical utility", "", "Net benefit (decision curve analysis) at threshold probabilities:", ""]
    return out + _table(["threshold", "model", "treat all", "treat none"],
                        [[md_text(t), _num(v.get("model")), _num(v.get("treat_all")), _num(v.get("treat_none"))]
                         for t, v in curve["net_benefit"].items()])


def _operating_point(record: JobRecord) -> list[str]:
    op = record.operating_point or {}
    out = ["## Operating point", "", f"- **Rule**: {md_text(op.get('rule'))}"]
    if "final_threshold" in op:
        out.append(f"- **Threshold of the final model**: {_num(op['final_threshold'])}: class "
                   f"{md_text(op.get('positive_class'))} is predicted iff its probability is at least this")
        if op.get("final_chosen_on"):
            out.append(f"- **Final threshold chosen on**: {md_text(op['final_chosen_on'])}")
        thresholds = [t for t in op.get("fold_thresholds") or [] if t is not None]
        if thresholds:
            # Older records (no chosen_on) chose them on the fold model's own training predictions.
            on = op.get("chosen_on") or "the fold model's own training predictions (in-sample)"
            out.append(f"- **Fold thresholds** (each chosen on {md_text(on)}): {', '.join(map(_num, thresholds))}")
    oof = op.get("out_of_fold") or {}
    if oof.get("value") is not None:
        interval = (f" ({_num(oof['lower'])}-{_num(oof['upper'])})"
                    if oof.get("lower") is not None and oof.get("upper") is not None else "")
        target = f", target {_num(oof['target'])}" if oof.get("target") is not None else ""
        verdict = {True: ": target met", False: ": **target missed** out of fold"}.get(op.get("target_met"), "")
        out.append(f"- **Out-of-fold {md_text(oof.get('metric'))} at the fold thresholds**: {_num(oof['value'])}"
                   f"{interval}{target}{verdict}")
    return out


def _subgroups(record: JobRecord) -> list[str]:
    subgroups = (record.evaluation or {}).get("subgroups")
    if not subgroups:
        return []
    flagged = subgroups.get("flagged") or []
    return ["## Subgroups", "", f"- **Columns**: {_names(subgroups.get('columns'))} (details: {SUBGROUPS_FILE})",
            "- **Flagged** (interval wholly worse than overall): "
            + (", ".join(md_text(f) for f in flagged) if flagged else "none")]


def _settings(record: JobRecord) -> list[str]:
    unused = record.unused_settings or []
    versions = record.versions or {}
    out = ["## Training settings and software", "",
           f"- **Trainer**: {record.epochs} epochs, batch size {record.batch_size}, "
           f"{record.folds} folds, seed {record.seed}",
           f"- **Settings the estimator does not use**: {_names(unused)}", ""]
    return out + _table(["package", "version"], [[md_text(p), md_text(v)] for p, v in versions.items()])


def _reproduce(record: JobRecord, command: str) -> list[str]:
    overrides = " ".join(shlex.quote(str(o)) for o in record.overrides or [])
    return ["## Reproduce", "",
            "Re-run this job from its saved config into a new directory and compare every result with this one "
            "(the first line); or train it again as it was started (the second):", "",
            *_code_block([command, f"medsweep run {overrides}".rstrip()])]


def render_model_card(record: Record, command: str) -> str:
    """The model card (Markdown) of a completed job from its ``record`` (a JobRecord, or metrics.json's content);
    ``command`` is the one that reproduces it (``medsweep reproduce <job dir>``)."""
    record = as_record(record)
    title = [f"# Model card: {md_text(record.model)} ({md_text(record.estimator)})", "",
             f"Job {md_text(record.job_dir)}, finished {md_text(record.finished_at)}; every figure is "
             f"from its `{METRICS_FILE}`."]
    sections = [title, _warnings(record), _intended_use(record), _data(record), _features(record), _validation(record),
                _performance(record), _calibration(record), _decision_curve(record), _operating_point(record),
                _subgroups(record), sites_section(record), instability_section(record), card_sections(record),
                _settings(record), _reproduce(record, command)]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"


def write_model_card(job_dir: str | Path) -> Optional[Path]:
    """Write ``model_card.md`` (atomically) into a completed job's directory and return its path; for a job
    that did not complete (or has no metrics.json) write nothing and return None."""
    job_dir = Path(job_dir)
    record = read_record(job_dir)
    if record is None or not record.completed:
        return None
    path = JobPaths(job_dir).model_card
    with atomic_path(path) as tmp:
        tmp.write_text(render_model_card(record, f"medsweep reproduce {shlex.quote(str(job_dir))}"))
    return path
