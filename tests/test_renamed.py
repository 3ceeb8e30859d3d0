"""Names from before the modules became packages still import: a model registered in MLflow by the older
layout runs a file that imports medsweep.job_files, medsweep.persistence, medsweep.predict and
medsweep.metrics when it is loaded."""

import importlib
import subprocess
import sys

import pytest

from medsweep._renamed import RENAMED


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_an_old_module_name_is_the_module_that_holds_its_code_now(old):
    module = importlib.import_module(old)
    assert module is importlib.import_module(RENAMED[old])
    assert module.__name__ == RENAMED[old]


def test_the_names_an_older_registered_model_imports_resolve_in_a_fresh_interpreter():
    code = ("from medsweep.job_files import model_problem\n"
            "from medsweep.persistence import ModelProcess, UntrustedModelError\n"
            "from medsweep.predict import check_classes, feature_kinds, check_columns, features\n"
            "from medsweep.metrics import predicted_classes\n"
            "print(ModelProcess.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1].startswith("medsweep.learn.")


def test_no_old_name_shadows_a_module_of_today():
    for old in RENAMED:
        spec = importlib.machinery.PathFinder.find_spec(old.rsplit(".", 1)[1],
                                                        importlib.import_module("medsweep").__path__)
        assert spec is None, f"{old} is a real module again: remove it from RENAMED"
