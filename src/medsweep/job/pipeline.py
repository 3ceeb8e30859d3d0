"""The training pipeline of one job: load the data -> cross-validate -> evaluate -> fit the final model ->
score the never-seen patients. Returns what it found (JobResult) and writes nothing: the output files are
artifacts.py's, attempts, retries, time limits and the status file the runner's."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from medsweep.cpu import cpu_share
from medsweep.data.prepare import Dataset, load_dataset, load_external
from medsweep.data.cache import cache_folder
from medsweep.estimators import estimator_class
from medsweep.evaluate.constraints import job_selection
from medsweep.evaluate.evaluation import evaluate_predictions
from medsweep.evaluate.fairness import fairness_warnings
from medsweep.job.data_checks import impute_setting, missing_data_check, sample_size_check, sample_size_warnings
from medsweep.evaluate.metrics import greater_is_better, primary_metric
from medsweep.preprocess import column_kinds
from medsweep.learn.operating_point import ThresholdRule, parse_threshold_rule
from medsweep.learn.fold_store import FoldStore
from medsweep.learn.splitting import holdout_split
from medsweep.job.sites import cv_plan, site_record
from medsweep.job.instability import instability_analysis
from medsweep.job.user_set import set_by_user
from medsweep.record.job_record import ABSENT, JobRecord
from medsweep.learn.training import (CVResult, TrainSettings, binary, cross_validate, fit_final, pooled_threshold,
                               prediction_frame)

# A calibration slope below this says the predictions are too extreme (overfitted): said in train.log.
LOW_CALIBRATION_SLOPE = 0.8

log = logging.getLogger("medsweep")


@dataclass
class JobResult:
    """What one job found, before anything is written: the contents of its output files (artifacts.py writes
    them) and what its record says about the training."""

    history: pd.DataFrame                     # fold, epoch, train_loss, val_<primary metric>
    predictions: pd.DataFrame                 # out of fold
    class_names: Optional[list[str]]          # a classification's classes (its ROC curves); None: regression
    calibration: dict                         # the evaluation's calibration (its plot)
    decision_curve: Optional[pd.DataFrame]
    subgroups: Optional[pd.DataFrame]
    model: Any                                # the final pipeline, fitted on all the development data
    test_predictions: Optional[pd.DataFrame]  # the final model on the hold-out or external patients
    results: JobRecord                        # the record's results, but the model's sha256 (known once saved)
    instability: Any = None                   # eval.instability: the bootstrap models' risks (its plots)

    def record(self, model_sha256: str) -> JobRecord:
        """The results with the saved model's sha256, in the order a job's record has them."""
        return JobRecord(**self.results.to_json(), model_sha256=model_sha256)


def train(cfg: DictConfig, on_epoch: Optional[Callable[[], None]] = None,
          sweep_dir: Optional[Path] = None, on_fold: Optional[Callable[[int, dict], None]] = None,
          store: Optional[FoldStore] = None) -> JobResult:
    """Train as configured: cross-validate, evaluate, fit the final model and score the never-seen patients.
    Writes nothing (train.log gets what a reader must see)."""
    data, test = _development_and_test(cfg, sweep_dir)
    label = "SYNTHETIC cohort (not real patients)" if data.info["synthetic"] else f"real data ({data.info['source']})"
    log.info("Data %r: %s, %d rows x %d columns%s", cfg.data.name, label, data.info["rows"], data.info["columns"],
             f", from {data.info['path']}" if data.info["path"] else "")
    if data.info["dropped_rows_missing_target"]:
        log.warning("Dropped %d rows whose target %r is missing", data.info["dropped_rows_missing_target"],
                    data.target)
    log.info("Features used (%d): %s", data.X.shape[1], ", ".join(data.X.columns))
    for column, reason in data.excluded.items():
        log.info("Not a feature: %r (%s)", column, reason)
    sample_size = sample_size_check(cfg, data)  # Riley et al.'s minimum: a warning before training, never a refusal
    missing_data = missing_data_check(cfg, data)
    ev = cfg.eval
    subgroup_columns = {c: data.column(c, "eval.subgroups") for c in ev.subgroups}  # fails before training
    rule = parse_threshold_rule(ev.threshold)
    if not binary(data) and str(rule) != "0.5":
        log.warning("eval.threshold=%s is not used: an operating point applies to binary classification; "
                    "this job predicts the most probable class", ev.threshold)

    spec = OmegaConf.to_container(cfg.estimator, resolve=True)
    estimator = estimator_class(spec["name"])
    trainer = cfg.trainer
    for setting in estimator.unused_settings():  # a warning where the user set it, else a line of train.log
        log.log(logging.WARNING if set_by_user(f"trainer.{setting}") else logging.INFO,
                "trainer.%s=%s is not used by estimator %r", setting, trainer[setting], estimator.name)
    if estimator.epoch:
        log.info("Epoch for %s: %s", estimator.name, estimator.epoch)

    settings = TrainSettings(epochs=trainer.epochs, batch_size=trainer.batch_size, seed=cfg.seed,
                             n_threads=estimator.threads(spec, len(data.y), cpu_share()), on_epoch=on_epoch,
                             impute=impute_setting(cfg))
    folds, repeats, splits = cv_plan(cfg, data)  # trainer.folds x repeats, or one fold per site (data.site)
    cv = cross_validate(data, spec, folds, settings, threshold=rule, repeats=repeats,
                        threshold_folds=ev.threshold_folds, extra_metrics=list(ev.get("metrics") or ()),
                        on_fold=on_fold, splits=splits, store=store)
    log.info("Cross-validation: %d folds%s, %s, %d %s, seed %d", folds,
             f" x {repeats} repeats" if repeats > 1 else "", cv.splitter, data.n_groups,
             "patients" if data.groups is not None else "rows (one per patient)", cfg.seed)
    positions = np.searchsorted(data.rows, cv.predictions["row"].to_numpy())  # data row of each prediction
    evidence = evaluate_predictions(
        cv.predictions, data.classes, data.task, thresholds=cv.thresholds, n_boot=ev.n_boot, seed=cfg.seed,
        dca_range=list(ev.dca_thresholds), grouped=data.groups is not None,
        subgroup_values={c: values.to_numpy()[positions] for c, values in subgroup_columns.items()},
        subgroup_bins=ev.subgroup_bins, subgroup_min_patients=ev.subgroup_min_patients,
        subgroup_min_events=ev.subgroup_min_events, interval=ev.interval,
        extra_metrics=list(ev.get("metrics") or ()))
    metrics = {name: {**m, **evidence.metrics.get(name, {})} for name, m in cv.metrics.items()}
    for name, m in metrics.items():
        interval = f" ({m['lower']:.4f}-{m['upper']:.4f})" if m.get("lower") is not None else ""
        log.info("%-17s %.4f ± %.4f  pooled %.4f%s  folds: %s", name, m["mean"], m["std"], m["pooled"], interval,
                 ", ".join(f"{v:.4f}" for v in m["folds"]))
    _log_evidence(evidence.record, evidence.subgroups)
    sites, site_warnings = site_record(cfg, data, cv.predictions, cv.thresholds)

    final = fit_final(data, spec, settings)
    operating_point = {"rule": str(rule) if binary(data) else "most probable class (not binary)"}
    # Reviewer warnings: the evaluation's (kind, message), then this job's own; all in train.log too.
    warnings = list(evidence.record.pop("warnings", [])) + site_warnings + fairness_warnings(evidence.record)
    warnings += sample_size_warnings(sample_size)
    if binary(data):
        operating_point.update(_operating_point(rule, cv, metrics, data.classes[-1]))
        if operating_point["target_met"] is False:
            warnings.append({"kind": "threshold_target_missed", "message": _target_missed(rule, operating_point)})
    scored, test_predictions = None, None
    if test is not None:
        scored, test_predictions = _score_test(final, test, operating_point.get("final_threshold"), cfg)
        where = "Hold-out" if scored["source"] == "holdout" else "External validation"
        warnings += [{**w, "message": f"{where}: {w['message']}"} for w in scored["evaluation"].pop("warnings", [])]
    for w in warnings:  # the sample size's was logged before training (data_checks.sample_size_check): not twice
        if w["kind"] != "sample_size":
            log.warning("%s", w["message"])
    instability = instability_analysis(cfg, data, spec, settings, final, operating_point.get("final_threshold"),
                                       metrics, evidence.record["calibration"])

    results = JobRecord(
        greater_is_better=greater_is_better(primary_metric(data.task)),
        folds=folds,  # the folds run: trainer.folds, or one per site with data.site
        metrics=metrics,
        operating_point=operating_point,
        warnings=warnings,
        model_description=cfg.model.get("description") or "",
        evaluation=evidence.record,
        n_samples=int(len(data.y)), n_features=int(data.X.shape[1]), n_groups=data.n_groups,
        splitter=cv.splitter,
        splits=cv.splits,
        test=scored if scored else ABSENT,
        classes=[str(c) for c in data.classes] if data.classes is not None else None,
        # With data.positive the target is binarised: class 1 = these values.
        positive=OmegaConf.to_container(cfg.data.positive) if cfg.data.get("positive") else None,
        data=data.info,
        features={"used": list(data.X.columns), "excluded": data.excluded, "kinds": _feature_kinds(data.X)},
        unused_settings=[f"trainer.{s}" for s in estimator.unused_settings()],
        n_threads=settings.n_threads,
        sites=sites,
        instability=instability.record if instability is not None else ABSENT,
        sample_size=sample_size,
        missing_data=missing_data,
        selection=job_selection(cfg, metrics, evidence.record, primary_metric(data.task)),  # select.*
    )
    return JobResult(history=cv.history, predictions=cv.predictions,
                     class_names=[str(c) for c in data.classes] if data.task == "classification" else None,
                     calibration=evidence.record["calibration"], decision_curve=evidence.decision_curve,
                     subgroups=evidence.subgroups, model=final, test_predictions=test_predictions, results=results,
                     instability=instability)


def _development_and_test(cfg: DictConfig, sweep_dir: Optional[Path]) -> tuple[Dataset, Optional[Dataset]]:
    """The development data (cross-validation and the final model) and, when configured, the patients it
    never sees: a hold-out share of the same data (trainer.holdout, drawn with data.seed so that every job of
    a sweep sets aside the same patients) or an external file (data.test_path)."""
    cache = cache_folder(cfg.get("data_cache"), sweep_dir)  # a big file is parsed once per sweep (data/cache.py)
    data = load_dataset(cfg.data, cfg.get("data_dir"), cache)
    if cfg.trainer.get("holdout"):
        development, held = holdout_split(data, cfg.trainer.holdout, cfg.data.seed)
        test = data.subset(held)
        test.info = {**data.info, "test_source": "holdout", "fraction": cfg.trainer.holdout, "seed": cfg.data.seed}
        log.info("Hold-out: %d patients (%d rows) set aside with data.seed=%d, scored once by the final model",
                 test.n_groups, len(test.y), cfg.data.seed)
        return data.subset(development), test
    if cfg.data.get("test_path"):
        test = load_external(cfg.data, cfg.get("data_dir"), data, cache)
        test.info = {**test.info, "test_source": "external"}
        if data.groups is not None and test.groups is not None:
            shared = sorted(set(test.groups) & set(data.groups), key=str)
            if shared:
                log.warning("%d patient(s) of data.test_path are also in the development data (e.g. %s): for them "
                            "this is not an external validation", len(shared), ", ".join(map(str, shared[:5])))
        log.info("External validation file %s: %d rows, %d patients", test.info["path"], len(test.y), test.n_groups)
        return data, test
    return data, None


def _score_test(final, test: Dataset, threshold: Optional[float], cfg: DictConfig) -> tuple[dict, pd.DataFrame]:
    """The final model, scored once on patients it never saw: (the record's ``test``: metrics with intervals,
    calibration, decision curve, the clinical evaluation of the cross-validation on these predictions; the
    predictions, test_predictions.csv's content)."""
    out = final.predict_proba(test.X) if test.task == "classification" else final.predict(test.X)
    predictions = prediction_frame(test, np.arange(len(test.y)), out, threshold, fold=0)
    ev = cfg.eval
    evidence = evaluate_predictions(
        predictions, test.classes, test.task, thresholds=None if threshold is None else [threshold],
        n_boot=ev.n_boot, seed=cfg.seed, dca_range=list(ev.dca_thresholds), grouped=test.groups is not None,
        subgroup_values={}, subgroup_bins=ev.subgroup_bins, subgroup_min_patients=ev.subgroup_min_patients,
        subgroup_min_events=ev.subgroup_min_events, interval=ev.interval,
        extra_metrics=list(ev.get("metrics") or ()))
    metrics = {name: {"value": m["pooled"], **{k: m[k] for k in ("lower", "upper") if k in m}}
               for name, m in evidence.metrics.items()}
    info = test.info
    log.info("%s: %s", "Hold-out" if info["test_source"] == "holdout" else "External validation",
             ", ".join(f"{n} {m['value']:.4f}" + (f" ({m['lower']:.4f}-{m['upper']:.4f})" if m.get("lower") is not None
                                                 else "") for n, m in metrics.items()))
    return ({"source": info["test_source"], **{k: info[k] for k in ("path", "sha256", "fraction", "seed") if k in info},
             "patients": test.n_groups, "rows": int(len(test.y)), "threshold": threshold, "metrics": metrics,
             "evaluation": evidence.record}, predictions)


def _operating_point(rule: ThresholdRule, cv: CVResult, metrics: dict, positive) -> dict:
    """metrics.json's operating point of a binary job: each fold's threshold and the final model's, what
    they were chosen on, and (a rule) the rule's out-of-fold value at the fold thresholds, with its interval,
    against its target. ``target_met``: None without a target (youden, a fixed probability); else whether the
    target is within reach of the out-of-fold value: not above its 95% interval's upper limit (the value
    itself when there is no interval, eval.n_boot=0)."""
    final = pooled_threshold(rule, cv.predictions, positive)
    positive = str(positive)
    if rule.kind == "fixed":
        return {"fold_thresholds": cv.thresholds, "final_threshold": final, "positive_class": positive,
                "chosen_on": "fixed probability (no predictions looked at)",
                "final_chosen_on": "fixed probability (no predictions looked at)", "target_met": None}
    if rule.kind == "youden":
        value = metrics["sensitivity"]["pooled"] + metrics["specificity"]["pooled"] - 1.0
        out_of_fold = {"metric": "youden_j", "target": None, "value": value}
        met = None
    else:
        m = metrics[rule.kind]
        out_of_fold = {"metric": rule.kind, "target": rule.value, "value": m["pooled"],
                       **{k: m[k] for k in ("lower", "upper") if m.get(k) is not None}}
        met = bool(out_of_fold.get("upper", m["pooled"]) >= rule.value - 1e-12)
    return {"fold_thresholds": cv.thresholds, "final_threshold": final, "positive_class": positive,
            "chosen_on": f"out-of-fold predictions of an inner {cv.threshold_folds}-fold cross-validation of "
                         "each outer fold's training rows",
            "final_chosen_on": "pooled out-of-fold predictions of the outer cross-validation",
            "threshold_folds": cv.threshold_folds, "out_of_fold": out_of_fold, "target_met": met}


def _target_missed(rule: ThresholdRule, op: dict) -> str:
    oof = op["out_of_fold"]
    interval = f" (95% CI {oof['lower']:.3f}-{oof['upper']:.3f})" if "upper" in oof else ""
    return (f"eval.threshold={rule} misses its target out of fold: {rule.kind} {oof['value']:.3f}{interval} on "
            f"the test folds, each at a threshold chosen without them, below {rule.value:g}; the final threshold "
            f"{op['final_threshold']:.4g} is unlikely to deliver it on new patients")


def _feature_kinds(X: pd.DataFrame) -> dict:
    """Each feature's kind as the preprocessing treats it (predict refuses a file where one differs)."""
    numeric, _ = column_kinds(X)
    return {c: "numeric" if c in numeric else "text" for c in X.columns}


def _log_evidence(record: dict, subgroups) -> None:
    """Calibration and subgroup findings a reader of train.log must not miss."""
    calibration = record["calibration"]
    per_class = calibration.get("classes", {"": calibration})
    for cls, c in per_class.items():
        slope = c.get("slope")
        what = f" of class {cls!r}" if cls else ""
        if slope is not None:
            log.info("Calibration%s: slope %.3f, calibration-in-the-large %s, ECE %s", what, slope,
                     f"{c['citl']:.3f}" if c.get("citl") is not None else "-",
                     f"{c['ece']:.3f}" if c.get("ece") is not None else "-")
            _warn_calibration_slope(slope, what, calibration.get("kind") == "regression")
    if subgroups is not None:
        for r in subgroups[subgroups.flag].itertuples():
            log.warning("Subgroup %s=%s: %s", r.column, r.subgroup, r.note)


def _warn_calibration_slope(slope: float, what: str, regression: bool) -> None:
    """Warn about a calibration slope that says the predictions cannot be read as they stand. Negative (or
    zero): the predictions run against the outcome (or not with it), which is no matter of confidence;
    between 0 and LOW_CALIBRATION_SLOPE: too extreme (over-confident). A regression predicts values, not
    risks."""
    predictions = "predictions" if regression else "predicted risks"
    if slope <= 0:
        log.warning("Calibration slope%s is %.2f (<= 0): the %s are inversely related to the outcome (higher "
                    "predictions go with %s); check the target coding (data.positive) and the model before "
                    "using them", what, slope, predictions, "lower outcomes" if regression else "fewer events")
    elif slope < LOW_CALIBRATION_SLOPE:
        log.warning("Calibration slope%s is %.2f (< %.1f): the %s are too extreme (%s, a sign of overfitting); "
                    "recalibrate before using them", what, slope, LOW_CALIBRATION_SLOPE, predictions,
                    "spread wider than the outcomes they predict" if regression else "over-confident")
