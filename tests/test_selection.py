"""BBC-CV (the winner's bias-corrected score) and Holm's adjustment, against computations written out here
with scikit-learn on explicit loops."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, roc_auc_score

from medsweep.evaluate.selection import bbc_cv, group_estimate, holm


def cohort(n_patients=60, configs=3, seed=0):
    """Binary outcome per patient, 1-3 rows per patient, ``configs`` noisy scores of it."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, n_patients)
    patients = np.repeat(np.arange(n_patients), sizes)
    y_patient = rng.random(n_patients) < 0.4
    y = np.where(y_patient[patients], "1", "0")
    outs = []
    for c in range(configs):
        score = 1 / (1 + np.exp(-(1.2 * y_patient[patients] + rng.normal(0, 1 + 0.2 * c, len(y)))))
        outs.append(np.column_stack([1 - score, score]))
    return y, outs, patients


def patient_draws(patients, n_boot, seed):
    """The test's own bootstrap of patients: (in-bag draw counts per row, drawn patients per sample)."""
    rng = np.random.default_rng(seed)
    units = np.unique(patients)
    draws = [rng.choice(units, size=len(units), replace=True) for _ in range(n_boot)]
    counts = np.array([[np.sum(d == p) for p in patients] for d in draws], dtype=float)
    return counts, draws


def loop_bbc(y, outs, patients, draws, score, greater=True):
    """BBC-CV written as the paper's loop: per sample, in-bag rows repeated as drawn, pick the best, score
    it on the patients not drawn."""
    values = []
    for d in draws:
        inbag = np.concatenate([np.flatnonzero(patients == p) for p in d])
        oob = np.flatnonzero(~np.isin(patients, d))
        in_scores = []
        for out in outs:
            try:
                in_scores.append(score(y[inbag], out[inbag]))
            except ValueError:
                in_scores.append(-math.inf if greater else math.inf)
        best = int(np.argmax(in_scores) if greater else np.argmin(in_scores))
        try:
            values.append(score(y[oob], outs[best][oob]))
        except ValueError:  # one class out of bag: no score
            continue
    return np.mean(values), np.percentile(values, [2.5, 97.5]), len(values)


def auc(y, out):
    if len(set(y)) < 2:
        raise ValueError("one class")
    return roc_auc_score(y == "1", out[:, 1])


def test_bbc_cv_is_the_papers_loop_on_the_same_patient_draws():
    y, outs, patients = cohort()
    W, draws = patient_draws(patients, 200, seed=1)
    got = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", weights=W)
    mean, (lo, hi), n_valid = loop_bbc(y, outs, patients, draws, auc)
    assert got["estimate"] == pytest.approx(mean, abs=1e-12)
    assert (got["lower"], got["upper"]) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    assert got["n_valid"] == n_valid == 200 and sum(got["selected"].values()) == 200
    assert got["configurations"] == 3 and got["selected"][0] > got["selected"][2]  # the least noisy wins most


def test_bbc_cv_lower_is_better_regression():
    rng = np.random.default_rng(3)
    n = 80
    patients = np.repeat(np.arange(40), 2)
    y = rng.normal(size=n)
    outs = [y + rng.normal(0, s, n) for s in (0.5, 0.55, 0.9)]
    W, draws = patient_draws(patients, 150, seed=2)

    def rmse(t, p):
        return math.sqrt(mean_squared_error(t, p))

    got = bbc_cv(y, outs, None, "regression", "rmse", greater_is_better=False, weights=W)
    mean, (lo, hi), _ = loop_bbc(y, outs, patients, draws, rmse, greater=False)
    assert got["estimate"] == pytest.approx(mean, abs=1e-12)
    assert got["lower"] == pytest.approx(lo, abs=1e-12) and got["upper"] == pytest.approx(hi, abs=1e-12)


def test_one_configuration_is_close_to_the_pooled_value():
    y, outs, patients = cohort(n_patients=300, configs=1, seed=5)
    got = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", groups=patients, n_boot=1000, seed=0)
    pooled = roc_auc_score(y == "1", outs[0][:, 1])
    assert got["estimate"] == pytest.approx(pooled, abs=0.01)
    assert got["lower"] < pooled < got["upper"] and got["selected"] == {0: got["n_valid"]}


