"""Synthetic patient cohorts shaped like four public medical datasets.

Every value here is drawn from a seeded random generator; no real patient data is in this module. Only
summary statistics (column means, spreads, class differences, category frequencies) taken from the
public files were hard-coded, so that a model trained on a synthetic cohort can later be pointed at the
real file, read with ``pandas.read_csv(path, na_values=["?"])``, with no other change.

Cohorts (name: real file mirrored, target):

- ``parkinsons``: UCI ``parkinsons.data`` (32 subjects, 195 voice recordings), ``status`` 1 = Parkinson's.
- ``alzheimers``: OASIS-2 ``oasis_longitudinal.csv`` (150 subjects, 2-5 MRI visits), ``Group``.
- ``als``: ``minsk2020_als.csv`` (64 subjects, one row each), ``Diagnosis (ALS)`` 1 = ALS.
- ``cardiovascular``: UCI ``cleveland_heart.csv`` (303 patients), ``num`` 0-4, usually used as num > 0.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

# Voice-feature tables: name, kind, mean, sd, d, family, loading[, decimals].
# kind: "l" = log-normal (mean/sd are of log(x)), "p" = normal clipped at 0, "n" = normal.
# d: standardised difference (case minus control) in the real file, in the same (log) scale.
# family/loading: features of one family share a latent factor; loading**2 is roughly their correlation.
_PARKINSONS_TABLE = r"""
    MDVP:Fo(Hz)      p 154.2  41.39   -0.89 pitch +0.80 3
    MDVP:Fhi(Hz)     l 5.209  0.3626  -0.47 pitch +0.50 3
    MDVP:Flo(Hz)     l 4.696  0.3362  -0.80 pitch +0.70 3
    MDVP:Jitter(%)   l -5.268 0.5746  +0.89 pert  +0.93 5
    MDVP:Jitter(Abs) l -10.28 0.711   +1.09 pert  +0.93 6
    MDVP:RAP         l -5.945 0.6345  +0.87 pert  +0.93 5
    MDVP:PPQ         l -5.867 0.5834  +0.91 pert  +0.93 5
    Jitter:DDP       l -4.847 0.6343  +0.87 pert  +0.93 5
    MDVP:Shimmer     l -3.681 0.5578  +0.95 pert  +0.93 5
    MDVP:Shimmer(dB) l -1.448 0.5833  +0.95 pert  +0.93 3
    Shimmer:APQ3     l -4.333 0.5848  +0.86 pert  +0.93 5
    Shimmer:APQ5     l -4.202 0.5757  +0.90 pert  +0.93 5
    MDVP:APQ         l -3.903 0.5668  +1.07 pert  +0.93 5
    Shimmer:DDA      l -3.235 0.5848  +0.86 pert  +0.93 5
    NHR              l -4.355 1.094   +0.88 pert  +0.85 5
    HNR              p 21.89  4.426   -0.84 pert  -0.85 3
    RPDE             p 0.4985 0.1039  +0.71 pert  +0.50 6
    DFA              p 0.7181 0.05534 +0.54 -     +0.00 6
    spread1          n -5.684 1.09    +1.31 pert  +0.80 6
    spread2          p 0.2265 0.08341 +1.05 pert  +0.55 6
    D2               p 2.382  0.3828  +0.79 pert  +0.55 6
    PPE              p 0.2066 0.09012 +1.23 pert  +0.80 6
