"""The two CC BY 4.0 datasets shipped with medsweep: the published files, checked on load, the default of
their models."""

import hashlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import medsweep.data.sources as sources
from helpers import SHARED_DATA
from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset

DATASETS = Path(sources.__file__).resolve().parent / "datasets"
# From ../shared/data/MANIFEST.md (the published files).
PUBLISHED = {"parkinsons.data": "a148d3c47503f4f5b3842d3f995548da333eb2b4401f6bb8a65832d008aca5d5",
             "cleveland_heart.csv": "a5195b7562ca4f48bda400649bfee2a7d7ed70ff72fb5cc0c486c68fd68f7f62"}


@pytest.mark.parametrize("name", PUBLISHED)
def test_the_bundled_file_is_the_published_one(name):
    assert hashlib.sha256((DATASETS / name).read_bytes()).hexdigest() == PUBLISHED[name]
    if (SHARED_DATA / name).is_file():
        assert (DATASETS / name).read_bytes() == (SHARED_DATA / name).read_bytes()
    assert name in (DATASETS / "NOTICE.md").read_text()


@pytest.mark.parametrize("model, rows, patients, splitter_groups", [
    ("parkinsons", 195, 32, True), ("cardiovascular", 303, 303, False)])
def test_the_models_train_on_real_patients_without_any_data_override(compose_cfg, model, rows, patients,
                                                                    splitter_groups):
    cfg = compose_cfg(f"model={model}")
    assert cfg.data.source == "bundled"
    data = load_dataset(cfg.data)
    assert data.info["source"] == "bundled" and data.info["synthetic"] is False
    assert data.info["sha256"] == PUBLISHED[cfg.data.file] and data.info["licence"] == "CC BY 4.0"
    assert (len(data.y), data.n_groups, data.groups is not None) == (rows, patients, splitter_groups)


def test_the_synthetic_cohort_stays_available(compose_cfg):
    data = load_dataset(compose_cfg("model=parkinsons", "data.source=synthetic").data)
    assert data.info["synthetic"] is True and data.info["sha256"] != PUBLISHED["parkinsons.data"]


def test_a_damaged_bundled_file_is_refused(compose_cfg, monkeypatch):
    damaged = {**sources.BUNDLED, "parkinsons.data": {**sources.BUNDLED["parkinsons.data"], "sha256": "0" * 64}}
    monkeypatch.setattr(sources, "BUNDLED", damaged)
    with pytest.raises(DataError, match="installation is damaged"):
        load_dataset(compose_cfg("model=parkinsons").data)


def test_a_model_without_a_bundled_file_says_which_are(compose_cfg):
    with pytest.raises(DataError, match="bundled files are parkinsons.data, cleveland_heart.csv"):
        load_dataset(OmegaConf.merge(compose_cfg("model=als").data, {"source": "bundled"}))
