"""Every private name of joblib (with the loky and cloudpickle it ships) and of Hydra's joblib launcher
plugin that medsweep's launcher uses, and nothing else.

``INTERNALS`` lists each with the parameters it is called with; tests/test_hydra_compat.py checks that list
against the installed versions and fails naming the one that moved or changed. pyproject.toml bounds
joblib and hydra-joblib-launcher to the versions checked (joblib 1.5.3, hydra-joblib-launcher 1.2.0).

Nothing heavy at import: joblib is imported by the functions that need it (the plugin scan imports the
launcher's modules in every process).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

# (module, attribute path, the parameter names medsweep calls it with, or that it relies on; None: not
# called, only used).
INTERNALS: tuple[tuple[str, str, Optional[tuple[str, ...]]], ...] = (
    # _core.launch normalises the launcher's options as Hydra's joblib launcher does.
    ("hydra_plugins.hydra_joblib_launcher._core", "process_joblib_cfg", ("joblib_cfg",)),
    # _core._execute is this function less two of its costs: a change here is one to copy there.
    ("hydra_plugins.hydra_joblib_launcher._core", "execute_job",
     ("idx", "overrides", "hydra_context", "config", "task_function", "singleton_state")),
    ("hydra_plugins.hydra_joblib_launcher.joblib_launcher", "JoblibLauncher.__init__", ("self", "kwargs")),
    ("hydra_plugins.hydra_joblib_launcher.joblib_launcher", "JoblibLauncher.setup",
     ("self", "hydra_context", "task_function", "config")),
    # Which worker died first: loky's manager thread calls kill_process_tree(process) for each worker of a
    # broken pool (kill_workers), looked up in its module at each call.
    ("joblib.externals.loky.process_executor", "kill_process_tree", ("process", "use_psutil")),
    ("joblib.externals.loky.process_executor", "_ExecutorManagerThread.kill_workers", ("self", "reason")),
    ("joblib.externals.loky.process_executor", "TerminatedWorkerError", None),
    # Warm workers: loky forks them from Python's forkserver.
    ("joblib.externals.loky.backend.context", "set_start_method", ("method", "force")),
    ("joblib.externals.loky.backend.context", "get_start_method", ()),
    # The sweep's config and Hydra's state, pickled once per batch as loky pickles a job's arguments.
    ("joblib.externals.cloudpickle", "dumps", ("obj", "protocol", "buffer_callback")),
)


def process_joblib_cfg(joblib_cfg: dict) -> None:
    """Hydra's joblib launcher's normalisation of its options (``null`` strings, ...), in place."""
    from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg as process

    process(joblib_cfg)


def terminated_worker_error() -> type:
    """The exception joblib raises when a worker process of its loky pool died."""
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    return TerminatedWorkerError


def cloudpickle_dumps(obj: Any) -> bytes:
    """``obj`` pickled as loky pickles a job's arguments."""
    from joblib.externals import cloudpickle

    return cloudpickle.dumps(obj)


@contextmanager
def loky_start_method(method: str) -> Iterator[None]:
    """While the block runs, a pool loky creates starts its workers with ``method`` ("forkserver": forked
    from Python's forkserver); loky's process-wide setting is put back after it. A pool keeps the method it
    was created with: the one a launch created is reused by the next launch."""
    from joblib.externals.loky.backend import context

    previous = context.get_start_method()
    context.set_start_method(method, force=True)
    try:
        yield
    finally:
        context.set_start_method(previous, force=True)


@contextmanager
def before_loky_kills_a_worker(look: Callable[[Any], None]) -> Iterator[bool]:
    """While the block runs, ``look(process)`` is called in loky's manager thread just before loky kills a
    worker process of a broken pool (so that its exit code can be read before loky's SIGKILL sets one);
    yields False, and does nothing, where this loky has no ``kill_process_tree`` to wrap.

    Loky documents no hook for this: its module-level ``kill_process_tree`` is replaced for the block's
    duration and put back after it, the one place that does so. The name belongs to the whole process;
    only a sweep's launches use loky here, and the wrapper changes nothing for a caller (``look`` only
    reads; the original still kills)."""
    try:
        from joblib.externals.loky import process_executor
    except ImportError:
        yield False
        return
    original = getattr(process_executor, "kill_process_tree", None)
    if original is None:
        yield False
        return

    def kill_process_tree(process: Any, *args: Any, **kwargs: Any) -> Any:
        look(process)
        return original(process, *args, **kwargs)

    process_executor.kill_process_tree = kill_process_tree
    try:
        yield True
    finally:
        if process_executor.kill_process_tree is kill_process_tree:  # not replaced again meanwhile
            process_executor.kill_process_tree = original
