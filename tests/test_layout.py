"""The layout a maintainer relies on (README, "Layout"): small modules, no import cycle, and the layers that
import-linter's contracts in pyproject.toml check (`lint-imports`, run by .ci/run)."""

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

SRC = ROOT / "src"
MAX_LINES = 400


def _ours(module: str) -> bool:
    return module.split(".")[0] == "medsweep" or module.startswith(("hydra_plugins.medsweep_sweeper",
                                                                    "hydra_plugins.medsweep_launcher"))


def test_no_module_is_over_400_lines():
    sizes = {p.relative_to(SRC): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert sizes and {str(p): n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_no_import_cycle():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (pip install -e '.[dev]')")
    graph = grimp.build_graph("medsweep", "hydra_plugins")
    cycles = [(a, b) for a in sorted(filter(_ours, graph.modules))
              for b in graph.find_modules_directly_imported_by(a)
              if _ours(b) and graph.find_shortest_chain(importer=b, imported=a)]
    assert cycles == []


def test_the_layer_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    if not linter.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout
