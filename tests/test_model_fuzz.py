"""Fuzzing: random mutations of real model files (their bytes, their schema's values, types and loaders,
the contents of their arrays, LightGBM's model text, XGBoost's JSON model) never kill the process that loads and uses them by a
signal, and never run past a time limit: each ends in predictions, a refusal (UntrustedModelError) or, in
this process, an exception as it predicts. Today's main dies by SIGSEGV within the first 30 mutations and
by SIGABRT at the first edit of LightGBM's text."""

import subprocess
import sys

import pytest

from helpers import ROOT
from helpers.model_archives import save_small_models

FUZZ = ROOT / "tests" / "helpers" / "model_fuzz.py"
SLOWEST_S = 10  # one mutation: the models are small; a hang would take forever


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_models")
    save_small_models(folder)
    lightgbm = folder / "lightgbm_only"
    lightgbm.mkdir()
    (lightgbm / "lightgbm.skops").write_bytes((folder / "lightgbm.skops").read_bytes())
    xgboost = folder / "xgboost_only"
    xgboost.mkdir()
    (xgboost / "xgboost.skops").write_bytes((folder / "xgboost.skops").read_bytes())
    return folder, lightgbm, xgboost


def _fuzz(folder, seed: int, count: int, *mode: str) -> tuple[int, int, int]:
    result = subprocess.run([sys.executable, str(FUZZ), str(folder), str(seed), str(count), *mode],
                            capture_output=True, text=True, timeout=300)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, f"exit {result.returncode} at mutation: {lines[-1] if lines else ''}\n" \
                                   f"{result.stderr[-2000:]}"
    done, refused, predicted, failed, slowest = lines[-1].split()
    assert done == "done" and float(slowest) < SLOWEST_S, lines[-1]
    print(f"{count} mutations: {refused} refused, {predicted} predicted, {failed} failed, slowest {slowest} s")
    return int(refused), int(predicted), int(failed)


def test_three_hundred_mutations_never_crash_or_hang_the_process_that_loads_them(models):
    folder, _, _ = models
    refused, predicted, failed = _fuzz(folder, 1, 300)
    assert refused >= 50  # the mutations do reach the checks


def test_edited_lightgbm_model_texts_never_crash_the_process_that_loads_them(models):
    _, lightgbm, _ = models
    refused, _, _ = _fuzz(lightgbm, 7, 200, "inprocess", "lightgbm-text")
    assert refused >= 30


def test_edited_xgboost_json_models_never_crash_the_process_that_loads_them(models):
    _, _, xgboost = models
    refused, _, _ = _fuzz(xgboost, 5, 200, "inprocess", "xgboost-json")
    assert refused >= 30


@pytest.mark.slow
def test_through_the_child_process_every_mutation_ends_in_predictions_or_one_error(models):
    """What ``medsweep predict`` and the MLflow model do: a child process per model file."""
    folder, _, _ = models
    refused, predicted, failed = _fuzz(folder, 11, 8, "child")
    assert failed == 0  # every failure, wherever it happens, is an UntrustedModelError
