"""medsweep.report.compare: the corrected resampled t-test (Nadeau & Bengio 2003), which jobs pair, each job
against the best of its group, and ``medsweep compare`` (medsweep.cli.compare) on hand-made and real sweeps."""

import json
import math
import random
import subprocess
import sys

import pytest
from scipy import stats

from helpers import ROOT, metrics_of, run_train
from medsweep.cli.compare import main
from medsweep.report.compare import comparable, compare_to_best, corrected_ttest


# -- an independent implementation of the paper's formula: loops and math only ---------------------------

def t_abs_cdf(t: float, df: int) -> float:
    """P(|T| <= |t|) for Student's t with integer ``df``: the closed forms of Abramowitz & Stegun 26.7.3
    (odd df) and 26.7.4 (even df)."""
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 0:
        term = total = 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * c2
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2 * theta / math.pi
    term = total = 1.0
    for k in range(1, (df - 1) // 2):
        term *= (2 * k) / (2 * k + 1) * c2
        total += term
    return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)


def t_quantile(level: float, df: int) -> float:
    """q with P(|T| <= q) = level, by bisection."""
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_abs_cdf(mid, df) < level else (lo, mid)
    return (lo + hi) / 2


def reference(a, b, n_train, n_test, alpha=0.05):
    """(t, df, two-sided p, lower, upper) as written in Nadeau & Bengio (2003), eq. for the corrected
    resampled t-test with n2/n1 = test/train rows."""
    d = []
    for x, y in zip(a, b):
        d.append(x - y)
    n = len(d)
    mean = 0.0
    for x in d:
        mean += x / n
    ss = 0.0
    for x in d:
        ss += (x - mean) ** 2
    ratio = (sum(n_test) / len(n_test)) / (sum(n_train) / len(n_train))
    se = math.sqrt(ss / (n - 1) * (1 / n + ratio))
    t = mean / se
    half = t_quantile(1 - alpha, n - 1) * se
    return t, n - 1, 1 - t_abs_cdf(t, n - 1), mean - half, mean + half


def test_the_reference_t_distribution_is_right():
    """The test's own t distribution against known values (df=1: Cauchy; df=2 closed form; tables)."""
    assert t_abs_cdf(1.0, 1) == pytest.approx(0.5)
    assert t_abs_cdf(2.0, 2) == pytest.approx(2 / math.sqrt(6))
    assert t_quantile(0.95, 4) == pytest.approx(2.776445, abs=1e-6)     # t table, 97.5% with 4 df
    assert t_quantile(0.95, 99) == pytest.approx(1.984217, abs=1e-6)    # 10 x 10 CV


@pytest.mark.parametrize("folds,repeats", [(3, 1), (5, 2), (10, 1), (10, 10), (2, 5)])
def test_statistic_p_value_and_interval_match_the_papers_formula(folds, repeats):
    rng = random.Random(folds * 100 + repeats)
    n = folds * repeats
    a = [rng.uniform(0.6, 0.9) for _ in range(n)]
    b = [x - rng.gauss(0.01, 0.03) for x in a]
    n_test = [rng.randint(40, 60) for _ in range(n)]
    n_train = [rng.randint(40, 60) * (folds - 1) for _ in range(n)]
    for alpha in (0.05, 0.1):
        res = corrected_ttest(a, b, n_train, n_test, alpha=alpha)
        t, df, p, lower, upper = reference(a, b, n_train, n_test, alpha)
        assert res["df"] == df and res["n_pairs"] == n
        assert res["t"] == pytest.approx(t, rel=1e-9)
        assert res["p_value"] == pytest.approx(p, rel=1e-7, abs=1e-12)
        assert res["lower"] == pytest.approx(lower, rel=1e-7) and res["upper"] == pytest.approx(upper, rel=1e-7)


