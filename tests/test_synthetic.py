"""Tests for medsweep.data.synthetic: layout like the real files, determinism, patient structure, signal."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from medsweep.data.synthetic import COHORTS, make_cohort

# Headers of the real files, in order.
HEADERS = {
    "parkinsons": (
        "name,MDVP:Fo(Hz),MDVP:Fhi(Hz),MDVP:Flo(Hz),MDVP:Jitter(%),MDVP:Jitter(Abs),MDVP:RAP,MDVP:PPQ,"
        "Jitter:DDP,MDVP:Shimmer,MDVP:Shimmer(dB),Shimmer:APQ3,Shimmer:APQ5,MDVP:APQ,Shimmer:DDA,NHR,HNR,"
        "status,RPDE,DFA,spread1,spread2,D2,PPE"
    ).split(","),
    "alzheimers": (
        "Group,Hand,M/F,MRI ID,Subject ID,Age,ASF,CDR,Educ,eTIV,MMSE,MR Delay,nWBV,SES,Visit"
    ).split(","),
    "als": (
        r"ID,Sex,Age,J1_a,J3_a,J5_a,J55_a,S1_a,S3_a,S5_a,S11_a,S55_a,DPF_a,PFR_a,PPE_a,PVI_a,HNR_a,"
        r"GNEa_{\mu},GNEa_{\sigma},Ha(1)_{mu},Ha(2)_{mu},Ha(3)_{mu},Ha(4)_{mu},Ha(5)_{mu},Ha(6)_{mu},"
        r"Ha(7)_{mu},Ha(8)_{mu},Ha(1)_{sd},Ha(2)_{sd},Ha(3)_{sd},Ha(4)_{sd},Ha(5)_{sd},Ha(6)_{sd},"
        r"Ha(7)_{sd},Ha(8)_{sd},Ha(1)_{rel},Ha(2)_{rel},Ha(3)_{rel},Ha(4)_{rel},Ha(5)_{rel},"
        r"Ha(6)_{rel},Ha(7)_{rel},Ha(8)_{rel},CCa(1),CCa(2),CCa(3),CCa(4),CCa(5),CCa(6),CCa(7),CCa(8),"
        r"CCa(9),CCa(10),CCa(11),CCa(12),dCCa(1),dCCa(2),dCCa(3),dCCa(4),dCCa(5),dCCa(6),dCCa(7),"
        r"dCCa(8),dCCa(9),dCCa(10),dCCa(11),dCCa(12),J1_i,J3_i,J5_i,J55_i,S1_i,S3_i,S5_i,S11_i,S55_i,"
        r"DPF_i,PFR_i,PPE_i,PVI_i,HNR_i,GNEi_{\mu},GNEi_{\sigma},Hi(1)_{mu},Hi(2)_{mu},Hi(3)_{mu},"
        r"Hi(4)_{mu},Hi(5)_{mu},Hi(6)_{mu},Hi(7)_{mu},Hi(8)_{mu},Hi(1)_{sd},Hi(2)_{sd},Hi(3)_{sd},"
        r"Hi(4)_{sd},Hi(5)_{sd},Hi(6)_{sd},Hi(7)_{sd},Hi(8)_{sd},Hi(1)_{rel},Hi(2)_{rel},Hi(3)_{rel},"
        r"Hi(4)_{rel},Hi(5)_{rel},Hi(6)_{rel},Hi(7)_{rel},Hi(8)_{rel},CCi(1),CCi(2),CCi(3),CCi(4),"
        r"CCi(5),CCi(6),CCi(7),CCi(8),CCi(9),CCi(10),CCi(11),CCi(12),dCCi(1),dCCi(2),dCCi(3),dCCi(4),"
        r"dCCi(5),dCCi(6),dCCi(7),dCCi(8),dCCi(9),dCCi(10),dCCi(11),dCCi(12),d_1,F2_i,F2_{conv},"
        r"Diagnosis (ALS)"
    ).split(","),
    "cardiovascular": "age,sex,cp,trestbps,chol,fbs,restecg,thalach,exang,oldpeak,slope,ca,thal,num".split(","),
}
# Text columns as pandas reads the real files; everything else is numeric.
TEXT = {
    "parkinsons": {"name"},
    "alzheimers": {"Group", "Hand", "M/F", "MRI ID", "Subject ID"},
    "als": {"Sex"},
    "cardiovascular": set(),
}
# Integer columns in the real files (pandas reads the others as float64).
INTS = {
    "parkinsons": {"status"},
    "alzheimers": {"Age", "Educ", "eTIV", "MR Delay", "Visit"},
    "als": {"ID", "Age", "Diagnosis (ALS)"},
    "cardiovascular": {"num"},
}
REAL_FILES = {
    "parkinsons": "parkinsons.data",
    "alzheimers": "oasis_longitudinal.csv",
    "als": "minsk2020_als.csv",
    "cardiovascular": "cleveland_heart.csv",
}
DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
NAMES = sorted(COHORTS)


def pd_subject(names: pd.Series) -> pd.Series:
    return names.str.rsplit("_", n=1).str[0]


def test_registry_and_unknown_name():
    assert set(COHORTS) == {"als", "alzheimers", "parkinsons", "cardiovascular"}
    with pytest.raises(ValueError, match=r"'diabetes'.*als.*alzheimers.*cardiovascular.*parkinsons"):
        make_cohort("diabetes")


@pytest.mark.parametrize("name", NAMES)
def test_columns_and_dtypes_match_real_header(name):
    df = make_cohort(name)
    assert list(df.columns) == HEADERS[name]
    for col in df.columns:
        if col in TEXT[name]:
            assert not pd.api.types.is_numeric_dtype(df[col]), col
        elif col in INTS[name]:
            assert df[col].dtype == np.int64, col
        else:
            assert df[col].dtype == np.float64, col


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed_and_fast(name):
    start = time.perf_counter()
    a = make_cohort(name, seed=0)
    assert time.perf_counter() - start < 1.0  # meant to be ~0.05 s; loose bound against slow CI
    pd.testing.assert_frame_equal(a, make_cohort(name, seed=0))
    pd.testing.assert_frame_equal(a, COHORTS[name](0))
    b = make_cohort(name, seed=1)
    assert list(a.columns) == list(b.columns)
    num = a.select_dtypes("number").columns.drop(["status", "num", "Diagnosis (ALS)"], errors="ignore")
    assert not np.allclose(a[num].iloc[:30].to_numpy(float), b[num].iloc[:30].to_numpy(float), equal_nan=True)


def test_parkinsons_structure():
    df = make_cohort("parkinsons")
    assert len(df) == 195
    assert df["name"].str.fullmatch(r"phon_R01_S\d{2}_\d").all()
    subj = pd_subject(df["name"])
    per_subject = subj.value_counts()
    assert len(per_subject) == 32
    assert set(per_subject) <= {6, 7}
    # each recording number 1..k appears once per subject
    rec = df["name"].str.rsplit("_", n=1).str[1].astype(int)
    assert (rec.groupby(subj).max() == per_subject.sort_index()).all()
    status = df.groupby(subj)["status"]
    assert (status.nunique() == 1).all()
    assert status.first().value_counts().to_dict() == {1: 24, 0: 8}
    assert df["status"].value_counts().sum() == 195 and 140 <= (df["status"] == 1).sum() <= 154
    # recordings of one subject are alike: most variance of log jitter and Fo is between subjects
    for col in ["MDVP:Fo(Hz)", "MDVP:Jitter(%)"]:
        x = np.log(df[col])
        assert x.groupby(subj).transform("mean").var() / x.var() > 0.5


def test_alzheimers_structure():
    df = make_cohort("alzheimers")
    assert 330 <= len(df) <= 420
    assert df["Subject ID"].str.fullmatch(r"OAS2_\d{4}").all()
    assert (df["MRI ID"] == df["Subject ID"] + "_MR" + df["Visit"].astype(str)).all()
    assert df["MRI ID"].is_unique
    visits = df.groupby("Subject ID")
    assert visits.ngroups == 150
    assert visits.size().between(2, 5).all()
    assert (visits["Group"].nunique() == 1).all()
    assert (visits["Visit"].min() == 1).all()
    first = df[df["Visit"] == 1]
    assert (first["MR Delay"] == 0).all()
    assert (visits["MR Delay"].diff().dropna() > 0).all()
    assert (visits["Age"].diff().dropna() >= 0).all()
    groups = visits["Group"].first().value_counts()
    assert groups.to_dict() == {"Nondemented": 72, "Demented": 64, "Converted": 14}
    assert set(df["Hand"]) == {"R"} and set(df["M/F"]) == {"M", "F"}
    # missing cells like the real file: SES of a few demented subjects, MMSE rarely
    assert 5 <= df["SES"].isna().sum() <= 40 and 1 <= df["MMSE"].isna().sum() <= 2
    assert df.drop(columns=["SES", "MMSE"]).notna().all().all()
    assert set(df["SES"].dropna()) <= {1.0, 2.0, 3.0, 4.0, 5.0} and set(df["Educ"]) <= {1, 2, 3, 4, 5}
    # CDR / MMSE follow the diagnosis (the leakage the project drops)
    assert set(df["CDR"]) <= {0.0, 0.5, 1.0, 2.0}
    assert (df.loc[df["Group"] == "Demented", "CDR"] >= 0.5).all()
    assert (df.loc[df["Group"] == "Nondemented", "CDR"] == 0).mean() > 0.95
    assert (df.loc[(df["Group"] == "Converted") & (df["Visit"] == 1), "CDR"] == 0).all()
    mmse = df.groupby("Group")["MMSE"].mean()
    assert mmse["Demented"] < mmse["Converted"] - 2 and mmse["Demented"] < mmse["Nondemented"] - 2
    assert df["MMSE"].max() <= 30
    np.testing.assert_allclose(df["ASF"] * df["eTIV"], 1755, rtol=0.002)


def test_als_structure():
    df = make_cohort("als")
    assert df.shape == (64, 135)
    assert df["ID"].is_unique
    assert df["Diagnosis (ALS)"].value_counts().to_dict() == {0: 33, 1: 31}
    assert set(df["Sex"]) == {"M", "F"}
    assert df["Age"].between(30, 85).all()
    assert df.notna().all().all()


def test_cardiovascular_structure():
    df = make_cohort("cardiovascular")
    assert df.shape == (303, 14)
    assert df["num"].value_counts().sort_index().to_dict() == {0: 164, 1: 55, 2: 36, 3: 35, 4: 13}
    missing = df.isna().sum()
    assert missing[missing > 0].to_dict() == {"ca": 4, "thal": 2}
    codes = {
        "sex": {0, 1}, "cp": {1, 2, 3, 4}, "fbs": {0, 1}, "restecg": {0, 1, 2}, "exang": {0, 1},
        "slope": {1, 2, 3}, "ca": {0, 1, 2, 3}, "thal": {3, 6, 7},
    }
    for col, allowed in codes.items():
        assert set(df[col].dropna()) <= allowed, col
    assert (df["oldpeak"] == 0).mean() > 0.2  # many patients with no ST depression, as in the real file


# Real-file means and standard deviations of a few columns: synthetic values must be on the same scale.
SCALE = {
    "parkinsons": {"MDVP:Fo(Hz)": (154.2, 41.4), "MDVP:Jitter(%)": (0.0062, 0.0048), "HNR": (21.9, 4.4),
                   "spread1": (-5.68, 1.09), "PPE": (0.207, 0.090)},
    "alzheimers": {"Age": (77.0, 7.6), "eTIV": (1488, 176), "nWBV": (0.730, 0.037), "Educ": (3.3, 1.25),
                   "MMSE": (27.3, 3.7)},
    "als": {"Age": (56.4, 10.2), "HNR_a": (13.1, 5.2), "Ha(1)_{mu}": (-10.9, 8.8), "F2_i": (2495, 618)},
    "cardiovascular": {"age": (54.4, 9.0), "trestbps": (131.7, 17.6), "chol": (246.7, 51.8),
                       "thalach": (149.6, 22.9), "oldpeak": (1.04, 1.16)},
}


@pytest.mark.parametrize("name", NAMES)
def test_value_scale_like_real(name):
    df = make_cohort(name)
    for col, (mean, sd) in SCALE[name].items():
        assert abs(df[col].mean() - mean) < 0.4 * sd, col
        assert 0.5 * sd < df[col].std() < 2.0 * sd, col


def split(name, df):
    """Features, target and patient groups as the project uses them (dropped columns removed)."""
    if name == "parkinsons":
        return df.drop(columns=["name", "status"]), df["status"], pd_subject(df["name"])
    if name == "alzheimers":
        drop = ["Group", "MRI ID", "Subject ID", "CDR", "MMSE", "Hand"]
        return df.drop(columns=drop), df["Group"], df["Subject ID"]
    if name == "als":
        return df.drop(columns=["ID", "Diagnosis (ALS)"]), df["Diagnosis (ALS)"], df["ID"]
    return df.drop(columns=["num"]), (df["num"] > 0).astype(int), None


def cv_auc(name, df):
    X, y, groups = split(name, df)
    num = list(X.select_dtypes("number").columns)
    text = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("text", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), text),
    ])
    model = make_pipeline(pre, LogisticRegression(max_iter=1000))
    scoring = "roc_auc_ovr" if name == "alzheimers" else "roc_auc"
    if groups is None:
        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        return cross_val_score(model, X, y, cv=cv, scoring=scoring).mean()
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=cv, groups=groups, scoring=scoring).mean()


@pytest.mark.parametrize("name", NAMES)
def test_signal_is_realistic(name):
    auc = cv_auc(name, make_cohort(name, seed=0))
    assert 0.65 <= auc <= 0.95, f"{name}: grouped CV ROC-AUC {auc:.3f} outside [0.65, 0.95]"


@pytest.mark.parametrize("name", NAMES)
def test_matches_real_file_when_available(name):
    path = DATA / REAL_FILES[name]
    if not path.exists():
        pytest.skip(f"real dataset {path} not available (only in the project's shared data folder)")
    real = pd.read_csv(path, na_values=["?"])
    syn = make_cohort(name)
    assert list(syn.columns) == list(real.columns)
    for col in real.columns:
        assert pd.api.types.is_numeric_dtype(syn[col]) == pd.api.types.is_numeric_dtype(real[col]), col
        if pd.api.types.is_numeric_dtype(real[col]):
            assert syn[col].dtype == real[col].dtype, col
            sd = real[col].std()
            assert abs(syn[col].mean() - real[col].mean()) <= 0.6 * sd + 1e-12, col
            assert 0.4 * sd <= syn[col].std() <= 2.5 * sd, col
            assert (syn[col].isna().sum() > 0) == (real[col].isna().sum() > 0), col
        elif real[col].nunique() < 10:
            assert set(syn[col]) == set(real[col]), col
    if name == "parkinsons":
        assert set(pd_subject(syn["name"])) == set(pd_subject(real["name"]))
