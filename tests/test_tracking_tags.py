"""MLflow tags of a job (tracking.mlflow.runs.job_run, no MLflow needed): SYNTHETIC data and the job's warnings."""

import json

from medsweep.tracking.mlflow.runs import job_run


def run_of(tmp_path, **record):
    job = tmp_path / "job"
    job.mkdir()
    record = {"status": "completed", "model": "als", "estimator": "logreg", "primary_metric": "roc_auc",
              "metrics": {"roc_auc": {"mean": 0.7, "std": 0.1, "pooled": 0.69}}, **record}
    data = json.dumps(record).encode()
    (job / "metrics.json").write_bytes(data)
    return job_run(job, record, data, overrides=["model=als"], num="0")


def test_synthetic_data_and_warnings_are_tagged(tmp_path):
    warnings = [{"kind": "small_test_fold", "message": "fold 2 has 1 patient of class 0 (< 5)"},
                {"kind": "small_test_fold", "message": "fold 4 has 2 patients of class 0 (< 5)"},
                {"kind": "threshold target/missed", "message": "sensitivity 0.54 misses 0.9"}]
    tags = run_of(tmp_path, data={"synthetic": True, "source": "synthetic"}, warnings=warnings)["tags"]
    assert tags["data_synthetic"] == "true"
    assert tags["warning.synthetic_data"].startswith("SYNTHETIC data, not real patients")
    assert tags["warnings"] == "3"
    assert tags["warning.small_test_fold"] == ("fold 2 has 1 patient of class 0 (< 5) | "
                                               "fold 4 has 2 patients of class 0 (< 5)")
    assert tags["warning.threshold_target_missed"] == "sensitivity 0.54 misses 0.9"


def test_the_source_tag_names_the_installed_command(tmp_path):
    # train.py exists only in a clone; an installed medsweep is run as `medsweep run`.
    tags = run_of(tmp_path)["tags"]
    assert tags["mlflow.source.name"] == "medsweep run" and tags["mlflow.source.type"] == "LOCAL"


def test_real_data_without_warnings_has_no_warning_tags(tmp_path):
    tags = run_of(tmp_path, data={"synthetic": False, "source": "bundled"})["tags"]
    assert tags["data_synthetic"] == "false" and not [k for k in tags if k.startswith("warning")]


def test_params_are_what_a_job_trains_never_its_run_control(tmp_path):
    # A resume may change run control (schema.RUN_CONTROL_KEYS) and an MLflow param cannot change: what the
    # params hold is the job's config without those keys, flattened, as before they had one definition.
    import yaml

    config = {"model": {"name": "als", "description": "ALS"}, "data": {"source": "synthetic", "seed": 0},
              "trainer": {"folds": 3}, "estimator": {"name": "logreg", "C": 1.0}, "seed": 7, "data_dir": None,
              "eval": {"n_boot": 0}, "data_cache": "auto", "retries": 2, "timeout_min": None, "resume": True,
              "dry_run": False, "verbose": True, "debug": {"fail_attempts": 0, "epoch_sleep_s": 0.0},
              "tracking": {"backend": "mlflow", "uri": None}}
    (tmp_path / "job" / ".hydra").mkdir(parents=True)
    (tmp_path / "job" / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    record = {"status": "completed", "model": "als"}
    data = json.dumps(record).encode()
    overrides = ["model=als", "seed=7", "retries=2", "resume=true", "+tracking.uri=x.db", "debug.fail_attempts=0",
                 "data_cache=null", "~verbose", "estimator.C=1.0"]
    params = job_run(tmp_path / "job", record, data, overrides=overrides, num="0")["params"]
    assert params == {"model.name": "als", "model.description": "ALS", "data.source": "synthetic", "data.seed": "0",
                      "trainer.folds": "3", "estimator.name": "logreg", "estimator.C": "1.0", "seed": "7",
                      "data_dir": "null", "eval.n_boot": "0", "overrides": "model=als seed=7 estimator.C=1.0"}
