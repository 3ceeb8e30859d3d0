"""One GPU (or ``gpus_per_job``) per worker: ``hydra.launcher.gpus_per_job``.

The devices are those visible to the sweep: ``hydra.launcher.devices`` where listed, else the sweep's
``CUDA_VISIBLE_DEVICES``, else every GPU ``nvidia-smi -L`` lists. They are cut into disjoint slots of
``gpus_per_job``; jobs run at once are capped at the slots. A worker process claims a free slot at its
first job and keeps it for its life (an exclusive ``flock`` on the slot's file: the kernel releases it
when the worker dies, and a new worker takes it over), so two workers never share a device; each job of
that worker runs with ``CUDA_VISIBLE_DEVICES`` set to its slot, and records it (``devices`` in
metrics.json).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence

from hydra.errors import CompactHydraException


class DeviceError(CompactHydraException, ValueError):
    """A launcher option that cannot work, said in one line before any job starts."""


VISIBLE = "CUDA_VISIBLE_DEVICES"


def check_gpus_per_job(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DeviceError(f"hydra.launcher.gpus_per_job={value!r}: must be a whole number >= 0 "
                          "(GPUs each job sees; 0: none)")
    return value


def sweep_devices(listed: Optional[Sequence[Any]]) -> List[str]:
    """The device ids jobs may be given: ``listed`` (hydra.launcher.devices), else CUDA_VISIBLE_DEVICES,
    else the GPUs nvidia-smi lists; [] where there are none."""
    if listed is not None:
        return [str(d).strip() for d in listed if str(d).strip()]
    if VISIBLE in os.environ:
        return [d.strip() for d in os.environ[VISIBLE].split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        return [str(n) for n, line in enumerate(out.splitlines()) if line.startswith("GPU ")]
    return []


def device_slots(devices: Sequence[str], gpus_per_job: int) -> List[List[str]]:
    """``devices`` cut into disjoint groups of ``gpus_per_job`` (a remainder is left unused); a one-line
    error where not even one group can be made."""
    if len(set(devices)) != len(devices):
        raise DeviceError(f"hydra.launcher.devices={list(devices)}: a device is listed twice")
    slots = [list(devices[i:i + gpus_per_job]) for i in range(0, len(devices) - gpus_per_job + 1, gpus_per_job)]
    if not slots:
        raise DeviceError(f"hydra.launcher.gpus_per_job={gpus_per_job} but the sweep sees {len(devices)} GPU(s) "
                          f"({','.join(devices) or 'none'}): set CUDA_VISIBLE_DEVICES or hydra.launcher.devices="
                          "[0,1,...], or gpus_per_job=0")
    return slots


@dataclass(frozen=True)
class DevicePool:
    """The slots of one sweep and the folder of their lock files (crosses to the workers pickled)."""

    slots: tuple
    folder: str

    @classmethod
    def create(cls, slots: Sequence[Sequence[str]]) -> "DevicePool":
        folder = tempfile.mkdtemp(prefix="medsweep-gpus-")
        for n in range(len(slots)):
            Path(folder, f"slot-{n}").touch()
        return cls(tuple(tuple(s) for s in slots), folder)


_claimed: dict[str, tuple] = {}  # this process's slot, per pool folder: kept for the process's life
_held: list = []                 # the open lock files (closing one would release its lock)


def claim(pool: DevicePool) -> tuple:
    """This process's slot of ``pool``: the one it already holds, else the first free one (waits while
    every slot is held: a worker that replaced a dead one may start before the kernel released it)."""
    if pool.folder in _claimed:
        return _claimed[pool.folder]
    while True:
        for n, slot in enumerate(pool.slots):
            handle = open(Path(pool.folder, f"slot-{n}"), "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _held.append(handle)
            _claimed[pool.folder] = slot
            return slot
        time.sleep(0.05)


@contextmanager
def devices_visible(pool: Optional[DevicePool]) -> Iterator[Optional[List[str]]]:
    """While the block runs, CUDA_VISIBLE_DEVICES is this process's slot of ``pool`` (yielded); nothing
    changes where ``pool`` is None."""
    if pool is None:
        yield None
        return
    slot = list(claim(pool))
    previous = os.environ.get(VISIBLE)
    os.environ[VISIBLE] = ",".join(slot)
    try:
        yield slot
    finally:
        if previous is None:
            os.environ.pop(VISIBLE, None)
        else:
            os.environ[VISIBLE] = previous
