"""What the synthetic cohorts (synthetic.py) are shaped after: summary statistics of the public files they
mirror (column means and spreads, class differences, category frequencies, visit patterns), as data.
No patient's values are here; synthetic.py draws every value from a seeded generator.
"""

from __future__ import annotations

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


PARKINSONS_SPEC = _parse(_PARKINSONS_TABLE)
ALS_SPEC = _parse(_ALS_TABLE)

# Real subject numbers in parkinsons.data (S03, S09, ... are absent there too).
PD_SUBJECTS = [1, 2, 4, 5, 6, 7, 8, 10, 13, 16, 17, 18, 19, 20, 21, 22, 24, 25, 26, 27, 31, 32, 33, 34,
                35, 37, 39, 42, 43, 44, 49, 50]


# OASIS-2 per-group parameters (subject level unless noted), from oasis_longitudinal.csv.
GROUPS = ["Nondemented", "Demented", "Converted"]
GROUP_SUBJECTS = [72, 64, 14]
VISIT_P = [  # P(2, 3, 4, 5 visits)
    [38 / 72, 24 / 72, 8 / 72, 2 / 72],
    [49 / 64, 13 / 64, 1 / 64, 1 / 64],
    [7 / 14, 6 / 14, 0, 1 / 14],
]
P_MALE = [0.32, 0.59, 0.35]
AGE0 = [(75.4, 8.2), (75.1, 6.7), (77.1, 7.7)]  # age at first visit
EDUC_P = [[.05, .19, .23, .24, .29], [.10, .39, .19, .21, .11], [0, .24, .14, .35, .27]]  # Educ 1-5
NWBV0 = [0.746, 0.724, 0.738]  # nWBV at first visit
DEMENTED_CDR_P = [0.70, 0.28, 0.02]  # CDR 0.5 / 1 / 2 for Demented subjects
NWBV_SD = 0.022  # subject-level nWBV spread left after age and group
SES_SHIFT = [0.2, 0.0, -0.6]  # SES differs by group beyond what education explains


# Cleveland class-conditional category frequencies: {column: (codes, P(code | no disease), P(code | disease))}.
HEART_CATS = {
    "sex": ([0.0, 1.0], [72, 92], [25, 114]),
    "cp": ([1.0, 2.0, 3.0, 4.0], [16, 41, 68, 39], [7, 9, 18, 105]),
    "fbs": ([0.0, 1.0], [141, 23], [117, 22]),
    "restecg": ([0.0, 1.0, 2.0], [95, 1, 68], [56, 3, 80]),
    "exang": ([0.0, 1.0], [141, 23], [63, 76]),
    "slope": ([1.0, 2.0, 3.0], [106, 49, 9], [36, 91, 12]),
    "ca": ([0.0, 1.0, 2.0, 3.0], [130, 21, 7, 3], [46, 44, 31, 17]),
    "thal": ([3.0, 6.0, 7.0], [129, 6, 28], [37, 12, 89]),
}
