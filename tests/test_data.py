import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset, prepare


def data_cfg(**kw):
    base = dict(name="t", source="synthetic", file=None, path=None, target="y", task="classification",
                group=None, group_pattern=None, drop=[], positive=None, na_values=["?", "NA", ""],
                delimiter=None, seed=0)
    return OmegaConf.create({**base, **kw})


def test_breast_cancer_is_real_and_malignant_is_positive():
    d = load_dataset(data_cfg(name="breast_cancer", source="sklearn", target="diagnosis", positive=["malignant"]))
    assert d.X.shape == (569, 30)
    assert d.classes == [0, 1] and int(d.y.sum()) == 212  # 212 malignant in WDBC
    assert d.info["source"] == "sklearn" and d.info["synthetic"] is False


def test_diabetes_is_regression_on_the_progression_target():
    d = load_dataset(data_cfg(name="diabetes", source="sklearn", target="progression", task="regression"))
    assert d.X.shape == (442, 10) and d.classes is None and d.y.dtype == float


def test_synthetic_data_is_labelled_and_identical_for_a_seed():
    cfg = data_cfg(name="parkinsons", target="status", group="name", group_pattern=r"^(.*)_\d+$")
    a, b = load_dataset(cfg), load_dataset(cfg)
    assert a.info["synthetic"] is True and a.info["source"] == "synthetic"
    assert a.info["sha256"] == b.info["sha256"]
    pd.testing.assert_frame_equal(a.X, b.X)


def test_patient_is_derived_from_recording_id():
    frame = pd.DataFrame({"name": ["p_S01_1", "p_S01_2", "p_S02_1", "p_S02_2"], "x": [1.0, 2, 3, 4],
                          "y": [1, 1, 0, 0]})
    d = prepare(frame, data_cfg(group="name", group_pattern=r"^(.*)_\d+$"), {})
    assert d.groups.tolist() == ["p_S01", "p_S01", "p_S02", "p_S02"]
    assert "name" not in d.X.columns and d.n_groups == 2


def test_identifiers_empty_columns_and_dropped_columns_are_not_features():
    frame = pd.DataFrame({"visit": ["a", "b", "c", "d"], "empty": [np.nan] * 4, "leak": [0, 1, 0, 1],
                          "sex": ["M", "F", "M", "F"], "x": [1.0, 2, 3, 4], "y": [0, 1, 0, 1]})
    d = prepare(frame, data_cfg(drop=["leak"]), {})
    assert list(d.X.columns) == ["sex", "x"]
    assert "identifier" in d.excluded["visit"] and d.excluded["empty"] == "entirely empty"
    assert "data.drop" in d.excluded["leak"]


def test_rows_without_target_are_dropped_and_counted():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "y": [0, 1, np.nan, 0, 1]})
    d = prepare(frame, data_cfg(), {})
    assert len(d.y) == 4 and d.info["dropped_rows_missing_target"] == 1


def test_missing_target_column_names_the_columns_that_exist():
    frame = pd.DataFrame({"x": [1.0, 2], "label": [0, 1]})
    with pytest.raises(DataError, match=r"data.target='y'.*columns are: x, label"):
        prepare(frame, data_cfg(), {})


def test_single_class_and_non_numeric_regression_targets_are_refused():
    with pytest.raises(DataError, match="single class"):
        prepare(pd.DataFrame({"x": [1.0, 2], "y": [1, 1]}), data_cfg(), {})
    with pytest.raises(DataError, match="not numeric"):
        prepare(pd.DataFrame({"x": [1.0, 2], "y": ["a", "b"]}), data_cfg(task="regression"), {})


def test_positive_values_must_exist_in_the_target():
    with pytest.raises(DataError, match=r"none of these values occur in target 'y'"):
        prepare(pd.DataFrame({"x": [1.0, 2], "y": ["a", "b"]}), data_cfg(positive=["c"]), {})


# --- files a user brings ----------------------------------------------------------------------------

