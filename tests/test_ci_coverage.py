"""Smoke test of benchmarks/ci_coverage.py (issue 21 item 6): real cross-validated training, both intervals,
coverage of the final model's ROC-AUC. No figure is asserted: it is a simulation script (BENCHMARKS.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ci_coverage_quick_runs_and_prints_both_intervals():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ci_coverage.py"), "--quick", "--sizes", "60"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.strip().startswith("60 ")]
    assert [line.split("|")[1].split()[0] for line in lines] == ["percentile", "bca"]
    assert "final model's ROC-AUC" in res.stdout
