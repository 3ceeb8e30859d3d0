"""Every Hydra and OmegaConf internal that medsweep's two plugins use, and nothing else.

Hydra documents its plugin interfaces (Sweeper, Launcher, Callback, ``hydra.core.utils``), not the code
below: the basic sweeper medsweep's sweeper extends, the config loader _compose.py composes with, the
singletons a launcher's worker restores, the callbacks Hydra instantiated for the app. They are used only
through this module, and ``INTERNALS`` lists each with the parameters it is called with;
tests/test_hydra_compat.py checks that list against the installed Hydra and OmegaConf and fails naming the
internal that moved or changed. pyproject.toml bounds hydra-core and omegaconf to the minor versions checked
(hydra-core 1.3.8, omegaconf 2.3.1). OmegaConf is here too: it is Hydra's config library, released with it.

The launcher imports it from the sweeper's package: one fence per library, shared by both plugins. Only
Hydra and OmegaConf are imported here (medsweep_sweeper.py imports it, and Hydra's plugin scan imports
that in every process).
"""

from __future__ import annotations

from typing import Any, List, Optional

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.override_parser.types import Override
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig
from omegaconf.nodes import ValueNode

__all__ = ["ConfigLoaderImpl", "basic_sweeper", "INTERNALS", "app_callbacks", "apply_overrides",
           "config_loader", "failed_job", "group_exists", "node_value", "overrides_dirname", "plugin_registry",
           "sweep_batches", "sweeper_overrides", "value_node", "with_plugin_registry"]

# (module, attribute path, the parameter names medsweep calls it with; None: not called, only used).
# What tests/test_hydra_compat.py checks in the installed versions.
INTERNALS: tuple[tuple[str, str, Optional[tuple[str, ...]]], ...] = (
    ("hydra._internal.core_plugins.basic_sweeper", "BasicSweeper.__init__", ("self", "max_batch_size", "params")),
    ("hydra._internal.core_plugins.basic_sweeper", "BasicSweeper.setup",
     ("self", "hydra_context", "task_function", "config")),
    ("hydra._internal.core_plugins.basic_sweeper", "BasicSweeper._parse_config", ("self",)),
    ("hydra._internal.core_plugins.basic_sweeper", "BasicSweeper.split_arguments", ("overrides", "max_batch_size")),
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl.__init__", ("self", "config_search_path")),
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl.load_sweep_config",
     ("self", "master_config", "sweep_overrides")),
    ("hydra._internal.config_loader_impl", "ConfigLoaderImpl._apply_overrides_to_config", ("overrides", "cfg")),
    ("hydra._internal.config_loader_impl", "get_overrides_dirname",
     ("overrides", "exclude_keys", "item_sep", "kv_sep")),
    ("hydra._internal.config_repository", "ConfigRepository.group_exists", ("self", "config_path")),
    ("hydra._internal.callbacks", "Callbacks.__init__", ("self", "config")),
    ("hydra.core.singleton", "Singleton._instances", None),
    # JobReturn's fields; a failed job's exception is its private ``_return_value``.
    ("hydra.core.utils", "JobReturn.__init__",
     ("self", "overrides", "cfg", "hydra_cfg", "working_dir", "task_name", "status", "_return_value")),
    ("hydra.core.singleton", "Singleton.get_state", ()),
    ("omegaconf.dictconfig", "DictConfig._get_node",
     ("self", "key", "validate_access", "validate_key", "throw_on_missing_value", "throw_on_missing_key")),
    ("omegaconf.nodes", "ValueNode._value", ("self",)),
)


# --- The basic sweeper (medsweep's sweeper is Hydra's basic sweeper plus the sweep's own needs) ---

