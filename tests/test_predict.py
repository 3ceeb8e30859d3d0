"""`medsweep predict`: a job's model on a held-out part of a real file gives the predictions of the same
pipeline refitted by hand with scikit-learn; missing, extra and mistyped columns, tampered models and failed
jobs are refused or reported in one line; a million rows predict in bounded memory."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from helpers import ROOT, needs_shared_data, run_train
from medsweep.record.files import METRICS_FILE, MODEL_FILE, Status
from medsweep.cli.predict import main

CLEVELAND_TRAIN_ROWS = 200
OASIS_TRAIN_ROWS = 250
OASIS_FEATURES = ["M/F", "Age", "ASF", "Educ", "eTIV", "MR Delay", "nWBV", "SES", "Visit"]  # conf: minus target,
# patient and dropped columns


def _split_lines(source: Path, train_rows: int, folder: Path) -> tuple[Path, Path]:
    """The file's first data rows as a training file, the rest as a held-out file (header on both)."""
    header, *rows = source.read_text().splitlines()
    train, test = folder / f"train_{source.name}", folder / f"test_{source.name}"
    train.write_text("\n".join([header, *rows[:train_rows]]) + "\n")
    test.write_text("\n".join([header, *rows[train_rows:]]) + "\n")
    return train, test


def _train(job: Path, *overrides: str) -> Path:
    result = run_train(*overrides, "eval.n_boot=0", f"hydra.run.dir={job}")
    assert result.returncode == 0, result.stderr[-2000:]
    return job


