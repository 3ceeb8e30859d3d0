"""The parsed-table cache (data_cache.py): a big file is parsed once per sweep and memory-mapped by every job,
giving exactly the table (and the metrics, fold by fold) that parsing it gives."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from helpers import ROOT, wait_for
from medsweep import preprocess
from medsweep.data import sources
from medsweep.data import cache as data_cache
from medsweep.learn import training
from medsweep.data.errors import DataError
from medsweep.data.prepare import load_dataset
from medsweep.data.sources import load_frame
from medsweep.learn.training import TrainSettings, cross_validate, fit_final
from medsweep.record.files import sha256_of_file


@pytest.fixture(autouse=True)
def cache_every_file(monkeypatch):
    """The tests' files are small: cache them all (the real threshold is data_cache.MIN_BYTES)."""
    monkeypatch.setattr(data_cache, "MIN_BYTES", 0)


def data_cfg(path, **kw):
    base = dict(name="t", source="synthetic", file=None, path=str(path), target="outcome", task="classification",
                group=None, group_pattern=None, drop=[], positive=["yes"], na_values=["", "?", "NA"],
                delimiter=None, seed=0)
    return OmegaConf.create({**base, **kw})


def write_cohort(path, rows=600, seed=3):
    """Numbers with missing cells, a whole-number column, text with a missing marker and a 'None' category,
    an identifier, a target with missing values: every kind of column prepare() sorts."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5)).round(4)
    X[rng.random(X.shape) < 0.05] = np.nan
    f = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    f["count"] = rng.integers(0, 9, rows)
    f["site"] = rng.choice(["north", "south", "None", "?"], rows)
    f["sex"] = rng.choice(["F", "M"], rows)
    f["visit"] = [f"v{i}" for i in range(rows)]
    logit = np.nan_to_num(X[:, 0]) + (f["sex"] == "F") * 0.8
    f["outcome"] = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    f.loc[[3, 10], "outcome"] = "?"
    f.to_csv(path, index=False)
    return path


def entries(folder):
    return sorted(p.name for p in folder.glob(f"*{data_cache.SUFFIX}"))


def test_a_cached_table_is_the_parsed_table(tmp_path):
    csv = write_cohort(tmp_path / "c.csv")
    parsed, info = load_frame(data_cfg(csv))
    built, built_info = load_frame(data_cfg(csv), cache=tmp_path / "cache")   # builds the entry
    mapped, _ = load_frame(data_cfg(csv), cache=tmp_path / "cache")           # reads it
    assert len(entries(tmp_path / "cache")) == 1
    for frame in (built, mapped):
        pd.testing.assert_frame_equal(frame, parsed, check_exact=True)   # values, NaN, dtypes, column order
    assert built_info == info
    # Numbers are the mapped file's pages, not a copy.
    assert not mapped["x0"].to_numpy().flags.writeable


def test_a_dataset_from_the_cache_is_the_same(tmp_path):
    csv = write_cohort(tmp_path / "c.csv")
    a, b = load_dataset(data_cfg(csv)), load_dataset(data_cfg(csv), cache=tmp_path / "cache")
    pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)
    pd.testing.assert_series_equal(a.y, b.y, check_exact=True)
    pd.testing.assert_frame_equal(a.others, b.others, check_exact=True)
    assert (a.rows == b.rows).all() and a.excluded == b.excluded and a.info == b.info and a.classes == b.classes


# Recorded from the code before the cache (commit 6c31063): 3 folds, seed 0, on write_cohort's file.
RECORDED = {
    "logreg": {"roc_auc": [0.7111733582321818, 0.7150210084033614, 0.7733193277310925],
               "brier": [0.20594619232147285, 0.2111485941806797, 0.1896406510654121],
               "proba_sum": 356.69978434316863, "final_sum": 357.00257751933475},
    "random_forest": {"roc_auc": [0.6816059757236228, 0.6859243697478992, 0.6972689075630252],
                      "brier": [0.2214875, 0.2195854271356784, 0.2160929648241206],
                      "proba_sum": 350.35, "final_sum": 357.79999999999995},
    # Numbers only (data.drop=[site,sex]): the preprocessing is a plain Pipeline on a float array.
    "logreg numbers only": {"roc_auc": [0.721651623612408, 0.6926470588235294, 0.7802521008403361],
                            "brier": [0.20510065710268444, 0.2181591650550248, 0.18814200020095942],
                            "proba_sum": 356.43335570532133, "final_sum": 356.9986202087518},
}


@pytest.mark.parametrize("estimator", sorted(RECORDED))
@pytest.mark.parametrize("cached, blocks", [(False, False), (True, False), (True, True)])
def test_metrics_fold_by_fold_are_the_recorded_ones_with_and_without_the_cache(tmp_path, monkeypatch, estimator,
                                                                                cached, blocks):
    if blocks:   # the paths a big table takes: statistics by column blocks (1-2 columns), transforms by row blocks
        monkeypatch.setattr(preprocess, "STAT_BLOCK", 600)
        monkeypatch.setattr(preprocess, "TRANSFORM_ROWS", 97)
        monkeypatch.setattr(training, "TRANSFORM_ROWS", 97)
    csv = write_cohort(tmp_path / "c.csv")
    drop = ["site", "sex"] if estimator.endswith("numbers only") else []
    data = load_dataset(data_cfg(csv, drop=drop), cache=tmp_path / "cache" if cached else None)
    spec = yaml.safe_load((ROOT / "conf" / "estimator" / f"{estimator.split()[0]}.yaml").read_text())
    spec.pop("defaults", None)
    if estimator == "random_forest":
        spec["n_estimators"] = 20
    settings = TrainSettings(epochs=5, batch_size=32, seed=0)
    features = data.X.copy()
    cv = cross_validate(data, spec, 3, settings)
    final = fit_final(data, spec, settings)
    pd.testing.assert_frame_equal(data.X, features, check_exact=True)   # nothing was imputed or scaled in place
    assert {"roc_auc": cv.metrics["roc_auc"]["folds"], "brier": cv.metrics["brier"]["folds"],
            "proba_sum": float(cv.predictions["proba_1"].sum()),
            "final_sum": float(final.predict_proba(data.X)[:, 1].sum())} == RECORDED[estimator]


def test_the_second_load_does_not_parse(tmp_path, monkeypatch):
    csv = write_cohort(tmp_path / "c.csv")
    first, _ = load_frame(data_cfg(csv), cache=tmp_path / "cache")
    [name] = entries(tmp_path / "cache")
    mtime = (tmp_path / "cache" / name).stat().st_mtime_ns

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(sources, "read_table", no_parsing)
    monkeypatch.setattr(data_cache, "_build", no_parsing)
    again, _ = load_frame(data_cfg(csv), cache=tmp_path / "cache")
    pd.testing.assert_frame_equal(again, first, check_exact=True)
    assert (tmp_path / "cache" / name).stat().st_mtime_ns == mtime


def test_a_changed_file_or_read_setting_never_reads_a_stale_entry(tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("x,site,outcome\n1,?,yes\n2,a,no\n3,b,yes\n")
    cache = tmp_path / "cache"
    before, _ = load_frame(data_cfg(csv), cache=cache)
    csv.write_text("x,site,outcome\n1,?,yes\n2,a,no\n4,b,yes\n")            # same size, new content
    after, _ = load_frame(data_cfg(csv), cache=cache)
    assert before["x"].tolist() == [1, 2, 3] and after["x"].tolist() == [1, 2, 4]
    marked, _ = load_frame(data_cfg(csv, na_values=["NA"]), cache=cache)      # "?" is now a category
    assert marked["site"].tolist() == ["?", "a", "b"] and after["site"].isna().tolist() == [True, False, False]
    semicolon, _ = load_frame(data_cfg(csv, delimiter="semicolon"), cache=cache)
    assert list(semicolon.columns) == ["x,site,outcome"]
    assert len(entries(cache)) == 4
    for cfg in (data_cfg(csv), data_cfg(csv, na_values=["NA"]), data_cfg(csv, delimiter="semicolon")):
        pd.testing.assert_frame_equal(load_frame(cfg, cache=cache)[0], load_frame(cfg)[0], check_exact=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, caplog, damage):
    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    good, _ = load_frame(data_cfg(csv), cache=cache)
    entry = cache / entries(cache)[0]
    content = entry.read_bytes()
    # A new file in its place: `good` maps the old one (the cache itself never rewrites an entry in place).
    damaged = tmp_path / "damaged"
    damaged.write_bytes({"garbage": b"not arrow" * 100, "truncated": content[: len(content) // 2], "empty": b""}[damage])
    damaged.replace(entry)
    with caplog.at_level("WARNING", logger="medsweep"):
        frame, _ = load_frame(data_cfg(csv), cache=cache)
    pd.testing.assert_frame_equal(frame, good, check_exact=True)
    assert "is unreadable or untrusted" in caplog.text and "rebuilt" in caplog.text
    assert entry.read_bytes() == content


def test_an_entry_of_another_file_under_this_name_is_not_used(tmp_path):
    a, b = write_cohort(tmp_path / "a.csv", seed=1), write_cohort(tmp_path / "b.csv", seed=2)
    cache = tmp_path / "cache"
    load_frame(data_cfg(a), cache=cache)
    load_frame(data_cfg(b), cache=cache)
    entry_a, entry_b = (cache / data_cache.entry_name(sha256_of_file(p), ["", "?", "NA"], None)
                        for p in (a, b))
    (tmp_path / "copy").write_bytes(entry_a.read_bytes())
    (tmp_path / "copy").replace(entry_b)    # b's name, a's table
    frame, _ = load_frame(data_cfg(b), cache=cache)
    pd.testing.assert_frame_equal(frame, load_frame(data_cfg(b))[0], check_exact=True)


def test_an_entry_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    frame = pd.DataFrame({"x": [1.0, np.nan], "t": ["a", "b"]})
    entry = tmp_path / "e.arrow"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the job is stopped halfway through writing

    monkeypatch.setattr("pyarrow.ipc.RecordBatchFileWriter.write_table", killed)
    with pytest.raises(KeyboardInterrupt):
        data_cache.write_entry(frame, "0" * 64, entry, [], b"k" * 32)
    assert list(tmp_path.iterdir()) == []   # neither the entry nor its temporary file


def test_jobs_racing_for_a_new_entry_parse_the_file_once(tmp_path, monkeypatch):
    csv = write_cohort(tmp_path / "c.csv")
    builds, build = [], data_cache._build
    monkeypatch.setattr(data_cache, "_build", lambda *a: builds.append(1) or build(*a))
    frames, errors = [], []

    def job():
        try:
            frames.append(load_frame(data_cfg(csv), cache=tmp_path / "cache")[0])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(frames) == 3 and builds == [1]
    assert len(entries(tmp_path / "cache")) == 1


def test_a_bad_file_fails_with_its_usual_message_and_leaves_no_entry(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,outcome\n1,2,yes\n1,2,3,4,5\n")
    with pytest.raises(DataError) as plain:
        load_frame(data_cfg(bad))
    with pytest.raises(DataError) as cached:
        load_frame(data_cfg(bad), cache=tmp_path / "cache")
    assert str(cached.value) == str(plain.value)
    assert entries(tmp_path / "cache") == []


def test_the_parsing_warnings_are_logged_by_every_job(tmp_path, caplog):
    csv = tmp_path / "t.csv"
    csv.write_bytes("x,site,outcome\n1,Bézier,yes\n2,Orléans,no\n3,Orléans,yes\n".encode("latin-1"))
    for _ in range(2):   # builds, then reads
        caplog.clear()
        with caplog.at_level("WARNING", logger="medsweep"):
            frame, _ = load_frame(data_cfg(csv), cache=tmp_path / "cache")
        assert "is not UTF-8 text: read as Latin-1" in caplog.text
        assert frame["site"].tolist() == ["Bézier", "Orléans", "Orléans"]


def test_small_files_and_a_disabled_cache_are_parsed_as_before(tmp_path, monkeypatch):
    csv = write_cohort(tmp_path / "c.csv")
    load_frame(data_cfg(csv), cache=None)
    assert not (tmp_path / "cache").exists()
    monkeypatch.setattr(data_cache, "MIN_BYTES", csv.stat().st_size + 1)
    load_frame(data_cfg(csv), cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_the_cache_folder_setting(tmp_path):
    assert data_cache.cache_folder(None) is None
    assert data_cache.cache_folder(str(tmp_path / "c")) == tmp_path / "c"
    assert data_cache.cache_folder(str(tmp_path / "c"), tmp_path / "sweep") == tmp_path / "c"
    assert data_cache.cache_folder("auto") is None            # outside a sweep: nothing to share
    assert data_cache.cache_folder("auto", tmp_path / "sweep") == tmp_path / "sweep" / ".data_cache"


def test_the_cache_never_imports_hydra():
    """The data package is below the job layer: the sweep directory is passed in, never asked of Hydra."""
    code = ("import sys; import medsweep.data.cache, medsweep.data.sources, medsweep.data.prepare; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hydra'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_data_cache_is_a_run_control_key_with_auto_as_default(compose_cfg):
    from medsweep.config.schema import RUN_CONTROL_KEYS

    assert compose_cfg().data_cache == "auto"
    assert compose_cfg("data_cache=null").data_cache is None
    assert compose_cfg("data_cache=/scratch/cache").data_cache == "/scratch/cache"
    assert "data_cache" in RUN_CONTROL_KEYS   # a resume may change it; it changes no result


# --- An entry is trusted only as its builder wrote it (issue 22, items 3 to 5) ---------------------------------

def entry_of(csv, cache):
    return cache / data_cache.entry_name(sha256_of_file(csv), ["", "?", "NA"], None)


def rewrite_target(entry, value):
    """What an attacker or a careless script does: every target value rewritten, the metadata kept."""
    import pyarrow as pa

    table = pa.ipc.open_file(pa.memory_map(str(entry))).read_all()
    i = table.schema.get_field_index("outcome")
    field = table.schema.field(i)
    table = table.set_column(i, field, pa.array([value] * table.num_rows, type=field.type))
    tmp = entry.with_name("forged")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(entry)


@pytest.mark.parametrize("forge_digest", [False, True])
def test_an_entry_changed_after_it_was_built_is_rebuilt_with_a_warning(tmp_path, caplog, forge_digest):
    import hashlib

    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    parsed, _ = load_frame(data_cfg(csv))
    load_frame(data_cfg(csv), cache=cache)
    entry = entry_of(csv, cache)
    rewrite_target(entry, "yes")
    if forge_digest:  # without the folder's key, a plain digest of the new content does not pass either
        (cache / (entry.name + ".mac")).write_text(hashlib.sha256(entry.read_bytes()).hexdigest() + "\n")
    with caplog.at_level("WARNING", logger="medsweep"):
        frame, _ = load_frame(data_cfg(csv), cache=cache)
    pd.testing.assert_frame_equal(frame, parsed, check_exact=True)   # not the forged targets
    assert "is not what its builder recorded" in caplog.text and "rebuilt" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="medsweep"):
        again, _ = load_frame(data_cfg(csv), cache=cache)             # the rebuilt entry is used as it is
    pd.testing.assert_frame_equal(again, parsed, check_exact=True)
    assert caplog.text == ""


def test_the_key_and_entries_must_be_this_users_own_files(tmp_path, caplog):
    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    parsed, _ = load_frame(data_cfg(csv), cache=cache)
    key = cache / data_cache.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o666)                                    # anyone could have replaced it
    with caplog.at_level("WARNING", logger="medsweep"):
        frame, _ = load_frame(data_cfg(csv), cache=cache)
    pd.testing.assert_frame_equal(frame, parsed, check_exact=True)
    assert f"{key} is writable by others" in caplog.text and "parsed by this job" in caplog.text
    key.chmod(0o600)
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # an entry of another user is not used
        entry = entry_of(csv, cache)
        os.chown(entry, 12345, 12345)
        caplog.clear()
        with caplog.at_level("WARNING", logger="medsweep"):
            frame, _ = load_frame(data_cfg(csv), cache=cache)
        pd.testing.assert_frame_equal(frame, parsed, check_exact=True)
        assert "belongs to another user" in caplog.text and entry.stat().st_uid == os.getuid()


def test_links_planted_in_the_cache_folder_never_write_through(tmp_path, caplog):
    """The entry's name is computable from the data file's sha256: links planted at the entry, its digest and
    every temporary name the builder used to take (its PID) leave their targets untouched."""
    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = entry_of(csv, cache)
    victims = {name: tmp_path / f"victim-{name}" for name in ("entry", "mac", "tmp")}
    for victim in victims.values():
        victim.write_text("precious\n")
    entry.symlink_to(victims["entry"])
    (cache / (entry.name + ".mac")).symlink_to(victims["mac"])
    first = os.getpid()
    for pid in range(first, first + 3000):            # the builder's PID follows this one's
        (cache / f".{entry.name}.{pid}.tmp").symlink_to(victims["tmp"])
    parsed, _ = load_frame(data_cfg(csv))
    with caplog.at_level("WARNING", logger="medsweep"):
        frame, _ = load_frame(data_cfg(csv), cache=cache)
    pd.testing.assert_frame_equal(frame, parsed, check_exact=True)
    assert all(v.read_text() == "precious\n" for v in victims.values())
    assert not entry.is_symlink() and entry.is_file()   # the link was replaced by a real entry
    assert "symbolic link" in caplog.text


@pytest.mark.parametrize("planted", ["lock", "key"])
def test_a_linked_lock_or_key_is_refused_and_its_target_untouched(tmp_path, caplog, planted):
    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    cache.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"x" * 32)
    name = entry_of(csv, cache).name + ".lock" if planted == "lock" else data_cache.KEY_FILE
    (cache / name).symlink_to(victim)
    parsed, _ = load_frame(data_cfg(csv))
    with caplog.at_level("WARNING", logger="medsweep"):
        frame, _ = load_frame(data_cfg(csv), cache=cache)
    pd.testing.assert_frame_equal(frame, parsed, check_exact=True)
    assert victim.read_bytes() == b"x" * 32
    assert f"{cache / name} is a symbolic link" in caplog.text and "parsed by this job" in caplog.text
    assert entries(cache) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux only")
def test_the_parsing_process_dies_with_the_job_that_started_it(tmp_path):
    from hydra_plugins.medsweep_sweeper._interrupt import alive, descendants

    fifo = tmp_path / "slow.csv"
    os.mkfifo(fifo)        # the parser blocks opening it: a build that takes forever
    cache = tmp_path / "cache"
    job = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from medsweep import data_cache as d\n"
        f"p, c = Path({str(fifo)!r}), Path({str(cache)!r}); c.mkdir()\n"
        "d._build(p, '0' * 64, d.file_stamp(p), [], None, c / 'e.arrow', d.folder_key(c))")])
    try:
        assert wait_for(lambda: any(b"medsweep.data.cache" in Path(f"/proc/{p}/cmdline").read_bytes()
                                    for p in descendants(job.pid)), timeout=60)
        [builder] = descendants(job.pid)
        time.sleep(1)      # the builder has set its parent-death signal
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=10)
        assert wait_for(lambda: not alive(builder), timeout=10), "the builder outlived its job"
    finally:
        job.kill()
        for pid in descendants(job.pid):
            os.kill(pid, signal.SIGKILL)
    assert not (cache / "e.arrow").exists()


def test_a_fifo_planted_as_the_entry_or_lock_never_blocks_a_job(tmp_path, caplog):
    csv = write_cohort(tmp_path / "c.csv")
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = entry_of(csv, cache)
    os.mkfifo(entry)
    os.mkfifo(entry.with_name(entry.name + ".lock"))
    frames = []
    with caplog.at_level("WARNING", logger="medsweep"):
        job = threading.Thread(target=lambda: frames.append(load_frame(data_cfg(csv), cache=cache)[0]), daemon=True)
        job.start()
        job.join(timeout=60)
    assert not job.is_alive(), "the job blocked opening a FIFO"
    pd.testing.assert_frame_equal(frames[0], load_frame(data_cfg(csv))[0], check_exact=True)
    assert "is not a regular file" in caplog.text
