"""Fairness at the operating point: per group TPR, FPR, PPV and selection rate, equalized odds and demographic
parity, checked against fairlearn on the same predictions, and their intervals against a patient bootstrap
written here."""

import numpy as np
import pytest
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, demographic_parity_ratio,
                               equalized_odds_difference, equalized_odds_ratio, false_positive_rate, selection_rate,
                               true_positive_rate)
from sklearn.metrics import precision_score

from medsweep.evaluate.fairness import fairness_of_column, fairness_warnings
from medsweep.evaluate.subgroups import subgroup_evidence, subgroup_labels


@pytest.fixture(scope="module")
def cohort():
    """300 patients, a third with two rows; group C is treated worse (fewer of its events are found)."""
    rng = np.random.default_rng(5)
    n_patients = 300
    group = rng.choice(["A", "B", "C"], size=n_patients, p=[0.4, 0.35, 0.25])
    rows = np.r_[np.arange(n_patients), rng.choice(n_patients, 100, replace=False)]
    patient = rows
    g = group[rows]
    y = rng.random(len(rows)) < 0.35
    risk = np.where(y, rng.beta(4, 2, len(rows)), rng.beta(2, 4, len(rows)))
    risk = np.where((g == "C") & y, risk * 0.6, risk)
    threshold = np.where(rng.random(len(rows)) < 0.5, 0.45, 0.5)  # two folds' thresholds
    return {"y": y, "p": risk >= threshold, "risk": risk, "threshold": threshold, "g": g, "patient": patient}


def _fairlearn(c):
    metrics = {"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate,
               "ppv": lambda a, b: precision_score(a, b, zero_division=0)}
    frame = MetricFrame(metrics=metrics, y_true=c["y"], y_pred=c["p"], sensitive_features=c["g"])
    return frame, {"equalized_odds_difference": equalized_odds_difference(c["y"], c["p"], sensitive_features=c["g"]),
                   "equalized_odds_ratio": equalized_odds_ratio(c["y"], c["p"], sensitive_features=c["g"]),
                   "demographic_parity_difference": demographic_parity_difference(c["y"], c["p"],
                                                                                  sensitive_features=c["g"]),
                   "demographic_parity_ratio": demographic_parity_ratio(c["y"], c["p"], sensitive_features=c["g"])}


def test_rates_and_gaps_are_fairlearns_on_the_same_predictions(cohort):
    c = cohort
    record = fairness_of_column(c["y"], c["p"], subgroup_labels(c["g"]), c["patient"], n_boot=0, seed=0)
    frame, gaps = _fairlearn(c)
    for group in record["groups"]:
        for name in ("tpr", "fpr", "ppv", "selection_rate"):
            assert group[name] == pytest.approx(frame.by_group.loc[group["subgroup"], name]), (group, name)
        assert group["patients"] == len(set(c["patient"][c["g"] == group["subgroup"]]))
    for name, value in gaps.items():
        assert record["gaps"][name]["value"] == pytest.approx(value), name
    # The flagged difference is between the groups that define the gap, signed.
    tpr = frame.by_group["tpr"]
    d = record["differences"]["tpr"]
    assert (d["higher_group"], d["lower_group"]) == (tpr.idxmax(), tpr.idxmin()) and d["lower_group"] == "C"
    assert d["value"] == pytest.approx(tpr.max() - tpr.min())


def test_intervals_are_a_patient_bootstrap_of_the_same_statistics(cohort):
    c = cohort
    record = fairness_of_column(c["y"], c["p"], subgroup_labels(c["g"]), c["patient"], n_boot=1000, seed=3)
    # Independent: draw patients with replacement (numpy), take all their rows, recompute with plain formulas.
    rng = np.random.default_rng(11)
    ids = np.unique(c["patient"])
    rows_of = {i: np.flatnonzero(c["patient"] == i) for i in ids}
    eod, tpr_c, dpd = [], [], []
    for _ in range(1000):
        take = np.concatenate([rows_of[i] for i in rng.choice(ids, len(ids))])
        y, p, g = c["y"][take], c["p"][take], c["g"][take]
        tprs = [p[(g == k) & y].mean() for k in "ABC"]
        fprs = [p[(g == k) & ~y].mean() for k in "ABC"]
        sel = [p[g == k].mean() for k in "ABC"]
        eod.append(max(max(tprs) - min(tprs), max(fprs) - min(fprs)))
        tpr_c.append(tprs[2])
        dpd.append(max(sel) - min(sel))
    for got, values in ((record["gaps"]["equalized_odds_difference"], eod),
                        (record["gaps"]["demographic_parity_difference"], dpd),
                        ({"lower": record["groups"][2]["tpr_lower"], "upper": record["groups"][2]["tpr_upper"]},
                         tpr_c)):
        lo, hi = np.percentile(values, [2.5, 97.5])
        # Two independent sets of 1,000 resamples: the limits agree within Monte Carlo error.
        assert got["lower"] == pytest.approx(lo, abs=0.03) and got["upper"] == pytest.approx(hi, abs=0.03)


def test_a_real_gap_is_flagged_and_warned_and_equal_groups_are_not(cohort):
    c = cohort
    labels = subgroup_labels(c["g"])
    record = fairness_of_column(c["y"], c["p"], labels, c["patient"], n_boot=200, seed=0)
    assert "equalized odds: tpr A > C" in record["flagged"] or "equalized odds: tpr B > C" in record["flagged"]
    # Groups drawn at random from the same predictions: no difference whose interval excludes 0.
    fair = subgroup_labels(np.random.default_rng(2).choice(["x", "y"], size=len(c["y"])))
    assert fairness_of_column(c["y"], c["p"], fair, c["patient"], n_boot=200, seed=0)["flagged"] == []

    # Through subgroup_evidence (as a job computes it): at each row's threshold, a warning per flagged gap.
    out = np.column_stack([1 - c["risk"], c["risk"]])
    _, sub = subgroup_evidence(np.where(c["y"], "yes", "no"), out, ["no", "yes"], "classification", c["patient"],
                               {"site_group": c["g"]}, bins=2, min_patients=10, min_events=5, n_boot=200, seed=0,
                               threshold=c["threshold"], overall=0.7, method="percentile")
    fairness = sub["fairness"]["site_group"]
    assert fairness["gaps"]["equalized_odds_difference"]["value"] == pytest.approx(
        _fairlearn(c)[1]["equalized_odds_difference"])
    warnings = fairness_warnings({"subgroups": sub})
    assert warnings and all(w["kind"] == "fairness_gap" for w in warnings)
    assert warnings[0]["message"].startswith("Fairness, site_group: tpr higher by ")


def test_small_groups_get_counts_only_and_no_gap(cohort):
    c = cohort
    g = np.where(np.arange(len(c["y"])) < 8, "tiny", "rest")
    record = fairness_of_column(c["y"], c["p"], subgroup_labels(g), c["patient"], n_boot=100, seed=0)
    tiny = next(r for r in record["groups"] if r["subgroup"] == "tiny")
    assert tiny["note"].startswith("fewer than 10 patients") and "tpr" not in tiny
    assert record["gaps"] == {} and record["flagged"] == [] and "no gaps" in record["note"]
