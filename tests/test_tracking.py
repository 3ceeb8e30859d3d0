"""Experiment tracking with MLflow (medsweep.tracking): real sweeps with tracking=mlflow, their runs read back from
the store with MlflowClient and through a real `mlflow server`'s REST API."""

import contextlib
import json
import math
import pickle
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402

from helpers import ROOT, metrics_of, run_train, wait_for  # noqa: E402
from hydra.experimental.callback import Callback  # noqa: E402

from medsweep.cli.track import main as track_main  # noqa: E402
from medsweep.tracking import TrackingError, TrackMLflow  # noqa: E402
from medsweep.tracking.backend import Backend, one_line  # noqa: E402
from medsweep.report.tracking_line import tracking_line as describe  # noqa: E402
from medsweep.tracking.mlflow.tracker import Tracker  # noqa: E402
from medsweep.tracking.mlflow.uri import resolve_uri  # noqa: E402

# 6 jobs, exactly 2 of which fail: breast_cancer has neither a bundled file nor a synthetic cohort. Every
# job's first attempt fails (injected, transient) and is retried once: 4 complete on their second attempt.
SIX_JOBS = ["model=breast_cancer,parkinsons,cardiovascular", "data.source=bundled,synthetic", "estimator=logreg",
            "trainer=fast", "eval.n_boot=100", "retries=1", "debug.fail_attempts=1"]
TINY = ["model=breast_cancer", "estimator=logreg", "trainer=fast", "eval.n_boot=0"]


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runs_of(uri: str, experiment: str = "medsweep") -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def parent_and_children(runs: list) -> tuple:
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The 6-job sweep, tracked into a SQLite store, registering each disease model's best job."""
    tmp = tmp_path_factory.mktemp("tracked")
    uri = sqlite_uri(tmp / "store" / "mlflow.db")
    sweep_dir = tmp / "sweep"
    args = [*SIX_JOBS, "tracking=mlflow", f"tracking.uri={uri}", "tracking.register_best=true",
            f"hydra.sweep.dir={sweep_dir}"]
    proc = run_train("-m", *args)
    return {"dir": sweep_dir, "uri": uri, "proc": proc, "args": args}


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_a_nested_child_run_per_job(tracked):
    sweep_dir, proc = tracked["dir"], tracked["proc"]
    assert proc.returncode == 1, proc.stderr  # two jobs failed
    statuses = {n: metrics_of(sweep_dir / str(n))["status"] for n in range(6)}
    assert sorted(statuses.values()) == ["completed"] * 4 + ["failed"] * 2

    parents, children = parent_and_children(runs_of(tracked["uri"]))
    assert len(parents) == 1 and len(children) == 6
    parent = parents[0]
    assert parent.info.status == "FAILED" and parent.data.tags["status"] == "failed"
    assert parent.data.params["launcher"] == "MedsweepJoblibLauncher" and parent.data.params["n_jobs"]
    assert "data.source=bundled,synthetic" in parent.data.params["command"]
    assert parent.data.metrics["jobs.completed"] == 4 and parent.data.metrics["jobs.failed"] == 2
    client = MlflowClient(tracked["uri"])
    assert {"summary.csv", "summary.json", "summary.md", "report.html", "sweep.json"} <= {
        a.path for a in client.list_artifacts(parent.info.run_id)}

    recorded = json.loads((sweep_dir / "tracking.json").read_text())
    assert recorded["status"] == "logged" and recorded["parent"] == parent.info.run_id
    assert sorted(recorded["jobs"].values()) == sorted(r.info.run_id for r in children)
    for run in children:
        tags, num = run.data.tags, run.data.tags["job_num"]
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        job_dir = sweep_dir / num
        record = metrics_of(job_dir)
        assert recorded["jobs"][num] == run.info.run_id
        assert tags["status"] == record["status"] and tags["job_dir"] == str(job_dir)
        assert tags["model"] == record["model"] and tags["estimator"] == "logreg"
        assert tags["attempts"] == "2"  # the retry: one run, its final result
        # params: the job's resolved config, flattened
        assert run.data.params["trainer.folds"] == "3" and run.data.params["estimator.name"] == "logreg"
        assert run.data.params["data.source"] == record_config(job_dir)["data"]["source"]
        assert run.data.params["seed"] == "0" and "retries" not in run.data.params
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"metrics.json", "train.log", "hydra"} <= artifacts
        if record["status"] == "failed":
            assert run.info.status == "FAILED"
            assert tags["error"] == one_line(record["error"]) and tags["error_type"] == record["error_type"]
            continue
        assert run.info.status == "FINISHED" and "error" not in tags
        assert tags["data_sha256"] == record["data"]["sha256"] and tags["data_source"] == record["data"]["source"]
        assert {"predictions.csv", "model.skops", "roc.png", "calibration.png", "history.csv"} <= artifacts
        for name, stats in record["metrics"].items():
            for stat in ("mean", "std", "pooled", "lower", "upper"):
                assert run.data.metrics[f"{name}.{stat}"] == pytest.approx(stats[stat], rel=1e-12, abs=1e-15)
            folds = client.get_metric_history(run.info.run_id, f"{name}.fold")
            assert [m.value for m in sorted(folds, key=lambda m: m.step)] == pytest.approx(stats["folds"])
        history = client.get_metric_history(run.info.run_id, "history/fold_0/val_roc_auc")
        assert [m.value for m in history] == pytest.approx(history_column(job_dir, 0, "val_roc_auc"))

    # One writer: the jobs never opened a store of their own.
    assert not list(sweep_dir.rglob("mlruns")) and not list(sweep_dir.rglob("*.db"))


