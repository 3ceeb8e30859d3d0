"""The estimators a job can train: one module per `estimator` config (conf/estimator/<name>.yaml), each
with one :class:`~medsweep.estimators.base.Estimator` class that knows everything about it.

Every module of this package is imported here, so adding an estimator is adding its module and its YAML.
"""

from __future__ import annotations

import importlib
import pkgutil

from medsweep.estimators.base import REGISTRY, Estimator, estimator_class

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "Estimator", "estimator_class"]
