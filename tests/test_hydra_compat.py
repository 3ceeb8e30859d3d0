"""The private names of Hydra, OmegaConf, joblib (loky, cloudpickle) and Hydra's joblib launcher that the
plugins rely on: each still exists, with the parameters it is called with, in the installed versions, and
the plugins reach them only through their compatibility modules. A failure names the private name: read
the new version's code for it, adapt the compatibility module, and widen the bound in pyproject.toml."""

import importlib
import inspect
import os
import re

import pytest

from helpers import ROOT
from hydra_plugins.medsweep_launcher import _joblib_compat
from hydra_plugins.medsweep_sweeper import _hydra_compat

INTERNALS = [*_hydra_compat.INTERNALS, *_joblib_compat.INTERNALS]
COMPAT = {"_hydra_compat.py", "_joblib_compat.py"}


def _resolve(module: str, path: str):
    obj = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("module, path, params", INTERNALS, ids=[f"{m}.{p}" for m, p, _ in INTERNALS])
def test_each_private_name_is_there_with_its_parameters(module, path, params):
    try:
        obj = _resolve(module, path)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{module}.{path} is gone from the installed version ({type(exc).__name__}: {exc}); "
                    "medsweep's plugins rely on it")
    if params is None:
        return
    found = tuple(inspect.signature(obj).parameters)
    assert found == params, (f"{module}.{path} changed its parameters: {found}, medsweep's plugins call it "
                             f"with {params}")


def test_the_private_attributes_the_plugins_read_are_set():
    """Attributes the code reads off Hydra's and the joblib launcher's objects (no signature shows them)."""
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.utils import create_config_search_path
    from hydra.core.plugins import Plugins
    from hydra.core.singleton import Singleton
    from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher

    sweeper = _hydra_compat.basic_sweeper()(max_batch_size=2)
    missing = [a for a in ("max_batch_size", "config", "launcher", "hydra_context") if not hasattr(sweeper, a)]
    assert not missing, f"BasicSweeper instances lack {missing}: medsweep's sweeper reads them"
    assert sweeper.max_batch_size == 2
    loader = _hydra_compat.config_loader(create_config_search_path(None))
    assert hasattr(loader, "repository"), "ConfigLoaderImpl.repository is gone: _compose.py asks it about groups"
    assert Callbacks().callbacks == [], "Callbacks.callbacks is gone: the sweeper finds the app's checks there"
    state = Singleton.get_state()
    assert isinstance(state.get("instances"), dict), "Singleton.get_state() no longer holds 'instances'"
    Plugins.instance()
    assert _hydra_compat.plugin_registry() is Plugins.instance(), "Singleton._instances no longer holds Plugins"
    launcher = JoblibLauncher(n_jobs=3)
    assert launcher.joblib == {"n_jobs": 3}, "JoblibLauncher.joblib no longer holds the launcher's options"


def test_loky_kills_each_worker_of_a_broken_pool_through_kill_process_tree():
    """What _worker_deaths relies on: kill_workers calls the module-level name, looked up at each call."""
    from joblib.externals.loky.process_executor import _ExecutorManagerThread

    source = inspect.getsource(_ExecutorManagerThread.kill_workers)
    assert re.search(r"^\s*kill_process_tree\(", source, re.M), (
        "loky's _ExecutorManagerThread.kill_workers no longer calls kill_process_tree(process): "
        "_joblib_compat.before_loky_kills_a_worker would never be called")


def test_the_loky_patch_lasts_only_as_long_as_its_block():
    from joblib.externals.loky import process_executor

    original = process_executor.kill_process_tree
    seen = []
    with _joblib_compat.before_loky_kills_a_worker(seen.append) as hooked:
        assert hooked and process_executor.kill_process_tree is not original
    assert process_executor.kill_process_tree is original


@pytest.mark.slow
def test_a_worker_that_dies_is_told_from_those_loky_kills_after_it():
    """A real loky pool: the worker that exits by itself is recorded with its exit code, not the others."""
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from hydra_plugins.medsweep_launcher import _worker_deaths

    with _worker_deaths.recorded() as take:
        with pytest.raises(TerminatedWorkerError):
            Parallel(n_jobs=2, backend="loky")(delayed(_exit_or_sleep)(n) for n in range(2))
        died = take()
    assert list(died.values()) == [7], died


def _exit_or_sleep(n: int) -> None:
    import time

    if n == 0:
        time.sleep(0.5)  # both workers are running when the first one exits
        os._exit(7)
    time.sleep(30)


# Where a private name may appear in the plugins: their compatibility modules only.
PRIVATE = ["hydra._internal", "Singleton._instances", "_apply_overrides_to_config", "_return_value",
           "_get_node", "._value()", "hydra_joblib_launcher._core", "joblib.externals", "kill_process_tree",
           "_parse_config", "split_arguments", ".repository"]


def test_the_plugins_reach_private_names_only_through_their_compatibility_modules():
    found = []
    for path in sorted((ROOT / "src" / "hydra_plugins").rglob("*.py")):
        if path.name in COMPAT:
            continue
        found += [f"{path.relative_to(ROOT)}: {name}" for name in PRIVATE if name in _code_only(path.read_text())]
    assert not found, "private names used outside _hydra_compat.py / _joblib_compat.py:\n" + "\n".join(found)


def _code_only(code: str) -> str:
    """``code`` without its string literals and comments (they name the private functions they explain)."""
    code = re.sub(r'("""|\'\'\')[\s\S]*?\1|"[^"\n]*"|\'[^\'\n]*\'', '""', code)
    return re.sub(r"#.*", "", code)


def test_loky_start_method_is_set_only_for_its_block():
    from joblib.externals.loky.backend import context

    before = context.get_start_method()
    with _joblib_compat.loky_start_method("forkserver"):
        assert context.get_start_method() == "forkserver"
    assert context.get_start_method() == before
