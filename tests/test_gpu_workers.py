"""One GPU per worker (`hydra.launcher.gpus_per_job`): each worker of the joblib launcher sees only its own
device(s) through CUDA_VISIBLE_DEVICES, never two workers on one device, and no more workers than the
devices allow. No GPU is needed: the device ids are listed (in the environment or the config) and each job
records the ids it saw (`devices` in metrics.json)."""

import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from helpers import ROOT, metrics_of
from hydra_plugins.medsweep_launcher import _gpus
from hydra_plugins.medsweep_launcher._gpus import DevicePool, device_slots, sweep_devices
from hydra_plugins.medsweep_launcher._workers import worker_count


def test_devices_are_cut_into_disjoint_slots_and_a_listed_set_beats_the_environment(monkeypatch):
    assert device_slots(["0", "1", "2"], 1) == [["0"], ["1"], ["2"]]
    assert device_slots(["0", "1", "2", "3", "4"], 2) == [["0", "1"], ["2", "3"]]  # the fifth is left unused
    with pytest.raises(ValueError, match=r"gpus_per_job=2 but the sweep sees 1 GPU\(s\) \(7\)"):
        device_slots(["7"], 2)
    with pytest.raises(ValueError, match="listed twice"):
        device_slots(["1", "1"], 1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert sweep_devices(None) == ["3", "5"]
    assert sweep_devices([0, 2]) == ["0", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # CUDA's "no device"
    assert sweep_devices(None) == []
    with pytest.raises(ValueError, match="gpus_per_job=-1"):
        _gpus.check_gpus_per_job(-1)


def test_workers_are_capped_by_the_device_slots():
    assert worker_count(8, 10, device_slots=1) == 1
    assert worker_count(None, 10, device_slots=None) == worker_count(None, 10)


def _claim_and_hold(pool, out, hold_s):
    out.put((os.getpid(), tuple(_gpus.claim(pool)), time.monotonic()))
    time.sleep(hold_s)


def test_two_processes_never_hold_the_same_slot_and_a_dead_ones_slot_is_taken_over(tmp_path):
    pool = DevicePool.create([["0"], ["1"]])
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    first = [ctx.Process(target=_claim_and_hold, args=(pool, out, 1.5)) for _ in range(2)]
    for p in first:
        p.start()
    held = [out.get(timeout=10) for _ in first]
    assert sorted(slot for _, slot, _ in held) == [("0",), ("1",)]
    late = ctx.Process(target=_claim_and_hold, args=(pool, out, 0))
    late.start()  # every slot is held: it waits until a holder dies, then takes its slot
    _, slot, got_at = out.get(timeout=10)
    assert got_at >= min(t for _, _, t in held) + 1.4 and slot in (("0",), ("1",))
    for p in [*first, late]:
        p.join(timeout=10)


@pytest.mark.slow
def test_each_worker_sees_only_its_own_device_and_records_it(tmp_path):
    env_devices = "3,5"
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "model=breast_cancer", "trainer.folds=2",
                           "eval.n_boot=0", "seed=0,1,2,3", "hydra.launcher.n_jobs=4", "hydra.launcher.gpus_per_job=1",
                           f"hydra.sweep.dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": env_devices})
    assert proc.returncode == 0, proc.stderr[-3000:]
    # n_jobs=4 asked, two devices: two workers, and the console says why
    assert "gpus_per_job=1: GPU(s) 3 5, one slot per worker: running 2 job(s) at a time" in proc.stdout + proc.stderr
    records = [metrics_of(tmp_path / str(n)) for n in range(4)]
    assert all(r["status"] == "completed" for r in records)
    seen = [tuple(r["devices"]) for r in records]
    assert set(seen) <= {("3",), ("5",)}
    spans = [(datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in records]
    for i in range(4):
        for j in range(i + 1, 4):
            overlap = spans[i][0] < spans[j][1] and spans[j][0] < spans[i][1]
            assert not (overlap and seen[i] == seen[j]), f"jobs {i} and {j} ran at once on device {seen[i]}"