def table(n=30):
    """A small table with a text column and a patient id repeated over 3 visits."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pid": [f"P{i // 3:02d}" for i in range(n)], "age": rng.integers(40, 80, n).astype(float),
                         "sex": rng.choice(["F", "M"], n), "bp": rng.normal(120, 15, n).round(1),
                         "y": [(i // 3) % 2 for i in range(n)]})


def from_file(path, **kw):
    return load_dataset(data_cfg(path=str(path), **kw))


@pytest.mark.parametrize("sep, name", [(",", "t.csv"), (";", "t.csv"), ("\t", "t.tsv"), ("|", "t.data")])
def test_delimiter_is_detected(tmp_path, sep, name):
    table().to_csv(tmp_path / name, sep=sep, index=False)
    d = from_file(tmp_path / name, group="pid")
    assert list(d.X.columns) == ["age", "sex", "bp"] and d.n_groups == 10
    assert d.info["source"] == "file" and d.info["rows"] == 30 and d.info["columns"] == 5


def test_delimiter_can_be_named(tmp_path):
    table().to_csv(tmp_path / "t.txt", sep=";", index=False)
    assert from_file(tmp_path / "t.txt", delimiter="semicolon").X.shape == (30, 4)


def test_missing_value_markers_csv_and_parquet_read_the_same(tmp_path):
    text = "age,sex,bp,y\n50,F,?,0\nNA,M,120,1\n61,,130,0\n70,F,140,1\n"
    (tmp_path / "t.csv").write_text(text)
    # A Parquet export that kept the markers as text: they are missing values there too.
    pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False).to_parquet(tmp_path / "t.parquet")
    a, b = from_file(tmp_path / "t.csv"), from_file(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(a.X, b.X)
    assert a.X["bp"].isna().sum() == 1 and a.X["age"].isna().sum() == 1 and a.X["sex"].isna().sum() == 1
    assert a.X["bp"].dtype == float and b.y.tolist() == a.y.tolist()


def test_gzipped_csv_is_read(tmp_path):
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(table().to_csv(index=False).encode()))
    assert from_file(tmp_path / "t.csv.gz").X.shape == (30, 4)


def test_latin1_export_is_read(tmp_path):
    (tmp_path / "t.csv").write_bytes("x,site,y\n1,Bézier,0\n2,Orléans,1\n3,Orléans,0\n".encode("latin-1"))
    assert from_file(tmp_path / "t.csv").X["site"].tolist() == ["Bézier", "Orléans", "Orléans"]


def test_file_is_only_read_and_hashed(tmp_path):
    table().to_csv(tmp_path / "t.csv", index=False)
    before = (tmp_path / "t.csv").read_bytes()
    d = from_file(tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == before
    assert d.info["sha256"] == hashlib.sha256(before).hexdigest() and d.info["path"] == str(tmp_path / "t.csv")


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", r"empty.csv is empty"),
    ("blank.csv", b"\n\n  \n", r"blank.csv is empty"),
    ("header.csv", b"x,y\n", r"header.csv has a header but no data rows"),
    ("binary.csv", bytes(range(256)) * 8, r"binary.csv is not a text table \(binary content\)"),
    ("book.csv", b"PK\x03\x04" + b"\x00" * 60, r"book.csv is an Excel workbook"),
    ("ragged.csv", b"x,y\n1,0\n2,1,5\n", r"ragged.csv cannot be read as delimited text .*line 3"),
    ("text.parquet", b"x,y\n1,0\n", r"text.parquet is named .parquet but is not a Parquet file"),
    ("cut.parquet", b"PAR1" + b"\x01" * 40, r"cut.parquet is not a readable Parquet file"),
])
def test_unreadable_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        from_file(tmp_path / name)
    assert "\n" not in str(err.value)


def test_missing_file_and_folder_name_the_setting(tmp_path):
    with pytest.raises(DataError, match=r"data.path=.*nope.csv: file not found"):
        from_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"is a folder, not a file"):
        from_file(tmp_path)
    with pytest.raises(DataError, match=r"data_dir=.* with data.file=x.csv: file not found"):
        load_dataset(data_cfg(file="x.csv"), data_dir=str(tmp_path))


def test_a_missing_relative_path_is_looked_for_in_the_working_directory(tmp_path, monkeypatch):
    # An installed medsweep has no train.py: the message names the folder it is run from.
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as err:
        from_file("data/nope.csv")
    message = str(err.value)
    assert f"(looked for {tmp_path.resolve() / 'data' / 'nope.csv'})" in message
    assert "relative to the folder medsweep is run from: the working directory" in message
    assert "train.py" not in message


def test_absent_column_suggests_the_close_one():
    frame = pd.DataFrame({"Outcome": [0, 1], "x": [1.0, 2]})
    with pytest.raises(DataError, match=r"data.target='outcome'.*did you mean 'Outcome'.*columns are: Outcome, x"):
        prepare(frame, data_cfg(target="outcome"), {})
    with pytest.raises(DataError, match=r"data.group='patient' is not a column.*columns are: Outcome, x"):
        prepare(frame, data_cfg(target="Outcome", group="patient"), {})


def test_one_column_read_hints_at_the_delimiter(tmp_path):
    (tmp_path / "t.csv").write_text("x:y\n1:0\n2:1\n")
    with pytest.raises(DataError, match=r"read as one column: set data.delimiter"):
        from_file(tmp_path / "t.csv")


def test_empty_target_or_group_column_is_an_error_and_an_empty_feature_is_left_out(caplog):
    frame = pd.DataFrame({"pid": [np.nan] * 4, "empty": [np.nan] * 4, "x": [1.0, 2, 3, 4], "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match=r"data.target='empty' is entirely empty \(all 4 rows missing\)"):
        prepare(frame, data_cfg(target="empty"), {})
    with pytest.raises(DataError, match=r"data.group='pid' is entirely empty"):
        prepare(frame, data_cfg(group="pid"), {})
    with caplog.at_level("WARNING", logger="medsweep"):
        d = prepare(frame.drop(columns="pid"), data_cfg(), {})
    assert list(d.X.columns) == ["x"] and d.excluded["empty"] == "entirely empty"
    assert "'empty' is entirely empty" in caplog.text


def test_rows_without_a_patient_are_refused():
    frame = pd.DataFrame({"pid": ["a", None, "b", "b"], "x": [1.0, 2, 3, 4], "y": [0, 1, 0, 1]})
    with pytest.raises(DataError, match=r"data.group='pid' is missing in 1 row\(s\) \(first: data row 2\)"):
        prepare(frame, data_cfg(group="pid"), {})


def test_group_pattern_written_for_another_column_is_not_applied():
    """parkinsons' pattern (for `name`) with data.group=subject_id, as for the UPDRS file."""
    frame = pd.DataFrame({"subject_id": [1, 1, 2, 2], "x": [1.0, 2, 3, 4], "y": [0.5, 1.5, 2.5, 3.5]})
    d = prepare(frame, data_cfg(task="regression", group="subject_id", group_pattern=r"^(.*)_\d+$"), {})
    assert d.groups.tolist() == ["1", "1", "2", "2"]
    frame["subject_id"] = ["s_1", "s_2", "t", "t"]  # matches some ids only: a wrong pattern or wrong ids
    with pytest.raises(DataError, match=r"does not match 2 value\(s\) of column 'subject_id', e.g. 't'"):
        prepare(frame, data_cfg(task="regression", group="subject_id", group_pattern=r"^(.*)_\d+$"), {})


