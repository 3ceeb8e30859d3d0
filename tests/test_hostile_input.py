"""Files that look like a table to pandas but must not train: a header that names a column twice (a copy
of the target would become a feature) and paths that exist but are not regular files (devices, FIFOs,
sockets: reading one returns nothing, never ends, or waits for a writer)."""

import gzip
import json
import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from helpers import run_train
from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset
from medsweep.data.sources import load_frame


def data_cfg(**kw):
    base = dict(name="t", source="synthetic", file=None, path=None, target="target", task="classification",
                group=None, group_pattern=None, drop=[], positive=None, na_values=["?", "NA", ""],
                delimiter=None, seed=0)
    return OmegaConf.create({**base, **kw})


def rows(n=12):
    """Data rows for a header of width 5 (whatever the names): two features, a noise column, two targets."""
    return [[float(i), float(i % 3), float(i * 7 % 5), i % 2, i % 2] for i in range(n)]


def write_text(path: Path, header: list[str], sep=",", encoding="utf-8", compress=False, bom=False) -> Path:
    text = "\n".join(sep.join(map(str, r)) for r in [header, *rows()]) + "\n"
    data = ("\ufeff" if bom else "").encode(encoding) + text.encode(encoding)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --- 1. a column name written twice ------------------------------------------------------------------

@pytest.mark.parametrize("name, header, kw, repeated", [
    ("dup.csv", ["a", "a", "b", "target", "target"], {}, ["'a' (2 times)", "'target' (2 times)"]),
    ("dup.tsv", ["a", "a", "b", "target", "target"], dict(sep="\t"), ["'a' (2 times)", "'target' (2 times)"]),
    ("dup.txt", ["a", "b", "target", "target", "target"], dict(sep=";"), ["'target' (3 times)"]),
    ("dup.csv.gz", ["a", "a", "b", "target", "target"], dict(compress=True),
     ["'a' (2 times)", "'target' (2 times)"]),
    # The byte-order mark of an Excel "CSV UTF-8" export is not part of the first name.
    ("bom.csv", ["a", "a", "b", "target", "target"], dict(bom=True), ["'a' (2 times)", "'target' (2 times)"]),
    ("quoted.csv", ['"a"', "a", '"b,c"', "target", '"target"'], {}, ["'a' (2 times)", "'target' (2 times)"]),
    ("latin1.csv", ["âge", "âge", "b", "target", "target"], dict(encoding="latin-1"),
     ["'âge' (2 times)", "'target' (2 times)"]),
    # pandas reads x, x.1, x as x, x.1, x.2: the copy is the third column, and "x.1" is a real name.
    ("dotted.csv", ["x", "x.1", "x", "target", "y"], {}, ["'x' (2 times)"]),
])
def test_a_repeated_column_name_is_refused_naming_each_name_and_its_count(tmp_path, name, header, kw, repeated):
    path = write_text(tmp_path / name, header, **kw)
    with pytest.raises(DataError) as err:
        load_dataset(data_cfg(path=str(path)))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"data file {path} has duplicate column names: {', '.join(repeated)};"), message
    assert "every column needs a unique name" in message and "rename or delete the copies" in message
    assert "x.1" not in message and "target.1" not in message


def test_a_parquet_schema_with_a_repeated_name_is_refused(tmp_path):
    # pandas refuses to write repeated names, pyarrow writes them: such a file exists.
    table = pa.table([pa.array(c) for c in zip(*rows())], names=["a", "a", "b", "target", "target"])
    pq.write_table(table, tmp_path / "dup.parquet")
    assert pq.read_schema(tmp_path / "dup.parquet").names.count("target") == 2
    with pytest.raises(DataError, match=r"dup.parquet has duplicate column names: 'a' \(2 times\), "
                                        r"'target' \(2 times\); every column needs a unique name"):
        load_dataset(data_cfg(path=str(tmp_path / "dup.parquet")))


