"""Compose a sweep's job configs without composing the same config twice.

Hydra composes every job of a sweep from scratch (~70 ms: read the YAML files, build the defaults list,
merge). Jobs of one sweep mostly differ in values (``seed=3``, ``trainer.folds=10``), not in which
config-group options they use (``model=als``). This loader composes each distinct choice of group options
once per process, then applies the job's value overrides and records its overrides exactly as Hydra's
``load_sweep_config`` does (same config, same ``hydra.overrides``, same ``override_dirname``; checked
against Hydra in tests/test_compose.py). Overrides that change how Hydra composes or copies the
environment (``hydra.searchpath``, ``hydra.job.env_*``) send the job to Hydra's own composition. It is
handed to the launcher in place of Hydra's loader, so the workers of any launcher use it too.

The sweep's own process needs less than a config per job: its range checks and its dry run read only the
job's values outside the ``hydra`` node. ``load_job_values`` gives those without composing or copying a
config per job (a 10,000-job sweep would spend ~80 s on that): each group choice's config is composed once
and held as plain values, each distinct value override (``seed=7``) is checked and converted once by Hydra's
own override code on a copy of it, and a job's values are the group's plain values with its overrides set.
Whatever that cannot reproduce exactly (adding or deleting keys, lists and dicts as values, interpolations,
missing values) is composed as Hydra does it.

Hydra's config loader and OmegaConf's nodes are private API: reached only through _hydra_compat.py.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Iterator, List, Optional

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import MISSING, DictConfig, OmegaConf

from ._hydra_compat import (ConfigLoaderImpl, apply_overrides, config_loader, group_exists, node_value,
                            overrides_dirname, value_node)

# Per process, kept between a worker's jobs: (loader token, group overrides) -> composed config, and
# token -> Hydra's loader rebuilt from its search path.
_COMPOSED: dict[tuple, DictConfig] = {}
_LOADERS: dict[str, ConfigLoaderImpl] = {}
# Where groups are found, and which environment variables a job copies: left to Hydra itself.
_HYDRA_ONLY = ("hydra.searchpath", "hydra.job.env_copy", "hydra.job.env_set")
_COMPOSE = object()  # a value override that load_job_values leaves to Hydra's composition


class JobValues:
    """A job's config without its ``hydra`` node, as plain values read the way a DictConfig is read
    (``cfg.trainer.folds``, ``cfg.estimator.get("name")``, ``cfg.get("data_dir")``): what the range checks
    (schema.config_errors) and the dry run's listing read."""

    __slots__ = ("_tree",)

    def __init__(self, tree: dict) -> None:
        self._tree = tree

    @staticmethod
    def _wrap(value: Any) -> Any:
        if isinstance(value, dict):
            return JobValues(value)
        return list(value) if isinstance(value, list) else value

    def __getattr__(self, name: str) -> Any:
        try:
            return self._wrap(self._tree[name])
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._wrap(self._tree[key])

    def get(self, key: str, default: Any = None) -> Any:
        return self._wrap(self._tree[key]) if key in self._tree else default

    def __contains__(self, key: object) -> bool:
        return key in self._tree

    def __iter__(self) -> Iterator[str]:
        return iter(self._tree)

    def __len__(self) -> int:
        return len(self._tree)

    def keys(self) -> Any:
        return self._tree.keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, self._wrap(v)) for k, v in self._tree.items())

    def to_dict(self) -> dict:
        return copy.deepcopy(self._tree)

    def __repr__(self) -> str:
        return repr(self._tree)


def _plain(tree: Any) -> bool:
    """No interpolation and no missing value anywhere in ``tree`` (OmegaConf.to_container, unresolved)."""
    if isinstance(tree, dict):
        return all(_plain(v) for v in tree.values())
    if isinstance(tree, list):
        return all(_plain(v) for v in tree)
    return not (isinstance(tree, str) and ("${" in tree or tree == MISSING))


def _with(tree: dict, path: list[str], value: Any) -> dict:
    """``tree`` with ``path`` set to ``value``; the dicts on the path are copied, the rest shared."""
    out = dict(tree)
    out[path[0]] = value if len(path) == 1 else _with(tree[path[0]], path[1:], value)
    return out


class _GroupValues:
    """One group choice's composed config as plain values, and its value overrides checked and converted."""

    def __init__(self, composed: DictConfig) -> None:
        self._composed = composed
        self._scratch = copy.deepcopy(composed)  # where each value override is applied, as Hydra applies it
        tree = OmegaConf.to_container(composed, resolve=False)
        tree.pop("hydra", None)
        self.tree: Optional[dict] = tree if _plain(tree) else None
        self._converted: dict[str, Any] = {}

    def value(self, override: Override) -> Any:
        """The value ``override`` gives its key in a composed config (an int for a float key becomes a
        float, ...), or _COMPOSE."""
        line = override.input_line
        if line not in self._converted:
            self._converted[line] = self._convert(override)
        return self._converted[line]

    def _convert(self, override: Override) -> Any:
        value = override.value()
        plain = value is None or isinstance(value, (bool, int, float, str))
        if (override.type != OverrideType.CHANGE or override.package is not None or not plain
                or (isinstance(value, str) and ("${" in value or value == MISSING))):
            return _COMPOSE
        key = override.key_or_group
        parent_key, _, last = key.rpartition(".")
        try:
            parent = OmegaConf.select(self._scratch, parent_key) if parent_key else self._scratch
            node = value_node(parent, last)
            if node is None:
                return _COMPOSE
            apply_overrides([override], self._scratch)
        except Exception:  # noqa: BLE001 - Hydra's composition of the job raises it, with Hydra's message
            return _COMPOSE
        if value_node(parent, last) is not node:  # replaced, not set: start the next one from a fresh copy
            self._scratch = copy.deepcopy(self._composed)
            return _COMPOSE
        return node_value(node)


