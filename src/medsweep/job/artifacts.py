"""A job's output files, written from what its pipeline returned (pipeline.JobResult): the one place that
knows which files a job writes. Adding an output file is one line here (and its name in record.files).

Each file is written atomically (record.outputs); the list of files written comes back, with the sha256 of
the saved model, which the job's record keeps so that a loader refuses any other file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medsweep.evaluate.curves import prediction_curves
from medsweep.report.forest import plot_subgroups
from medsweep.report.plots import display_names
from medsweep.job.pipeline import JobResult
from medsweep.learn.persistence import save_model
from medsweep.record.files import JobPaths
from medsweep.record.outputs import sha256_of_file, write_csv
from medsweep.report.plots import plot_calibration, plot_decision_curve, plot_learning_curve, plot_roc
from medsweep.report.forest_plot import plot_forest
from medsweep.report.instability_plot import plot_instability


@dataclass
class Written:
    """What write_artifacts wrote: each file, in the order written, and the saved model's sha256."""

    files: list[Path] = field(default_factory=list)
    model_sha256: str = ""


def write_artifacts(result: JobResult, job: JobPaths) -> Written:
    """Write the job's outputs into its directory: history, out-of-fold predictions, plots, subgroups, the
    final model and the hold-out or external patients' predictions (those the job has)."""
    written = Written()

    def wrote(path: Path) -> None:
        written.files.append(path)

    write_csv(job.history, result.history)
    wrote(job.history)
    write_csv(job.predictions, result.predictions)
    wrote(job.predictions)
    for path in _write_plots(result, job):
        wrote(path)
    if result.subgroups is not None:
        write_csv(job.subgroups, result.subgroups)
        wrote(job.subgroups)
    if result.results.sites and result.results.sites.get("meta_analysis"):  # data.site, binary
        plot_forest(result.results.sites, job.forest_plot)
        wrote(job.forest_plot)
    if result.instability is not None:  # eval.instability
        plot_instability(result.instability.original, result.instability.refits.risks, result.instability.rows,
                         job.instability_plot)
        wrote(job.instability_plot)
    save_model(result.model, job.model)
    wrote(job.model)
    written.model_sha256 = sha256_of_file(job.model)  # predict refuses another file
    if result.test_predictions is not None:
        write_csv(job.test_predictions, result.test_predictions)
        wrote(job.test_predictions)
    return written


def _write_plots(result: JobResult, job: JobPaths) -> list[Path]:
    """The job's plots (report/plots.py), with bands from the patient bootstrap of its intervals (the same
    eval.n_boot resamples and seed; none without them). A learning curve only where an epoch means something:
    an estimator fitted in one go has one epoch per fold, and nothing to plot against it."""
    written = []
    if result.history["epoch"].nunique() > 1:
        plot_learning_curve(result.history, job.learning_curve)
        written.append(job.learning_curve)
    record = result.results
    interval = (record.evaluation or {}).get("interval") or {}
    n_boot, seed = int(interval.get("n_boot") or 0), int(interval.get("seed") or 0)
    curves = {}
    if result.class_names is not None:  # classification: one ROC curve per class (or the positive one)
        names = display_names(result.class_names, record.positive)
        dca = result.decision_curve
        curves = prediction_curves(result.predictions, result.class_names, n_boot=n_boot, seed=seed,
                                   thresholds=None if dca is None else dca["threshold"].to_numpy())
        auc = (record.metrics or {}).get("roc_auc") or {}
        plot_roc(result.predictions, result.class_names, job.roc, band=curves["roc"], names=names,
                 auc_interval=(auc.get("lower"), auc.get("upper")),
                 operating_point=_rule(record.operating_point))
        written.append(job.roc)
    plot_calibration(result.calibration, job.calibration, curves=curves.get("calibration") or None,
                     risks=curves.get("risks"), names=names if curves else None)
    written.append(job.calibration)
    if result.decision_curve is not None:
        plot_decision_curve(result.decision_curve, job.decision_curve, band=curves.get("decision_curve"),
                            positive=names[result.class_names[1]])
        written.append(job.decision_curve)
    if result.subgroups is not None:  # eval.subgroups: subgroups.csv as a forest plot
        metrics = record.metrics or {}
        plot_subgroups(result.subgroups, job.subgroups_plot,
                       {name: m.get("pooled") for name, m in metrics.items() if isinstance(m, dict)})
        written.append(job.subgroups_plot)
    return written


def _rule(operating_point) -> str | None:
    rule = (operating_point or {}).get("rule")
    if not rule or "not binary" in str(rule):
        return None
    return f"threshold {rule}" if str(rule).replace(".", "", 1).isdigit() else f"rule {rule}"
