"""Synthetic patient cohorts shaped like four public medical datasets.

Every value here is drawn from a seeded random generator; no real patient data is in medsweep. Only
summary statistics (column means, spreads, class differences, category frequencies) taken from the
public files were hard-coded (cohort_shapes.py), so that a model trained on a synthetic cohort can later
be pointed at the real file, read with ``pandas.read_csv(path, na_values=["?"])``, with no other change.

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

from medsweep.data.cohort_shapes import (AGE0, ALS_SPEC, DEMENTED_CDR_P, EDUC_P, GROUP_SUBJECTS, GROUPS, HEART_CATS,
                                         NWBV0, NWBV_SD, P_MALE, PARKINSONS_SPEC, PD_SUBJECTS, SES_SHIFT, VISIT_P)

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


def make_parkinsons(seed: int = 0) -> pd.DataFrame:
    """195 voice recordings of 32 subjects (24 with Parkinson's, 8 healthy), like ``parkinsons.data``."""
    rng = np.random.default_rng(seed)
    n_subj = len(PD_SUBJECTS)
    status_subj = rng.permutation([1] * 24 + [0] * 8)
    n_rec = np.full(n_subj, 6)
    n_rec[rng.choice(n_subj, 3, replace=False)] = 7  # 29 x 6 + 3 x 7 = 195 rows, as in the real file
    subj = np.repeat(np.arange(n_subj), n_rec)
    rec = np.concatenate([np.arange(1, k + 1) for k in n_rec])
    y = status_subj[subj]
    feats = _voice_features(rng, PARKINSONS_SPEC, y.astype(float), subj, n_subj, icc=0.8, signal=_PD_SIGNAL)
    cols = {"name": [f"phon_R01_S{PD_SUBJECTS[s]:02d}_{r}" for s, r in zip(subj, rec)]}
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
    feats = _voice_features(rng, ALS_SPEC, y.astype(float), np.arange(64), 64, icc=1.0, signal=_ALS_SIGNAL)
    cols = {"ID": ids.astype(np.int64), "Sex": sex, "Age": np.clip(np.round(age), 34, 80).astype(np.int64)}
    cols.update(feats)
    cols["Diagnosis (ALS)"] = y.astype(np.int64)
    return pd.DataFrame(cols)


def make_alzheimers(seed: int = 0) -> pd.DataFrame:
    """About 373 MRI visits of 150 older adults, like OASIS-2 ``oasis_longitudinal.csv``."""
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.repeat([0, 1, 2], GROUP_SUBJECTS))
    n_subj = len(group)
    ids = np.sort(rng.choice(np.arange(1, 187), n_subj, replace=False))
    # Per-subject missingness as in the real file: SES of 8 demented subjects, MMSE of one at later visits.
    demented = np.flatnonzero(group == 1)
    no_ses = set(rng.choice(demented, 8, replace=False))
    no_mmse = rng.choice(demented)

    rows = []
    for s, g in enumerate(group):
        n_vis = rng.choice([2, 3, 4, 5], p=VISIT_P[g])
        male = rng.random() < P_MALE[g]
        age0 = np.clip(rng.normal(*AGE0[g]), 60, 96) + rng.random()
        educ = rng.choice(5, p=EDUC_P[g]) + 1
        # SES 1 = highest; it tracks education closely in OASIS (r about -0.7), plus a group offset.
        ses = float(np.clip(np.round(5.3 - 0.95 * educ + SES_SHIFT[g] + rng.normal(0, 0.7)), 1, 5))
        etiv0 = rng.normal(1604, 169) if male else rng.normal(1401, 123)
        nwbv0 = NWBV0[g] - 0.0025 * (age0 - 75.5) + rng.normal(0, NWBV_SD)
        atrophy = 0.0042 if g == 0 else 0.006  # whole-brain volume loss per year
        if g == 1:
            cdr = float(rng.choice([0.5, 1.0, 2.0], p=DEMENTED_CDR_P))
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
                "Group": GROUPS[g],
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
    u = rng.random((len(HEART_CATS), n))
    for i, (col, (codes, p0, p1)) in enumerate(HEART_CATS.items()):
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


