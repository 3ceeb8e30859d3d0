import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from medsweep.data import DataError, load_dataset, prepare


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
    with pytest.raises(DataError, match=r"never occur in target 'y'"):
        prepare(pd.DataFrame({"x": [1.0, 2], "y": ["a", "b"]}), data_cfg(positive=["c"]), {})
