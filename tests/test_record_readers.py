"""Readers of a job's record (predict, reproduce, the registered model's checks) read metrics.json as a
JobRecord, and say what the file says: a status is the plain word the file holds, a key it lacks is not
invented. A model registered in MLflow by an older medsweep runs its own copy of pyfunc.py, which hands the
predict checks metrics.json as a dict: they accept it as they accept a JobRecord."""

import json

import pytest

from medsweep.record.job_record import JobRecord
from medsweep.tools.predict import PredictError, check_classes, check_columns, completed_record, feature_kinds
from medsweep.tools.reproduce import compare_records, version_changes

RECORD = {"task": "classification", "classes": [0, 1], "status": "completed",
          "features": {"used": ["age", "sex"], "kinds": {"age": "numeric", "sex": "text"},
                       "excluded": {"patient": "the patient column (data.group)"}}}


@pytest.mark.parametrize("record", [RECORD, JobRecord.from_json(RECORD)], ids=["dict", "JobRecord"])
def test_the_predict_checks_take_the_dict_an_older_registered_models_pyfunc_passes(record):
    check_classes(record, {"classes": [0, 1]})
    with pytest.raises(PredictError, match=r"classes \[1, 0\] differ from metrics.json's \[0, 1\]"):
        check_classes(record, {"classes": [1, 0]})
    assert feature_kinds(record, {}) == {"age": "numeric", "sex": "text"}
    assert check_columns("f.csv", ["age", "sex", "patient", "note"], record) == [
        "'patient': the patient column (data.group)", "'note': not in the training data"]
    with pytest.raises(PredictError, match="lacks 1 of the 2 feature columns"):
        check_columns("f.csv", ["age"], record)


def test_predict_refuses_a_job_that_did_not_complete_naming_its_status_as_the_file_has_it(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    with pytest.raises(PredictError, match=r"\(status 'failed': error: boom\)"):
        completed_record(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"status": "timeout", "error": "late", "error_type": "Timeout"}))
    with pytest.raises(PredictError, match=r"\(status 'timeout': Timeout: late\)"):
        completed_record(tmp_path)


def test_reproduce_compares_results_only_and_names_a_failed_reproduction_by_its_status_word():
    job = JobRecord.from_json({"status": "completed", "job_dir": "/a", "duration_s": 3.0, "primary_metric": "auc",
                               "metrics": {"auc": {"folds": [0.8, 0.9], "pooled": 0.85}},
                               "data": {"sha256": "ab", "rows": 10, "citation": "Smith 2001"},
                               "versions": {"numpy": "2.0"}})
    again = JobRecord.from_json({**job.to_json(), "job_dir": "/b", "duration_s": 4.0,
                                 "data": {"sha256": "ab", "rows": 10}, "versions": {"numpy": "2.1"}})
    assert compare_records(job, again) == []  # run-specific keys and descriptive provenance are not results
    changed = JobRecord.from_json({**again.to_json(), "metrics": {"auc": {"folds": [0.8, 0.7], "pooled": 0.85}}})
    assert compare_records(job, changed) == ["metrics.auc.folds[1]: 0.9 in the job, 0.7 in the reproduction"]
    assert compare_records(job, changed, tolerance=0.25) == []
    assert version_changes(job, again) == ["numpy 2.0 (job) -> 2.1 (now)"]
    failed = JobRecord.from_json({"status": "failed", "error": "out of memory", "error_type": "MemoryError"})
    assert compare_records(job, failed) == ["status: 'completed' in the job, 'failed' in the reproduction "
                                            "(MemoryError: out of memory)"]