"""

_ALS_TABLE = r"""
    J1_a          l -0.7112   0.7189   +0.61 Ja   +0.95
    J3_a          l -1.286    0.7372   +0.50 Ja   +0.95
    J5_a          l -1.181    0.6454   +0.64 Ja   +0.95
    J55_a         l -0.2447   0.5703   +0.87 Ja   +0.95
    S1_a          l 1.416     0.6323   +0.47 Sa   +0.93
    S3_a          l 0.7327    0.6614   +0.39 Sa   +0.93
    S5_a          l 0.9031    0.6546   +0.50 Sa   +0.93
    S11_a         l 1.267     0.6474   +0.60 Sa   +0.93
    S55_a         l 1.933     0.5747   +0.55 Sa   +0.93
    DPF_a         p 66.6      12.01    -0.11 -    +0.00
    PFR_a         l -1.801    0.7047   +1.05 -    +0.00
    PPE_a         p 1.046     0.6638   +0.83 -    +0.00
    PVI_a         p 0.4863    0.4477   +0.84 -    +0.00
    HNR_a         p 13.12     5.159    -0.55 -    +0.00
    GNEa_{\mu}    p 0.9057    0.03427  -0.64 GNEa +0.85
    GNEa_{\sigma} p 0.03029   0.009128 +0.38 GNEa +0.85
    Ha(1)_{mu}    n -10.92    8.751    -0.03 Ha   +0.60
    Ha(2)_{mu}    n -11.9     5.971    -0.21 Ha   +0.60
    Ha(3)_{mu}    n -13.03    6.635    -0.11 Ha   +0.60
    Ha(4)_{mu}    n -15.33    8.456    -0.23 Ha   +0.60
    Ha(5)_{mu}    n -20.21    11.15    -0.29 Ha   +0.60
    Ha(6)_{mu}    n -22.61    12.31    -0.45 Ha   +0.60
    Ha(7)_{mu}    n -27.6     12.71    -0.64 Ha   +0.60
    Ha(8)_{mu}    n -32.58    13.54    -0.66 Ha   +0.60
    Ha(1)_{sd}    l 0.5641    0.7854   +0.50 Ha   +0.60
    Ha(2)_{sd}    l 0.8116    0.7035   +0.52 Ha   +0.60
    Ha(3)_{sd}    l 1         0.6886   +0.28 Ha   +0.60
    Ha(4)_{sd}    l 1.142     0.624    +0.60 Ha   +0.60
    Ha(5)_{sd}    l 1.344     0.6295   +0.38 Ha   +0.60
    Ha(6)_{sd}    l 1.404     0.5862   +0.53 Ha   +0.60
    Ha(7)_{sd}    l 1.423     0.6125   +0.81 Ha   +0.60
    Ha(8)_{sd}    l 1.534     0.5069   +0.57 Ha   +0.60
    Ha(1)_{rel}   l -2.315    0.7724   -0.37 Ha   +0.60
    Ha(2)_{rel}   p 0.08498   0.03912  -0.27 Ha   +0.60
    Ha(3)_{rel}   l -2.677    0.5261   -0.19 Ha   +0.60
    Ha(4)_{rel}   l -2.8      0.5859   -0.38 Ha   +0.60
    Ha(5)_{rel}   l -3.042    0.6358   -0.20 Ha   +0.60
    Ha(6)_{rel}   l -3.158    0.6012   -0.46 Ha   +0.60
    Ha(7)_{rel}   l -3.379    0.4724   -0.74 Ha   +0.60
    Ha(8)_{rel}   l -3.544    0.4477   -0.69 Ha   +0.60
    CCa(1)        n 1.112     4.95     +0.35 CCa  +0.42
    CCa(2)        n -9.724    5.553    +0.34 CCa  +0.42
    CCa(3)        n -8.898    6.496    +0.12 CCa  +0.42
    CCa(4)        n -2.718    6.675    -0.08 CCa  +0.42
    CCa(5)        n -9.281    8.313    -0.35 CCa  +0.42
    CCa(6)        n -1.068    7.39     +0.60 CCa  +0.42
    CCa(7)        n -3.28     6.298    +0.27 CCa  +0.42
    CCa(8)        n -4.367    10.05    +0.45 CCa  +0.42
    CCa(9)        n -9.386    6.793    +0.15 CCa  +0.42
    CCa(10)       n -5.816    6.646    -0.40 CCa  +0.42
    CCa(11)       n 0.08759   7.288    +0.50 CCa  +0.42
    CCa(12)       n -1.992    6.619    -0.04 CCa  +0.42
    dCCa(1)       n 0.001383  0.01369  +0.03 dCCa +0.42
    dCCa(2)       n 0.007653  0.0184   -0.04 dCCa +0.42
    dCCa(3)       n 0.0008137 0.01577  -0.29 dCCa +0.42
    dCCa(4)       n -0.001635 0.01804  +0.39 dCCa +0.42
    dCCa(5)       n -0.002203 0.02767  +0.43 dCCa +0.42
    dCCa(6)       n 0.001861  0.0201   +0.00 dCCa +0.42
    dCCa(7)       n 0.004432  0.02129  -0.25 dCCa +0.42
    dCCa(8)       n 0.00065   0.02635  +0.15 dCCa +0.42
    dCCa(9)       n 0.001183  0.02588  -0.37 dCCa +0.42
    dCCa(10)      n 0.002827  0.02017  +0.10 dCCa +0.42
    dCCa(11)      n 0.0008352 0.02281  +0.20 dCCa +0.42
    dCCa(12)      n -0.000423 0.02734  +0.27 dCCa +0.42
    J1_i          l -0.8216   0.667    +0.22 Ji   +0.95
    J3_i          l -1.424    0.7324   +0.10 Ji   +0.95
    J5_i          l -1.307    0.5834   +0.26 Ji   +0.95
    J55_i         l -0.4002   0.5473   +0.52 Ji   +0.95
    S1_i          l 1.065     0.5866   +0.54 Si   +0.93
    S3_i          l 0.358     0.6395   +0.47 Si   +0.93
    S5_i          l 0.5367    0.6037   +0.53 Si   +0.93
    S11_i         l 0.9028    0.5836   +0.66 Si   +0.93
    S55_i         l 1.681     0.5137   +0.63 Si   +0.93
    DPF_i         p 65.13     12.9     -0.35 -    +0.00
    PFR_i         l -1.831    0.6621   +0.49 -    +0.00
    PPE_i         p 1.251     0.6378   +0.37 -    +0.00
    PVI_i         p 0.5163    0.5154   +0.70 -    +0.00
    HNR_i         p 19.61     4.931    -0.73 -    +0.00
    GNEi_{\mu}    p 0.898     0.03277  -0.33 GNEi +0.85
    GNEi_{\sigma} p 0.02892   0.006669 +0.56 GNEi +0.85
    Hi(1)_{mu}    n -10.17    10.59    -0.26 Hi   +0.60
    Hi(2)_{mu}    n -10.92    8.453    -0.40 Hi   +0.60
    Hi(3)_{mu}    n -25.73    15.35    +0.36 Hi   +0.60
    Hi(4)_{mu}    n -36.91    17.01    +0.51 Hi   +0.60
    Hi(5)_{mu}    n -46.56    14.64    +0.54 Hi   +0.60
    Hi(6)_{mu}    n -49.66    13.84    +0.19 Hi   +0.60
    Hi(7)_{mu}    n -52.49    11.83    +0.07 Hi   +0.60
    Hi(8)_{mu}    n -53.03    12.6     +0.11 Hi   +0.60
    Hi(1)_{sd}    l 0.5609    0.7764   +0.14 Hi   +0.60
    Hi(2)_{sd}    l 0.8061    0.7235   +0.64 Hi   +0.60
    Hi(3)_{sd}    l 1.124     0.6303   +0.29 Hi   +0.60
    Hi(4)_{sd}    p 4.029     2.285    +0.10 Hi   +0.60
    Hi(5)_{sd}    p 4.649     2.267    +0.10 Hi   +0.60
    Hi(6)_{sd}    p 4.803     2.078    +0.57 Hi   +0.60
    Hi(7)_{sd}    p 5.263     2.146    +0.51 Hi   +0.60
    Hi(8)_{sd}    p 5.225     2.168    +0.65 Hi   +0.60
    Hi(1)_{rel}   p 0.1521    0.1109   -0.69 Hi   +0.60
    Hi(2)_{rel}   l -2.369    0.747    -0.52 Hi   +0.60
    Hi(3)_{rel}   l -3.171    0.7429   +0.40 Hi   +0.60
    Hi(4)_{rel}   l -3.573    0.5954   +0.31 Hi   +0.60
    Hi(5)_{rel}   l -3.88     0.3558   +0.47 Hi   +0.60
    Hi(6)_{rel}   l -3.944    0.3731   +0.11 Hi   +0.60
    Hi(7)_{rel}   l -4.027    0.2636   +0.01 Hi   +0.60
    Hi(8)_{rel}   l -4.032    0.2732   +0.01 Hi   +0.60
    CCi(1)        n -0.03681  4.757    +0.03 CCi  +0.42
    CCi(2)        n 12.67     8.581    -0.89 CCi  +0.42
    CCi(3)        n -5.887    8.279    +0.55 CCi  +0.42
    CCi(4)        n -16.33    7.933    -0.26 CCi  +0.42
    CCi(5)        n -10.86    7.212    -0.16 CCi  +0.42
    CCi(6)        n -7.657    8.096    +0.74 CCi  +0.42
    CCi(7)        n -8.921    6.695    -0.52 CCi  +0.42
    CCi(8)        n -3.589    7.657    +0.54 CCi  +0.42
    CCi(9)        n -4.737    7.484    +0.32 CCi  +0.42
    CCi(10)       n -5.528    6.98     +0.03 CCi  +0.42
    CCi(11)       n -0.4855   8.372    +0.43 CCi  +0.42
    CCi(12)       n -2.818    7.842    -0.02 CCi  +0.42
    dCCi(1)       n 0.003614  0.01221  +0.22 dCCi +0.42
    dCCi(2)       n -0.006829 0.01819  +0.05 dCCi +0.42
    dCCi(3)       n 0.004692  0.01787  +0.38 dCCi +0.42
    dCCi(4)       n -0.005606 0.01944  +0.53 dCCi +0.42
    dCCi(5)       n 0.005055  0.01819  -0.47 dCCi +0.42
    dCCi(6)       n 0.001085  0.02164  +0.64 dCCi +0.42
    dCCi(7)       n 0.003393  0.03327  -0.26 dCCi +0.42
    dCCi(8)       n 0.006224  0.02467  -0.51 dCCi +0.42
    dCCi(9)       n -0.002889 0.02832  +0.47 dCCi +0.42
    dCCi(10)      n -0.002152 0.01954  -0.36 dCCi +0.42
    dCCi(11)      n -0.001969 0.01801  +0.05 dCCi +0.42
    dCCi(12)      n 0.001269  0.0208   +0.47 dCCi +0.42
    d_1           p 9.164     2.681    -0.91 -    +0.00
    F2_i          p 2495      617.8    -0.60 -    +0.00
    F2_{conv}     p 1210      553.7    -0.78 -    +0.00
