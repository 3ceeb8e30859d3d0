"""The MLflow backend: logs a sweep directory (a parent run, a child run per job) or a single run's
directory to one experiment of one store, from the files the jobs wrote. Run ids are kept in
``<sweep dir>/tracking.json``: logging a job whose files have not changed does nothing, a later result (a
resume, a retry) updates the same run, and ``medsweep track`` run twice adds nothing. MLflow itself is
imported only by :meth:`Tracker.connect` (store.py): importing it takes ~2 s."""

from __future__ import annotations

import atexit
import getpass
import json
import logging
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from medsweep.record.files import JobPaths
from medsweep.record.job_record import JobRecord
from medsweep.record.outputs import now, write_json
from medsweep.record.sweep_dir import SweepDir
from medsweep.tracking.backend import Backend, TrackingError, one_line, ours
from medsweep.tracking.mlflow.registry import best_jobs, version_details
from medsweep.tracking.mlflow.runs import SOURCE_TAGS, git_tags, job_run, ms, read_json, sweep_params, sweep_run
from medsweep.tracking.mlflow.uri import DEFAULT_EXPERIMENT, registered_name, ui_command

log = logging.getLogger(__name__)

SINGLE_RUN_KEY = "run"                # a single run's entry in tracking.json's jobs
STATE_KEYS = ("uri", "experiment", "experiment_id", "parent", "jobs", "logged", "registered")


