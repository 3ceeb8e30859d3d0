"""Installed use, from outside the clone: the configs come with the package (pkg://medsweep.conf), a user's own
config folder is added with Hydra's -cd, train.py and `medsweep run` are one app, the built wheel trains in a
fresh environment, every imported package is declared, and the MLflow store stays out of a checkout's way."""

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import ROOT
from medsweep.tracking.mlflow.uri import DEFAULT_DB, URI_VARIABLE, resolve_uri

MY_COHORT = """\
# @package _global_
# A cohort of the user's own, in a config folder of theirs (not in medsweep's conf/).
model:
  name: my_cohort
  description: my own cohort
data:
  name: my_cohort
  path: {path}
  target: outcome
  task: classification
  group: pid
"""


def _user_configs(folder: Path) -> Path:
    """<folder>/conf/model/my_cohort.yaml naming <folder>/cohort.csv: 40 patients, the outcome following x1."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=40)
    rows = ["pid,x1,x2,outcome"] + [f"p{i},{a:.4f},{b:.4f},{int(a + 0.5 * e > 0)}"
                                    for i, (a, b, e) in enumerate(zip(x1, rng.normal(size=40), rng.normal(size=40)))]
    (folder / "cohort.csv").write_text("\n".join(rows) + "\n")
    (folder / "conf" / "model").mkdir(parents=True)
    (folder / "conf" / "model" / "my_cohort.yaml").write_text(MY_COHORT.format(path=folder / "cohort.csv"))
    return folder / "conf"


def _env(**extra) -> dict:
    """This checkout's medsweep, whatever is installed (the wheel test below removes it)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
            **extra}


def test_the_configs_come_with_the_package_and_a_user_folder_adds_options(tmp_path):
    """From a directory that is not the clone: `python -m medsweep run -cd <my conf> model=my_cohort`."""
    user = _user_configs(tmp_path)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-m", "medsweep", "run", "-cd", str(user), "model=my_cohort",
                           "--cfg", "job"], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load(proc.stdout)
    assert job["model"]["name"] == "my_cohort" and job["data"]["path"] == str(tmp_path / "cohort.csv")
    assert job["estimator"]["name"] == "logreg" and job["trainer"]["folds"] >= 2   # medsweep's own defaults
    assert list(cwd.iterdir()) == []


def test_train_py_and_medsweep_run_are_one_app(tmp_path):
    args = ["model=als", "estimator=mlp", "--cfg", "job"]
    via_train = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, capture_output=True,
                               text=True, timeout=120)
    via_run = subprocess.run([sys.executable, "-m", "medsweep", "run", *args], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=120)
    assert via_train.returncode == via_run.returncode == 0, via_train.stderr + via_run.stderr
    assert via_train.stdout == via_run.stdout and "name: als" in via_run.stdout


# -- dependencies ------------------------------------------------------------------------------------------
def _declared() -> set:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra, reqs in project["optional-dependencies"].items()
                                                 if extra != "dev" for r in reqs)]
    return {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r).group()).lower() for r in requirements}


def _imported() -> set:
    """Top-level names of every package src/ imports, anywhere in a module (lazy imports too)."""
    names = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"medsweep", "hydra_plugins"}


# An import's name where it is not its distribution's; the plugins' own imports of Hydra's launchers and
# sweepers come with the extras that install those plugins.
DISTRIBUTION = {"sklearn": "scikit-learn", "yaml": "pyyaml", "PIL": "pillow", "hydra": "hydra-core",
                "hydra_plugins": None, "submitit": "hydra-submitit-launcher", "ray": "hydra-ray-launcher"}


def test_every_imported_package_is_declared():
    """A package medsweep imports itself is a dependency (or an extra's), not something another one pulls in."""
    declared = _declared()
    wanted = {name: DISTRIBUTION.get(name, name.lower()) for name in _imported()}
    assert {name: dist for name, dist in sorted(wanted.items()) if dist and dist not in declared} == {}
    assert {"scipy", "pyyaml", "markupsafe", "pillow"} <= declared