"""


def _parse(table: str) -> list[tuple]:
    rows = []
    for line in table.strip().splitlines():
        name, kind, mean, sd, d, fam, load, *dec = line.split()
        rows.append((name, kind, float(mean), float(sd), float(d), fam, float(load), int(dec[0]) if dec else None))
    return rows


_PARKINSONS_SPEC = _parse(_PARKINSONS_TABLE)
_ALS_SPEC = _parse(_ALS_TABLE)

# Fractions of the real class differences kept. Synthetic features are less redundant than real ones, so
# full-size differences would make the cohorts much easier than the real files; these were tuned so the
# reference pipeline gets roughly the real file's cross-validated ROC-AUC.
_PD_SIGNAL = 0.85
_ALS_SIGNAL = 0.33
_HEART_SIGNAL = 0.65


def _voice_features(rng, spec, y, subj, n_subj, icc, signal):
    """Draw feature columns for rows with labels ``y`` belonging to subjects ``subj``.

    In the (log) scale each feature is mean + sd * z with
    z = signal * d * (y - mean(y)) + loading * family factor + own noise,
    and both the family factor and the own noise split into a subject part (variance ``icc``) and a
    per-recording part, so that recordings of one subject look alike. ``signal`` < 1 shrinks the real
    class differences because our features are less redundant than the real ones.
    """
    n = len(y)

    def latent():
        return np.sqrt(icc) * rng.standard_normal(n_subj)[subj] + np.sqrt(1 - icc) * rng.standard_normal(n)

    factors = {fam: latent() for fam in dict.fromkeys(r[5] for r in spec) if fam != "-"}
    yc = y - y.mean()
    out = {}
    for name, kind, mean, sd, d, fam, load, dec in spec:
        shared = load * factors[fam] if fam != "-" else 0.0
        z = signal * d * yc + shared + np.sqrt(1 - load**2) * latent()
        x = mean + sd * z
        if kind == "l":
            x = np.exp(x)
        elif kind == "p":
            x = np.maximum(x, 0.0)
        out[name] = np.round(x, dec) if dec is not None else x
    return out


# Real subject numbers in parkinsons.data (S03, S09, ... are absent there too).
_PD_SUBJECTS = [1, 2, 4, 5, 6, 7, 8, 10, 13, 16, 17, 18, 19, 20, 21, 22, 24, 25, 26, 27, 31, 32, 33, 34,
                35, 37, 39, 42, 43, 44, 49, 50]


def make_parkinsons(seed: int = 0) -> pd.DataFrame:
    """195 voice recordings of 32 subjects (24 with Parkinson's, 8 healthy), like ``parkinsons.data``."""
    rng = np.random.default_rng(seed)
    n_subj = len(_PD_SUBJECTS)
    status_subj = rng.permutation([1] * 24 + [0] * 8)
    n_rec = np.full(n_subj, 6)
    n_rec[rng.choice(n_subj, 3, replace=False)] = 7  # 29 x 6 + 3 x 7 = 195 rows, as in the real file
    subj = np.repeat(np.arange(n_subj), n_rec)
    rec = np.concatenate([np.arange(1, k + 1) for k in n_rec])
    y = status_subj[subj]
    feats = _voice_features(rng, _PARKINSONS_SPEC, y.astype(float), subj, n_subj, icc=0.8, signal=_PD_SIGNAL)
    cols = {"name": [f"phon_R01_S{_PD_SUBJECTS[s]:02d}_{r}" for s, r in zip(subj, rec)]}
    for name in list(feats):
        cols[name] = feats[name]
        if name == "HNR":  # the real file has status between HNR and RPDE
            cols["status"] = y.astype(np.int64)
    return pd.DataFrame(cols)


def make_als(seed: int = 0) -> pd.DataFrame:
    """64 subjects (31 ALS first, then 33 controls, as in the real file), one row each, 135 columns."""
    rng = np.random.default_rng(seed)
    y = np.array([1] * 31 + [0] * 33)
    # Real IDs are numbered per group and 3 repeat across groups; here they are unique so ID works as a group key.
    ids = rng.choice(np.arange(1, 132), 64, replace=False)
    ids = np.concatenate([np.sort(ids[:31]), np.sort(ids[31:])])
    p_male = np.where(y == 1, 17 / 31, 13 / 33)
    sex = np.where(rng.random(64) < p_male, "M", "F")
    age = np.where(y == 1, rng.normal(59.2, 7.7, 64), rng.normal(53.8, 11.6, 64))
    feats = _voice_features(rng, _ALS_SPEC, y.astype(float), np.arange(64), 64, icc=1.0, signal=_ALS_SIGNAL)
    cols = {"ID": ids.astype(np.int64), "Sex": sex, "Age": np.clip(np.round(age), 34, 80).astype(np.int64)}
    cols.update(feats)
    cols["Diagnosis (ALS)"] = y.astype(np.int64)
    return pd.DataFrame(cols)


# OASIS-2 per-group parameters (subject level unless noted), from oasis_longitudinal.csv.
_GROUPS = ["Nondemented", "Demented", "Converted"]
_GROUP_SUBJECTS = [72, 64, 14]
_VISIT_P = [  # P(2, 3, 4, 5 visits)
    [38 / 72, 24 / 72, 8 / 72, 2 / 72],
    [49 / 64, 13 / 64, 1 / 64, 1 / 64],
    [7 / 14, 6 / 14, 0, 1 / 14],
]
_P_MALE = [0.32, 0.59, 0.35]
_AGE0 = [(75.4, 8.2), (75.1, 6.7), (77.1, 7.7)]  # age at first visit
_EDUC_P = [[.05, .19, .23, .24, .29], [.10, .39, .19, .21, .11], [0, .24, .14, .35, .27]]  # Educ 1-5
_NWBV0 = [0.746, 0.724, 0.738]  # nWBV at first visit
_DEMENTED_CDR_P = [0.70, 0.28, 0.02]  # CDR 0.5 / 1 / 2 for Demented subjects
_NWBV_SD = 0.022  # subject-level nWBV spread left after age and group
_SES_SHIFT = [0.2, 0.0, -0.6]  # SES differs by group beyond what education explains


def make_alzheimers(seed: int = 0) -> pd.DataFrame:
    """About 373 MRI visits of 150 older adults, like OASIS-2 ``oasis_longitudinal.csv``."""
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.repeat([0, 1, 2], _GROUP_SUBJECTS))
    n_subj = len(group)
    ids = np.sort(rng.choice(np.arange(1, 187), n_subj, replace=False))
    # Per-subject missingness as in the real file: SES of 8 demented subjects, MMSE of one at later visits.
    demented = np.flatnonzero(group == 1)
    no_ses = set(rng.choice(demented, 8, replace=False))
    no_mmse = rng.choice(demented)

    rows = []
    for s, g in enumerate(group):
        n_vis = rng.choice([2, 3, 4, 5], p=_VISIT_P[g])
        male = rng.random() < _P_MALE[g]
        age0 = np.clip(rng.normal(*_AGE0[g]), 60, 96) + rng.random()
        educ = rng.choice(5, p=_EDUC_P[g]) + 1
        # SES 1 = highest; it tracks education closely in OASIS (r about -0.7), plus a group offset.
        ses = float(np.clip(np.round(5.3 - 0.95 * educ + _SES_SHIFT[g] + rng.normal(0, 0.7)), 1, 5))
        etiv0 = rng.normal(1604, 169) if male else rng.normal(1401, 123)
        nwbv0 = _NWBV0[g] - 0.0025 * (age0 - 75.5) + rng.normal(0, _NWBV_SD)
        atrophy = 0.0042 if g == 0 else 0.006  # whole-brain volume loss per year
        if g == 1:
            cdr = float(rng.choice([0.5, 1.0, 2.0], p=_DEMENTED_CDR_P))
        else:
            cdr = 0.5 if (g == 0 and rng.random() < 0.01) else 0.0
        convert_at = rng.integers(2, n_vis + 1)  # Converted: first visit with CDR 0.5
        mmse_base = {0.0: 29.3, 0.5: 27.0, 1.0: 22.0, 2.0: 16.0}
        delay = 0
        for v in range(1, n_vis + 1):
            if v > 1:
                # about 1.9 years between visits; converters were followed longer (conversion must be seen)
                delay += int(180 + rng.gamma(5.0, 140.0 if g == 2 else 100.0))
            years = delay / 365.25
            if g == 1 and v > 1 and cdr < 2 and rng.random() < 0.15:  # dementia progresses, never reverts
                cdr = {0.5: 1.0, 1.0: 2.0}[cdr]
            if g == 2 and v >= convert_at:
                cdr = 0.5
            spread = 0.9 if cdr == 0 else 3.0
            mmse = mmse_base[cdr] - (0.5 * years if g == 1 else 0.1 * years) + rng.normal(0, spread)
            mmse = float(np.clip(np.round(mmse), 0, 30))
            if s == no_mmse and v in (2, 3):
                mmse = np.nan
            etiv = int(round(etiv0 + rng.normal(0, 16)))
            rows.append({
                "Group": _GROUPS[g],
                "Hand": "R",  # every OASIS-2 participant is right-handed
                "M/F": "M" if male else "F",
                "MRI ID": f"OAS2_{ids[s]:04d}_MR{v}",
                "Subject ID": f"OAS2_{ids[s]:04d}",
                "Age": int(age0 + years),
                "ASF": round(1755.0 / etiv, 3),  # atlas scaling factor is ~1755 / eTIV by construction
                "CDR": cdr,
                "Educ": int(educ),
                "eTIV": etiv,
                "MMSE": mmse,
                "MR Delay": delay,
                "nWBV": round(nwbv0 - atrophy * years + rng.normal(0, 0.005), 3),
                "SES": np.nan if s in no_ses else ses,
                "Visit": v,
            })
    return pd.DataFrame(rows).astype({"Age": np.int64, "Educ": np.int64, "eTIV": np.int64,
                                      "MR Delay": np.int64, "Visit": np.int64, "CDR": float, "MMSE": float,
                                      "SES": float})


