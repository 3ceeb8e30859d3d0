"""MLflow's side of experiment tracking (tracker.py decides what to log; this module writes it): open a
store, create and update runs, upload artifacts, register a model version.

Imported only when ``tracking=mlflow`` is used (or ``medsweep track``): importing MLflow takes ~2 s.
Every error of the store is raised as :class:`medsweep.tracking.backend.TrackingError` with one line.
"""

from __future__ import annotations

import os

# MLflow 3 reports usage to mlflow-telemetry.io unless told not to; a hospital's sweeps should not call out.
# The user's own setting wins. Set before MLflow is imported (it reads it then).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# No progress bars in a sweep's output when a model's files are copied.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import logging
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterable, Optional

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.validation import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

from medsweep.tracking.backend import TrackingError, one_line

PROBE_TIMEOUT_S = 5


def _http(uri: str) -> bool:
    return urllib.parse.urlparse(uri).scheme in ("http", "https")


def _probe(uri: str, experiment: str) -> None:
    """A server that does not answer within seconds is unreachable. (MLflow's own client retries a refused
    connection 7 times with backoff: minutes.) Any HTTP answer, even 401, means it is there."""
    url = f"{uri}/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": experiment})
    try:
        urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"MLflow tracking server {uri} is unreachable ({one_line(reason)})") from None


def _sqlite_file(uri: str) -> Optional[Path]:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


class Store:
    """One experiment of one MLflow tracking store (and its model registry)."""

    def __init__(self, uri: str, experiment: str):
        self.uri, self.experiment = uri, experiment
        if _http(uri):
            # Bounded waits when a server goes away mid-sweep; the user's own settings win.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
            _probe(uri, experiment)
        db = _sqlite_file(uri)
        if db is not None:
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise TrackingError(f"cannot create the folder of the MLflow store {db}: {exc.strerror}") from None
        try:
            self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            self.experiment_id = self._experiment(db)
            # A write, so that a read-only store is found now, not after the sweep.
            self.client.set_experiment_tag(self.experiment_id, "medsweep.last_check", str(int(time.time())))
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow, SQLAlchemy, requests: whatever the store said
            raise TrackingError(f"MLflow store {uri} cannot be used: {type(exc).__name__}: {one_line(exc)}") from None

    def _experiment(self, db: Optional[Path]) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            # A SQLite store keeps its artifacts beside its database file, not in whatever directory the
            # sweep happened to start from (MLflow's default, ./mlruns).
            location = None
            if db is not None:
                safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.experiment).strip("._") or "experiment"
                location = (db.parent / "mlartifacts" / safe).as_uri()
            try:
                # The UI opens it on its runs (model training), not on GenAI traces.
                return self.client.create_experiment(self.experiment, artifact_location=location,
                                                     tags={"mlflow.experimentKind": "custom_model_development"})
            except Exception:  # noqa: BLE001 - created meanwhile by another sweep: use it
                found = self.client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise TrackingError(f"MLflow experiment {self.experiment!r} in {self.uri} is deleted: restore it "
                                "(mlflow experiments restore) or choose another with tracking.experiment=<name>")
        return found.experiment_id

    # -- runs --------------------------------------------------------------------------------------------
    def run_params(self, run_id: str) -> Optional[dict[str, str]]:
        """The params of an existing, not deleted run of this experiment; None where there is no such run."""
        try:
            run = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001 - RESOURCE_DOES_NOT_EXIST (or a store emptied since)
            return None
        if run.info.lifecycle_stage != "active" or run.info.experiment_id != self.experiment_id:
            return None
        return dict(run.data.params)

    def create_run(self, name: str, start_ms: Optional[int], tags: dict[str, str]) -> str:
        return self.client.create_run(self.experiment_id, start_time=start_ms, tags=tags, run_name=name).info.run_id

    def write(self, run_id: str, params: dict[str, str], metrics: Iterable[tuple[str, float, int]],
              tags: dict[str, str], timestamp_ms: int) -> None:
        """Params, metrics (key, value, step) and tags in as few batches as MLflow's limits allow."""
        params_tags = [Param(k, v) for k, v in params.items()] + [RunTag(k, v) for k, v in tags.items()]
        metrics = [Metric(k, v, timestamp_ms, step) for k, v, step in metrics]
        while params_tags or metrics:
            chunk, params_tags = params_tags[:MAX_PARAMS_TAGS_PER_BATCH], params_tags[MAX_PARAMS_TAGS_PER_BATCH:]
            room = MAX_METRICS_PER_BATCH - len(chunk)
            values, metrics = metrics[:room], metrics[room:]
            self.client.log_batch(run_id, metrics=values, params=[e for e in chunk if isinstance(e, Param)],
                                  tags=[e for e in chunk if isinstance(e, RunTag)], synchronous=True)

    def delete_tags(self, run_id: str, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                self.client.delete_tag(run_id, key)
            except Exception:  # noqa: BLE001 - not there: nothing to delete
                pass

    def upload(self, run_id: str, files: Iterable[tuple[Path, Optional[str]]]) -> None:
        """Upload files (path, folder in the run's artifacts or None) in one call: links to them, staged in a
        temporary folder (log_artifact looks the run up again for every file)."""
        files = list(files)
        if not files:
            return
        with tempfile.TemporaryDirectory(prefix="medsweep-mlflow-") as tmp:
            try:
                for path, folder in files:
                    link = Path(tmp, folder or "", path.name)
                    link.parent.mkdir(exist_ok=True)
                    link.symlink_to(Path(path).resolve())
            except OSError:  # no symbolic links here: one file at a time
                for path, folder in files:
                    self.client.log_artifact(run_id, str(path), folder)
                return
            self.client.log_artifacts(run_id, tmp)

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def end(self, run_id: str, status: str, end_ms: Optional[int]) -> None:
        self.client.set_terminated(run_id, status, end_time=end_ms)

    # -- model registry ----------------------------------------------------------------------------------
    def register(self, name: str, run_id: str, model_file: Path, metrics_file: Path,
                 requirements: list[str], description: str, tags: dict[str, str]) -> str:
        """A version of registered model ``name`` for the job's model, logged with the run as a pyfunc model
        (models from code: pyfunc.py, no pickle); the existing version where this run has one."""
        from medsweep.tracking.mlflow import pyfunc as tracking_pyfunc
        try:
            self.client.get_registered_model(name)
        except Exception:  # noqa: BLE001 - RESOURCE_DOES_NOT_EXIST
            self.client.create_registered_model(name, description=description)
        for version in self.client.search_model_versions(f"name='{name}'"):
            if version.run_id == run_id:
                return version.version
        import mlflow.pyfunc

        # No signature: MLflow's schema enforcement refuses an integer column typed "double" (an age given as
        # 64 rather than 64.0), and the types of a CSV's columns are not fixed. It would warn that it could
        # not infer one from the type hints; that is intended.
        quiet = logging.getLogger("mlflow.pyfunc")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pyfunc_model"
            try:
                mlflow.pyfunc.save_model(
                    str(path), python_model=tracking_pyfunc.__file__,
                    artifacts={tracking_pyfunc.MODEL_ARTIFACT: str(model_file),
                               tracking_pyfunc.METRICS_ARTIFACT: str(metrics_file)},
                    pip_requirements=requirements)
            finally:
                quiet.setLevel(level)
            self.client.log_artifacts(run_id, str(path), "pyfunc_model")
        version = self.client.create_model_version(name, source=f"runs:/{run_id}/pyfunc_model", run_id=run_id,
                                                   tags=tags, description=description)
        return version.version