# -- where MLflow stores runs -------------------------------------------------------------------------------
def test_the_default_mlflow_store_is_under_multirun_and_mlflows_variable_wins(tmp_path, monkeypatch):
    monkeypatch.delenv(URI_VARIABLE, raising=False)
    assert DEFAULT_DB == "multirun/mlflow.db"
    assert resolve_uri(None, tmp_path) == f"sqlite:///{tmp_path}/multirun/mlflow.db"
    monkeypatch.setenv(URI_VARIABLE, "sqlite:///shared/team.db")
    assert resolve_uri(None, tmp_path) == f"sqlite:///{tmp_path}/shared/team.db"
    assert resolve_uri("http://mlflow-host:5000/", tmp_path) == "http://mlflow-host:5000"   # explicit: as given
    monkeypatch.setenv(URI_VARIABLE, str(tmp_path / "mlruns"))   # MLflow's old file store: named as the variable
    with pytest.raises(Exception, match=f"^{URI_VARIABLE}=.* is not allowed: MLflow's file store"):
        resolve_uri(None, tmp_path)


def test_the_store_and_the_command_outputs_are_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["multirun/mlflow.db", "multirun/mlartifacts/medsweep/x", "outputs/x", "reproduced/x", "mlflow.db",
             "mlartifacts/x", "mlruns/x"]
    proc = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert sorted(proc.stdout.split()) == sorted(paths)


# -- the built wheel ------------------------------------------------------------------------------------------
def _build_wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of this checkout (a build writes build/ and *.egg-info into its source)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("src", "conf"):
        shutil.copytree(ROOT / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    try:  # setuptools' own bdist_wheel (70.1+) or the wheel package: no isolated build environment to fetch
        import setuptools
        local = tuple(map(int, setuptools.__version__.split(".")[:2])) >= (70, 1)
        if not local:
            import wheel  # noqa: F401
            local = tuple(map(int, setuptools.__version__.split(".")[:1])) >= (68,)
    except ImportError:
        local = False
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *(["--no-build-isolation"] if local
                           else []), "-w", str(tmp_path / "dist"), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel_file,) = (tmp_path / "dist").glob("medsweep-*.whl")
    return wheel_file


@pytest.mark.slow
def test_the_built_wheel_trains_a_sweep_outside_the_clone(tmp_path):
    wheel_file = _build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel_file).namelist())
    shipped = {f"medsweep/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert shipped and shipped <= names and "medsweep/conf/__init__.py" in names
    plugins = {f"hydra_plugins/{p.relative_to(ROOT / 'src' / 'hydra_plugins').as_posix()}"
               for p in (ROOT / "src" / "hydra_plugins").rglob("*.py")}
    assert plugins and plugins <= names and "medsweep/__main__.py" in names and "medsweep/cli/run.py" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                str(wheel_file)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]

    user = _user_configs(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run([str(python), "-c", "import medsweep, hydra_plugins.medsweep_sweeper as s; "
                            "print(medsweep.__file__); print(s.__file__)"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=60)
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout + where.stderr
    proc = subprocess.run([str(venv / "bin" / "medsweep"), "run", "-m", "-cd", str(user), "model=als,my_cohort",
                           "trainer.folds=2", "eval.n_boot=0", "hydra.launcher.n_jobs=2"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (sweep,) = (work / "multirun").glob("*/*")   # Hydra's default, relative to the working directory
    records = {n: yaml.safe_load((sweep / str(n) / "metrics.json").read_text()) for n in (0, 1)}
    assert {r["model"] for r in records.values()} == {"als", "my_cohort"}
    assert all(r["status"] == "completed" for r in records.values())
    assert yaml.safe_load((sweep / "sweep.json").read_text())["command"].startswith("medsweep run -m -cd ")
    assert sorted(p.name for p in work.iterdir()) == ["multirun"]