# Sites (data.site): a synthetic cohort gains a site column only when asked (make_cohort(site=...)), drawn from its
# own random stream, so every other column is the same with or without it. Each site's share of the patients of
# class c is proportional to exp(u_kc), u_k0 = 0 and u_kc = u_k ~ N(0, SITE_EFFECT^2) for the other classes: a
# site's log-odds of any class but the first against the first are shifted by about u_k (a known between-site
# effect on the outcome's prevalence, seen by calibration-in-the-large). effect 0: sites drawn independently.
N_SITES = 4
SITE_EFFECT = 1.0
_SITE_TAG = 7  # keeps the site stream's entropy apart from anything else seeded with [seed, ...]
# Each cohort's target and the patient of each row (the site is a patient's, never a row's).
_SITE_UNITS: dict[str, tuple[str, Callable[[pd.DataFrame], np.ndarray]]] = {
    "als": ("Diagnosis (ALS)", lambda f: np.arange(len(f))),
    "alzheimers": ("Group", lambda f: f["Subject ID"].to_numpy()),
    "parkinsons": ("status", lambda f: f["name"].str.rsplit("_", n=1).str[0].to_numpy()),
    "cardiovascular": ("num", lambda f: np.arange(len(f))),
}


def site_labels(classes, patients, n_sites: int = N_SITES, effect: float = SITE_EFFECT, seed: int = 0) -> np.ndarray:
    """The site ("site_1", ...) of each row: each patient (``patients``, one per row) is put in one site, by
    the class of its first row (``classes``, in sorted order: the first is the reference); every site first gets
    one patient of each class that has at least ``n_sites`` patients, the others go to site k with probability
    proportional to exp(u_kc) (see SITE_EFFECT). Seeded with [seed, _SITE_TAG]."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SITE_TAG]))
    first = pd.DataFrame({"p": patients, "c": classes}).drop_duplicates("p")
    codes, _ = pd.factorize(first["c"], sort=True)
    shift = rng.normal(0.0, effect, size=n_sites) if effect > 0 else np.zeros(n_sites)
    u = np.where(np.arange(codes.max() + 1)[None, :] > 0, shift[:, None], 0.0)  # every class but the first
    site = np.empty(len(first), dtype=np.int64)
    for c in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == c))
        seeded = n_sites if len(members) >= n_sites else 0
        site[members[:seeded]] = np.arange(seeded)
        p = np.exp(u[:, c]) / np.exp(u[:, c]).sum()
        site[members[seeded:]] = rng.choice(n_sites, size=len(members) - seeded, p=p)
    of_patient = dict(zip(first["p"], site))
    return np.array([f"site_{of_patient[q] + 1}" for q in patients], dtype=object)


COHORTS: dict[str, Callable[[int], pd.DataFrame]] = {
    "als": make_als,
    "alzheimers": make_alzheimers,
    "parkinsons": make_parkinsons,
    "cardiovascular": make_cardiovascular,
}


def make_cohort(name: str, seed: int = 0, site: str | None = None, site_effect: float = SITE_EFFECT,
                n_sites: int = N_SITES) -> pd.DataFrame:
    """Return the synthetic cohort ``name`` (a key of ``COHORTS``) drawn with ``seed``; with ``site``, a last
    column of that name holding each patient's site (site_labels; the other columns unchanged)."""
    if name not in COHORTS:
        raise ValueError(f"unknown cohort {name!r}; choose one of {sorted(COHORTS)}")
    frame = COHORTS[name](seed)
    if site:
        target, units = _SITE_UNITS[name]
        frame[site] = site_labels(frame[target].to_numpy(), units(frame), n_sites, site_effect, seed)
    return frame
