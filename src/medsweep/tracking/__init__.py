"""Experiment tracking: the sweep's own process logs the sweep and its jobs to a tracking store from the
files the jobs wrote (jobs never touch a store).

backend.py: what a backend implements (connect, sweep started, job ended, sweep ended); mlflow/: the MLflow
backend; callback.py: the Hydra callback (conf/tracking/mlflow.yaml registers it); offline.py: ``medsweep
track`` of a sweep that has ended (its arguments: medsweep.cli.track).

``medsweep.tracking.TrackMLflow`` stays importable here: configs written for medsweep 0.1 name it.
"""

from medsweep.tracking.backend import TrackingError
from medsweep.tracking.callback import TrackMLflow

__all__ = ["TrackMLflow", "TrackingError"]