class SweepConfigLoader:
    """Hydra's ConfigLoader with ``load_sweep_config`` composing each group choice once per process."""

    def __init__(self, loader: ConfigLoaderImpl) -> None:
        self._token = uuid.uuid4().hex  # one sweep's cache entries, whatever process they land in
        self._search_path = loader.get_search_path()
        self._values_cache: dict = {}  # parsed lines, group keys, group values (this process only)
        _LOADERS[self._token] = loader

    # Every job of a sweep carries its loader to the worker: send the search path (~1 KB), not the loader
    # with its repository (~33 KB to pickle and unpickle per job); the worker rebuilds it once, when first
    # used (not while unpickling: Hydra registers its config sources only when the job starts).
    def __getstate__(self) -> dict:
        return {"_token": self._token, "_search_path": self._search_path}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _values_cache={})

    @property
    def _loader(self) -> ConfigLoaderImpl:
        if self._token not in _LOADERS:
            _LOADERS[self._token] = config_loader(self._search_path)
        return _LOADERS[self._token]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_token", "_search_path", "_values_cache"):
            raise AttributeError(name)
        return getattr(self._loader, name)

    def _needs_composing(self, override: Override) -> bool:
        # Hydra's own rule (defaults_list.Overrides): a group override unless the value is a dict. Whether a
        # key names a group is asked of the repository once per key and process.
        is_group = self._values_cache.setdefault("is_group", {})
        key = override.key_or_group
        if key not in is_group:
            is_group[key] = group_exists(self._loader, key)
        return is_group[key] and not isinstance(override.value(), dict)

    def _group_choice(self, master_config: DictConfig, job_overrides: List[Override]) -> tuple[tuple, list]:
        """The job's key in _COMPOSED (its group choices, composed there once per process) and its value
        overrides."""
        groups, values = [], []
        for override in job_overrides:
            (groups if self._needs_composing(override) else values).append(override)
        key = (self._token, tuple(o.input_line for o in groups))
        if key not in _COMPOSED:
            _COMPOSED[key] = self._loader.load_sweep_config(master_config, list(key[1]))
        return key, values

    def load_job_values(self, master_config: DictConfig, sweep_overrides: List[str]) -> Any:
        """The job's values outside the ``hydra`` node, exactly as ``load_sweep_config`` composes them (a
        JobValues, or the composed DictConfig itself where they could not be had without composing it).
        Raises what Hydra's composition raises for an override it refuses."""
        state = self._values_cache
        master_lines = tuple(OmegaConf.to_container(master_config.hydra.overrides.hydra))
        try:
            every = [self._parsed(state, line) for line in (*master_lines, *sweep_overrides)]
        except Exception:  # noqa: BLE001 - raised again, with Hydra's message, by its composition
            return self.load_sweep_config(master_config, list(sweep_overrides))
        if any(o.key_or_group.startswith(_HYDRA_ONLY) for o in every):
            return self.load_sweep_config(master_config, list(sweep_overrides))
        key, values = self._group_choice(master_config, every[len(master_lines):])
        known = state.setdefault("groups", {})
        if key not in known:
            known[key] = _GroupValues(_COMPOSED[key])
        group = known[key]
        tree = group.tree
        for override in values:
            value = group.value(override) if tree is not None else _COMPOSE
            if value is _COMPOSE:
                return self.load_sweep_config(master_config, list(sweep_overrides))
            if not override.key_or_group.startswith("hydra."):
                tree = _with(tree, override.key_or_group.split("."), value)
        return JobValues(tree)

    def _parsed(self, state: dict, line: str) -> Override:
        lines = state.setdefault("lines", {})
        if line not in lines:
            if "parser" not in state:
                state["parser"] = OverridesParser.create(config_loader=self._loader)
            lines[line] = state["parser"].parse_overrides([line])[0]
        return lines[line]

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: List[str]) -> DictConfig:
        parser = OverridesParser.create(config_loader=self._loader)
        master_lines = list(OmegaConf.to_container(master_config.hydra.overrides.hydra))
        every = parser.parse_overrides(master_lines + list(sweep_overrides))
        if any(o.key_or_group.startswith(_HYDRA_ONLY) for o in every):
            return self._loader.load_sweep_config(master_config, list(sweep_overrides))
        key, values = self._group_choice(master_config, every[len(master_lines):])
        cfg = copy.deepcopy(_COMPOSED[key])

        # What Hydra's _load_configuration_impl does after composing, for the value overrides.
        apply_overrides(values, cfg)
        task = [o for o in every if not o.is_hydra_override()]
        cfg.hydra.overrides.hydra = [o.input_line for o in every if o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in task]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = overrides_dirname(task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep,
                                                           exclude_keys=dirname.exclude_keys)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        return cfg
