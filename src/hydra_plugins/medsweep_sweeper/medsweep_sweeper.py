"""Hydra's basic sweeper, plus what a sweep of medsweep jobs needs from the parent process.

- Every job is range-checked before the first job starts (``trainer.folds=1`` stops the sweep before any
  job directory exists), from its values as Hydra composes them, without a config composed per job
  (_compose.py: 10,000 jobs in seconds); ``dry_run=true`` lists the jobs and stops there. The checks are
  the app's: those its Hydra callbacks offer (``job_errors``: medsweep's CheckConfig, installed by
  conf/train.yaml). A plain Hydra app has none, and is swept as Hydra's basic sweeper sweeps it.
- The sweep claims its own directory (two sweeps started in the same second never share one), holds it
  locked for its life (a second resume of it is refused) and records its job list in ``sweep.json``;
  ``resume=true`` runs only the jobs without a completed result (_jobs.py).
- A failed job does not stop the sweep: later batches still run, and the sweep exits 1 at the end.
- SIGINT / SIGTERM: no new job starts, running jobs are stopped and recorded as interrupted, no worker
  process is left behind, and the sweep exits 130 / 143. A full disk or a launcher that gives up on its
  batch stops the sweep the same way, with one line saying why, and exit 1 (_stop.py).
- Progress is shown while jobs run; the summary of the sweep is written (medsweep.job.sweep_end) and the
  end-of-sweep callbacks run at the end, whatever happened.

Hydra internals (the basic sweeper's, the config loader's) are used only through _hydra_compat.py.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, read_write

from medsweep.record.files import SWEEP_CONFIG, SWEEP_FILE, Status

from ._compose import SweepConfigLoader
from ._hydra_compat import app_callbacks, basic_sweeper, sweep_batches, sweeper_overrides
from ._interrupt import SweepInterrupted, ignore_signals, signals_interrupt_sweep, stop_children
from ._jobs import (claim_sweep_dir, finish_sweep_file, mark_interrupted, record_lost, resume_todo,
                    start_sweep_file)
from ._progress import Progress, job_subscribers
from ._stop import SweepStopped, disk_full, disk_full_reason, launcher_reason

log = logging.getLogger(__name__)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _job_error(result: JobReturn) -> Optional[BaseException]:
    """The exception of a failed job. Its ``return_value`` re-raises it; Hydra also prints a line about it
    to stderr, which is not wanted here."""
    if result.status != JobStatus.FAILED:
        return None
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            result.return_value
    except Exception as exc:  # noqa: BLE001 - whatever the job raised
        return exc
    return None


def _failure(result: JobReturn) -> str:
    """'<exception type>: <message>' of a failed job."""
    exc = _job_error(result)
    return f"{type(exc).__name__}: {exc}" if exc is not None else "failed"


def _exit(message: str, code: int = 1) -> None:
    """End the sweep with exit ``code`` and ``message`` on stderr, without Hydra's hint to set HYDRA_FULL_ERROR
    (there is no traceback to see: the jobs' are in their train.log)."""
    sys.stdout.flush()
    if message:
        sys.stderr.write(message + "\n")
    sys.exit(code)


def _numbers(nums: list[int]) -> str:
    from ._job_warnings import job_numbers

    return job_numbers(nums)


def _report(sweep_dir: Path) -> Optional[Path]:
    """The sweep's report.html, where the summary wrote one."""
    from medsweep.record.sweep_dir import SweepDir

    html = next((p for p in SweepDir(sweep_dir).summary_files if p.suffix == ".html"), None)
    return html if html is not None and html.is_file() else None


def _plain_description(num: int, overrides: list[str], values: Any) -> str:
    """A job's line in the dry run of an app that does not describe its jobs."""
    return f"#{num:<4} {' '.join(overrides) or '(defaults)'}"


def _import_in_background(module: str) -> None:
    """Import ``module`` (the summary's pandas and matplotlib: ~1 s) while the jobs run, not after them."""

    def target() -> None:
        with contextlib.suppress(Exception):  # the summary imports it again and reports what is wrong
            importlib.import_module(module)

    threading.Thread(target=target, name=f"import {module}", daemon=True).start()


class MedsweepSweeper(basic_sweeper()):  # Hydra's BasicSweeper (see _hydra_compat.basic_sweeper)
    STAGED_RACING = True  # race.enabled: screen every job first (job/race_screening.py); see _race_stages

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        # The launcher (and through it every worker) composes jobs with our loader: one composition per
        # distinct config-group choice per process instead of one per job.
        hydra_context = HydraContext(config_loader=SweepConfigLoader(hydra_context.config_loader),
                                     callbacks=hydra_context.callbacks)
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(sweeper_overrides(self) + list(arguments))
        jobs = [list(job) for batch in sweep_batches(overrides, None) for job in batch]
        resume = bool(self.config.get("resume"))
        at_once = None
        if not (self.config.get("dry_run") or resume):
            at_once = self._prepare_launcher(len(jobs))  # its workers import in the background while we compose
        values = self._check(jobs)

        if self.config.get("dry_run"):
            describe = next(iter(self._app_hooks("describe_job")), _plain_description)
            print("\n".join(describe(n, o, v) for n, (o, v) in enumerate(zip(jobs, values))))
            print(f"dry run: {len(jobs)} jobs would run; nothing was trained and no directory was created.")
            return []

        with self._claimed_sweep_dir(resume) as sweep_dir:
            todo = resume_todo(sweep_dir, self._compose(jobs)) if resume else list(range(len(jobs)))
            if resume:
                log.info("Resuming %s: %d of %d jobs to run (%d completed jobs kept as they are)",
                         sweep_dir, len(todo), len(jobs), len(jobs) - len(todo))
                at_once = self._prepare_launcher(len(todo))  # thread limits for the workers this resume needs
            return self._run(sweep_dir, jobs, todo, resume, at_once)

    @contextlib.contextmanager
    def _claimed_sweep_dir(self, resume: bool) -> Iterator[Path]:
        """The sweep directory, claimed (locked) for this sweep while the block runs: hydra.sweep.dir, or the
        one beside it this sweep takes where that is another sweep's (the config is pointed at it)."""
        requested = Path(str(self.config.hydra.sweep.dir))
        sweep_dir, lock = claim_sweep_dir(requested, resume)
        try:
            if sweep_dir != requested:
                log.warning("%s belongs to another sweep: this sweep writes to %s", requested, sweep_dir)
            with read_write(self.config.hydra.sweep):
                self.config.hydra.sweep.dir = str(sweep_dir)
            yield sweep_dir
        finally:
            lock.release()

    def _run(self, sweep_dir: Path, jobs: list[list[str]], todo: list[int], resume: bool,
             at_once: Optional[int]) -> Any:
        try:
            info = start_sweep_file(sweep_dir, self.config, jobs, resume, at_once)
            OmegaConf.save(self.config, sweep_dir / SWEEP_CONFIG)
        except OSError as exc:
            if disk_full(exc):
                raise CompactHydraException(f"Sweep not started: {disk_full_reason(sweep_dir, exc)}") from None
            raise
        if at_once != 1:  # jobs run in other processes: this one waits
            _import_in_background("medsweep.job.sweep_end")
        failed, stopped, returns = [], None, []
        stages = self._race_stages()
        # The one watcher of finished jobs: the progress line, and each app callback with on_job_recorded
        # (tracking) as a job's record is final.
        subscribers = job_subscribers(app_callbacks(self.hydra_context.callbacks))
        progress = Progress(sweep_dir, todo, subscribers=subscribers, overrides=jobs,
                            verbose=bool(self.config.get("verbose"))).start()
        try:
            with signals_interrupt_sweep():
                if stages is None:
                    self._launch_all(sweep_dir, jobs, todo, returns, failed)
                else:  # racing: every job screened on its first folds, then the promising ones go on
                    stages.start(sweep_dir)
                    self._launch_all(sweep_dir, jobs, todo, returns, failed)
                    self._launch_all(sweep_dir, jobs, stages.survivors(sweep_dir, todo), returns, failed)
        except (SweepInterrupted, SweepStopped) as exc:
            ignore_signals()
            stopped = exc
            self._stop_running(sweep_dir, todo, jobs, exc)
        finally:
            progress.stop()
            if stages is not None:
                stages.end(sweep_dir)

        status = Status.INTERRUPTED if isinstance(stopped, SweepInterrupted) else (
            Status.FAILED if failed or stopped else Status.COMPLETED)
        try:
            finish_sweep_file(sweep_dir, info, status)
        except OSError as exc:  # a full disk: what the jobs recorded stays, the summary says what it can
            log.error("Could not record the sweep's end in %s: %s", SWEEP_FILE, os.strerror(exc.errno or 0))
        summarized = self._summarize(sweep_dir)
        if stopped or failed:
            # Hydra calls on_multirun_end only when the sweep returns normally: call it here, so users'
            # end-of-sweep callbacks run after failures and interrupts too.
            self.hydra_context.callbacks.on_multirun_end(config=self.config,
                                                         config_name=self.config.hydra.job.config_name)
        # Every job that did not complete, with its error: said once, here at the end (the leaderboard leaves
        # them out; the line printed while the sweep ran gave the status and error type).
        ended_badly = progress.not_completed_lines() + [f"  #{n} failed  {' '.join(jobs[n])}  {_failure(r)}"
                                                         for n, r in failed if n not in progress.not_completed]
        html = _report(sweep_dir) if summarized else None
        report = f"; report: {html}" if html else ""
        if isinstance(stopped, SweepInterrupted):
            _exit("\n".join(ended_badly), stopped.exit_code)
        if stopped:
            _exit("\n".join([f"Sweep stopped: {stopped.reason}. To run what is left: the same command with "
                             f"hydra.sweep.dir={sweep_dir} resume=true{report}", *ended_badly]))
        if failed:
            _exit("\n".join([f"{len(failed)} of {len(todo)} jobs failed: {_numbers([n for n, _ in failed])} "
                             f"(details in each job's train.log and metrics.json){report}", *ended_badly]))
        if ended_badly:
            sys.stdout.flush()
            sys.stderr.write("\n".join(["Not completed:", *ended_badly]) + "\n")
        if html:
            print(f"Report: {html}")
        return returns  # each batch's results, as Hydra's basic sweeper returns them

    def _launch_all(self, sweep_dir: Path, jobs: list[list[str]], nums: list[int], returns: list,
                    failed: list) -> None:
        """Launch jobs ``nums`` batch by batch; each batch's results to ``returns``, its failed jobs to ``failed``."""
        for batch in self._batches(nums):
            results = self._launch(sweep_dir, jobs, batch)
            returns.append(results)
            errors = {n: _job_error(r) for n, r in zip(batch, results) if r.status == JobStatus.FAILED}
            failed += [(n, r) for n, r in zip(batch, results) if n in errors]
            # A launcher that returned with a job still "running" lost that job's process.
            record_lost(sweep_dir, batch)
            full = next((e for e in errors.values() if disk_full(e)), None)
            if full is not None:  # every later job would fail the same way
                raise SweepStopped(disk_full_reason(sweep_dir, full))

    def _race_stages(self) -> Any:
        """Racing in two stages, where the app offers them and the sweep races (CheckConfig.race_stages); None
        otherwise, and for a search that picks its jobs as it goes (STAGED_RACING false: racing then decides
        in each job alone)."""
        if not self.STAGED_RACING:
            return None
        return next((s for hook in self._app_hooks("race_stages") if (s := hook(self.config)) is not None), None)

    def _launch(self, sweep_dir: Path, jobs: list[list[str]], batch: list[int]) -> Sequence[JobReturn]:
        # Each job is told its directory, so a resumed job lands in its original one.
        launch = [jobs[n] + [f"hydra.sweep.dir={_quoted(str(sweep_dir))}", f"hydra.sweep.subdir={n}"]
                  for n in batch]
        try:
            return self.launcher.launch(launch, initial_job_idx=batch[0])
        except Exception as exc:  # noqa: BLE001 - whatever the launcher raised ends the sweep in one line
            if disk_full(exc):
                raise SweepStopped(disk_full_reason(sweep_dir, exc)) from exc
            raise SweepStopped(launcher_reason(exc)) from exc

    @staticmethod
    def _stop_running(sweep_dir: Path, todo: list[int], jobs: list[list[str]],
                      why: SweepInterrupted | SweepStopped) -> None:
        """No job may go on: stop every process the sweep started and record the jobs they ran."""
        if isinstance(why, SweepStopped):
            # Before stopping the others: a job whose process is already gone is the launcher's cause.
            for num in record_lost(sweep_dir, todo):
                log.error("Job %d: its process died without recording a result; recorded as failed", num)
        stop_children()
        cause = f"interrupted by {why.args[0]}" if isinstance(why, SweepInterrupted) else f"stopped: {why.reason}"
        marked = mark_interrupted(sweep_dir, todo, jobs, f"sweep {cause}")
        log.error("Sweep %s: %d running job(s) stopped and recorded as interrupted", cause, len(marked))

    def _prepare_launcher(self, n_jobs: int) -> Optional[int]:
        """Tell a launcher that can use it (medsweep's joblib launcher) how many jobs it will get, so it
        starts its workers now; the jobs it runs at once, or None for other launchers."""
        prepare = getattr(self.launcher, "prepare_workers", None)
        return prepare(n_jobs) if callable(prepare) else None

    def _batches(self, nums: list[int]) -> list[list[int]]:
        size = self.max_batch_size if self.max_batch_size and self.max_batch_size > 0 else len(nums) or 1
        return [nums[i:i + size] for i in range(0, len(nums), size)]

    def _app_hooks(self, name: str) -> list[Callable[..., Any]]:
        """The one place that decides what the sweeper asks of the app being swept: method ``name`` of each
        of the app's Hydra callbacks that offers it (``job_errors``, ``describe_job``: medsweep's
        CheckConfig, installed by conf/train.yaml). A plain Hydra app offers none: its jobs are launched
        unchecked, and a dry run lists their overrides."""
        return [getattr(callback, name) for callback in app_callbacks(self.hydra_context.callbacks)
                if callable(getattr(callback, name, None))]

    def _check(self, jobs: list[list[str]]) -> list:
        """Run the app's checks on every job; raise one error naming each bad job. Each job's values
        (outside the ``hydra`` node) as its composed config would hold them: what the dry run lists (none
        where nothing reads them)."""
        checks = self._app_hooks("job_errors")
        if not checks and not self.config.get("dry_run"):
            return []
        loader = self.hydra_context.config_loader
        values, problems = [], []
        for job in jobs:
            # Hydra's own loader (another sweeper's setup) composes each job.
            job_values = getattr(loader, "load_job_values", loader.load_sweep_config)(self.config, job)
            errors = [error for check in checks for error in check(job_values)]
            if errors:
                problems.append(f"  [{' '.join(job)}] " + "; ".join(errors))
            values.append(job_values)
        if problems:
            raise CompactHydraException("Invalid configuration, no job was started:\n" + "\n".join(problems))
        return values

    def _compose(self, jobs: list[list[str]]) -> list[DictConfig]:
        return [self.hydra_context.config_loader.load_sweep_config(self.config, job) for job in jobs]

    @staticmethod
    def _summarize(sweep_dir: Path) -> bool:
        """Write the sweep's summary from what the jobs wrote and print its leaderboard; a summary problem
        never fails the sweep (False: no summary)."""
        try:
            from medsweep.job.sweep_end import write_summary  # pandas, matplotlib: imported when needed
        except ImportError:
            return False
        return bool(write_summary(sweep_dir, not_completed_jobs=False))  # _run lists those, with their errors
