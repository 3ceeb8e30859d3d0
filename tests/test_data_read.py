"""The one reader of users' files (medsweep.data.read): the whole file for training and its chunks for predict
read the same table; the single pass that checks a file gives the sha256 of its bytes as stored; the data
sources are one table that the config's allowed values follow."""

import gzip
import hashlib
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medsweep.config.schema import EMBEDDED_SOURCES
from medsweep.data import sources
from medsweep.data.errors import DataError
from medsweep.data.read import read_chunks, read_table, scan_file

NA = ["", "?", "NA"]


def table_text(rows: int = 300) -> str:
    """Numbers with missing markers, text with a marker and a 'None' category, a Latin-1-safe accent."""
    rng = np.random.default_rng(5)
    lines = ["y;age;smoking;site"]
    for i in range(rows):
        age = "?" if i % 17 == 0 else f"{rng.normal(60, 9):.2f}"
        smoking = ["None", "Current", "NA", "Former"][i % 4]
        lines.append(f"{i % 2};{age};{smoking};{'Zürich' if i % 3 else 'Bern'}")
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["utf-8", "latin-1-gzip", "parquet"])
def data_file(request, tmp_path):
    text = table_text()
    if request.param == "utf-8":
        path = tmp_path / "t.csv"
        path.write_text(text, encoding="utf-8")
    elif request.param == "latin-1-gzip":
        path = tmp_path / "t.csv.gz"
        path.write_bytes(gzip.compress(text.encode("latin-1")))
    else:
        path = tmp_path / "t.parquet"
        frame = pd.read_csv(io.StringIO(text), sep=";", dtype=str, keep_default_na=False)   # all text, as stored
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


def test_chunks_read_the_table_the_whole_file_reads(data_file):
    whole = read_table(data_file, NA)
    names, chunks = read_chunks(data_file, NA, text_columns=["smoking", "site"], chunk_rows=7)
    parts = list(chunks)
    assert names == ["y", "age", "smoking", "site"] and len(parts) == -(-len(whole) // 7)
    chunked = pd.concat(parts, ignore_index=True)
    # The numbers are the same numbers, the markers the same missing cells, the text the same text.
    np.testing.assert_array_equal(chunked["age"].astype(float).to_numpy(), whole["age"].astype(float).to_numpy())
    for c in ("smoking", "site"):
        assert chunked[c].isna().tolist() == whole[c].isna().tolist()
        assert chunked[c].dropna().tolist() == whole[c].dropna().tolist()
    assert whole["smoking"].isna().sum() == 75 and "None" in whole["smoking"].tolist()   # NA a marker, None not
    assert whole["site"].iloc[1] == "Zürich"


def test_one_pass_gives_the_sha256_of_the_bytes_as_stored_and_the_decompressed_size(data_file):
    digest, size = scan_file(data_file, 10**9)
    assert digest == hashlib.sha256(data_file.read_bytes()).hexdigest()
    if data_file.suffix == ".gz":
        assert size == len(gzip.decompress(data_file.read_bytes()))
    elif data_file.suffix == ".csv":
        assert size == data_file.stat().st_size


def test_the_sha256_counts_bytes_after_the_gzip_stream(tmp_path):
    """Zero padding after the compressed stream (tape archives, some exporters) is the file's too."""
    path = tmp_path / "padded.csv.gz"
    path.write_bytes(gzip.compress(table_text().encode()) + b"\x00" * 4096)
    digest, size = scan_file(path, 10**9)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and size == len(table_text().encode())


def test_the_scan_still_refuses_a_bomb_and_a_nul_byte(tmp_path):
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(b"y,x\n" + b"0,1\n" * 500_000))
    with pytest.raises(DataError, match=r"expands to more than 1 MB"):
        scan_file(bomb, 10**6)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"y,x\n" + b"0,1\n" * 20_000 + b"1,\x002\n")
    with pytest.raises(DataError, match=r"NUL byte \(a zero byte\) on line 20002"):
        scan_file(nul, None)


def test_the_data_sources_are_one_table_that_the_config_follows():
    assert set(sources.SOURCES) == {"file", *EMBEDDED_SOURCES}
    assert set(sources.EMBEDDED) == set(EMBEDDED_SOURCES)


def test_every_embedded_source_records_where_its_rows_came_from():
    from omegaconf import OmegaConf

    base = dict(path=None, file=None, na_values=NA, delimiter=None, seed=3)
    for source, name, file in (("sklearn", "diabetes", None), ("synthetic", "als", None),
                               ("bundled", "cleveland", "cleveland_heart.csv")):
        frame, info = sources.load_frame(OmegaConf.create({**base, "source": source, "name": name, "file": file}))
        assert info["source"] == source and info["rows"] == len(frame) and info["columns"] == frame.shape[1]
        assert len(info["sha256"]) == 64 and info["synthetic"] == (source == "synthetic")


def test_a_new_source_is_one_entry(monkeypatch):
    """A loader returning the table and its provenance is all a source needs; the digest, the row and column
    counts and the preparation (target, features) come with it."""
    from omegaconf import OmegaConf

    from medsweep.data.prepare import load_dataset

    table = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]})
    monkeypatch.setitem(sources.SOURCES, "registry",
                        lambda cfg, data_dir, cache: (table, {"source": "registry", "synthetic": False, "path": None}))
    cfg = OmegaConf.create(dict(source="registry", name="r", path=None, file=None, target="y", task="classification",
                                group=None, group_pattern=None, drop=[], positive=None, na_values=NA, delimiter=None))
    d = load_dataset(cfg)
    assert d.info["source"] == "registry" and (d.info["rows"], d.info["columns"]) == (4, 2)
    assert len(d.info["sha256"]) == 64 and list(d.X.columns) == ["x"] and d.y.tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match=r"data.source='nowhere' is not allowed: must be one of sklearn, bundled, "
                                        r"synthetic"):
        sources.load_frame(OmegaConf.merge(cfg, {"source": "nowhere"}))
