"""Files read as they are written, or refused in one line naming the file, row, column or key (issue 21
item 9, issue 22 items 6 and 9): a trailing delimiter, a NUL byte, a copy of the target under another name,
an empty data.path, inf or 1e308 in a feature, a decompression bomb, a nested Parquet column, a bad
data.group_pattern. And external validation files from another site (issue 21 item 10)."""

import csv
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from helpers import ROOT, needs_shared_data
from medsweep.data import cache as data_cache
from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset, load_external, prepare
from medsweep.data.sources import load_frame
from medsweep.config.schema import ConfigError, check_config


def data_cfg(**kw):
    base = dict(name="t", source="synthetic", file=None, path=None, target="y", task="classification",
                group=None, group_pattern=None, drop=[], positive=None, na_values=["?", "NA", ""],
                delimiter=None, seed=0)
    return OmegaConf.create({**base, **kw})


def by_hand(path: Path, opener=open) -> dict[str, list[float]]:
    """The columns as the header names them, read with the csv module: the i-th field of a row belongs
    to the i-th name (a trailing empty field belongs to none)."""
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    names = rows[0]
    return {n: [float(r[i]) for r in rows[1:]] for i, n in enumerate(names)}


# --- a trailing delimiter on every data row -------------------------------------------------------------

def trailing_file(path: Path, n=30, compress=False) -> Path:
    rng = np.random.default_rng(0)
    lines = ["y,x1,x2"] + [f"{i % 2},{rng.normal():.3f},{rng.normal():.3f}," for i in range(n)]
    text = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(text) if compress else text)
    return path


@pytest.mark.parametrize("name, compress", [("t.csv", False), ("t.csv.gz", True)])
def test_a_trailing_delimiter_reads_the_columns_as_the_header_names_them(tmp_path, name, compress):
    path = trailing_file(tmp_path / name, compress=compress)
    frame, _ = load_frame(data_cfg(path=str(path)))
    expected = by_hand(path, gzip.open if compress else open)
    # On main the first field became the index: column y held x1's values, x1 held x2's, x2 was empty.
    assert list(frame.columns) == ["y", "x1", "x2"]
    for c in ("y", "x1", "x2"):
        assert frame[c].tolist() == expected[c]
    d = load_dataset(data_cfg(path=str(path)))
    assert d.y.tolist() == [int(v) for v in expected["y"]] and list(d.X.columns) == ["x1", "x2"]


def test_extra_fields_holding_values_are_refused_naming_the_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("y,x1,x2\n" + "".join(f"{i % 2},{i},{i * 2},{i * 3}\n" for i in range(20)))
    with pytest.raises(DataError, match=r"t.csv: data row 1 has 1 field\(s\) more than the header's 3 column names"):
        load_frame(data_cfg(path=str(path)))


def test_predict_reads_a_trailing_delimiter_as_the_header_names_it(tmp_path):
    from medsweep.tools.predict import read_chunks

    path = trailing_file(tmp_path / "t.csv")
    names, chunks = read_chunks(path, data_cfg(), [], chunk_rows=7)
    frame = pd.concat(list(chunks))
    expected = by_hand(path)
    assert names == ["y", "x1", "x2"]
    for c in names:
        assert frame[c].tolist() == expected[c]


# --- NUL bytes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("line", [5, 7000])   # inside the first 64 KiB, and far after them
def test_a_nul_byte_anywhere_is_refused_naming_its_line(tmp_path, compress, line):
    lines = ["y,x1,x2"] + [f"{i % 2},{i * 0.5},{i * 0.25}" for i in range(8000)]
    lines[line - 1] = lines[line - 1].replace(".", "\x00.", 1)
    text = ("\n".join(lines) + "\n").encode()
    assert (text.index(b"\x00") > 1 << 16) == (line == 7000)
    path = tmp_path / ("t.csv.gz" if compress else "t.csv")
    path.write_bytes(gzip.compress(text) if compress else text)
    with pytest.raises(DataError, match=rf"holds a NUL byte \(a zero byte\) on line {line} \(data row {line - 1}\)"):
        load_dataset(data_cfg(path=str(path)))


# --- a copy of the target under another name --------------------------------------------------------------

