"""Smoke test of benchmarks/run_benchmarks.py: it runs and prints its tables. No timing is asserted:
benchmarks are scripts (see benchmarks/README.md), and wall-clock figures depend on the machine."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_script_runs_with_tiny_sizes(tmp_path):
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--quick",
                          "--only", "framework,growth,startup", "--growth", "2,4", "--json", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = res.stdout
    assert "5. Framework overhead in one job" in text
    assert "6. Growth" in text and "start-up to first job" in text
    assert "8. Start-up" in text and "dry_run=true of 100 jobs" in text and "100 jobs listed" in text
    assert "Summary" in text and "ERROR" not in text
    # The hand-written scikit-learn baseline trains exactly what medsweep trains.
    framework = [line for line in text.splitlines() if line.strip().startswith(("logreg", "mlp"))]
    assert len(framework) == 2 and all(line.rstrip().endswith("yes") for line in framework), framework
    assert out.is_file()


def test_unknown_benchmark_is_refused():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--only", "nope"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "unknown benchmark" in res.stderr
