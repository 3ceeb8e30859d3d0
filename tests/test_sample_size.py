"""The minimum sample size for developing a prediction model (Riley et al. 2019 Stat Med; 2020 BMJ), checked
against the published worked examples of the pmsampsize package and against the formulas written here."""

import math

import numpy as np
import pytest
from scipy.stats import norm, t as student_t

from medsweep.evaluate.sample_size import (binary_sample_size, continuous_sample_size, cox_snell_from_c,
                                           max_cox_snell, sample_size_record, sample_size_warning)

# pmsampsize 1.1.3 (R, CRAN; J. Ensor, R. D. Riley), tests/testthat/test_bin.R, "Test 4.1"-"Test 4.4":
# pmsampsize(type="b", csrsquared=R2, parameters=P, prevalence=phi)$results_table: criteria 1-3 and final n, EPP.
# Test 4.1 is the worked example of Riley et al. Stat Med 2019 (part II) and BMJ 2020 (n = 662, EPP 4.8).
PMSAMPSIZE_BINARY = [
    (0.288, 24, 0.174, [623, 662, 221, 662], [4.52, 4.8, 1.6, 4.8]),
    (0.55, 24, 0.174, [255, 532, 221, 532], [1.85, 3.86, 1.6, 3.86]),
    (0.288, 36, 0.174, [934, 992, 221, 992], [4.51, 4.79, 1.07, 4.79]),
    (0.288, 24, 0.25, [623, 590, 289, 623], [6.49, 6.15, 3.01, 6.49]),
]
# pmsampsize 1.1.3, tests/testthat/test_cont.R, "Test 2.1"-"Test 2.6": pmsampsize(type="c", rsquared=R2,
# parameters=P, intercept=mean, sd=SD): criteria 1-4 and final n, SPP. Test 2.1 is the FEV1 example of Riley et
# al. Stat Med 2019 (part I) and of the package's documentation (n = 918).
PMSAMPSIZE_CONTINUOUS = [
    (0.2, 25, 1.9, 0.6, [918, 401, 259, 918, 918], [36.72, 16.04, 10.36, 36.72, 36.72]),
    (0.3, 25, 1.9, 0.6, [574, 351, 259, 574, 574], [22.96, 14.04, 10.36, 22.96, 22.96]),
    (0.2, 50, 1.9, 0.6, [1924, 801, 284, 1924, 1924], [38.48, 16.02, 5.68, 38.48, 38.48]),
    (0.2, 25, 10, 0.6, [918, 401, 259, 918, 918], [36.72, 16.04, 10.36, 36.72, 36.72]),
    (0.2, 25, 1.9, 2, [918, 401, 259, 918, 918], [36.72, 16.04, 10.36, 36.72, 36.72]),
    (0.5, 100, 1.9, 2, [1264, 1001, 334, 1264, 1264], [12.64, 10.01, 3.34, 12.64, 12.64]),
]


@pytest.mark.parametrize("r2, p, phi, ns, epps", PMSAMPSIZE_BINARY)
def test_binary_criteria_match_pmsampsizes_worked_examples(r2, p, phi, ns, epps):
    result = binary_sample_size(phi, p, r2)
    assert [c["n"] for c in result["criteria"]] + [result["n"]] == ns
    assert [round(c["epp"], 2) for c in result["criteria"]] + [round(result["epp"], 2)] == epps


@pytest.mark.parametrize("r2, p, phi, ns, epps", PMSAMPSIZE_BINARY)
def test_binary_criteria_follow_the_formulas(r2, p, phi, ns, epps):
    # Riley et al. 2020 BMJ, box 1 / Stat Med 2019 part II eq. 11, 23, 24 and criterion (iii), written out.
    n1 = math.ceil(p / ((0.9 - 1) * math.log(1 - r2 / 0.9)))
    max_r2 = 1 - (phi ** phi * (1 - phi) ** (1 - phi)) ** 2
    s = r2 / (r2 + 0.05 * max_r2)
    n2 = math.ceil(p / ((s - 1) * math.log(1 - r2 / s)))
    n3 = math.ceil((1.96 / 0.05) ** 2 * phi * (1 - phi))
    result = binary_sample_size(phi, p, r2)
    assert [c["n"] for c in result["criteria"]] == [n1, n2, n3]
    assert result["n"] == max(n1, n2, n3)
    assert result["max_r2_cs"] == pytest.approx(max_r2)
    assert result["events"] == math.ceil(max(n1, n2, n3) * phi)


@pytest.mark.parametrize("r2, p, mean, sd, ns, spps", PMSAMPSIZE_CONTINUOUS)
def test_continuous_criteria_match_pmsampsizes_worked_examples(r2, p, mean, sd, ns, spps):
    result = continuous_sample_size(r2, p, mean, sd)
    assert [c["n"] for c in result["criteria"]] + [result["n"]] == ns
    assert [round(c["spp"], 2) for c in result["criteria"]] + [round(result["spp"], 2)] == spps