def _predict(*args) -> subprocess.CompletedProcess:
    """`python -m medsweep.cli predict ARGS` in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "medsweep.cli", "predict", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def cleveland(tmp_path_factory):
    """A logreg job trained on the first 200 patients of the real Cleveland file; the other 103 held out."""
    folder = tmp_path_factory.mktemp("cleveland")
    train, test = _split_lines(needs_shared_data("cleveland_heart.csv"), CLEVELAND_TRAIN_ROWS, folder)
    job = _train(folder / "job", "model=cardiovascular", f"data.path={train}", "estimator=logreg")
    return job, train, test


@pytest.fixture(scope="module")
def oasis(tmp_path_factory):
    """A multiclass logreg job with a text feature (M/F) and a patient column, on the real OASIS-2 file."""
    folder = tmp_path_factory.mktemp("oasis")
    train, test = _split_lines(needs_shared_data("oasis_longitudinal.csv"), OASIS_TRAIN_ROWS, folder)
    job = _train(folder / "job", "model=alzheimers", f"data.path={train}", "estimator=logreg", "trainer=fast")
    return job, train, test


def _cleveland_by_hand(train: Path, test: Path) -> np.ndarray:
    """P(num > 0) from median imputation + scaling + LogisticRegression(C=1), fitted here."""
    tr, te = pd.read_csv(train, na_values="?"), pd.read_csv(test, na_values="?")
    features = [c for c in tr.columns if c != "num"]
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(C=1.0, max_iter=1000))
    model.fit(tr[features].to_numpy(), (tr["num"] > 0).astype(int))
    return model.predict_proba(te[features].to_numpy())[:, 1]


def test_binary_predictions_equal_a_refit_by_hand(cleveland, tmp_path):
    job, train, test = cleveland
    out = tmp_path / "predictions.csv"
    result = _predict(job, test, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Wrote {sum(1 for _ in open(test)) - 1} predictions to {out}"
    # The held-out file still has its target: named as ignored, with its role in training.
    assert "'num': target" in result.stderr
    pred = pd.read_csv(out)
    expected = _cleveland_by_hand(train, test)
    assert list(pred.columns) == ["row", "proba_0", "proba_1", "y_pred"]  # no patient column in this job
    assert pred["row"].tolist() == list(range(len(expected)))
    np.testing.assert_allclose(pred["proba_1"], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pred["proba_0"], 1 - expected, rtol=0, atol=1e-9)
    threshold = json.loads((job / METRICS_FILE).read_text())["operating_point"]["final_threshold"]
    assert threshold == 0.5
    assert pred["y_pred"].tolist() == (expected >= threshold).astype(int).tolist()


def test_parquet_in_small_chunks_gives_the_same_predictions(cleveland, tmp_path):
    job, train, test = cleveland
    parquet = tmp_path / "held_out.parquet"
    pd.read_csv(test, na_values="?").drop(columns="num").to_parquet(parquet)
    out = tmp_path / "p.csv"
    assert main([str(job), str(parquet), "-o", str(out), "--chunk-rows", "10"]) == 0
    pred = pd.read_csv(out)
    assert pred["row"].tolist() == list(range(len(pred)))
    np.testing.assert_allclose(pred["proba_1"], _cleveland_by_hand(train, test), rtol=0, atol=1e-9)


def test_multiclass_with_text_feature_and_patients_equals_a_refit_by_hand(oasis, tmp_path):
    job, train, test = oasis
    out = tmp_path / "o.csv"
    assert main([str(job), str(test), "-o", str(out), "--chunk-rows", "40"]) == 0
    tr, te = pd.read_csv(train), pd.read_csv(test)
    numeric = [c for c in OASIS_FEATURES if c != "M/F"]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["M/F"])])
    model = make_pipeline(pre, LogisticRegression(C=1.0, max_iter=1000)).fit(tr[OASIS_FEATURES], tr["Group"])
    expected = model.predict_proba(te[OASIS_FEATURES])
    pred = pd.read_csv(out)
    classes = ["Converted", "Demented", "Nondemented"]
    assert list(pred.columns) == ["row", "patient", *[f"proba_{c}" for c in classes], "y_pred"]
    np.testing.assert_allclose(pred[[f"proba_{c}" for c in classes]], expected, rtol=0, atol=1e-9)
    assert pred["y_pred"].tolist() == np.asarray(classes)[expected.argmax(axis=1)].tolist()
    assert pred["patient"].tolist() == te["Subject ID"].tolist()


def test_missing_columns_are_all_named(cleveland, tmp_path, capsys):
    job, _, test = cleveland
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(test, dtype=str, keep_default_na=False).drop(columns=["ca", "thal"]).to_csv(lacking, index=False)
    out = tmp_path / "never.csv"
    assert main([str(job), str(lacking), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("medsweep predict: error: ")
    assert "'ca', 'thal'" in err and str(lacking) in err
    assert not out.exists()


def test_extra_columns_are_listed_and_ignored(cleveland, tmp_path, capsys):
    job, train, test = cleveland
    extra = tmp_path / "extra.csv"
    frame = pd.read_csv(test, dtype=str, keep_default_na=False).drop(columns="num")
    frame.insert(3, "ward", "A")  # text among the features, anywhere in the file
    frame.to_csv(extra, index=False)
    out = tmp_path / "e.csv"
    assert main([str(job), str(extra), "-o", str(out)]) == 0
    assert "'ward': not in the training data" in capsys.readouterr().err
    np.testing.assert_allclose(pd.read_csv(out)["proba_1"], _cleveland_by_hand(train, test), rtol=0, atol=1e-9)


def test_text_in_a_numeric_feature_is_refused_naming_it(cleveland, tmp_path, capsys):
    job, _, test = cleveland
    typed = tmp_path / "typed.csv"
    frame = pd.read_csv(test, dtype=str, keep_default_na=False)
    frame.loc[5, "chol"] = "high"
    frame.to_csv(typed, index=False)
    assert main([str(job), str(typed), "-o", str(tmp_path / "t.csv"), "--chunk-rows", "4"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("medsweep predict: error:")]
    assert len(errors) == 1
    err = errors[0]
    assert "column 'chol' holds text ('high' in data row 6)" in err and "numbers" in err


def test_numbers_in_a_text_feature_are_refused_naming_it(oasis, tmp_path, capsys):
    job, _, test = oasis
    parquet = tmp_path / "numbers.parquet"
    frame = pd.read_csv(test)
    frame["M/F"] = (frame["M/F"] == "M").astype(int)  # coded 0/1 where training had M/F text
    frame.to_parquet(parquet)
    assert main([str(job), str(parquet), "-o", str(tmp_path / "n.csv")]) == 2
    assert "column 'M/F' holds numbers" in capsys.readouterr().err


def test_a_changed_model_file_is_refused_before_loading(cleveland, oasis, tmp_path):
    job, _, test = cleveland
    corrupted = shutil.copytree(job, tmp_path / "corrupted")
    data = bytearray((corrupted / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (corrupted / MODEL_FILE).write_bytes(bytes(data))
    swapped = shutil.copytree(job, tmp_path / "swapped")
    shutil.copyfile(oasis[0] / MODEL_FILE, swapped / MODEL_FILE)  # another job's (valid, loadable) model
    for tampered in (corrupted, swapped):
        result = _predict(tampered, test, "-o", tmp_path / "x.csv")
        assert result.returncode == 2
        assert result.stderr.startswith("medsweep predict: error: ") and result.stderr.count("\n") == 1
        assert f"{tampered / MODEL_FILE} is not the model this job saved" in result.stderr
        assert "replaced or corrupted" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_a_failed_job_is_refused(cleveland, tmp_path, capsys):
    _, _, test = cleveland
    failed = tmp_path / "failed"
    result = run_train("model=cardiovascular", f"data.path={test}", "data.target=nope", f"hydra.run.dir={failed}")
    assert result.returncode != 0
    assert json.loads((failed / METRICS_FILE).read_text())["status"] == Status.FAILED
    assert main([str(failed), str(test), "-o", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert f"job {failed} did not complete (status {Status.FAILED.value!r}" in err and "DataError" in err


def test_output_defaults_to_the_file_name_in_the_current_directory(cleveland, tmp_path, monkeypatch):
    job, _, test = cleveland
    monkeypatch.chdir(tmp_path)
    assert main([str(job), str(test)]) == 0
    assert (tmp_path / "test_cleveland_heart.predictions.csv").is_file()
    # Never into the job's own directory (its predictions.csv is the out-of-fold record), nor over the input.
    assert main([str(job), str(test), "-o", str(job / "p.csv")]) == 2
    assert main([str(job), str(test), "-o", str(test)]) == 2


@pytest.mark.slow
def test_a_million_rows_in_bounded_memory(cleveland, tmp_path):
    """Peak RSS of predicting 1,000,000 rows stays within one chunk's worth of that of 10,000 rows."""
    job, train, test = cleveland
    header, *rows = test.read_text().splitlines()
    peak = {}
    script = ("import resource, sys\nfrom medsweep.cli.predict import main\nrc = main(sys.argv[1:])\n"
              "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    for n in (10_000, 1_000_000):
        data = tmp_path / f"rows{n}.csv"
        with open(data, "w") as f:
            f.write(header + "\n")
            for i in range(0, n, len(rows)):
                f.write("\n".join(rows[: min(len(rows), n - i)]) + "\n")
        out = tmp_path / f"out{n}.csv"
        result = subprocess.run([sys.executable, "-c", script, str(job), str(data), "-o", str(out)],
                                capture_output=True, text=True, timeout=600)
        rc, kib = result.stdout.split()[-2:]
        assert rc == "0", result.stderr
        peak[n] = int(kib) / 1024
        print(f"{n} rows: peak RSS {peak[n]:.0f} MiB")
    assert peak[1_000_000] - peak[10_000] < 80, peak  # the whole table alone would take ~250 MiB more
    pred = pd.read_csv(out, usecols=["row", "proba_1"])
    assert len(pred) == 1_000_000 and pred["row"].iloc[-1] == 999_999
    expected = _cleveland_by_hand(train, test)
    np.testing.assert_allclose(pred["proba_1"].to_numpy()[: len(expected) * 3], np.tile(expected, 3), rtol=0, atol=1e-9)


def _job_with_model(job: Path, folder: Path, edit) -> Path:
    """A copy of the job whose model.skops was edited by ``edit(schema, members, pipeline)`` and whose
    metrics.json records the edited file's sha256, as someone handing over a crafted job directory would."""
    import hashlib

    from helpers.model_archives import read_archive, write_archive

    copy = shutil.copytree(job, folder)
    schema, members = read_archive(copy / MODEL_FILE)
    edit(schema, members, copy)
    write_archive(copy / MODEL_FILE, schema, members)
    record = json.loads((copy / METRICS_FILE).read_text())
    record["model_sha256"] = hashlib.sha256((copy / MODEL_FILE).read_bytes()).hexdigest()
    (copy / METRICS_FILE).write_text(json.dumps(record))
    return copy


def _wrong_coefficients(schema, members, job):
    from helpers.model_archives import nodes, of_class, set_array

    coef = nodes(schema, of_class("LogisticRegression"))[0]["content"]["content"]["coef_"]
    set_array(members, coef, np.zeros((1, 3)))


def _forest_with_a_tree_pointing_outside(schema, members, job):
    """The job's pipeline with a random forest as its estimator (all trusted types), one of whose trees
    has a child index past its nodes: SIGSEGV at predict on today's main."""
    from helpers.model_archives import array, nodes, of_class, read_archive, set_array
    from medsweep.learn.persistence import load_model, save_model
    from sklearn.ensemble import RandomForestClassifier

    pipeline = load_model(job / MODEL_FILE)
    record = json.loads((job / METRICS_FILE).read_text())
    train, used = pd.read_csv(record["data"]["path"], na_values="?"), record["features"]["used"]
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    forest.fit(pipeline[:-1].transform(train[used]), (train["num"] > 0).astype(int))
    pipeline.steps[-1] = ("estimator", forest)
    save_model(pipeline, job / MODEL_FILE)
    new_schema, new_members = read_archive(job / MODEL_FILE)
    node = nodes(new_schema, of_class("Tree"))[0]["content"]["content"]["nodes"]
    tree_nodes = array(new_members, node)
    tree_nodes["left_child"][0] = 10**6
    set_array(new_members, node, tree_nodes)
    schema.clear(), schema.update(new_schema)
    members.clear(), members.update(new_members)


@pytest.mark.parametrize("edit, message", [
    (_wrong_coefficients, "failed to predict_proba (ValueError"),
    (_forest_with_a_tree_pointing_outside, "child index outside"),
])
def test_a_malformed_model_of_trusted_types_ends_in_one_line_and_exit_2(cleveland, tmp_path, edit, message):
    """Issue 22 items 1 and 9: a ValueError traceback (exit 1), or SIGSEGV, where one line belongs."""
    job, _, test = cleveland
    crafted = _job_with_model(job, tmp_path / "crafted", edit)
    result = _predict(crafted, test, "-o", tmp_path / "x.csv")
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    *notes, last = result.stderr.splitlines()
    assert last.startswith("medsweep predict: error: ") and all(n.startswith("note: ") for n in notes), result.stderr
    assert message in last and str(crafted / MODEL_FILE) in last
    assert not (tmp_path / "x.csv").exists()


def test_the_model_process_limits_are_options(cleveland, tmp_path):
    job, _, test = cleveland
    result = _predict(job, test, "-o", tmp_path / "x.csv", "--model-timeout-s", "0.01")
    assert result.returncode == 2 and "took longer than 0.01 s" in result.stderr
    assert result.stderr.startswith("medsweep predict: error: ") and result.stderr.count("\n") == 1
    result = _predict(job, test, "-o", tmp_path / "x.csv", "--model-memory-mb", "10")
    assert result.returncode == 2 and "--model-memory-mb=10 is not allowed" in result.stderr
