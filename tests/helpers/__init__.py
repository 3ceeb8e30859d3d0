"""What the tests share: the repository's paths, running train.py as a user does, reading a job's files.

Imported as ``helpers`` (pytest puts ``tests/`` on ``sys.path``: the test files are not a package)."""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"


def run_train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python train.py ARGS` from the repository root, as a user runs it."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def metrics_of(job_dir) -> dict:
    """A job's metrics.json."""
    return json.loads((Path(job_dir) / "metrics.json").read_text())


def needs_shared_data(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real public datasets live in ../shared/data beside the repo")
    return path


def wait_for(predicate, timeout: float = 120.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def tiny_filesystem(mount: Path, size: str):
    """A real filesystem of ``size`` (tmpfs, e.g. "300k") mounted at ``mount``, to fill up; the test is skipped,
    saying why, where one cannot be mounted (it needs root)."""
    mount.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs to fill needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