def test_worked_example():
    """d = 0.01 .. 0.05 over 5 folds of 80 train / 20 test rows: var(d) = 2.5e-4, corrected variance
    2.5e-4 * (1/5 + 20/80) = 1.125e-4, t = 0.03 / sqrt(1.125e-4) = 2 sqrt(2) exactly; with 4 df the
    two-sided p-value is 1 - (7/6) sqrt(2/3) = 0.0474 (A&S 26.7.4); the naive paired t would be 4.24."""
    b = [0.80, 0.81, 0.79, 0.82, 0.78]
    a = [x + d for x, d in zip(b, (0.01, 0.02, 0.03, 0.04, 0.05))]
    res = corrected_ttest(a, b, n_train=80, n_test=20)
    assert res["mean_difference"] == pytest.approx(0.03)
    assert res["std_error"] == pytest.approx(math.sqrt(1.125e-4))
    assert res["t"] == pytest.approx(2 * math.sqrt(2))
    assert res["df"] == 4 and res["test_train_ratio"] == pytest.approx(0.25)
    assert res["p_value"] == pytest.approx(1 - 7 / 6 * math.sqrt(2 / 3), rel=1e-9)
    assert res["p_value"] == pytest.approx(0.047421, abs=1e-6)
    # 95% interval: 0.03 -/+ 2.776445 * 0.0106066
    assert res["lower"] == pytest.approx(0.000551, abs=1e-6) and res["upper"] == pytest.approx(0.059449, abs=1e-6)
    assert stats.ttest_rel(a, b).statistic == pytest.approx(3 * math.sqrt(2))  # the naive test


def test_correction_only_rescales_the_paired_t_test():
    """t_corrected = t_naive / sqrt(1 + n * n_test/n_train), with scipy's paired t-test as the naive one."""
    rng = random.Random(7)
    a = [rng.uniform(0.5, 1) for _ in range(15)]
    b = [rng.uniform(0.5, 1) for _ in range(15)]
    res = corrected_ttest(a, b, [100] * 15, [50] * 15)
    assert res["t"] == pytest.approx(stats.ttest_rel(a, b).statistic / math.sqrt(1 + 15 * 0.5), rel=1e-12)


def test_interval_excludes_zero_exactly_when_p_is_below_alpha():
    b = [0.80, 0.81, 0.79, 0.82, 0.78]
    a = [x + d for x, d in zip(b, (0.01, 0.02, 0.03, 0.04, 0.05))]
    p = corrected_ttest(a, b, 80, 20)["p_value"]
    at_p = corrected_ttest(a, b, 80, 20, alpha=p)
    assert at_p["lower"] == pytest.approx(0, abs=1e-12)
    assert corrected_ttest(a, b, 80, 20, alpha=p * 1.01)["lower"] > 0
    assert corrected_ttest(a, b, 80, 20, alpha=p * 0.99)["lower"] < 0


def test_sizes_per_fold_use_their_means():
    a, b = [0.9, 0.8, 0.85, 0.7], [0.85, 0.82, 0.8, 0.6]
    per_fold = corrected_ttest(a, b, [300, 301, 299, 300], [100, 99, 101, 100])
    assert per_fold["test_train_ratio"] == pytest.approx(100 / 300)
    assert per_fold["t"] == pytest.approx(corrected_ttest(a, b, 300, 100)["t"])


def test_identical_scores():
    scores = [0.91, 0.87, 0.93, 0.88, 0.9]
    res = corrected_ttest(scores, list(scores), 80, 20)
    assert (res["t"], res["p_value"], res["lower"], res["upper"], res["mean_difference"]) == (0.0, 1.0, 0.0, 0.0, 0.0)
    assert "identical" in res["note"]
    json.dumps(res, allow_nan=False)


def test_the_same_non_zero_difference_in_every_fold_is_said():
    b = [0.5, 0.25, 0.75, 0.125]
    res = corrected_ttest([x + 0.0625 for x in b], b, 80, 20)  # exact in binary: zero variance exactly
    assert res["t"] is None and res["p_value"] == 0.0 and res["std_error"] == 0.0
    assert res["lower"] == res["upper"] == res["mean_difference"] == 0.0625
    assert "same in every fold" in res["note"] and "zero variance" in res["note"]
    json.dumps(res, allow_nan=False)
    # The same up to the rounding of the subtraction counts as zero variance too.
    a, b = [0.9, 0.7, 0.8], [0.8, 0.6, 0.7]
    assert corrected_ttest(a, b, 80, 20)["t"] is None


def test_result_is_json_safe_plain_numbers():
    rng = random.Random(3)
    a = [rng.random() for _ in range(10)]
    res = corrected_ttest(a, [x + rng.gauss(0, 0.1) for x in a], [90] * 10, [10] * 10)
    assert json.loads(json.dumps(res, allow_nan=False)) == res
    assert all(type(res[k]) is float for k in ("mean_difference", "std_error", "t", "p_value", "lower", "upper"))
    assert type(res["df"]) is int and res["note"] is None