def record_config(job_dir: Path) -> dict:
    import yaml

    return yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text())


def history_column(job_dir: Path, fold: int, column: str) -> list:
    import csv

    with open(job_dir / "history.csv", newline="") as f:
        return [float(r[column]) for r in csv.DictReader(f) if int(r["fold"]) == fold]


@pytest.mark.slow
def test_each_disease_models_best_job_is_registered_and_predicts(tracked):
    import mlflow.pyfunc
    import pandas as pd

    from medsweep.learn.persistence import load_model

    sweep_dir = tracked["dir"]
    client = MlflowClient(tracked["uri"], registry_uri=tracked["uri"])
    recorded = json.loads((sweep_dir / "tracking.json").read_text())
    registered = {m.name for m in client.search_registered_models()}
    assert registered == {"medsweep-parkinsons", "medsweep-cardiovascular"}  # breast_cancer: no completed job
    for model in ("parkinsons", "cardiovascular"):
        jobs = [n for n in range(6) if metrics_of(sweep_dir / str(n))["model"] == model]
        # The leaderboard's first job: ranked by the pooled out-of-fold value (the figure with an interval).
        best = max(jobs, key=lambda n: (metrics_of(sweep_dir / str(n))["metrics"]["roc_auc"]["pooled"], -n))
        (version,) = client.search_model_versions(f"name='medsweep-{model}'")
        assert version.run_id == recorded["jobs"][str(best)]
        summary = json.loads((sweep_dir / "summary.json").read_text())["jobs"]
        assert [r["job"] for r in summary if r["model"] == model and r.get("rank") == 1] == [best]
        files = {a.path for a in client.list_artifacts(version.run_id, "pyfunc_model")}
        assert "pyfunc_model/MLmodel" in files and not any(f.endswith(".pkl") for f in files)  # no pickle
    # The registered model loads through MLflow and predicts what the job's own model.skops predicts.
    job = next(n for n in range(6) if recorded["jobs"][str(n)] == version.run_id)
    record = metrics_of(sweep_dir / str(job))
    frame = pd.read_csv(ROOT / "src" / "medsweep" / "data" / "datasets" / "cleveland_heart.csv", na_values=["?"])
    X = frame[record["features"]["used"]].head(20)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(tracked["uri"])
    try:
        loaded = mlflow.pyfunc.load_model(f"models:/medsweep-cardiovascular/{version.version}")
        out = loaded.predict(X)
    finally:
        mlflow.set_tracking_uri(previous)
    expected = load_model(sweep_dir / str(job) / "model.skops").predict_proba(X)[:, 1]
    assert list(out.columns) == ["proba_0", "proba_1", "y_pred"]
    assert out["proba_1"].to_numpy() == pytest.approx(expected)