def test_default_resamples_draw_patients_with_all_their_rows():
    y, outs, patients = cohort(n_patients=50, configs=2, seed=2)
    # Drawing patients (all their rows together) is another resampling than drawing rows.
    with_patients = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", groups=patients, n_boot=200)
    rows_only = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", groups=None, n_boot=200)
    assert with_patients["estimate"] != rows_only["estimate"]
    again = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", groups=patients, n_boot=200)
    assert again == with_patients  # seeded


def test_selection_optimism_is_removed_for_equal_configurations():
    """Twenty configurations with the same true AUC: the best pooled value is above it, BBC-CV is not."""
    rng = np.random.default_rng(11)
    n = 150
    y_bool = rng.random(n) < 0.5
    y = np.where(y_bool, "1", "0")
    outs = []
    for _ in range(20):
        s = 1 / (1 + np.exp(-(0.8 * y_bool + rng.normal(0, 1, n))))
        outs.append(np.column_stack([1 - s, s]))
    naive = max(roc_auc_score(y_bool, o[:, 1]) for o in outs)
    mean_auc = np.mean([roc_auc_score(y_bool, o[:, 1]) for o in outs])
    got = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", n_boot=500)
    assert naive - mean_auc > 0.04
    assert abs(got["estimate"] - mean_auc) < (naive - mean_auc) / 2


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.20, 0.005]
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    expected = [0.0] * m
    for rank, i in enumerate(order):
        expected[i] = min(1.0, max((m - r) * p[order[r]] for r in range(rank + 1)))
    assert holm(p) == pytest.approx(expected)
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.20, 0.025])  # by hand
    assert holm([0.3]) == [0.3] and holm([]) == []


def write_predictions(job, y, out, patients, order):
    job.mkdir(parents=True)
    frame = pd.DataFrame({"row": np.arange(len(y)), "patient": [f"p{p}" for p in patients], "fold": 0,
                          "y_true": y, "y_pred": np.where(out[:, 1] >= 0.5, "1", "0"),
                          "proba_0": out[:, 0], "proba_1": out[:, 1]})
    frame.iloc[order].to_csv(job / "predictions.csv", index=False)
    record = {"task": "classification", "classes": ["0", "1"], "primary_metric": "roc_auc", "greater_is_better": True,
              "evaluation": {"interval": {"n_boot": 300, "seed": 4}}}
    (job / "metrics.json").write_text(json.dumps(record))
    return record


def test_a_group_is_read_from_predictions_files_in_any_row_order(tmp_path):
    y, outs, patients = cohort(n_patients=40, configs=2, seed=8)
    rng = np.random.default_rng(0)
    records = {num: write_predictions(tmp_path / str(num), y, outs[num], patients, rng.permutation(len(y)))
               for num in (0, 1)}
    got = group_estimate({n: tmp_path / str(n) for n in (0, 1)}, records)
    direct = bbc_cv(y, outs, ["0", "1"], "classification", "roc_auc", groups=[f"p{p}" for p in patients],
                    n_boot=300, seed=4)
    assert got["estimate"] == pytest.approx(direct["estimate"], abs=1e-12)
    assert got["jobs"] == [0, 1] and set(got["selected"]) == {0, 1}
    # Another job's file with other truths: refused, naming the job.
    y2 = y.copy()
    y2[0] = "1" if y[0] == "0" else "0"
    records[2] = write_predictions(tmp_path / "2", y2, outs[0], patients, np.arange(len(y)))
    with pytest.raises(ValueError, match="job 2: .*predictions.csv holds other rows, truths or patients"):
        group_estimate({n: tmp_path / str(n) for n in (0, 1, 2)}, records)


def test_the_benchmark_script_runs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, str(root / "benchmarks" / "bbc_cv.py"), "--quick", "--configs", "1,3"],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [line.split() for line in res.stdout.splitlines() if line.startswith(("equal", "better"))]
    assert [(l[0], l[1]) for l in lines] == [("equal", "1"), ("equal", "3"), ("better", "1"), ("better", "3")]