class Tracker(Backend):
    """Logs one sweep directory (or one single run's directory) to one experiment of one MLflow store.
    Thread-safe: every use of the store holds one lock (a thread watching the jobs, a subscriber calling
    :meth:`job_ended` and the end of the sweep may all log)."""

    name = "MLflow"

    def __init__(self, uri: str, experiment: str = DEFAULT_EXPERIMENT, register_best: bool = False,
                 start_dir: Optional[Path] = None):
        self.uri, self.experiment, self.register_best = uri, experiment, register_best
        self.start_dir = Path(start_dir or os.getcwd())
        self.store: Any = None
        self.off: Optional[str] = None       # why tracking is off (the store could not be used at the start)
        self.broken: Optional[str] = None    # why logging stopped midway
        self.dir: Optional[Path] = None       # the directory logged (a sweep's, or a single run's)
        self.state: dict = {}
        self._previous: list[dict] = []
        self._status, self._message = "logging", ""
        self._lock = threading.RLock()          # every use of the store and of tracking.json
        self._connect_lock = threading.Lock()
        self._known_params: dict[str, set] = {}   # run key -> params its run has (checked this session)
        self._uploaded: dict[str, dict] = {}      # run key -> the files uploaded to its run (this session)
        self._saved_at, self._dirty = 0.0, False
        self._jobs: list[dict] = []               # the sweep's jobs, from its sweep.json (it does not change)
        self._parent_open = False
        self._git: Optional[dict] = None
        self._atexit = False

    # store
    def connect(self) -> None:
        """Open the store (import MLflow, create the experiment, check it can be written); TrackingError
        where it cannot be used (then tracking stays off)."""
        with self._connect_lock:  # not the logging lock: job_ended must not wait seconds for this
            if self.store is not None:
                return
            if self.off:
                raise TrackingError(self.off)
            try:
                from medsweep.tracking.mlflow.store import Store
            except ImportError as exc:
                self.off = f"MLflow is not installed ({exc}): pip install -e \".[mlflow]\""
                raise TrackingError(self.off) from None
            for attempt in (1, 2):  # two sweeps creating one SQLite store at once: the later one retries
                try:
                    self.store = Store(self.uri, self.experiment)
                    return
                except TrackingError as exc:
                    if attempt == 2 or "unreachable" in str(exc) or "not allowed" in str(exc):
                        self.off = str(exc)
                        raise
                    time.sleep(1.0)

    def where(self) -> str:
        return ui_command(self.uri)

    @property
    def active(self) -> bool:
        return not (self.off or self.broken)

    def _open(self) -> None:
        """connect(), where that was not tried yet; a failure leaves tracking off (self.off says why)."""
        if self.store is None and not self.off:
            try:
                self.connect()
            except TrackingError as exc:
                log.warning("MLflow tracking is off: %s", exc)

    def git(self) -> dict:
        """Tags every run gets: the git commit of the directory the sweep started from, and the user."""
        if self._git is None:
            try:
                user = {"mlflow.user": getpass.getuser()}
            except (KeyError, OSError):  # no name for this uid (a container)
                user = {}
            self._git = {**git_tags(self.start_dir), **user}
        return self._git

    def _break(self, exc: BaseException) -> None:
        if self.broken is None:
            self.broken = f"{type(exc).__name__}: {one_line(exc)}"
            log.warning("MLflow logging stopped: %s; log the rest later with `medsweep track %s`",
                        self.broken, self.dir)

    @property
    def sweep(self) -> SweepDir:  # the paths of the directory logged (once attached)
        return SweepDir(self.dir)

    # tracking.json
    def attach(self, directory: Path) -> None:
        """Log ``directory`` (a sweep's or a single run's): read the run ids of this store from its tracking.json."""
        directory = Path(directory).resolve()
        with self._lock:
            if self.dir == directory:
                return
            self.dir = directory
            doc = read_json(self.sweep.tracking_file)
            doc = doc if isinstance(doc, dict) else {}
            records = [r for r in [doc, *(doc.get("previous") or [])] if isinstance(r, dict) and r.get("uri")]
            mine = next((r for r in records if r.get("uri") == self.uri and r.get("experiment") == self.experiment),
                        None)
            self._previous = [{k: r.get(k) for k in STATE_KEYS} for r in records if r is not mine]
            self.state = {k: (mine or {}).get(k) for k in STATE_KEYS}
            self.state.update(uri=self.uri, experiment=self.experiment)
            for key in ("jobs", "logged", "registered"):
                self.state[key] = dict(self.state[key] or {})
            if self.store is not None:
                if self.state["experiment_id"] not in (None, self.store.experiment_id):  # recreated since
                    self.state.update(parent=None, jobs={}, logged={}, registered={})
                self.state["experiment_id"] = self.store.experiment_id
            if self.off:
                self._status, self._message = "off", f"tracking was off: {self.off}; log it with: medsweep track {directory}"
            self._save()

    def _save(self, soon: bool = False) -> None:
        """Write tracking.json; with ``soon``, at most once a second (a new run's id is always written at
        once: that is what keeps a later run of medsweep track from adding it again)."""
        if self.dir is None:
            return
        if soon and time.monotonic() - self._saved_at < 1.0:
            self._dirty = True
            return
        self._saved_at, self._dirty = time.monotonic(), False
        doc = {"backend": "mlflow", "status": self._status, "message": self._message, **self.state,
               "ui": ui_command(self.uri), "updated_at": now(), "previous": self._previous}
        try:
            write_json(self.sweep.tracking_file, doc)
        except OSError as exc:
            log.warning("Could not write %s: %s", self.sweep.tracking_file, exc.strerror or exc)

    def flush(self) -> None:
        """Write tracking.json if a save was put off."""
        with self._lock:
            if self._dirty:
                self._save()

    # runs
    def _parent(self) -> str:
        """The sweep's parent run: the one recorded for this store, or a new one."""
        pid = self.state.get("parent")
        if pid and not self._parent_open and self.store.run_params(pid) is None:
            pid = None
        if pid is None:
            info = read_json(self.sweep.sweep_file) or {}
            try:
                name = str(self.dir.relative_to(self.start_dir.resolve()))
            except ValueError:
                name = str(self.dir)
            tags = {"sweep_dir": str(self.dir), **SOURCE_TAGS, **self.git()}
            pid = self.store.create_run(name, ms(info.get("started_at")), tags)
            self.state["parent"] = pid
            self._save()
            self.store.write(pid, sweep_params(info), [], {}, int(time.time() * 1000))
        elif not self._parent_open:
            self.store.reopen(pid)
        if not self._parent_open:
            self._parent_open = True
            if not self._atexit:
                atexit.register(self._abandoned)
                self._atexit = True
        return pid

    def _run_for(self, key: str, job: dict, nested: bool) -> tuple[str, bool]:
        """(run id, whether it is new) of a job: the recorded run where the store still has it."""
        run_id = self.state["jobs"].get(key)
        if run_id and key not in self._known_params:
            params = self.store.run_params(run_id)
            if params is None:
                run_id = None
            else:
                self._known_params[key] = set(params)
        if run_id:
            return run_id, False
        tags = {**job["tags"], **({"mlflow.parentRunId": self._parent()} if nested else {})}
        run_id = self.store.create_run(job["name"], job["start_ms"], tags)  # tags: cheaper here than in a batch
        self.state["jobs"][key] = run_id
        self.state["logged"].pop(key, None)
        self._known_params[key] = set()
        self._save()
        return run_id, True

    def log_job(self, key: str, job_dir: Path, overrides: Optional[list] = None, nested: bool = True) -> str:
        """Log one job from its files if it has ended; 'new', 'updated', 'unchanged' (logged already with these
        files), 'pending' (not ended), 'off' or 'error'."""
        job_dir = Path(job_dir)
        with self._lock:
            if self.store is None or self.broken or self.dir is None:
                return "off"
            try:  # the bytes too: the run's signature is of the file as written
                record_bytes = JobPaths(job_dir).metrics.read_bytes()
                data = json.loads(record_bytes)
            except (OSError, ValueError):
                return "pending"
            record = JobRecord.from_json(data) if isinstance(data, dict) else None
            if record is None or not record.final:
                return "pending"
            job = job_run(job_dir, record, record_bytes, overrides, key if nested else None, self.git())
            done = self.state["logged"].get(key) or {}
            if done.get("record") == job["record_sig"] and done.get("files") == job["files_sig"]:
                return "unchanged"
            for attempt in (1, 2):  # once more after a second: SQLite busy with another sweep's writes
                try:
                    new = self._write_job(key, job, nested)
                    break
                except Exception as exc:  # noqa: BLE001 - a store that fails stops logging, never the sweep
                    if attempt == 2:
                        self._break(exc)
                        return "error"
                    self._known_params.pop(key, None)
                    time.sleep(1.0)
            self.state["logged"][key] = {"status": job["status"], "record": job["record_sig"], "files": job["files_sig"]}
            self._uploaded[key] = job["files"]
            self._save(soon=True)
            return "new" if new else "updated"

    def _write_job(self, key: str, job: dict, nested: bool) -> bool:
        """Write what changed of a job's run since it was last logged (all of it for a new run); whether the
        run is new."""
        run_id, new = self._run_for(key, job, nested)
        done = self.state["logged"].get(key) or {}  # emptied for a new run
        if done.get("record") != job["record_sig"]:
            known = self._known_params[key]
            params = {k: v for k, v in job["params"].items() if k not in known}
            self.store.write(run_id, params, job["metrics"], {} if new else job["tags"],
                             job["end_ms"] or int(time.time() * 1000))
            known.update(params)
            if done:  # an error of an earlier result is no longer true
                self.store.delete_tags(run_id, [k for k in ("error", "error_type") if k not in job["tags"]])
        if done.get("files") != job["files_sig"]:
            uploaded = self._uploaded.get(key, {}) if done else {}  # what this process uploaded to this run
            self.store.upload(run_id, [file for name, file in job["artifacts"].items()
                                       if uploaded.get(name) != job["files"][name]])
        if done.get("record") != job["record_sig"]:
            self.store.end(run_id, job["run_status"], job["end_ms"])
        return new

    # the Backend interface
    def sweep_started(self, sweep_dir: Path) -> None:
        self.git()
        self.attach(sweep_dir)

    def job_ended(self, job_dir: Path) -> str:
        """Log one job of the sweep this process runs, now. Safe to call any number of times: a job whose files
        have not changed is not logged again, a later result updates its run. 'off' where no store is open or
        ``job_dir`` is not a job of the sweep."""
        job_dir = Path(job_dir).resolve()
        if self.store is None:
            return "off"
        with self._lock:
            if self.dir is None and ours(job_dir.parent):
                self.attach(job_dir.parent)
            job = self._listed(job_dir)
            if job is None:
                return "off"
            return self.log_job(str(job["num"]), job_dir, job["overrides"])

    def _listed(self, job_dir: Path) -> Optional[dict]:
        """The entry of ``job_dir`` in the sweep's job list (its number and its overrides as sweep.json lists
        them); a numbered folder of the sweep that is not listed is a job with no listed overrides."""
        if self.dir is None:
            return None
        if not self._jobs:
            try:
                info, jobs = self.sweep.jobs()
            except ValueError:  # sweep.json unusable: the end of the sweep says so; numbered folders meanwhile
                info, jobs = {}, []
            if info.get("command"):  # sweep.json's list: written as the sweep starts, it does not change
                self._jobs = jobs
        else:
            jobs = self._jobs
        found = next((j for j in jobs if self.sweep.job(j["dir"]).folder.resolve() == job_dir), None)
        if found is None and job_dir.parent == self.dir and job_dir.name.isdigit():
            found = {"num": job_dir.name, "overrides": None}
        return found

    def sweep_ended(self, directory: Path) -> Optional[dict]:
        """Log every job of a sweep that is over, its summary files and its status; register the best models
        if asked. What was done, or None where tracking is off."""
        with self._lock:
            if not self._attach_to_log(directory):
                return None
            jobs = self.sweep.jobs()[1]
            keyed = [(str(j["num"]), self.sweep.job(j["dir"]).folder) for j in jobs]
            outcomes = Counter(self.log_job(key, job_dir, j["overrides"]) for (key, job_dir), j in zip(keyed, jobs))
            if not self.broken:
                try:
                    self._end_parent(jobs)
                except Exception as exc:  # noqa: BLE001
                    self._break(exc)
            return self._conclude(keyed, outcomes)

    def run_ended(self, run_dir: Path) -> Optional[dict]:
        """Log a single run (no -m) as a run of its own."""
        with self._lock:
            if not self._attach_to_log(run_dir):
                return None
            outcomes = Counter([self.log_job(SINGLE_RUN_KEY, self.dir, None, nested=False)])
            return self._conclude([(SINGLE_RUN_KEY, self.dir)], outcomes)

    def _attach_to_log(self, directory: Path) -> bool:
        """Open the store and attach ``directory``; False (the state saved) where tracking is off."""
        self._open()
        self.attach(directory)
        if self.off:
            self._save()
        return not self.off

    def _conclude(self, keyed: list[tuple[str, Path]], outcomes: Counter) -> dict:
        if self.register_best and not self.broken:
            try:
                self._register(keyed)
            except Exception as exc:  # noqa: BLE001
                self._break(exc)
        logged = sum(1 for key, _ in keyed if key in self.state["logged"])
        statuses = Counter(self.state["logged"][key]["status"] for key, _ in keyed if key in self.state["logged"])
        where = f"{self.uri}, experiment {self.experiment!r}"
        if self.broken:
            self._status = "incomplete"
            self._message = (f"MLflow logging stopped ({self.broken}): {logged} of {len(keyed)} jobs in {where}; "
                             f"finish with: medsweep track {self.dir}")
        else:
            self._status = "logged"
            counts = f" ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})" if statuses else ""
            parent = f" under parent run {self.state['parent']}" if self.state.get("parent") else ""
            self._message = f"MLflow: {logged} of {len(keyed)} jobs{counts} in {where}{parent}"
        self._save()
        return {"status": self._status, "message": self._message, "outcomes": dict(outcomes), "logged": logged,
                "jobs": len(keyed), "parent": self.state.get("parent"), "registered": self.state["registered"]}

    def _end_parent(self, jobs: list[dict]) -> None:
        pid = self._parent()
        info = read_json(self.sweep.sweep_file) or {}
        logged = self.state["logged"]  # the status each job was logged with
        statuses = Counter(logged[str(j["num"])]["status"] if logged.get(str(j["num"])) else "missing" for j in jobs)
        run = sweep_run(self.dir, info, statuses, len(jobs))
        known = self.store.run_params(pid) or {}
        params = {k: v for k, v in run["params"].items() if k not in known}
        end_ms = run["end_ms"] or int(time.time() * 1000)
        self.store.write(pid, params, run["metrics"], run["tags"], end_ms)
        self.store.upload(pid, run["artifacts"])
        self.store.end(pid, run["run_status"], end_ms)
        self._parent_open = False

    def _register(self, keyed: list[tuple[str, Path]]) -> None:
        """Per disease model, the best completed job (registry.best_jobs: the leaderboard's first) becomes a
        version of the registered model ``<experiment>-<model>``."""
        for model, (value, key, job_dir, record) in sorted(best_jobs(keyed, set(self.state["jobs"])).items()):
            name = registered_name(self.experiment, model)
            requirements, description, tags = version_details(record, value, job_dir)
            job = JobPaths(job_dir)
            version = self.store.register(name, self.state["jobs"][key], job.model, job.metrics, requirements,
                                          description, tags)
            self.state["registered"][model] = {"name": name, "version": str(version), "job": key,
                                               "run_id": self.state["jobs"][key], record.primary_metric: value}
        self._save()

    def _abandoned(self) -> None:
        """At exit: a parent run left open (the sweep died before its end) is ended as failed."""
        if self._parent_open and not self.broken and self._lock.acquire(timeout=5):
            try:
                if self._parent_open and self.state.get("parent"):
                    self.store.end(self.state["parent"], "FAILED", int(time.time() * 1000))
            except Exception:  # noqa: BLE001 - nothing more to do at exit
                pass
            finally:
                self._lock.release()