def basic_sweeper() -> type:
    """Hydra's BasicSweeper class as Hydra's module holds it now, for a subclass to derive from. Hydra's
    plugin scan executes its core plugin modules again (a new class each time) and BasicSweeper's
    ``__init__`` names its module's current class (``super(BasicSweeper, self)``): a subclass of a class
    held here since an earlier scan fails to initialise. The scan executes medsweep_sweeper.py again after
    them, so the class statement there calls this each time."""
    from hydra._internal.core_plugins import basic_sweeper as module

    return module.BasicSweeper


def sweeper_overrides(sweeper: Any) -> List[str]:
    """The sweep's overrides from ``hydra.sweeper.params``, as the basic sweeper reads them."""
    return sweeper._parse_config()


def sweep_batches(overrides: List[Override], max_batch_size: Optional[int]) -> List[List[List[str]]]:
    """Every job of the sweep (the cartesian product of ``overrides``), in the basic sweeper's order and
    batches."""
    return basic_sweeper().split_arguments(overrides, max_batch_size)


# --- The config loader (_compose.py composes each group choice once with it) ---

def config_loader(search_path: ConfigSearchPath) -> ConfigLoaderImpl:
    """Hydra's own config loader for ``search_path``, as Hydra builds it for an app."""
    return ConfigLoaderImpl(config_search_path=search_path)


def group_exists(loader: ConfigLoaderImpl, key: str) -> bool:
    """Whether ``key`` names a config group in ``loader``'s search path."""
    return loader.repository.group_exists(key)


def apply_overrides(overrides: List[Override], cfg: DictConfig) -> None:
    """Apply value overrides to a composed ``cfg`` in place, exactly as Hydra's composition does."""
    ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)


def overrides_dirname(overrides: List[Override], kv_sep: str, item_sep: str, exclude_keys: List[str]) -> str:
    """``hydra.job.override_dirname`` of a job with ``overrides``, as Hydra computes it."""
    return get_overrides_dirname(overrides=overrides, kv_sep=kv_sep, item_sep=item_sep, exclude_keys=exclude_keys)


# --- The app's callbacks (medsweep's range checks are one of them: medsweep.job.callbacks.CheckConfig) ---

def app_callbacks(callbacks: Any) -> list:
    """The callback objects Hydra instantiated from the app's ``hydra.callbacks`` (``callbacks``: the
    HydraContext's). Read strictly: were the attribute renamed, silently finding none would launch a
    medsweep sweep unchecked."""
    return list(callbacks.callbacks)


# --- Singletons (what a launcher's worker restores before each job) ---

def plugin_registry() -> Any:
    """This process's Hydra plugin registry, where it has built one; None otherwise."""
    from hydra.core.plugins import Plugins

    return Singleton._instances.get(Plugins)


def with_plugin_registry(singleton_state: dict, plugins: Any) -> dict:
    """``singleton_state`` (``Singleton.get_state()``, which leaves the plugin registry out) with ``plugins``
    put back, so that ``Singleton.set_state`` keeps it instead of scanning every plugin module again."""
    from hydra.core.plugins import Plugins

    return {**singleton_state, "instances": {**singleton_state["instances"], Plugins: plugins}}


# --- Results ---

def failed_job(overrides: List[str], error: BaseException, **fields: Any) -> JobReturn:
    """The JobReturn of a job that failed with ``error`` (its ``return_value`` raises it), as Hydra's
    ``run_job`` makes one; ``fields``: JobReturn's other fields (cfg, working_dir, task_name)."""
    return JobReturn(overrides=overrides, status=JobStatus.FAILED, _return_value=error, **fields)


# --- OmegaConf nodes (a value override applied to a copy of the composed config, and read back) ---

def value_node(parent: Any, key: str) -> Optional[ValueNode]:
    """The value node ``key`` of the DictConfig ``parent``; None where it is a container, or absent."""
    node = parent._get_node(key) if isinstance(parent, DictConfig) else None
    return node if isinstance(node, ValueNode) else None


def node_value(node: ValueNode) -> Any:
    """The value a value node holds, converted to its type (an int set on a float key is a float)."""
    return node._value()