def test_regression_target_names_the_first_non_number():
    frame = pd.DataFrame({"x": [1.0, 2, 3], "y": ["1.5", "n/a", "2"]})
    with pytest.raises(DataError, match=r"not numeric \('n/a' in data row 2\).*data.na_values"):
        prepare(frame, data_cfg(task="regression"), {})
    frame["y"] = [1.5, np.nan, 2]
    assert prepare(frame, data_cfg(task="regression"), {}).y.tolist() == [1.5, 2.0]


def test_measurement_as_classification_target_and_positive_with_regression_are_refused():
    frame = pd.DataFrame({"x": np.arange(30.0), "y": np.linspace(10.3, 40.7, 30)})
    with pytest.raises(DataError, match=r"30 distinct decimal values.*use data.task=regression"):
        prepare(frame, data_cfg(), {})
    with pytest.raises(DataError, match=r"data.positive=\[1\].*data.task=regression"):
        prepare(frame, data_cfg(task="regression", positive=[1]), {})


def test_positive_turns_a_multiclass_target_into_binary():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "num": [0, 1, 2, 4, 0]})
    d = prepare(frame, data_cfg(target="num", positive=[1, 2, 3, 4]), {})
    assert d.y.tolist() == [0, 1, 1, 1, 0] and d.classes == [0, 1]  # no num=3 here: a warning, not an error
    with pytest.raises(DataError, match=r"single class \(1\) in all 3 rows \(data.positive"):
        prepare(frame.iloc[1:4], data_cfg(target="num", positive=[1, 2, 3, 4]), {})


def test_row_numbers_are_identifiers_but_measurements_are_not():
    n = 40
    frame = pd.DataFrame({"record": np.arange(101, 101 + n), "age": np.arange(40, 40 + n) % 23 + 50,
                          "x": np.linspace(0, 1, n), "y": [0, 1] * (n // 2)})
    d = prepare(frame, data_cfg(), {})
    assert list(d.X.columns) == ["age", "x"] and "row numbers" in d.excluded["record"]


def test_each_sample_keeps_its_source_row_after_rows_without_target_are_dropped():
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "y": [0, 1, np.nan, 0, 1]})
    d = prepare(frame, data_cfg(), {})
    assert d.rows.tolist() == [0, 1, 3, 4]


def test_a_pattern_matching_no_recording_id_is_refused_not_turned_into_one_patient_per_row():
    frame = pd.DataFrame({"name": ["S01-1", "S01-2", "S02-1", "S02-2"], "x": [1.0, 2, 3, 4], "y": [1, 1, 0, 0]})
    with pytest.raises(DataError, match="group_pattern"):
        prepare(frame, data_cfg(group="name", group_pattern=r"^(.*)_\d+$"), {})


def test_only_na_values_mark_missing_cells(tmp_path):
    path = tmp_path / "smoking.csv"
    path.write_text("smoking,x,y\nNone,1,0\nCurrent,2,1\n?,3,0\nFormer,4,1\nNone,5,0\n")
    d = load_dataset(data_cfg(path=str(path)))
    assert d.X.smoking.tolist()[:2] == ["None", "Current"] and pd.isna(d.X.smoking[2])


def test_dates_and_ids_with_gaps_are_not_features():
    frame = pd.DataFrame({"visit_date": [f"2020-01-0{i % 9 + 1}" for i in range(10)],
                          "rid": [f"r{i}" for i in range(9)] + [np.nan], "x": np.arange(10.0), "y": [0, 1] * 5})
    d = prepare(frame, data_cfg(), {})
    assert list(d.X.columns) == ["x"]
    assert d.excluded["visit_date"].startswith("date") and d.excluded["rid"].startswith("identifier")