@pytest.mark.slow
def test_a_resumed_sweep_updates_its_runs_instead_of_adding_new_ones(tracked):
    sweep_dir, uri = tracked["dir"], tracked["uri"]
    before = json.loads((sweep_dir / "tracking.json").read_text())
    proc = run_train("-m", *tracked["args"], "resume=true")
    assert proc.returncode == 1, proc.stderr  # the two failing jobs ran again and failed again
    after = json.loads((sweep_dir / "tracking.json").read_text())
    assert after["parent"] == before["parent"] and after["jobs"] == before["jobs"]
    parents, children = parent_and_children(runs_of(uri))
    assert len(parents) == 1 and len(children) == 6
    assert parents[0].data.tags["resumes"] == "1" and parents[0].info.status == "FAILED"
    failed = [n for n in range(6) if metrics_of(sweep_dir / str(n))["status"] == "failed"]
    for n in failed:  # re-run: a new result in the same run
        assert after["logged"][str(n)]["record"] != before["logged"][str(n)]["record"]
    client = MlflowClient(uri, registry_uri=uri)
    assert len(client.search_model_versions("name='medsweep-parkinsons'")) == 1  # same best: not registered twice


@pytest.mark.slow
def test_unreachable_store_warns_then_the_sweep_is_tracked_later_once(tmp_path, capsys):
    dead = f"http://127.0.0.1:{closed_port()}"
    sweep_dir = tmp_path / "sweep"
    proc = run_train("-m", *TINY, "seed=0,1", "tracking=mlflow", f"tracking.uri={dead}", f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert output.count("MLflow tracking is off for this sweep") == 1 and dead in output
    assert [metrics_of(sweep_dir / str(n))["status"] for n in range(2)] == ["completed", "completed"]
    recorded = json.loads((sweep_dir / "tracking.json").read_text())
    assert recorded["status"] == "off" and f"medsweep track {sweep_dir}" in recorded["message"]
    assert "tracking was off" in describe(sweep_dir)

    uri = sqlite_uri(tmp_path / "later.db")
    assert track_main([str(sweep_dir), "--uri", uri]) == 0
    assert "2 new" in capsys.readouterr().out
    assert track_main([str(sweep_dir), "--uri", uri]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    parents, children = parent_and_children(runs_of(uri))
    assert len(parents) == 1 and len(children) == 2
    assert parents[0].info.status == "FINISHED" and {r.info.status for r in children} == {"FINISHED"}
    recorded = json.loads((sweep_dir / "tracking.json").read_text())
    assert recorded["uri"] == uri and recorded["previous"][0]["uri"] == dead  # the earlier store is kept


@pytest.mark.slow
def test_required_store_that_is_unreachable_refuses_the_sweep_before_any_job(tmp_path):
    sweep_dir = tmp_path / "sweep"
    proc = run_train("-m", *TINY, "seed=0,1", "tracking=mlflow", f"tracking.uri=http://127.0.0.1:{closed_port()}",
                     "tracking.required=true", f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 1
    assert "tracking.required=true, nothing was run" in proc.stderr
    assert not sweep_dir.exists()


@pytest.mark.slow
def test_a_single_run_logs_itself(tmp_path):
    uri = sqlite_uri(tmp_path / "mlflow.db")
    run_dir = tmp_path / "run"
    proc = run_train(*TINY, "tracking=mlflow", f"tracking.uri={uri}", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    (run,) = runs_of(uri)
    assert "mlflow.parentRunId" not in run.data.tags and run.info.status == "FINISHED"
    assert run.data.metrics["roc_auc.mean"] == metrics_of(run_dir)["metrics"]["roc_auc"]["mean"]
    assert json.loads((run_dir / "tracking.json").read_text())["jobs"] == {"run": run.info.run_id}


@contextlib.contextmanager
def mlflow_server(tmp_path: Path):
    """`mlflow server` on 127.0.0.1 only, stopped whatever happens."""
    port = closed_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", sqlite_uri(tmp_path / "server.db"),
         "--artifacts-destination", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "w"),
        env={**__import__("os").environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return urllib.request.urlopen(f"{url}/health", timeout=2).status == 200
            except OSError:
                return server.poll() is not None  # died: stop waiting
        assert wait_for(up, timeout=90) and server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.mark.slow
def test_submitit_jobs_are_tracked_by_the_parent_through_a_server(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    with mlflow_server(tmp_path) as url:
        proc = run_train("-m", *TINY, "seed=0,1", "hydra/launcher=local", "tracking=mlflow", f"tracking.uri={url}",
                         "tracking.required=true", f"hydra.sweep.dir={sweep_dir}")
        assert proc.returncode == 0, proc.stderr
        assert (sweep_dir / ".submitit").is_dir()
        experiment = json.loads(urllib.request.urlopen(
            f"{url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=medsweep", timeout=10).read())
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/runs/search", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"experiment_ids": [experiment["experiment"]["experiment_id"]], "max_results": 100}).encode())
        runs = json.loads(urllib.request.urlopen(request, timeout=10).read())["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [r for r, t in zip(runs, tags) if "mlflow.parentRunId" not in t]
    assert len(runs) == 3 and len(parents) == 1
    parent_id = parents[0]["info"]["run_id"]
    children = [t for t in tags if t.get("mlflow.parentRunId") == parent_id]
    assert sorted(t["job_dir"] for t in children) == [str(sweep_dir / "0"), str(sweep_dir / "1")]
    assert all(r["info"]["status"] == "FINISHED" for r in runs)
    assert json.loads((sweep_dir / "tracking.json").read_text())["parent"] == parent_id


# -- without subprocesses --------------------------------------------------------------------------------
def test_store_uri_is_made_absolute_and_the_file_store_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_uri(None, tmp_path) == f"sqlite:///{tmp_path}/multirun/mlflow.db"
    assert resolve_uri("sqlite:///runs/x.db", tmp_path) == f"sqlite:///{tmp_path}/runs/x.db"
    assert resolve_uri("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_uri("store.db", tmp_path) == f"sqlite:///{tmp_path}/store.db"
    assert resolve_uri("http://host:5000/", tmp_path) == "http://host:5000"
    assert resolve_uri("postgresql://u@db/mlflow", tmp_path) == "postgresql://u@db/mlflow"
    for bad in ("mlruns", "file:///tmp/mlruns", "sqlite:///:memory:"):
        with pytest.raises(TrackingError, match="not allowed"):
            resolve_uri(bad, tmp_path)


def test_no_mlflow_without_tracking(compose_cfg):
    code = ("import sys, medsweep.tracking, medsweep.tracking.mlflow.tracker, "
            "medsweep.cli.track; assert 'mlflow' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        plain = compose(config_name="train", return_hydra_config=True)
        tracked = compose(config_name="train", overrides=["tracking=mlflow"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert plain.tracking is None and "track_mlflow" not in plain.hydra.callbacks
    assert tracked.tracking.experiment == "medsweep" and tracked.tracking.uri is None
    assert tracked.hydra.callbacks.track_mlflow._target_ == "medsweep.tracking.callback.TrackMLflow"


def test_jobs_never_get_the_tracker():
    # Launchers pickle the callbacks with each job: a worker gets a bare callback, and there is no job hook.
    callback = TrackMLflow()
    callback.backend = Tracker("sqlite:////nowhere/mlflow.db")
    assert pickle.loads(pickle.dumps(callback)).backend is None
    for hook in ("on_job_start", "on_job_end"):
        assert getattr(TrackMLflow, hook) is getattr(Callback, hook)


def write_job(job_dir: Path, status: str, **fields) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    record = {"status": status, "model": "breast_cancer", "estimator": "logreg", "task": "classification",
              "primary_metric": "roc_auc", "greater_is_better": True, "attempts": 1,
              "started_at": "2026-11-30T10:00:00+00:00", "finished_at": "2026-11-30T10:00:05+00:00", **fields}
    (job_dir / "metrics.json").write_text(json.dumps(record))


def test_logging_a_job_is_idempotent_and_a_later_status_updates_its_run(tmp_path):
    sweep_dir = tmp_path / "sweep"
    uri = sqlite_uri(tmp_path / "mlflow.db")
    write_job(sweep_dir / "0", "failed", error="boom\n  second line", error_type="ValueError")
    write_job(sweep_dir / "1", "timeout", error="time limit", error_type="JobTimeout")
    write_job(sweep_dir / "2", "interrupted", error="sweep interrupted", error_type="Interrupted")
    write_job(sweep_dir / "3", "running")
    tracker = Tracker(uri, "unit", start_dir=tmp_path)
    tracker.connect()
    tracker.attach(sweep_dir)
    assert [tracker.log_job(str(n), sweep_dir / str(n)) for n in range(4)] == ["new", "new", "new", "pending"]
    assert tracker.log_job("0", sweep_dir / "0") == "unchanged"
    client = MlflowClient(uri)
    runs = {r.data.tags["job_num"]: r for r in runs_of(uri, "unit") if "job_num" in r.data.tags}
    assert {n: r.info.status for n, r in runs.items()} == {"0": "FAILED", "1": "KILLED", "2": "KILLED"}
    assert runs["0"].data.tags["error"] == "boom second line"

    write_job(sweep_dir / "0", "completed", finished_at="2026-11-30T11:00:00+00:00",
              metrics={"roc_auc": {"mean": 0.9, "std": 0.01, "folds": [0.89, 0.91], "pooled": 0.9, "lower": 0.8,
                                   "upper": 0.95}})
    assert tracker.log_job("0", sweep_dir / "0") == "updated"
    run = client.get_run(runs["0"].info.run_id)
    assert run.info.status == "FINISHED" and "error" not in run.data.tags
    assert run.data.metrics["roc_auc.mean"] == 0.9 and run.data.tags["status"] == "completed"
    assert math.isclose(run.data.metrics["roc_auc.upper"], 0.95)
    tracker.flush()  # as the watcher does after each look at the jobs
    assert "3 jobs logged as they ended" in describe(sweep_dir)  # what a summary written now says
    (sweep_dir / "pareto_front.csv").write_text("job,roc_auc,brier\n0,0.9,0.1\n")  # a search's, several objectives
    result = tracker.sweep_ended(sweep_dir)
    assert result["logged"] == 3 and len(runs_of(uri, "unit")) == 4  # a parent and three children, no more
    assert describe(sweep_dir).startswith("MLflow: 3 of 4 jobs")
    (parent,), _ = parent_and_children(runs_of(uri, "unit"))
    assert "pareto_front.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}  # with the summaries


def test_track_refuses_what_is_not_a_sweep(tmp_path, capsys):
    assert track_main([str(tmp_path), "--uri", sqlite_uri(tmp_path / "x.db")]) == 2
    assert "neither a sweep directory" in capsys.readouterr().err


def test_a_subscriber_logs_each_job_of_the_sweep_through_job_ended(tmp_path):
    # What a watcher of finished jobs calls (the callback's poller does today): the job's own run, with the
    # overrides sweep.json lists for it less run control; nothing for a folder outside the sweep.
    sweep_dir = tmp_path / "sweep"
    write_job(sweep_dir / "0", "completed")
    write_job(sweep_dir / "1", "running")
    (sweep_dir / "sweep.json").write_text(json.dumps({"command": "train.py -m seed=0,1", "jobs": [
        {"num": 0, "dir": "0", "overrides": ["seed=0", "retries=1"]},
        {"num": 1, "dir": "1", "overrides": ["seed=1"]}]}))
    uri = sqlite_uri(tmp_path / "mlflow.db")
    tracker = Tracker(uri, "unit", start_dir=tmp_path)
    assert isinstance(tracker, Backend)
    assert tracker.job_ended(sweep_dir / "0") == "off"  # no store open yet
    tracker.connect()
    tracker.sweep_started(sweep_dir)
    assert [tracker.job_ended(sweep_dir / n) for n in ("0", "0", "1")] == ["new", "unchanged", "pending"]
    write_job(tmp_path / "other" / "0", "completed")
    assert tracker.job_ended(tmp_path / "other" / "0") == "off"
    parents, (run,) = parent_and_children(runs_of(uri, "unit"))  # the sweep's run, opened for its first job
    assert run.data.tags["job_num"] == "0" and run.data.params["overrides"] == "seed=0"
    assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
    assert parents[0].data.tags["mlflow.source.name"] == run.data.tags["mlflow.source.name"] == "medsweep run"
    assert json.loads((sweep_dir / "tracking.json").read_text())["jobs"] == {"0": run.info.run_id}
