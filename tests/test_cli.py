"""The `medsweep` command: one parser with subcommands (run, predict, reproduce, summarize, compare, track),
--version, bare `medsweep` printing its help, one error format (`medsweep <command>: error: ...`, exit 2),
`python -m medsweep[.cli[.<command>]]` as the same program, `| head` ending quietly, `run` handing every
argument to Hydra, and `reproduce` writing outside the sweep."""

import json
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT
import medsweep
from medsweep import cli
from medsweep.cli import reproduce as reproduce_cli
from medsweep.record.files import METRICS_FILE

COMMANDS = ["run", "predict", "reproduce", "summarize", "compare", "track"]
WITH_OPTIONS = [c for c in COMMANDS if c != "run"]   # run's --help is Hydra's (test_installed.py)


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)


def test_the_console_script_is_declared_and_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"medsweep": "medsweep.cli:main"}
    installed = shutil.which("medsweep")
    if installed is None:
        pytest.skip("medsweep is not installed in this environment (pip install -e .)")
    result = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "usage: medsweep" in result.stdout


@pytest.mark.parametrize("argv", [[], ["--help"]])
def test_bare_medsweep_and_help_list_every_command_and_the_exit_codes(argv, capsys):
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: medsweep [-h] [--version] <command> ...") and err == ""
    for command in COMMANDS:
        assert f"\n    {command:<12}" in out, command
    assert "exit codes: 0 done; 1 differences found (reproduce) or a job failed (run); 2 usage or input error" in out
    assert "python -m" not in out


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"medsweep {medsweep.__version__}\n"


@pytest.mark.parametrize("command", WITH_OPTIONS)
def test_each_command_is_also_its_module_with_one_usage_line(command, capsys):
    module = __import__(f"medsweep.cli.{command}", fromlist=["main"])
    assert cli.main([command, "--help"]) == 0
    via_cli = capsys.readouterr().out
    assert module.main(["--help"]) == 0
    assert capsys.readouterr().out == via_cli
    assert via_cli.startswith(f"usage: medsweep {command} ") and "python -m" not in via_cli


def test_the_entry_points_are_the_same_program():
    outputs = [_run("-m", entry, *args) for entry, args in [("medsweep", ["compare", "--help"]),
                                                             ("medsweep.cli", ["compare", "--help"]),
                                                             ("medsweep.cli.compare", ["--help"])]]
    assert [o.returncode for o in outputs] == [0, 0, 0]
    assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout
    assert outputs[0].stdout.startswith("usage: medsweep compare ")


@pytest.mark.parametrize("args, says", [
    (["frobnicate"], "medsweep: error: argument <command>: invalid choice: 'frobnicate'"),
    (["predict"], "medsweep predict: error: the following arguments are required: job_dir, file (see medsweep predict --help)"),
    (["reproduce", "job", "--tolerance", "-1"],
     "medsweep reproduce: error: --tolerance=-1.0 is not allowed: must be a finite number >= 0 (see medsweep reproduce --help)"),
    (["predict", "no/such/job", "x.csv"], f"medsweep predict: error: no/such/job is not a job directory: it has no {METRICS_FILE}"),
    (["compare", "a", "b", "--alpha", "1.5"], "medsweep compare: error: --alpha must be between 0 and 1 (exclusive), got 1.5"),
    (["compare", "no/a", "no/b"], "medsweep compare: error: no/a does not exist"),
    (["summarize", "no/such/sweep"], "medsweep summarize: error: no such sweep directory: no/such/sweep"),
    (["summarize", "--frobnicate", "x"], "medsweep summarize: error: unrecognized arguments: --frobnicate"),
    (["track", "no/such/sweep"], "medsweep track: error: no/such/sweep is not a directory"),
])
def test_usage_and_input_errors_are_one_line_with_exit_2(args, says, capsys):
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith(says), err
    assert out == ""


def test_run_hands_every_argument_to_hydra_untouched(monkeypatch):
    from medsweep.cli import run

    seen = []
    monkeypatch.setattr(run, "app", lambda: seen.append(list(sys.argv)))
    argv = ["-m", "model=als,parkinsons", "--cfg", "job", "-cd", "my conf", "hydra.launcher.n_jobs=6", "--help"]
    before = list(sys.argv)
    assert cli.main(["run", *argv]) == 0
    assert seen == [["medsweep run", *argv]]   # the sweep records `medsweep run -m ...` as its command
    assert sys.argv == before


def _sweep(folder):
    """A sweep of two completed jobs, as the sweeper leaves them (no training)."""
    overrides = {0: ["model=parkinsons", "estimator=logreg"], 1: ["model=parkinsons", "estimator=mlp"]}
    for num, over in overrides.items():
        (folder / str(num) / ".hydra").mkdir(parents=True)
        (folder / str(num) / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in over))
        (folder / str(num) / METRICS_FILE).write_text(json.dumps({
            "status": "completed", "model": "parkinsons", "estimator": over[1].split("=")[1],
            "task": "classification", "primary_metric": "roc_auc", "greater_is_better": True, "folds": 2,
            "seed": 0, "duration_s": 1.0, "overrides": over,
            "metrics": {"roc_auc": {"mean": 0.8 + num / 10, "std": 0.01, "folds": [0.8, 0.8 + num / 5]}}}))
    (folder / "sweep.json").write_text(json.dumps(
        {"command": "medsweep run -m", "jobs": [{"num": n, "dir": str(n), "overrides": o} for n, o in overrides.items()]}))
    return folder


def test_a_reader_that_closes_the_pipe_ends_summarize_quietly(tmp_path):
    """`medsweep summarize <sweep> | head`: no BrokenPipeError traceback, the exit status of a SIGPIPE."""
    sweep = _sweep(tmp_path / "sweep")
    proc = subprocess.Popen([sys.executable, "-m", "medsweep", "summarize", str(sweep), "--all"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()   # the reader is gone before the first line is written
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == cli.EXIT_BROKEN_PIPE
    assert err == ""
    assert (sweep / "summary.csv").is_file()   # the work was done; only the printing was cut short


# -- reproduce writes outside the sweep ------------------------------------------------------------------
def test_reproduce_defaults_to_a_folder_outside_the_sweep(tmp_path, monkeypatch):
    sweep = _sweep(tmp_path / "multirun" / "2026-12-01" / "10-00-00")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = reproduce_cli.default_out(sweep / "1")
    assert out.parent == reproduce_cli.DEFAULT_ROOT and out.name.startswith("10-00-00-1-")
    assert reproduce_cli.outside_problem(sweep / "1", out) is None
    out.mkdir(parents=True)
    assert reproduce_cli.default_out(sweep / "1") == out.with_name(out.name + "-1")   # never an existing one
    single = tmp_path / "outputs" / "2026-12-01" / "11-00-00"
    single.mkdir(parents=True)
    assert reproduce_cli.default_out(single).name.startswith("11-00-00-")


@pytest.mark.parametrize("where", ["cwd", "out"])
def test_reproduce_refuses_to_write_inside_the_sweep(where, tmp_path, monkeypatch, capsys):
    sweep = _sweep(tmp_path / "sweep")
    args = ["reproduce", str(sweep / "0")]
    if where == "cwd":   # the default, ./reproduced/..., would land in the sweep
        monkeypatch.chdir(sweep)
    else:
        args += ["--out", str(sweep / "again")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("medsweep reproduce: error: ") and f"inside the job's sweep directory {sweep}" in err
    assert not (sweep / "reproduced").exists() and not (sweep / "again").exists()