def cohort(n=60, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return pd.DataFrame({"x1": rng.normal(size=n) + y, "x2": rng.normal(size=n), "y": y})


@pytest.mark.parametrize("copy", [" y", "y ", "y\u200b", "\ufeffy", "Y"])
def test_the_target_under_a_disguised_name_is_refused_naming_it(copy):
    frame = cohort().assign(**{copy: lambda f: f["y"] * 0 + 1})   # whatever it holds: the name says target
    with pytest.raises(DataError, match=re.escape(f"column {copy!r} has the name of data.target='y'")):
        prepare(frame, data_cfg(), {})


@pytest.mark.parametrize("values", ["same", "float", "text"])
def test_a_column_holding_the_target_values_is_refused_naming_it(values):
    frame = cohort()
    if values == "text":
        frame["y"] = np.where(frame.y == 1, "sick", "well")
    frame["outcome_copy"] = frame["y"].astype(float) if values == "float" else frame["y"]
    with pytest.raises(DataError, match="column 'outcome_copy' holds the values of data.target='y' in every row"):
        prepare(frame, data_cfg(), {})
    # Left out by data.drop, it trains (a dropped column is no feature).
    assert list(prepare(frame, data_cfg(drop=["outcome_copy"]), {}).X.columns) == ["x1", "x2"]


def test_a_copy_of_the_binarised_target_and_of_a_regression_target_are_refused():
    frame = cohort().assign(num=lambda f: f.y * np.arange(60) % 4)       # grades 0-3; positive = 1,2,3
    frame["disease"] = (frame.num > 0).astype(int)
    with pytest.raises(DataError, match="column 'disease' holds the values of data.target='num'"):
        prepare(frame.drop(columns="y"), data_cfg(target="num", positive=[1, 2, 3]), {})
    reg = cohort().assign(score=lambda f: f.x1 * 3, score_copy=lambda f: f.x1 * 3)
    with pytest.raises(DataError, match="column 'score_copy' holds the values of data.target='score'"):
        prepare(reg.drop(columns="y"), data_cfg(target="score", task="regression"), {})
    # A feature merely correlated with the target stays a feature.
    assert "x1" in prepare(cohort(), data_cfg(), {}).X.columns


def test_a_file_with_a_disguised_copy_no_longer_trains_to_a_perfect_score(tmp_path):
    path = tmp_path / "t.csv"
    cohort().assign(**{"y\u200b": lambda f: f.y}).to_csv(path, index=False)
    with pytest.raises(DataError, match=re.escape("column 'y\\u200b' has the name of data.target='y'")):
        load_dataset(data_cfg(path=str(path)))


# --- an empty data.path, inf and 1e308, retries ---------------------------------------------------------

@pytest.mark.parametrize("override, key", [("data.path=", "data.path"), ("data.test_path=", "data.test_path"),
                                           ("data_dir=", "data_dir"), ("data.test_group=", "data.test_group")])
def test_an_empty_path_is_refused_before_any_job(compose_cfg, override, key):
    cfg = compose_cfg("model=parkinsons", override)
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}='' is not allowed: must be null or name a"):
        check_config(cfg)


def test_an_empty_path_is_refused_by_the_loader_too():
    # Without the check, an empty data.path read the model's embedded data.
    with pytest.raises(DataError, match=r"data.path='' is empty"):
        load_dataset(data_cfg(name="breast_cancer", source="sklearn", target="diagnosis", path=""))


@pytest.mark.parametrize("value, shown", [("inf", "inf"), ("-inf", "-inf"), ("1e308", "1e+308"),
                                          ("-3.5e38", "-3.5e+38")])
def test_inf_or_a_huge_number_is_a_data_error_naming_column_and_row(tmp_path, value, shown):
    path = tmp_path / "t.csv"
    frame = cohort().astype({"x2": object})
    frame.loc[7, "x2"] = value
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"column 'x2' holds {re.escape(shown)} in data row 8 \(1 row\(s\) in all\)"):
        load_dataset(data_cfg(path=str(path)))


def test_an_inf_regression_target_is_a_data_error():
    frame = cohort().assign(score=lambda f: f.x1)
    frame.loc[3, "score"] = np.inf
    with pytest.raises(DataError, match=r"data.target='score' holds inf in data row 4"):
        prepare(frame.drop(columns="y"), data_cfg(target="score", task="regression"), {})


def test_inf_in_a_feature_fails_the_job_once_without_retries(tmp_path, compose_cfg):
    from medsweep.job.runner import run_job

    path = tmp_path / "t.csv"
    frame = cohort()
    frame.loc[2, "x1"] = np.inf
    frame.to_csv(path, index=False)
    cfg = compose_cfg("model=als", f"data.path={path}", "data.target=y", "data.drop=[]", "estimator=logreg",
                      "trainer=fast", "retries=2")
    with pytest.raises(DataError):
        run_job(cfg, tmp_path / "job")
    m = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert m["status"] == "failed" and m["attempts"] == 1 and m["error_type"] == "DataError"
    assert m["error"].startswith("column 'x1' holds inf in data row 3")


