"""Folders that are not medsweep's (issue 22, items 4 and 7): a sweep or a single run pointed at the user's own
folder stops in one line before writing anything, and a planted ``sweep.lock`` link writes nothing through."""

import os
from pathlib import Path

import pytest
from hydra.errors import CompactHydraException

from helpers import run_train
from hydra_plugins.medsweep_sweeper._jobs import claim_sweep_dir
from medsweep.record.files import LOCK_FILE, SWEEP_FILE

SWEEP = ["-m", "model=breast_cancer", "estimator=logreg", "trainer=fast", "eval.n_boot=0", "seed=0"]


def snapshot(folder):
    """Every file under ``folder`` (links as links) with its content."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = ("link", os.readlink(p)) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir"
    return out


def one_line(stderr):
    return "Traceback" not in stderr and len([line for line in stderr.splitlines() if line.strip()]) <= 2


@pytest.mark.parametrize("own_file", ["summary.csv", "report.html", "0/metrics.json"])
def test_a_sweep_never_writes_into_a_folder_that_is_not_a_sweep(tmp_path, own_file):
    folder = tmp_path / "results"
    (folder / own_file).parent.mkdir(parents=True)
    (folder / own_file).write_text("the user's own results\n")
    before = snapshot(folder)
    proc = run_train(*SWEEP, f"hydra.sweep.dir={folder}")
    assert proc.returncode == 1
    assert f"hydra.sweep.dir={folder} already holds {own_file.split('/')[0]}" in proc.stderr
    assert "is not a medsweep sweep (no sweep.json): nothing was written" in proc.stderr and one_line(proc.stderr)
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]   # no results-1 either


def test_a_single_run_never_writes_into_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "metrics.json").write_text('{"mine": true}\n')
    before = snapshot(folder)
    proc = run_train("model=breast_cancer", "estimator=logreg", "trainer=fast", "eval.n_boot=0",
                     f"hydra.run.dir={folder}")
    assert proc.returncode == 1
    assert f"hydra.run.dir={folder} already holds metrics.json, and is not a medsweep run" in proc.stderr
    assert one_line(proc.stderr) and snapshot(folder) == before


def test_a_new_sweep_claims_a_new_or_empty_folder_and_passes_numbered_ones_of_others(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    claimed, lock = claim_sweep_dir(empty, resume=False)
    lock.release()
    assert claimed == empty and (empty / SWEEP_FILE).is_file()
    # `empty` is a sweep now; empty-1 is someone's folder: the next sweep goes to empty-2.
    (tmp_path / "empty-1").mkdir()
    (tmp_path / "empty-1" / "notes.txt").write_text("mine")
    claimed, lock = claim_sweep_dir(empty, resume=False)
    lock.release()
    assert claimed == tmp_path / "empty-2" and (tmp_path / "empty-1" / "notes.txt").read_text() == "mine"
    with pytest.raises(CompactHydraException, match="exists and is not a directory"):
        claim_sweep_dir(tmp_path / "empty" / SWEEP_FILE, resume=False)


@pytest.mark.parametrize("resume", [False, True])
def test_a_sweep_lock_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, resume):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "sweep"
    folder.mkdir()
    if resume:
        (folder / SWEEP_FILE).write_text('{"jobs": []}')
    (folder / LOCK_FILE).symlink_to(victim)
    with pytest.raises(CompactHydraException, match=f"{folder / LOCK_FILE} is a symbolic link"):
        claim_sweep_dir(folder, resume=resume)
    assert victim.read_text() == "precious\n" and (folder / LOCK_FILE).is_symlink()


def test_a_sweep_lock_with_another_name_is_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "sweep"
    folder.mkdir()
    os.link(victim, folder / LOCK_FILE)
    with pytest.raises(CompactHydraException, match="has other names"):
        claim_sweep_dir(folder, resume=False)
    assert victim.read_text() == "precious\n"


def test_a_resume_through_a_linked_lock_ends_in_one_line(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / SWEEP_FILE).write_text('{"jobs": []}')
    (folder / LOCK_FILE).symlink_to(victim)
    proc = run_train(*SWEEP, f"hydra.sweep.dir={folder}", "resume=true")
    assert proc.returncode == 1 and "is a symbolic link" in proc.stderr and one_line(proc.stderr)
    assert victim.read_text() == "precious\n"
