import numpy as np
import pandas as pd
import pytest

from medsweep.data.errors import DataError

from medsweep.data.prepare import Dataset
from medsweep.learn.splitting import split


def dataset(n_patients=20, visits=3, task="classification"):
    patients = np.repeat([f"P{i}" for i in range(n_patients)], visits)
    y = np.repeat(np.arange(n_patients) % 2, visits)
    X = pd.DataFrame({"x": np.arange(len(y), dtype=float)})
    return Dataset(X=X, y=pd.Series(y), groups=pd.Series(patients), task=task, target="y", classes=[0, 1])


def test_no_patient_is_on_both_sides_of_a_fold_and_each_is_tested_once():
    d = dataset()
    tested = []
    for train, test in split(d, 5, seed=0):
        assert not set(d.groups.iloc[train]) & set(d.groups.iloc[test])
        tested.extend(d.groups.iloc[test].unique())
    assert sorted(tested) == sorted(d.groups.unique())


def test_folds_depend_on_the_seed_only():
    d = dataset()
    a = [t.tolist() for _, t in split(d, 4, seed=1)]
    assert a == [t.tolist() for _, t in split(d, 4, seed=1)]
    assert a != [t.tolist() for _, t in split(d, 4, seed=2)]


def test_more_folds_than_patients_in_a_class_is_refused_with_the_numbers():
    with pytest.raises(DataError, match=r"trainer.folds=8 but class '0' of 'y' has only 3 patients"):
        split(dataset(n_patients=6), 8, seed=0)