def test_continuous_criteria_follow_the_formulas_and_the_mean_criterion_can_govern():
    # pmsampsize's Test 2.7 (shrinkage 0.84, R2 0.89): criterion 1 met already at n = P + 2, with its shrinkage.
    result = continuous_sample_size(0.89, 30, 3.3, 1.1, shrinkage=0.84)
    assert [c["n"] for c in result["criteria"]] == [32, 67, 264, 264]
    assert [round(c["shrinkage"], 3) for c in result["criteria"]] == [0.845, 0.851, 0.954, 0.954]

    # A mean small beside its SD: criterion 4 decides. Written out: the first n from max(n1..n3) on whose
    # 95% CI upper limit of the mean is within 10% of it; n1 the first n with expected shrinkage >= 0.9.
    r2, p, mean, sd = 0.2, 10, 1.0, 3.0
    def shrink(n):
        return 1 + (p - 2) / (n * math.log(1 - (r2 * (n - p - 1) + p) / (n - 1)))
    n1 = next(n for n in range(p + 2, 100_000) if 1 - (r2 * (n - p - 1) + p) / (n - 1) > 0 and shrink(n) >= 0.9)
    n4 = next(n for n in range(max(n1, math.ceil(1 + p * 0.8 / 0.05), 234 + p), 10**6)
              if (mean + student_t.ppf(0.975, n - p - 1) * math.sqrt(sd ** 2 * (1 - r2) / n)) / mean <= 1.1)
    result = continuous_sample_size(r2, p, mean, sd)
    assert [c["n"] for c in result["criteria"]] == [n1, math.ceil(1 + p * 0.8 / 0.05), 234 + p, n4]
    assert result["n"] == n4 > n1
    # No mean criterion for a mean of 0 or less (a relative margin means nothing there).
    assert continuous_sample_size(r2, p, -1.0, sd)["criteria"][3]["n"] is None


def test_cox_snell_from_c_is_pmsampsizes_simulation_without_its_noise():
    # pmsampsize's cstat2rsq (R, 1.1.3): LP ~ N(0,1) in non-events and N(sqrt(2) qnorm(C), 1) in events,
    # logistic regression of the outcome on LP, R2_CS = 1 - exp(-(null deviance - deviance) / n). Simulated
    # here with 100,000 patients and scikit-learn's unpenalised logistic regression.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(123456)
    for c, phi in ((0.7, 0.174), (0.89, 0.4)):
        n = 100_000
        events = int(phi * n)
        lp = np.concatenate([rng.normal(0, 1, n - events), rng.normal(math.sqrt(2) * norm.ppf(c), 1, events)])
        y = np.r_[np.zeros(n - events), np.ones(events)]
        fit = LogisticRegression(C=np.inf).fit(lp[:, None], y)
        llf = -log_loss(y, fit.predict_proba(lp[:, None])[:, 1], normalize=False)
        llnull = -log_loss(y, np.full(n, y.mean()), normalize=False)
        simulated = 1 - math.exp(-2 * (llf - llnull) / n)
        assert cox_snell_from_c(c, phi) == pytest.approx(simulated, abs=0.004)
    # The package's documented example: an existing model's C of 0.89 at prevalence 0.174 stands for the
    # Cox-Snell R2 of 0.288 of the same example (pmsampsize's man page, Riley et al. 2021).
    assert cox_snell_from_c(0.89, 0.174) == pytest.approx(0.288, abs=0.005)
    assert max_cox_snell(0.5) == pytest.approx(0.75)


def test_record_says_whether_the_data_meet_the_minimum_and_warns_when_not():
    small = sample_size_record(task="classification", n_classes=2, n=300, events=52, parameters=24, c_statistic=0.7,
                               r2=0.2)
    phi = 52 / 300
    r2_cs = cox_snell_from_c(0.7, phi)
    assert small["anticipated"]["r2_cs"] == pytest.approx(r2_cs)
    assert small["required"]["n"] == binary_sample_size(phi, 24, r2_cs)["n"] > 300
    assert small["meets"] is False and small["epp"] == pytest.approx(52 / 24)
    message = sample_size_warning(small)
    assert message.startswith("Sample size: 300 patients with 52 events (EPP 2.2) for 24 candidate parameters")
    assert "criteria not met: shrinkage, r2_optimism" in message

    big = sample_size_record(task="classification", n_classes=2, n=100_000, events=20_000, parameters=5,
                             c_statistic=0.7, r2=0.2)
    assert big["meets"] is True and sample_size_warning(big) is None
    multiclass = sample_size_record(task="classification", n_classes=3, n=100, events=None, parameters=5,
                                    c_statistic=0.7, r2=0.2)
    assert multiclass["meets"] is None and sample_size_warning(multiclass) is None
    continuous = sample_size_record(task="regression", n_classes=None, n=442, events=None, parameters=10,
                                    c_statistic=0.7, r2=0.2, mean=152.1, sd=77.0)
    assert continuous["required"]["n"] == continuous_sample_size(0.2, 10, 152.1, 77.0)["n"]
    assert continuous["meets"] == (442 >= continuous["required"]["n"])