@pytest.mark.parametrize("header, kw", [
    (["x", "x.1", "b", "target", "y"], {}),                      # "x.1" is a real name, not a copy
    (["Größe", "Grüße", "b", "target", "y"], dict(encoding="latin-1")),  # differ only in non-UTF-8 bytes
    (["a", "A", "a ", "target", "y"], {}),                       # names differ in case or spacing
    (["", "", "b", "target", "y"], {}),                          # no name (pandas: Unnamed: 0, Unnamed: 1)
])
def test_distinct_names_are_not_taken_for_copies(tmp_path, header, kw):
    path = write_text(tmp_path / "t.csv", header, **kw)
    frame, info = load_frame(data_cfg(path=str(path)))
    assert frame.shape == (12, 5) and info["columns"] == 5
    if header[1] == "x.1":
        # (the fifth column repeats the target's values: a copy, left out here; see test_target_copies.py)
        assert load_dataset(data_cfg(path=str(path), drop=["y"])).X.columns.tolist() == ["x", "x.1", "b"]


# --- 2. paths that exist but are not regular files ----------------------------------------------------

def refused(path, **kw) -> str:
    with pytest.raises(DataError) as err:
        load_frame(data_cfg(path=str(path), **kw))
    assert "\n" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_character_device_is_named_as_such_not_as_a_missing_file(device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    message = refused(device)
    assert message.startswith(f"data.path={device}: {device} exists but is a character device, not a "
                              "regular file; allowed is a regular file holding CSV"), message
    assert "not found" not in message


def test_a_block_device_is_named_as_such():
    device = next((p for p in sorted(Path("/dev").glob("*")) if _is_block_device(p)), None)
    if device is None:
        pytest.skip("no block device under /dev here")
    assert f"{device} exists but is a block device, not a regular file" in refused(device)


def _is_block_device(path: Path) -> bool:
    try:
        return stat.S_ISBLK(path.stat().st_mode)
    except OSError:
        return False


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome = {}

    def load():
        try:
            load_frame(data_cfg(path=str(fifo)))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        # load_frame opened the FIFO and waits for a writer: be that writer, so the thread ends.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(10)
        pytest.fail(f"load_frame opened the FIFO {fifo} and blocked waiting for a writer")
    error = outcome.get("error")
    assert isinstance(error, DataError), error
    assert str(error).startswith(f"data.path={fifo}: {fifo} exists but is a FIFO (named pipe), not a regular "
                                 "file; allowed is a regular file"), error


def test_a_socket_is_refused_and_data_dir_names_its_setting(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "s.csv"))
        message = refused(tmp_path / "s.csv")
        assert f"{tmp_path / 's.csv'} exists but is a socket, not a regular file" in message
        with pytest.raises(DataError, match=rf"^data_dir={tmp_path} with data.file=s.csv: .* exists but is a "
                                            "socket, not a regular file"):
            load_frame(data_cfg(file="s.csv"), data_dir=str(tmp_path))
    finally:
        server.close()


def test_a_missing_file_and_a_folder_still_say_so(tmp_path):
    assert "file not found" in refused(tmp_path / "nope.csv")
    assert "is a folder, not a file" in refused(tmp_path)
    os.symlink(tmp_path / "nope.csv", tmp_path / "dangling.csv")
    assert "file not found" in refused(tmp_path / "dangling.csv")


# --- end to end: the leak that used to score ROC-AUC 1.0 ----------------------------------------------

@pytest.mark.slow
def test_a_duplicated_target_fails_the_job_instead_of_scoring_a_perfect_roc_auc(tmp_path):
    rng = np.random.default_rng(0)
    recordings = []
    for subject in range(16):
        for r in range(1, 4):
            recordings.append({"name": f"phon_R01_S{subject:02d}_{r}", "a": rng.normal(), "a2": rng.normal(),
                               "b": rng.normal(), "status": subject % 2, "status2": subject % 2})
    text = pd.DataFrame(recordings).to_csv(index=False)
    path = tmp_path / "voice.csv"
    path.write_text(text.replace("a,a2,b,status,status2", "a,a,b,status,status", 1))
    run_dir = tmp_path / "run"

    proc = run_train("model=parkinsons", f"data.path={path}", "estimator=logreg", "trainer=fast",
                     f"hydra.run.dir={run_dir}")

    assert proc.returncode != 0, proc.stderr
    expected = (f"DataError: data file {path} has duplicate column names: 'a' (2 times), 'status' (2 times); "
                "every column needs a unique name")
    assert any(line.startswith(expected) for line in proc.stderr.splitlines()), proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "failed" and metrics["error_type"] == "DataError" and "metrics" not in metrics
    assert "Done: roc_auc" not in proc.stderr + proc.stdout
    completed = [m for m in tmp_path.rglob("metrics.json") if json.loads(m.read_text())["status"] == "completed"]
    assert completed == []
