"""The module names of medsweep 0.1 before its modules became packages (issue 23), kept importable.

A model registered in MLflow by the older layout runs its ``pyfunc`` file when it is loaded, and that file
imports ``medsweep.job_files``, ``medsweep.persistence``, ``medsweep.predict`` and ``medsweep.metrics``;
scripts and notebooks may import the others. Each old name resolves to the module that holds its code now
(``import medsweep.job_files`` gives ``medsweep.record.files``). Nothing in medsweep itself uses these names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# old module -> module now
RENAMED = {
    "medsweep.job_files": "medsweep.record.files",
    "medsweep.outputs": "medsweep.record.outputs",
    "medsweep.job_watch": "medsweep.record.watch",
    "medsweep.schema": "medsweep.config.schema",
    "medsweep.data_cache": "medsweep.data.cache",
    "medsweep.synthetic": "medsweep.data.synthetic",
    "medsweep.splitting": "medsweep.learn.splitting",
    "medsweep.training": "medsweep.learn.training",
    "medsweep.operating_point": "medsweep.learn.operating_point",
    "medsweep.persistence": "medsweep.learn.persistence",
    "medsweep.metrics": "medsweep.evaluate.metrics",
    "medsweep.evaluation": "medsweep.evaluate.evaluation",
    "medsweep.selection": "medsweep.evaluate.selection",
    "medsweep.task": "medsweep.job.pipeline",
    "medsweep.job_control": "medsweep.job.control",
    "medsweep.callbacks": "medsweep.job.callbacks",
    "medsweep.summarize": "medsweep.report.summarize",
    "medsweep.compare": "medsweep.report.compare",
    "medsweep.plots": "medsweep.report.plots",
    "medsweep.model_card": "medsweep.report.model_card",
    "medsweep.tracking_mlflow": "medsweep.tracking.mlflow.store",
    "medsweep.tracking_pyfunc": "medsweep.tracking.mlflow.pyfunc",
    "medsweep.predict": "medsweep.tools.predict",
    "medsweep.reproduce": "medsweep.tools.reproduce",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name not in RENAMED:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return importlib.import_module(RENAMED[spec.name])

    def exec_module(self, module):
        """The module ran when it was imported under its own name."""


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