@pytest.mark.parametrize("args,message", [
    (([0.9, 0.8], [0.9], 80, 20), "2 fold scores and scores_b 1"),
    (([0.9], [0.8], 80, 20), "at least 2 paired folds"),
    (([0.9, float("nan")], [0.8, 0.7], 80, 20), "finite"),
    (([0.9, 0.8], [0.8, 0.7], 0, 20), "n_train must be positive"),
    (([0.9, 0.8], [0.8, 0.7], [80, 80, 80], 20), "one per fold (2)"),
    (([0.9, 0.8], [0.8, 0.7], 80, 20, 1.5), "alpha"),
])
def test_bad_input_is_refused_with_the_reason(args, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        corrected_ttest(*args)


# -- records as metrics.json has them ------------------------------------------------------------------

SHA = "5" * 64
FOLDS = "f" * 64


def record(scores, *, estimator="logreg", status="completed", metric="roc_auc", greater=True, sha=SHA,
           fingerprint=FOLDS, folds=None, repeats=1, splits=True, model="breast_cancer", extra=()):
    """A completed job's metrics.json in the contract's shape."""
    folds = folds or len(scores) // repeats
    rec = {"status": status, "model": model, "estimator": estimator,
           "overrides": [f"model={model}", f"estimator={estimator}", *extra], "seed": 0,
           "primary_metric": metric, "greater_is_better": greater,
           "metrics": {metric: {"mean": sum(scores) / len(scores), "folds": list(scores)}},
           "data": {"name": model, "sha256": sha}}
    if splits:
        rec["splits"] = {"fingerprint": fingerprint, "folds": folds, "repeats": repeats,
                         "n_train": [80] * len(scores), "n_test": [20] * len(scores)}
    return rec


A_SCORES = [0.90, 0.92, 0.88, 0.91, 0.89]
B_SCORES = [0.88, 0.91, 0.85, 0.90, 0.86]


def test_jobs_on_the_same_folds_pair():
    assert comparable(record(A_SCORES), record(B_SCORES, estimator="mlp")) is None


@pytest.mark.parametrize("change,words", [
    (dict(status="failed"), ["job B did not complete", "'failed'"]),
    (dict(splits=False), ["job B records no `splits`", "older medsweep", "re-run"]),
    (dict(sha="6" * 64), ["different data", "555555555555", "666666666666"]),
    (dict(fingerprint="e" * 64), ["different splits", "another seed"]),
    (dict(metric="pr_auc"), ["different primary metrics", "roc_auc", "pr_auc"]),
])
def test_what_keeps_two_jobs_apart_is_said(change, words):
    why = comparable(record(A_SCORES), record(B_SCORES, estimator="mlp", **change))
    assert why is not None and all(w in why for w in words), why


def test_different_fold_counts_are_said_before_the_fingerprint():
    ten = record([0.9] * 10, fingerprint="1" * 64, repeats=2)
    why = comparable(record(A_SCORES), ten)
    assert why == "different fold counts: job A has 5 folds x 1 repeat, job B 5 folds x 2 repeats"


def test_a_job_missing_its_splits_is_named_a_or_b():
    assert comparable(record(A_SCORES, splits=False), record(B_SCORES)).startswith("job A records no `splits`")
    assert comparable(record(A_SCORES, status="timeout"), None).startswith("job A did not complete")
    assert comparable(record(A_SCORES), None).startswith("job B has no readable metrics.json")


def test_fold_scores_that_do_not_match_the_splits_are_said():
    rec = record(A_SCORES)
    rec["splits"]["folds"] = 4
    assert "has 5 fold scores of roc_auc but its splits say 4 folds x 1 repeat(s) = 4" in comparable(rec, record(B_SCORES))
    nan = record([0.9, float("nan"), 0.8, 0.85, 0.9])
    assert "no finite roc_auc in fold 1" in comparable(record(A_SCORES), nan)


def test_compare_to_best():
    best = [0.93, 0.94, 0.92, 0.95, 0.93]
    records = {
        3: record(B_SCORES, estimator="mlp"),
        0: record(A_SCORES),
        1: record(best, estimator="hist_gbdt"),
        2: record(A_SCORES, estimator="random_forest", extra=["seed=1"], fingerprint="e" * 64),  # other folds
        4: record(A_SCORES, splits=False),                                                      # older job
        5: record(A_SCORES, status="failed"),
        # Regression on other data: lower is better; a group of two.
        6: record([55.0, 57.0, 54.0], model="diabetes", metric="rmse", greater=False, sha="d" * 64),
        7: record([50.0, 52.0, 51.5], model="diabetes", metric="rmse", greater=False, sha="d" * 64),
        # Alone on its data.
        8: record([0.7, 0.72, 0.71], model="parkinsons", sha="c" * 64),
    }
    out = compare_to_best(records)
    assert list(out) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert out[1] == {"best": 1, "group": [0, 1, 3]}
    raw = {job: corrected_ttest(records[job]["metrics"]["roc_auc"]["folds"], best, [80] * 5, [20] * 5)
           for job in (0, 3)}
    # Holm over the group's two comparisons with its best, written out: the smaller p doubled, the larger
    # kept, each never below the one before.
    small, large = sorted(raw, key=lambda j: raw[j]["p_value"])
    holm = {small: min(1.0, 2 * raw[small]["p_value"])}
    holm[large] = max(holm[small], raw[large]["p_value"])
    for job, res in raw.items():
        assert out[job] == {"best": 1, "difference": res["mean_difference"], "lower": res["lower"],
                            "upper": res["upper"], "p_value": res["p_value"], "p_holm": pytest.approx(holm[job]),
                            "distinguishable": holm[job] < 0.05}
        assert out[job]["difference"] < 0
    assert out[3]["distinguishable"] is True and out[3]["upper"] < 0
    assert "other folds" in out[2]["reason"]
    assert "no `splits`" in out[4]["reason"] and "did not complete" in out[5]["reason"]
    assert out[7] == {"best": 7, "group": [6, 7]} and out[6]["best"] == 7
    assert out[6]["p_holm"] == out[6]["p_value"]  # one comparison: nothing to adjust and out[6]["difference"] == pytest.approx(12.5 / 3)
    assert "no other completed job was scored on the same data and folds" in out[8]["reason"]
    json.dumps(out, allow_nan=False)
    # The same result whatever order the records come in.
    assert compare_to_best(dict(reversed(list(records.items())))) == out


def test_a_tie_for_best_goes_to_the_first_job():
    out = compare_to_best({"b": record(A_SCORES), "a": record(A_SCORES), 10: record(B_SCORES)})
    assert list(out) == [10, "a", "b"]
    assert out["a"] == {"best": "a", "group": [10, "a", "b"]}
    assert out["b"]["best"] == "a" and out["b"]["p_value"] == 1.0 and out["b"]["difference"] == 0.0
    assert out["b"]["note"].startswith("identical")


def test_the_best_is_the_best_pooled_value_whose_interval_is_shown():
    """A higher mean over folds but a lower pooled out-of-fold value (the figure with the interval): the
    pooled value decides, here and in a sweep's summary; where a record has no pooled value (an older
    medsweep), every job of the group is ranked by its mean."""
    high_mean, high_pooled = record(A_SCORES), record(B_SCORES, estimator="random_forest")
    high_mean["metrics"]["roc_auc"]["pooled"], high_pooled["metrics"]["roc_auc"]["pooled"] = 0.85, 0.87
    out = compare_to_best({0: high_mean, 1: high_pooled})
    assert out[1]["best"] == 1 and out[0]["best"] == 1
    assert out[0]["difference"] == pytest.approx(0.02)  # the mean fold difference, own - best
    assert compare_to_best({0: high_mean, 1: record(B_SCORES)})[0] == {"best": 0, "group": [0, 1]}
    assert compare_to_best({0: record(B_SCORES), 1: high_mean})[1] == {"best": 1, "group": [0, 1]}


def test_holm_decides_what_is_distinguishable():
    """Two comparisons with the best at raw p between 0.025 and 0.05: each alone 'different', after
    Holm neither."""
    best = [0.93, 0.94, 0.92, 0.95, 0.93]
    records = {0: record(best)}
    found = []
    for shift in [x / 1000 for x in range(5, 60)]:
        scores = [b - shift + e for b, e in zip(best, [0.01, -0.01, 0.02, -0.02, 0.0])]
        p = corrected_ttest(scores, best, 80, 20)["p_value"]
        if 0.026 < p < 0.049:
            found.append(scores)
    assert len(found) >= 1
    records[1] = record(found[0], estimator="mlp")
    records[2] = record(found[0], estimator="random_forest")
    out = compare_to_best(records)
    for job in (1, 2):
        assert out[job]["p_value"] < 0.05 and out[job]["p_holm"] == pytest.approx(2 * out[job]["p_value"])
        assert out[job]["distinguishable"] is False


# -- the command line on hand-made directories ---------------------------------------------------------

def job_dir(path, rec):
    path.mkdir(parents=True)
    (path / "metrics.json").write_text(json.dumps(rec))
    return str(path)


def test_two_jobs_are_compared_in_one_sentence(tmp_path, capsys):
    a = job_dir(tmp_path / "a", record(A_SCORES))
    b = job_dir(tmp_path / "b", record(B_SCORES, estimator="mlp"))
    assert main([a, b]) == 0
    res = corrected_ttest(A_SCORES, B_SCORES, 80, 20)
    out = capsys.readouterr().out
    assert (f"job A (estimator=logreg) vs job B (estimator=mlp) on breast_cancer, roc_auc over 5 paired folds "
            f"(5 folds x 1 repeat): A - B = +0.020 (95% CI {res['lower']:+.3f} to {res['upper']:+.3f}), corrected "
            f"t-test p = {res['p_value']:.3f}: distinguishable at 0.05; A is better (higher roc_auc is better)") in out
    assert "only 5 paired folds" in out


def test_lower_is_better_and_alpha(tmp_path, capsys):
    a = job_dir(tmp_path / "a", record([55.0, 57.0, 54.0, 56.0], metric="rmse", greater=False))
    b = job_dir(tmp_path / "b", record([50.0, 52.0, 51.5, 50.5], metric="rmse", greater=False, estimator="mlp"))
    assert main([a, b]) == 0  # p = 0.018
    out = capsys.readouterr().out
    assert "A - B = +4.500 (95% CI" in out and "at 0.05; B is better (lower rmse is better)" in out
    assert main([a, b, "--alpha", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "A - B = +4.500 (99% CI" in out and "p = 0.018: not distinguishable at 0.01" in out


@pytest.mark.parametrize("change,words", [
    (dict(splits=False), "cannot compare: job B records no `splits`"),
    (dict(sha="6" * 64), "cannot compare: different data"),
    (dict(status="interrupted"), "cannot compare: job B did not complete (status 'interrupted')"),
])
def test_jobs_that_cannot_be_compared_exit_3_saying_why(tmp_path, capsys, change, words):
    a = job_dir(tmp_path / "a", record(A_SCORES))
    b = job_dir(tmp_path / "b", record(B_SCORES, **change))
    assert main([a, b]) == 3
    assert words in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, capsys):
    a = job_dir(tmp_path / "sweep" / "0", record(A_SCORES))
    (tmp_path / "empty").mkdir()
    assert main([a, str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([a, str(tmp_path / "empty")]) == 2
    assert "neither a job directory" in capsys.readouterr().err
    assert main([a, str(tmp_path / "sweep")]) == 2
    assert "give two jobs or two sweeps" in capsys.readouterr().err
    assert main([a]) == 2
    assert main([a, a, "--alpha", "1.5"]) == 2
    assert main(["--help"]) == 0
    assert "Exit status: 0 compared" in " ".join(capsys.readouterr().out.split())


def test_two_sweeps_compare_the_best_job_of_each_model(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    job_dir(one / "0", record(A_SCORES))
    job_dir(one / "1", record(B_SCORES, estimator="mlp"))
    job_dir(one / "2", record([0.7, 0.72, 0.71], model="parkinsons", sha="c" * 64))
    job_dir(two / "0", record([0.89, 0.9, 0.88, 0.9, 0.88], estimator="random_forest"))
    job_dir(two / "1", record([0.5] * 5, estimator="mlp", status="failed"))
    job_dir(two / "2", record([0.6, 0.62, 0.61], model="alzheimers", sha="b" * 64))
    # sweep.json names the job directories where there is one
    (two / "sweep.json").write_text(json.dumps({"jobs": [{"num": n, "dir": str(n), "overrides": []}
                                                         for n in range(3)]}))
    assert main([str(one), str(two)]) == 0
    out = capsys.readouterr().out
    assert "breast_cancer: best of A is job 0 (of 2), best of B is job 0 (of 1)" in out
    assert "job A (estimator=logreg) vs job B (estimator=random_forest) on breast_cancer" in out
    assert "job A is the best of 2 jobs" in out and "job B is the best" not in out
    assert "only in A: parkinsons; only in B: alzheimers" in out


def test_two_sweeps_with_nothing_to_pair_exit_3(tmp_path, capsys):
    job_dir(tmp_path / "one" / "0", record(A_SCORES))
    job_dir(tmp_path / "two" / "0", record(B_SCORES, fingerprint="e" * 64))
    assert main([str(tmp_path / "one"), str(tmp_path / "two")]) == 3
    assert "cannot compare: different splits" in capsys.readouterr().out
    job_dir(tmp_path / "three" / "0", record(B_SCORES, model="diabetes"))
    assert main([str(tmp_path / "one"), str(tmp_path / "three")]) == 3
    assert "no model has a completed job in both sweeps" in capsys.readouterr().out


CONSTRAINTS = ["sensitivity>=0.85", "calibration_slope>=0.8"]


def constrained(scores, sens, on="point", **kwargs):
    """record() with the select.constraints verdict a job writes (evaluate/constraints.check's shape)."""
    rec = record(scores, **kwargs)
    broken = [] if sens >= 0.85 else [f"sensitivity>=0.85 ({'bound' if on == 'bound' else 'value'} {sens})"]
    rec["selection"] = {"metric": "roc_auc", "value": sum(scores) / len(scores), "on": on,
                        "constraints": CONSTRAINTS, "checked": [], "broken": broken, "feasible": not broken}
    return rec


def test_two_jobs_say_whether_each_meets_the_constraints_and_the_test_is_unchanged(tmp_path, capsys):
    a = job_dir(tmp_path / "a", constrained(A_SCORES, 0.90))
    b = job_dir(tmp_path / "b", constrained(B_SCORES, 0.70, estimator="mlp"))
    assert main([a, b]) == 0
    out = capsys.readouterr().out
    assert ("job A meets select.constraints sensitivity>=0.85, calibration_slope>=0.8 (checked on the pooled "
            "value)") in out
    assert ("job B breaks sensitivity>=0.85 (value 0.7) of select.constraints sensitivity>=0.85, "
            "calibration_slope>=0.8 (checked on the pooled value)") in out
    res = corrected_ttest(A_SCORES, B_SCORES, 80, 20)   # the sentence is the one of jobs without constraints
    assert f"A - B = +0.020 (95% CI {res['lower']:+.3f} to {res['upper']:+.3f}), corrected t-test p = " in out
    # one side without a verdict says so; neither: no line at all
    plain = job_dir(tmp_path / "plain", record(B_SCORES, estimator="mlp"))
    assert main([a, plain]) == 0
    assert "job B records no select.constraints verdict" in capsys.readouterr().out
    assert main([job_dir(tmp_path / "p2", record(A_SCORES)), plain]) == 0
    assert "select.constraints" not in capsys.readouterr().out


def test_two_sweeps_take_the_best_meeting_the_constraints_as_the_leaderboard_does(tmp_path, capsys):
    one, two, three = tmp_path / "one", tmp_path / "two", tmp_path / "three"
    job_dir(one / "0", constrained([0.95, 0.96, 0.94, 0.95, 0.95], 0.70))  # highest AUC, misses sensitivity
    job_dir(one / "1", constrained(A_SCORES, 0.90, on="bound", estimator="mlp"))
    job_dir(two / "0", record(B_SCORES, estimator="random_forest"))            # no select.* set
    job_dir(three / "0", constrained(B_SCORES, 0.70, estimator="random_forest"))
    job_dir(three / "1", constrained([0.80] * 5, 0.60, estimator="hist_gbdt"))
    assert main([str(one), str(two)]) == 0
    out = capsys.readouterr().out
    assert "breast_cancer: best of A is job 1 (of 2), best of B is job 0 (of 1)" in out
    assert ("  A's job 1 meets select.constraints sensitivity>=0.85, calibration_slope>=0.8 (checked on the 95% "
            "interval's unfavourable limit)") in out
    assert "  B's job 0 records no select.constraints verdict" in out
    res = corrected_ttest(A_SCORES, B_SCORES, 80, 20)
    assert f"A - B = +0.020 (95% CI {res['lower']:+.3f} to {res['upper']:+.3f})" in out
    assert main([str(three), str(two)]) == 0   # none meets them: the best by the metric, said to break them
    out = capsys.readouterr().out
    assert "best of A is job 0 (of 2)" in out
    assert ("  A's job 0 breaks sensitivity>=0.85 (value 0.7) of select.constraints sensitivity>=0.85, "
            "calibration_slope>=0.8 (checked on the pooled value): none of A's 2 completed breast_cancer jobs "
            "meets them") in out


# -- real sweeps ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """Three real tiny sweeps of breast_cancer: logreg and mlp (seed 0), random_forest (seed 0: the
    same folds), logreg with seed=1 (other folds)."""
    base = tmp_path_factory.mktemp("compare")
    runs = {"main": ["estimator=logreg,mlp"], "forest": ["estimator=random_forest"],
            "seed1": ["estimator=logreg", "seed=1"]}
    for name, args in runs.items():
        res = run_train("-m", "model=breast_cancer", *args, "trainer=fast", f"hydra.sweep.dir={base / name}")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for job in (base / "main" / "0", base / "main" / "1", base / "forest" / "0", base / "seed1" / "0"):
        assert "splits" in metrics_of(job), f"{job}/metrics.json has no `splits`: the job does not record its folds"
    return base


def compare_cli(*args):
    return subprocess.run([sys.executable, "-m", "medsweep.cli.compare", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_on_two_real_jobs(sweeps):
    a, b = sweeps / "main" / "0", sweeps / "main" / "1"
    res = compare_cli(a, b)
    assert res.returncode == 0, res.stderr
    ma, mb = metrics_of(a), metrics_of(b)
    assert (ma["estimator"], mb["estimator"]) == ("logreg", "mlp")
    assert ma["splits"]["fingerprint"] == mb["splits"]["fingerprint"]
    expected = corrected_ttest(ma["metrics"]["roc_auc"]["folds"], mb["metrics"]["roc_auc"]["folds"],
                               ma["splits"]["n_train"], ma["splits"]["n_test"])
    assert "job A (estimator=logreg) vs job B (estimator=mlp) on breast_cancer, roc_auc over 3 paired folds" in res.stdout
    assert f"corrected t-test p = {expected['p_value']:.3f}" in res.stdout
    assert "not distinguishable at 0.05" in res.stdout or "distinguishable at 0.05; " in res.stdout


@pytest.mark.slow
def test_cli_on_real_jobs_with_other_folds_exits_3(sweeps):
    res = compare_cli(sweeps / "main" / "0", sweeps / "seed1" / "0")
    assert res.returncode == 3
    assert "cannot compare: different splits" in res.stdout


@pytest.mark.slow
def test_cli_on_two_real_sweeps(sweeps):
    res = compare_cli(sweeps / "main", sweeps / "forest")
    assert res.returncode == 0, res.stderr
    assert "breast_cancer: best of A is job " in res.stdout and "(of 2), best of B is job 0 (of 1)" in res.stdout
    assert "vs job B (estimator=random_forest) on breast_cancer, roc_auc over 3 paired folds" in res.stdout
    res = compare_cli(sweeps / "main", sweeps / "seed1")
    assert res.returncode == 3 and "cannot compare: different splits" in res.stdout
    res = compare_cli(sweeps / "main", sweeps / "main" / "0")
    assert res.returncode == 2 and "give two jobs or two sweeps" in res.stderr


@pytest.mark.slow
def test_type1_error_benchmark_runs():
    """benchmarks/type1_error.py with tiny sizes: it runs and prints its table (figures mean nothing)."""
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "type1_error.py"), "--cohorts", "4",
                          "--designs", "2x3", "--scenarios", "seeds,views"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = [line.split() for line in res.stdout.splitlines() if line.startswith(("seeds", "views"))]
    assert [(r[0], r[1]) for r in rows] == [("seeds", "2x3"), ("views", "2x3")]
