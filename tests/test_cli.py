"""The `medsweep` command: subcommands with --help, the same programs as `python -m medsweep.<module>`,
one-line usage errors with exit 2, summarize delegated, compare offered only once its module exists."""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT, run_train
from medsweep import cli
from medsweep.record.files import METRICS_FILE, SUMMARY_FILES


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_console_script_is_declared_and_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"medsweep": "medsweep.cli:main"}
    installed = shutil.which("medsweep")
    if installed is None:
        pytest.skip("medsweep is not installed in this environment (pip install -e .)")
    result = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage: medsweep" in result.stdout


def test_help_lists_the_commands():
    result = _run("-m", "medsweep.cli", "--help")
    assert result.returncode == 0
    for command in ("predict", "reproduce", "summarize"):
        assert f"\n  {command} " in result.stdout
    assert "Exit codes: 0 done, 1 differences found (reproduce), 2 usage or input error." in result.stdout


@pytest.mark.parametrize("module", ["predict", "reproduce", "summarize", "compare", "track"])
def test_each_command_is_also_its_module(module):
    via_cli = _run("-m", "medsweep.cli", module, "--help")
    via_module = _run("-m", f"medsweep.cli.{module}", "--help")
    assert via_cli.returncode == via_module.returncode == 0
    assert via_cli.stdout.startswith(f"usage: medsweep {module} ")
    assert via_module.stdout.startswith(f"usage: python -m medsweep.cli.{module} ")
    # The same parser: the same arguments and options (the usage line wraps by the program's name).
    assert via_cli.stdout.split("positional arguments:")[1] == via_module.stdout.split("positional arguments:")[1]


@pytest.mark.parametrize("args, says", [
    (["frobnicate"], "error: argument <command>: invalid choice: 'frobnicate'"),
    (["predict"], "error: the following arguments are required: job_dir, file (see medsweep predict --help)"),
    (["reproduce", "job", "--tolerance", "-1"], "error: --tolerance=-1.0 is not allowed: must be a finite number >= 0"),
    (["predict", "no/such/job", "x.csv"], f"error: no/such/job is not a job directory: it has no {METRICS_FILE}"),
])
def test_usage_and_input_errors_are_one_line_with_exit_2(args, says):
    result = _run("-m", "medsweep.cli", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(says), result.stderr
    assert result.stdout == ""


def test_summarize_is_delegated(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_train("-m", "model=als", "trainer=fast", "eval.n_boot=0", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    for name in SUMMARY_FILES:
        (sweep / name).unlink()
    summarized = _run("-m", "medsweep.cli", "summarize", str(sweep))
    assert summarized.returncode == 0, summarized.stderr
    assert all((sweep / name).is_file() for name in SUMMARY_FILES)
    assert f"Wrote {', '.join(SUMMARY_FILES)} in {sweep}" in summarized.stdout
    missing = _run("-m", "medsweep.cli", "summarize", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")


def test_compare_is_offered_only_where_its_module_exists(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "compare", ("medsweep.no_such_module", "compare"))
    assert "compare" not in cli.available()
    monkeypatch.setitem(cli.COMMANDS, "compare", ("medsweep.tools.predict", "compare"))  # any module that exists
    assert "compare" in cli.available()


def test_compare_runs_when_it_has_landed():
    result = _run("-m", "medsweep.cli", "compare", "--help")
    assert result.returncode == 0 and "usage:" in result.stdout