def test_the_readme_updrs_example_leaves_out_total_updrs():
    # total_UPDRS is motor_UPDRS plus the other parts of the scale: a feature, it is most of the answer.
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if "data.target=motor_UPDRS" in line]
    assert lines and all(re.search(r"data\.drop=\[[^\]]*total_UPDRS", line) for line in lines)


# --- decompression bombs and the cache's size decision --------------------------------------------------

def bomb(path: Path, mb: float) -> Path:
    """A gzip file of ``mb`` MB of CSV text, a few KB on disk."""
    row = b"0,1.5,2.5\n1,2.5,3.5\n"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"y,x1,x2\n")
        block = row * (1 << 15)
        for _ in range(int(mb * 10**6 / len(block)) + 1):
            f.write(block)
    return path


def test_a_file_expanding_past_data_max_expanded_mb_is_refused_naming_the_key(tmp_path):
    path = bomb(tmp_path / "bomb.csv.gz", 12)
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"bomb.csv.gz expands to more than 5 MB when read "
                                        r"\(data.max_expanded_mb=5,.*raise data.max_expanded_mb"):
        load_dataset(data_cfg(path=str(path), max_expanded_mb=5))
    assert load_frame(data_cfg(path=str(path), max_expanded_mb=20))[0].shape[1] == 3


def test_a_parquet_file_is_bounded_by_its_uncompressed_size(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"y": np.zeros(400_000), "x": np.zeros(400_000)}), path, compression="zstd")
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=r"t.parquet expands to more than 1 MB when read \(data.max_expanded_mb=1"):
        load_frame(data_cfg(path=str(path), max_expanded_mb=1))


def test_the_cache_decides_on_the_decompressed_size(tmp_path, monkeypatch):
    path = bomb(tmp_path / "small.csv.gz", 3)
    monkeypatch.setattr(data_cache, "MIN_BYTES", 1_000_000)
    assert path.stat().st_size < data_cache.MIN_BYTES          # on disk: below the threshold
    frame, _ = load_frame(data_cfg(path=str(path)), cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob(f"*{data_cache.SUFFIX}"))) == 1   # parsed once, kept
    mapped, _ = load_frame(data_cfg(path=str(path)), cache=tmp_path / "cache")
    pd.testing.assert_frame_equal(frame, mapped)


def test_max_expanded_mb_is_a_data_key_with_a_range(compose_cfg):
    from medsweep.data import read as data
    assert compose_cfg().data.max_expanded_mb == data.DEFAULT_MAX_EXPANDED_MB
    with pytest.raises(ConfigError, match=r"data.max_expanded_mb=0 is not allowed: must be an integer >= 1"):
        check_config(compose_cfg("data.max_expanded_mb=0"))


# --- nested Parquet, data.group_pattern --------------------------------------------------------------------

def test_a_nested_parquet_column_is_refused_naming_file_and_column(tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"y": [0, 1] * 10, "x": list(range(20)),
                             "labs": [{"hb": 1.0, "na": 2.0}] * 20, "tags": [[1, 2]] * 20}), path)
    with pytest.raises(DataError, match=r"n.parquet has nested Parquet column\(s\) 'labs' \(struct<.*'tags' "
                                        r"\(list<"):
        load_dataset(data_cfg(path=str(path)))


def test_a_bad_group_pattern_is_refused_before_any_job_naming_key_value_and_error(compose_cfg):
    with pytest.raises(ConfigError, match=r"data.group_pattern='\(\[' is not allowed: not a regular expression "
                                          r"\(unterminated character set"):
        check_config(compose_cfg("model=parkinsons", "data.group_pattern=\"([\""))
    frame = pd.DataFrame({"pid": ["a_1", "a_2", "b_1", "b_2"] * 5, "x": range(20), "y": [0, 1] * 10})
    with pytest.raises(DataError, match=r"data.group_pattern='\(\[' is not a regular expression"):
        prepare(frame, data_cfg(group="pid", group_pattern="(["), {})


# --- external validation files from another site ------------------------------------------------------

OASIS2_MODEL = dict(target="CDR", positive=[0.5, 1, 2], group="Subject ID",
                    drop=["Group", "MRI ID", "Visit", "MR Delay", "MMSE"])


@pytest.fixture
def oasis_sites(tmp_path):
    """OASIS-2 split by subject: a development file, and an 'OASIS-1 style' file of the other subjects' first
    visits in another site's layout: one row per subject, its session id `ID` as the only id, no Group, Visit,
    MR Delay or Subject ID (columns the development data drops or uses as the patient)."""
    frame = pd.read_csv(needs_shared_data("oasis_longitudinal.csv"))
    subjects = frame["Subject ID"].unique()
    external_subjects = set(subjects[::3])
    dev = frame[~frame["Subject ID"].isin(external_subjects)]
    ext = frame[frame["Subject ID"].isin(external_subjects) & (frame.Visit == 1)]
    ext = ext.rename(columns={"MRI ID": "ID"}).drop(columns=["Group", "Visit", "MR Delay", "Subject ID"])
    paths = tmp_path / "oasis2.csv", tmp_path / "oasis1_style.csv"
    dev.to_csv(paths[0], index=False)
    ext.to_csv(paths[1], index=False)
    return paths, dev, ext


def test_an_external_file_needs_only_the_features_and_the_target(oasis_sites):
    (dev_path, ext_path), dev, ext = oasis_sites
    cfg = data_cfg(path=str(dev_path), test_path=str(ext_path), test_group="ID", **OASIS2_MODEL)
    development = load_dataset(cfg)
    external = load_external(cfg, None, development)
    assert list(external.X.columns) == list(development.X.columns)
    assert len(external.y) == len(ext) and external.n_groups == len(ext)
    assert external.groups.tolist() == ext["ID"].tolist()
    assert external.y.tolist() == (ext.CDR > 0).astype(int).tolist()
    np.testing.assert_array_equal(external.X["eTIV"].to_numpy(), ext["eTIV"].to_numpy(dtype=float))


def test_an_external_file_without_the_patient_column_names_data_test_group(oasis_sites):
    (dev_path, ext_path), _, _ = oasis_sites
    cfg = data_cfg(path=str(dev_path), test_path=str(ext_path), **OASIS2_MODEL)
    development = load_dataset(cfg)
    with pytest.raises(DataError, match=r"data.test_path \(external validation file\): the file has no patient "
                                        r"column 'Subject ID' \(data.group\): name its patient column with "
                                        r"data.test_group=<column>"):
        load_external(cfg, None, development)
    cfg.test_group = "Subject"
    with pytest.raises(DataError, match=r"data.test_group='Subject' is not a column of the data"):
        load_external(cfg, None, development)


def test_an_external_file_lacking_a_feature_still_fails_naming_it(oasis_sites):
    (dev_path, ext_path), _, ext = oasis_sites
    ext.drop(columns=["eTIV", "nWBV"]).to_csv(ext_path, index=False)
    cfg = data_cfg(path=str(dev_path), test_path=str(ext_path), test_group="ID", **OASIS2_MODEL)
    with pytest.raises(DataError, match=r"lacks column\(s\) the model needs: eTIV, nWBV"):
        load_external(cfg, None, load_dataset(cfg))


def test_the_external_patient_column_keeps_the_group_pattern_only_when_it_is_the_same_column():
    from medsweep.data.prepare import _external_patients

    cfg = data_cfg(group="name", group_pattern=r"^(.*)_\d+$", test_group=None)
    assert _external_patients(cfg, ["name", "x"]) == ("name", r"^(.*)_\d+$")
    cfg.test_group = "subject"
    assert _external_patients(cfg, ["subject", "x"]) == ("subject", None)


@pytest.mark.slow
def test_a_job_validates_an_oasis2_model_on_another_sites_file(tmp_path, oasis_sites):
    from helpers import metrics_of, run_train

    (dev_path, ext_path), _, ext = oasis_sites
    out = tmp_path / "job"
    proc = run_train("model=alzheimers", "estimator=logreg", "trainer=fast", f"data.path={dev_path}",
                     "data.target=CDR", "data.positive=[0.5,1,2]", "data.drop=[Group,MRI ID,Visit,MR Delay,MMSE]",
                     f"data.test_path={ext_path}", "data.test_group=ID", "eval.n_boot=200", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    test = metrics_of(out)["test"]
    assert test["source"] == "external" and test["rows"] == len(ext) and test["patients"] == len(ext)
    predictions = pd.read_csv(out / "test_predictions.csv")
    assert len(predictions) == len(ext)
