"""Real files, as users bring them: the four public datasets in ../shared/data with each model's defaults,
and a file of repeated visits showing that folds are grouped by patient and that Parquet trains as CSV."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from helpers import SHARED_DATA, metrics_of, needs_shared_data, run_train

pytestmark = pytest.mark.slow

# model -> (file, sha256 from ../shared/data/MANIFEST.md, rows, columns, patients, splitter, roc_auc range)
REAL = {
    "als": ("minsk2020_als.csv", "4eaf26c0534b43689109bfc16027054a43f2c87b219c6ba802b677dc9afaa047",
            64, 135, 64, "StratifiedKFold", (0.65, 0.95)),
    "alzheimers": ("oasis_longitudinal.csv", "c93a9fd3c959d4f280617dcb01815a1033a388a8ae0f6b843f69d9e64da86a5e",
                   373, 15, 150, "StratifiedGroupKFold", (0.55, 0.85)),   # 3 classes, CDR/MMSE left out
    "parkinsons": ("parkinsons.data", "a148d3c47503f4f5b3842d3f995548da333eb2b4401f6bb8a65832d008aca5d5",
                   195, 24, 32, "StratifiedGroupKFold", (0.6, 0.98)),
    "cardiovascular": ("cleveland_heart.csv", "a5195b7562ca4f48bda400649bfee2a7d7ed70ff72fb5cc0c486c68fd68f7f62",
                       303, 14, 303, "StratifiedKFold", (0.85, 0.97)),
}



def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory):
    """`python train.py -m model=... data_dir=../shared/data`: each model's defaults, nothing else."""
    models = [m for m, spec in REAL.items() if (SHARED_DATA / spec[0]).is_file()]
    if not models:
        pytest.skip(f"{SHARED_DATA} is absent: the real public datasets live in ../shared/data beside the repo")
    sweep_dir = tmp_path_factory.mktemp("real")
    proc = run_train("-m", f"model={','.join(models)}", "data_dir=../shared/data", "hydra.launcher.n_jobs=1",
                     f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    return {metrics_of(d)["model"]: d for d in sweep_dir.iterdir() if (d / "metrics.json").is_file()}


@pytest.mark.parametrize("model", list(REAL))
def test_real_file_runs_with_the_model_defaults(real_sweep, model):
    file, digest, rows, columns, patients, splitter, (low, high) = REAL[model]
    path = needs_shared_data(file)
    m = metrics_of(real_sweep[model])
    assert m["status"] == "completed"
    assert m["data"]["source"] == "file" and m["data"]["synthetic"] is False
    assert m["data"]["path"] == str(path.resolve())
    assert m["data"]["sha256"] == digest == sha256(path)  # read, never modified
    assert (m["data"]["rows"], m["data"]["columns"]) == (rows, columns)
    assert m["data"]["dropped_rows_missing_target"] == 0
    assert (m["n_groups"], m["splitter"]) == (patients, splitter)
    assert low < m["metrics"]["roc_auc"]["mean"] < high, m["metrics"]["roc_auc"]
    assert "real data (file)" in (real_sweep[model] / "train.log").read_text()


@pytest.mark.parametrize("model", list(REAL))
def test_every_real_patient_is_in_exactly_one_test_fold(real_sweep, model):
    needs_shared_data(REAL[model][0])
    predictions = pd.read_csv(real_sweep[model] / "predictions.csv")
    assert len(predictions) == REAL[model][2] and predictions.row.is_unique
    assert (predictions.groupby("patient").fold.nunique() == 1).all()
    assert predictions.patient.nunique() == REAL[model][4] and set(predictions.fold) == set(range(5))


def test_real_features_leave_out_ids_and_leakage(real_sweep):
    needs_shared_data("oasis_longitudinal.csv")
    needs_shared_data("parkinsons.data")
    excluded = metrics_of(real_sweep["alzheimers"])["features"]["excluded"]
    assert {"Subject ID", "MRI ID", "CDR", "MMSE", "Hand", "Group"} == set(excluded)
    assert metrics_of(real_sweep["parkinsons"])["features"]["excluded"] == {
        "status": "target", "name": "patient id (data.group)"}
    assert pd.read_csv(real_sweep["parkinsons"] / "predictions.csv").patient.iloc[0] == "phon_R01_S01"


def test_cleveland_logistic_regression_is_near_0_9(compose_cfg):
    """The usual benchmark: num > 0 from the 13 work-up variables, logistic regression ROC-AUC ~0.9."""
    needs_shared_data("cleveland_heart.csv")
    from medsweep.data.prepare import load_dataset
    from medsweep.learn.training import TrainSettings, cross_validate

    cfg = compose_cfg("model=cardiovascular", "estimator=logreg", "data_dir=../shared/data")
    data = load_dataset(cfg.data, str(SHARED_DATA))
    settings = TrainSettings(epochs=1, batch_size=32, seed=0)
    cv = cross_validate(data, OmegaConf.to_container(cfg.estimator), 5, settings)
    assert 0.86 < cv.metrics["roc_auc"]["mean"] < 0.95


# --- a user's own file: repeated visits, CSV and Parquet -------------------------------------------

def repeated_visits(n_patients=40, visits=5, seed=0) -> pd.DataFrame:
    """Each patient's visits share a signature and the diagnosis is unrelated to it: a model can only
    score well by recognising a patient it has already seen, i.e. when a patient's visits leak across a
    row-wise split."""
    rng = np.random.default_rng(seed)
    signature = rng.normal(size=(n_patients, 6))
    label = rng.permutation(np.arange(n_patients) % 2)
    rows = np.repeat(np.arange(n_patients), visits)
    features = signature[rows] + rng.normal(scale=0.05, size=(len(rows), 6))
    frame = pd.DataFrame(features.round(4), columns=[f"v{i}" for i in range(6)])
    frame.insert(0, "patient", [f"PT-{i:03d}" for i in rows])
    frame["sex"] = np.where(rows % 3 == 0, "F", "M")
    frame["y"] = label[rows]
    frame = frame.astype({"v0": object})
    frame.loc[::17, "v0"] = "?"   # missing-value markers, as exported
    return frame


@pytest.fixture(scope="module")
def own_file_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own")
    repeated_visits().to_csv(folder / "visits.csv", index=False)
    # The Parquet copy a user would export: the CSV as read, with types (the `?` are missing values).
    pd.read_csv(folder / "visits.csv", na_values=["?"]).to_parquet(folder / "visits.parquet")
    sweep_dir = folder / "sweep"
    proc = run_train("-m", "model=als", "data.target=y", "data.drop=[patient]", "estimator=random_forest",
                     "estimator.n_estimators=50", "trainer=fast", "hydra.launcher.n_jobs=1",
                     f"data.path={folder / 'visits.csv'},{folder / 'visits.parquet'}", "data.group=patient,null",
                     f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    jobs = {}
    for d in sweep_dir.iterdir():
        if (d / "metrics.json").is_file():
            m = metrics_of(d)
            fmt = next(o for o in m["overrides"] if o.startswith("data.path=")).rsplit(".", 1)[-1]
            grouped = "data.group=patient" in m["overrides"]
            jobs[fmt, grouped] = (d, m)
    return jobs


def test_grouping_by_patient_is_applied_and_lowers_the_leaky_score(own_file_sweep):
    (grouped_dir, grouped), (_, rowwise) = own_file_sweep["csv", True], own_file_sweep["csv", False]
    assert (grouped["splitter"], grouped["n_groups"]) == ("StratifiedGroupKFold", 40)
    assert (rowwise["splitter"], rowwise["n_groups"]) == ("StratifiedKFold", 200)
    predictions = pd.read_csv(grouped_dir / "predictions.csv")
    assert (predictions.groupby("patient").fold.nunique() == 1).all()
    auc_grouped, auc_rowwise = grouped["metrics"]["roc_auc"]["mean"], rowwise["metrics"]["roc_auc"]["mean"]
    print(f"roc_auc grouped {auc_grouped:.3f} vs row-wise {auc_rowwise:.3f}")
    assert auc_rowwise > 0.9 and auc_grouped < 0.7 and auc_rowwise - auc_grouped > 0.3


def test_parquet_and_csv_of_the_same_data_give_identical_metrics(own_file_sweep):
    for grouped in (True, False):
        (_, csv), (_, parquet) = own_file_sweep["csv", grouped], own_file_sweep["parquet", grouped]
        assert csv["status"] == parquet["status"] == "completed"
        assert csv["metrics"] == parquet["metrics"]
        assert csv["features"] == parquet["features"] and csv["n_features"] == parquet["n_features"]
        assert csv["data"]["sha256"] != parquet["data"]["sha256"]  # two files, same table
