"""Compose a sweep's job configs without composing the same config twice.

Hydra composes every job of a sweep from scratch (~70 ms: read the YAML files, build the defaults list,
merge). Jobs of one sweep mostly differ in values (``seed=3``, ``trainer.folds=10``), not in which
config-group options they use (``model=als``). This loader composes each distinct choice of group options
once per process, then applies the job's value overrides and records its overrides exactly as Hydra's
``load_sweep_config`` does (same config, same ``hydra.overrides``, same ``override_dirname``; checked
against Hydra in tests/test_compose.py). Overrides that change how Hydra composes or copies the
environment (``hydra.searchpath``, ``hydra.job.env_*``) send the job to Hydra's own composition. It is
handed to the launcher in place of Hydra's loader, so the workers of any launcher use it too.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, List

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf

# Per process, kept between a worker's jobs: (loader token, group overrides) -> composed config, and
# token -> Hydra's loader rebuilt from its search path.
_COMPOSED: dict[tuple, DictConfig] = {}
_LOADERS: dict[str, ConfigLoaderImpl] = {}
# Where groups are found, and which environment variables a job copies: left to Hydra itself.
_HYDRA_ONLY = ("hydra.searchpath", "hydra.job.env_copy", "hydra.job.env_set")


class SweepConfigLoader:
    """Hydra's ConfigLoader with ``load_sweep_config`` composing each group choice once per process."""

    def __init__(self, loader: ConfigLoaderImpl) -> None:
        self._token = uuid.uuid4().hex  # one sweep's cache entries, whatever process they land in
        self._search_path = loader.get_search_path()
        _LOADERS[self._token] = loader

    # Every job of a sweep carries its loader to the worker: send the search path (~1 KB), not the loader
    # with its repository (~33 KB to pickle and unpickle per job); the worker rebuilds it once, when first
    # used (not while unpickling: Hydra registers its config sources only when the job starts).
    def __getstate__(self) -> dict:
        return {"_token": self._token, "_search_path": self._search_path}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def _loader(self) -> ConfigLoaderImpl:
        if self._token not in _LOADERS:
            _LOADERS[self._token] = ConfigLoaderImpl(config_search_path=self._search_path)
        return _LOADERS[self._token]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_token", "_search_path"):
            raise AttributeError(name)
        return getattr(self._loader, name)

    def _needs_composing(self, override: Override) -> bool:
        # Hydra's own rule (defaults_list.Overrides): a group override unless the value is a dict.
        return self._loader.repository.group_exists(override.key_or_group) and not isinstance(override.value(), dict)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: List[str]) -> DictConfig:
        parser = OverridesParser.create(config_loader=self._loader)
        master_lines = list(OmegaConf.to_container(master_config.hydra.overrides.hydra))
        every = parser.parse_overrides(master_lines + list(sweep_overrides))
        if any(o.key_or_group.startswith(_HYDRA_ONLY) for o in every):
            return self._loader.load_sweep_config(master_config, list(sweep_overrides))
        groups, values = [], []
        for override in every[len(master_lines):]:
            (groups if self._needs_composing(override) else values).append(override)
        key = (self._token, tuple(o.input_line for o in groups))
        if key not in _COMPOSED:
            _COMPOSED[key] = self._loader.load_sweep_config(master_config, list(key[1]))
        cfg = copy.deepcopy(_COMPOSED[key])

        # What Hydra's _load_configuration_impl does after composing, for the value overrides.
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        task = [o for o in every if not o.is_hydra_override()]
        cfg.hydra.overrides.hydra = [o.input_line for o in every if o.is_hydra_override()]
        cfg.hydra.overrides.task = [o.input_line for o in task]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=task, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep, exclude_keys=dirname.exclude_keys)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        return cfg
