"""Bad input files inside a real sweep: each fails only its own job, with a one-line message that names
the file or column, what is wrong and what is allowed; the good job beside them completes."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers import run_train

pytestmark = pytest.mark.slow

# Shared by every job: a small classification model on the user's file, patients in `pid`.
COMMON = ["model=als", "data.target=y", "data.group=pid", "data.drop=[]", "estimator=logreg", "trainer=fast",
          "hydra.launcher.n_jobs=1"]


def cohort(n_patients=24, visits=3, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat([f"P{i:03d}" for i in range(n_patients)], visits)
    y = np.repeat(np.arange(n_patients) % 2, visits)
    return pd.DataFrame({"pid": pid, "x1": rng.normal(size=len(pid)) + y, "x2": rng.normal(size=len(pid)),
                         "sex": rng.choice(["F", "M"], len(pid)), "y": y})


def write_files(folder):
    good = cohort()
    files = {"good": good}
    files["no_target"] = good.rename(columns={"y": "outcome"})
    files["no_group"] = good.drop(columns="pid")
    files["one_class"] = good.assign(y=0)
    # Class 1 held by 2 patients only: 3 folds cannot each test one.
    files["few_patients"] = good[(good.y == 0) | good.pid.isin(["P001", "P003"])]
    files["empty_target"] = good.assign(y=np.nan)
    files["empty_group"] = good.assign(pid=np.nan)
    files["empty_feature"] = good.assign(unused=np.nan)
    for name, frame in files.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "binary.csv").write_bytes(bytes(range(256)) * 16)
    good.assign(y=np.where(good.y == 1, "high", "low")).to_csv(folder / "text_target.csv", index=False)
    return folder


EXPECTED = {  # file -> what the job's error must say (None: the job completes)
    "good": None,
    "empty_feature": None,
    "missing": "data.path=",
    "empty": "empty.csv is empty",
    "binary": "binary.csv is not a text table (binary content)",
    "no_target": "data.target='y' is not a column of the data",
    "no_group": "data.group='pid' is not a column of the data",
    "one_class": "data.target='y' has a single class (0)",
    "few_patients": "trainer.folds=3 but class '1' of 'y' has only 2 patients",
    "empty_target": "data.target='y' is entirely empty",
    "empty_group": "data.group='pid' is entirely empty",
}


def jobs_by_file(sweep_dir):
    out = {}
    for metrics in sweep_dir.glob("*/metrics.json"):
        m = json.loads(metrics.read_text())
        path = next(o for o in m["overrides"] if o.startswith("data.path="))
        out[path.rsplit("/", 1)[-1].removesuffix(".csv")] = (metrics.parent, m)
    return out


@pytest.fixture(scope="module")
def bad_sweep(tmp_path_factory):
    folder = write_files(tmp_path_factory.mktemp("files"))
    sweep_dir = folder / "sweep"
    paths = ",".join(str(folder / f"{name}.csv") for name in EXPECTED)
    proc = run_train("-m", *COMMON, f"data.path={paths}", f"hydra.sweep.dir={sweep_dir}")
    return proc, jobs_by_file(sweep_dir)


def test_every_bad_file_fails_only_its_own_job(bad_sweep):
    proc, jobs = bad_sweep
    assert proc.returncode == 1
    assert set(jobs) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        job_dir, m = jobs[name]
        if expected is None:
            assert m["status"] == "completed", (name, m.get("error"))
            assert (job_dir / "predictions.csv").is_file()
        else:
            assert m["status"] == "failed" and m["error_type"] == "DataError", (name, m)
            assert expected in m["error"] and "\n" not in m["error"], (name, m["error"])


def test_the_sweep_ends_with_one_line_per_failed_job(bad_sweep):
    proc, _ = bad_sweep
    n_failed = sum(e is not None for e in EXPECTED.values())
    assert f"{n_failed} of {len(EXPECTED)} jobs failed" in proc.stderr
    for name, expected in EXPECTED.items():
        if expected:
            assert any(f"/{name}.csv" in line and "DataError: " in line and expected in line
                       for line in proc.stderr.splitlines()), (name, proc.stderr)


def test_messages_say_what_is_allowed(bad_sweep):
    _, jobs = bad_sweep
    assert "file not found" in jobs["missing"][1]["error"]
    assert "columns are: pid, x1, x2, sex, outcome" in jobs["no_target"][1]["error"]
    assert "columns are: x1, x2, sex, y" in jobs["no_group"][1]["error"]
    assert "use trainer.folds<=2" in jobs["few_patients"][1]["error"]
    assert "allowed are CSV" in jobs["binary"][1]["error"]


def test_an_empty_feature_column_is_left_out_with_a_warning(bad_sweep):
    job_dir, m = bad_sweep[1]["empty_feature"]
    assert m["features"]["excluded"]["unused"] == "entirely empty" and "unused" not in m["features"]["used"]
    assert "[WARNING] - Column 'unused' is entirely empty" in (job_dir / "train.log").read_text()


def test_a_regression_target_that_is_not_numeric(tmp_path):
    folder = write_files(tmp_path)
    proc = run_train("-m", *COMMON, "data.task=regression",
                     f"data.path={folder / 'good.csv'},{folder / 'text_target.csv'}",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 1
    jobs = jobs_by_file(tmp_path / "sweep")
    assert jobs["good"][1]["status"] == "completed" and jobs["good"][1]["splitter"] == "GroupKFold"
    error = jobs["text_target"][1]["error"]
    assert "data.target='y' is not numeric ('low' in data row 1)" in error and "data.task=classification" in error