# Cleveland class-conditional category frequencies: {column: (codes, P(code | no disease), P(code | disease))}.
_HEART_CATS = {
    "sex": ([0.0, 1.0], [72, 92], [25, 114]),
    "cp": ([1.0, 2.0, 3.0, 4.0], [16, 41, 68, 39], [7, 9, 18, 105]),
    "fbs": ([0.0, 1.0], [141, 23], [117, 22]),
    "restecg": ([0.0, 1.0, 2.0], [95, 1, 68], [56, 3, 80]),
    "exang": ([0.0, 1.0], [141, 23], [63, 76]),
    "slope": ([1.0, 2.0, 3.0], [106, 49, 9], [36, 91, 12]),
    "ca": ([0.0, 1.0, 2.0, 3.0], [130, 21, 7, 3], [46, 44, 31, 17]),
    "thal": ([3.0, 6.0, 7.0], [129, 6, 28], [37, 12, 89]),
}


def make_cardiovascular(seed: int = 0) -> pd.DataFrame:
    """303 patients like the UCI Cleveland heart-disease file, with its 6 missing ``ca``/``thal`` cells."""
    rng = np.random.default_rng(seed)
    n = 303
    num = rng.permutation(np.repeat([0, 1, 2, 3, 4], [164, 55, 36, 35, 13]))
    sick = (num > 0).astype(int)

    def by_class(healthy, diseased):
        # Shrink the real healthy-vs-diseased difference by _HEART_SIGNAL around the pooled value.
        mid = (164 * np.asarray(healthy) + 139 * np.asarray(diseased)) / 303
        return mid + _HEART_SIGNAL * (np.where(sick == 1, diseased, healthy) - mid)

    age = by_class(52.6, 56.6) + rng.normal(0, 8.8, n)
    age_c = age - 54.4
    # Blood pressure, cholesterol and max heart rate drift with age as in the real file.
    trestbps = by_class(129.3, 134.6) + rng.normal(0, 16.5, n) + 0.45 * age_c
    chol = by_class(242.6, 251.5) + rng.normal(0, 50.0, n) + 1.0 * age_c
    thalach = by_class(158.4, 139.3) + rng.normal(0, 19.5, n) - 0.8 * age_c
    # ST depression: exactly 0 for many patients (45% healthy, 19% diseased), else right-skewed.
    zero = rng.random(n) < by_class(0.45, 0.19)
    oldpeak = np.where(zero, 0.0, rng.gamma(2.0, by_class(0.53, 0.97)))
    cols = {
        "age": np.clip(np.round(age), 29, 77),
        "trestbps": np.clip(np.round(trestbps), 94, 200),
        "chol": np.clip(np.round(chol), 126, 564),
        "thalach": np.clip(np.round(thalach), 71, 202),
        "oldpeak": np.clip(np.round(oldpeak, 1), 0, 6.2),
    }
    u = rng.random((len(_HEART_CATS), n))
    for i, (col, (codes, p0, p1)) in enumerate(_HEART_CATS.items()):
        p0, p1 = np.array(p0) / sum(p0), np.array(p1) / sum(p1)
        cdf = np.cumsum(by_class(p0[:, None], p1[:, None]), axis=0)  # per-patient category probabilities
        cols[col] = np.asarray(codes)[np.minimum((u[i] > cdf).sum(axis=0), len(codes) - 1)]
    cols["ca"][rng.choice(n, 4, replace=False)] = np.nan  # "?" cells in the real file
    cols["thal"][rng.choice(n, 2, replace=False)] = np.nan
    order = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak",
             "slope", "ca", "thal"]
    df = pd.DataFrame({c: np.asarray(cols[c], dtype=float) for c in order})
    df["num"] = num.astype(np.int64)
    return df


COHORTS: dict[str, Callable[[int], pd.DataFrame]] = {
    "als": make_als,
    "alzheimers": make_alzheimers,
    "parkinsons": make_parkinsons,
    "cardiovascular": make_cardiovascular,
}


def make_cohort(name: str, seed: int = 0) -> pd.DataFrame:
    """Return the synthetic cohort ``name`` (a key of ``COHORTS``) drawn with ``seed``."""
    if name not in COHORTS:
        raise ValueError(f"unknown cohort {name!r}; choose one of {sorted(COHORTS)}")
    return COHORTS[name](seed)
