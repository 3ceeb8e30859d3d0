"""``hparams_search=optuna``: an Optuna search (Optuna >= 4) run by medsweep's sweeper.

Everything the grid sweeper does (medsweep_sweeper.py) a search does too, by the same code: range checks
before launch, the dry run, the sweep's own directory and its lock, progress, failed trials that do not stop
the search, Ctrl+C and SIGTERM, a full disk, the summary and report, tracking. What differs is which jobs run:

- Trials run in batches of ``hydra.sweeper.n_jobs``: the sweep asks the study for that many trials, launches
  them as ordinary jobs (job number = trial number) through the launcher and its warm workers, and tells each
  trial from its job's record: its objectives' values, PRUNED, or FAIL. The next batch is asked for after.
- Before the first trial, the app's range checks run on every end of the search space (each interval's ends,
  each choice's values): a space that reaches an invalid value stops the search before any job starts.
- The study lives in ``<sweep dir>/optuna.journal`` (_optuna.py says why a journal file); ``resume=true``
  continues it: trials told stay told, trials whose jobs completed but were not told are told from their
  records, trials cut short (interrupted, or killed) run again in their own directories, and new trials are
  asked for until the study holds ``n_trials``. Pruned trials stay pruned; with ``race.rerun_pruned=true`` the
  parameters of each pruned trial run again as a new trial (a told trial cannot be told again), before any
  new proposal and beyond ``n_trials``.
- With a pruner (WilcoxonPruner, one objective), each trial's job reports its folds to its trial
  (job/optuna_pruning.py, through the ``optuna_trial`` key this sweeper sets) and stops when worse than the
  best trial told so far. The trials of a batch are all judged against the same best trial (trials are told
  between batches only), so a search prunes the same way whatever the launcher or timing.
- At the end: ``optimization_results.yaml`` (one objective: best_params, best_value, best_job; several: the
  Pareto front) and ``pareto_front.csv``, which the summary and report show.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import CompactHydraException
from omegaconf import OmegaConf

from medsweep.config.run_control import is_run_control
from medsweep.record.outputs import atomic_path, write_json
from medsweep.record.sweep_dir import SweepDir

from . import _optuna
from .medsweep_sweeper import MedsweepSweeper, _plain_description, _quoted

log = logging.getLogger(__name__)


class MedsweepOptunaSweeper(MedsweepSweeper):
    STAGED_RACING = False  # trials are asked as earlier ones end: racing decides in each trial's job alone

    def __init__(self, n_trials: int, n_jobs: int, objectives: List[str], study_name: Optional[str], sampler: Any,
                 pruner: Any, params: Optional[dict], search_space: Any) -> None:
        super().__init__(max_batch_size=n_jobs, params=None)
        self.conf = OmegaConf.create({"n_trials": n_trials, "n_jobs": n_jobs, "objectives": list(objectives or []),
                                      "study_name": study_name, "sampler": sampler, "pruner": pruner})
        self.space_params = dict(params) if params is not None else None
        self.space_tables = search_space
        self._study: Any = None

    # -- what the search is ----------------------------------------------------------------------------------
    def _search(self, arguments: List[str]) -> None:
        """The search space, fixed overrides and objectives, checked: one error naming each problem."""
        from medsweep.job.search_objectives import parse_objectives

        cfg = self.config
        params = self.space_params
        if params is None:  # the lookup table of the chosen estimator
            params = dict((self.space_tables or {}).get(str(cfg.estimator.get("name")), {}) or {})
        lines = [f"{key}={value}" for key, value in params.items()]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            self.space, self.fixed = _optuna.search_space(parser.parse_overrides(lines + list(arguments)))
            self.objectives = parse_objectives(list(self.conf.objectives), str(cfg.data.task),
                                               list(cfg.eval.get("metrics") or []))
        except ValueError as exc:
            raise CompactHydraException(f"Invalid search, no job was started: {exc}") from None
        errors = _optuna.setting_errors(self.conf, self.objectives, self.space)
        if errors:
            raise CompactHydraException("Invalid search, no job was started:\n" + "\n".join(f"  {e}" for e in errors))
        self.prune = _optuna.pruning(self.conf.pruner, len(self.objectives))
        self.study_name = self.conf.study_name or f"{cfg.model.name}-{cfg.estimator.get('name')}"
        # Every end of the space through the app's range checks, before anything runs.
        self._check([_optuna.trial_overrides(params, self.fixed) for params in _optuna.corners(self.space)])

    def sweep(self, arguments: List[str]) -> Any:
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        resume = bool(self.config.get("resume"))
        at_once = None
        if not (resume or self.config.get("dry_run")):  # workers start while the search is checked
            at_once = self._prepare_launcher(max(1, min(int(self.conf.n_jobs), int(self.conf.n_trials))))
        self._search(arguments)
        if self.config.get("dry_run"):
            return self._dry_run()
        with self._claimed_sweep_dir(resume) as sweep_dir:
            todo = self._open_study(sweep_dir, resume)
            if resume:
                at_once = self._prepare_launcher(min(self.conf.n_jobs, len(todo)) or 1)
            log.info("Optuna study %r in %s: %d trial(s) to run, %d at a time (%s)", self.study_name,
                     sweep_dir / _optuna.STORAGE_FILE, len(todo), self.conf.n_jobs,
                     ", ".join(str(o) for o in self.objectives))
            return self._run(sweep_dir, self._jobs, todo, resume, at_once)

    def _dry_run(self) -> list:
        sampler = _optuna.sampler(self.conf.sampler.name, self.conf.sampler.seed)
        study = _optuna.in_memory_study(self.objectives, sampler)
        first = [_optuna.trial_overrides(study.ask(self.space).params, self.fixed)
                 for _ in range(min(self.conf.n_jobs, self.conf.n_trials))]
        values = self._check(first)
        describe = next(iter(self._app_hooks("describe_job")), _plain_description)
        print("search space: " + "; ".join(f"{key}: {dist}" for key, dist in self.space.items()))
        print(f"objectives: {', '.join(str(o) for o in self.objectives)}; sampler {self.conf.sampler.name} "
              f"(seed {self.conf.sampler.seed}); pruner {'WilcoxonPruner' if self.prune else 'none'}")
        print("first batch:")
        print("\n".join(describe(n, o, v) for n, (o, v) in enumerate(zip(first, values))))
        print(f"dry run: an Optuna search of {self.conf.n_trials} trials, {self.conf.n_jobs} at a time, would run; "
              "nothing was trained and no directory was created.")
        return []

    # -- the study -------------------------------------------------------------------------------------------
    def _open_study(self, sweep_dir: Path, resume: bool) -> list[int]:
        """Create the study (or load it: resume), and return the trial numbers this run will launch."""
        from optuna.trial import TrialState

        seed = self.conf.sampler.seed
        if not resume:
            self._study = _optuna.create_study(sweep_dir, self.study_name, self.objectives,
                                               _optuna.sampler(self.conf.sampler.name, seed))
            if self.prune:  # what each trial's job reports, and how it is pruned (job/optuna_pruning.py)
                from medsweep.job.optuna_pruning import PRUNER_ATTR

                p = self.conf.pruner
                self._study.set_user_attr(PRUNER_ATTR, {"metric": self.objectives[0].name,
                                                        "p_threshold": p.p_threshold,
                                                        "n_startup_steps": p.n_startup_steps})
            self._jobs, self._relaunch, self._launched = [], [], set()
            self._target = self.conf.n_trials
            return list(range(self.conf.n_trials))
        if not (sweep_dir / _optuna.STORAGE_FILE).is_file():
            raise CompactHydraException(f"resume=true: {sweep_dir} holds no Optuna study ({_optuna.STORAGE_FILE} is "
                                        "missing): resume a sweep started with hparams_search=optuna")
        try:
            study = _optuna.load_study(sweep_dir, self.study_name, None)
        except KeyError:
            raise CompactHydraException(
                f"resume=true refused: {sweep_dir / _optuna.STORAGE_FILE} holds no study {self.study_name!r} (set "
                "hydra.sweeper.study_name as the search was started). Nothing was changed.") from None
        saved = study.user_attrs.get(_optuna.OBJECTIVES_ATTR)
        if saved != [str(o) for o in self.objectives]:
            raise CompactHydraException(
                f"resume=true refused: the study optimises {', '.join(saved or [])}, this command "
                f"{', '.join(str(o) for o in self.objectives)} (hydra.sweeper.objectives). Nothing was changed.")
        trials = study.get_trials(deepcopy=False)
        # Seeded past the proposals already made: a resumed random start does not propose them again.
        study.sampler = _optuna.sampler(self.conf.sampler.name, None if seed is None else seed + len(trials))
        self._study = study
        # Reruns enqueued by a resume that stopped before asking for them: the next asks hand them out.
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        if any(t.state == TrialState.WAITING for t in trials[:len(trials) - waiting]):
            raise CompactHydraException(f"resume=true refused: {sweep_dir / _optuna.STORAGE_FILE} holds trials "
                                        "waiting to be asked for before trials already run (enqueued outside "
                                        "medsweep?): trial numbers would not be job numbers. Nothing was changed.")
        trials = trials[:len(trials) - waiting]
        self._jobs = [list(t.user_attrs.get(_optuna.OVERRIDES_ATTR, [])) for t in trials]
        sweep = SweepDir(sweep_dir)
        self._launched = {t.number for t in trials if sweep.job(t.number).folder.is_dir()}
        running = [t.number for t in trials if t.state == TrialState.RUNNING]
        still = sweep.resume_plan(running).running
        if still:
            shown = ", ".join(f"{num} (PID {pid})" for num, pid in still)
            raise CompactHydraException(f"resume=true refused: trial(s) {shown} of {sweep_dir} are still running, "
                                        "started by an earlier run of this search; wait for them to end or stop "
                                        "them, then resume. Nothing was changed.")
        self._relaunch = []
        for num in running:
            record = sweep.record(num)
            if record is not None and (record.completed or str(record.status) in ("pruned", "failed", "timeout")):
                log.info("Trial %d: told %s from its job's record", num,
                         _optuna.tell(study, num, record, self.objectives))
            else:
                self._relaunch.append(num)
        self._launched.update(self._relaunch)
        reruns = self._rerun_pruned(study)
        self._target = max(self.conf.n_trials, len(trials)) + waiting + len(reruns)
        kept = len(trials) - len(self._relaunch)
        log.info("Resuming %s: %d trial(s) kept as told, %d cut short run again, %d new", sweep_dir, kept,
                 len(self._relaunch), self._target - len(trials))
        return self._relaunch + list(range(len(trials), self._target))

    def _rerun_pruned(self, study: Any) -> list[int]:
        """race.rerun_pruned=true: the pruned trials' parameters enqueued to run again as new trials (a trial
        told PRUNED stays pruned in the study and in its directory); else say that pruned trials stay pruned."""
        from optuna.trial import TrialState

        if self.config is None or not OmegaConf.select(self.config, "race.rerun_pruned", default=False):
            pruned = [t.number for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED]
            if pruned:
                log.info("Trial(s) %s were pruned and stay pruned (race.rerun_pruned=true runs their parameters "
                         "again as new trials)", ", ".join(map(str, pruned)))
            return []
        reruns = _optuna.enqueue_reruns(study)
        if reruns:
            n = len(study.get_trials(deepcopy=False))
            log.info("race.rerun_pruned=true: the parameters of pruned trial(s) %s run again as new trials %s",
                     ", ".join(map(str, reruns)), ", ".join(map(str, range(n - len(reruns), n))))
        return reruns

    def _batches(self, nums: list[int]) -> Iterator[list[int]]:  # type: ignore[override]
        """The trials to launch, a batch at a time: first those a resume runs again, then new ones, asked for
        only after the batch before them has been told."""
        size = self.conf.n_jobs
        for i in range(0, len(self._relaunch), size):
            yield self._relaunch[i:i + size]
        while len(self._jobs) < self._target:
            batch = []
            for _ in range(min(size, self._target - len(self._jobs))):
                trial = self._study.ask(self.space)
                overrides = _optuna.trial_overrides(trial.params, self.fixed)
                trial.set_user_attr(_optuna.OVERRIDES_ATTR, overrides)
                self._jobs.append(overrides)
                assert trial.number == len(self._jobs) - 1, "one study per sweep: trial numbers are job numbers"
                try:
                    self._check([overrides])
                except CompactHydraException as exc:
                    log.error("Trial %d not run, told FAIL: %s", trial.number, exc)
                    self._study.tell(trial.number, state=_optuna_fail())
                    continue
                batch.append(trial.number)
            self._launched.update(batch)
            self._write_jobs(Path(str(self.config.hydra.sweep.dir)))
            if batch:
                yield batch

    def _trial_key(self, num: int) -> list[str]:
        """The ``optuna_trial`` override of a pruned search's trial: where its trial is (the study says what
        to report and how to prune)."""
        if not self.prune:
            return []
        return [f"optuna_trial={{storage:{_optuna.STORAGE_FILE},study:{_quoted(self.study_name)},number:{num}}}"]

    def _launch(self, sweep_dir: Path, jobs: Sequence[list[str]], batch: list[int]) -> Any:
        launch = {n: list(jobs[n]) + self._trial_key(n) for n in batch}
        results = super()._launch(sweep_dir, launch, batch)
        sweep = SweepDir(sweep_dir)
        for n in batch:
            told = _optuna.tell(self._study, n, sweep.record(n), self.objectives)
            if told.startswith("failed"):
                log.warning("Trial %d told FAIL: %s", n, told.split(": ", 1)[-1])
        return results

    # -- files -----------------------------------------------------------------------------------------------
    def _write_jobs(self, sweep_dir: Path) -> None:
        """sweep.json's job list: every trial launched (the summary's rows), without the run-control keys."""
        path = SweepDir(sweep_dir).sweep_file
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        info["jobs"] = [{"num": n, "overrides": [o for o in self._jobs[n] if not is_run_control(o)], "dir": str(n)}
                        for n in sorted(self._launched)]
        write_json(path, info)

    def _summarize(self, sweep_dir: Path) -> None:  # type: ignore[override]
        """The search's results files, then the sweep's summary (which shows them)."""
        self._write_jobs(sweep_dir)
        try:
            self._write_results(sweep_dir)
        except Exception as exc:  # noqa: BLE001 - the jobs' files stay; the summary is written without them
            log.error("Could not write the search's results (%s: %s)", type(exc).__name__, exc)
        MedsweepSweeper._summarize(sweep_dir)

    def _write_results(self, sweep_dir: Path) -> None:
        sweep = SweepDir(sweep_dir)
        results = _optuna.results(self._study, self.objectives)
        with atomic_path(sweep.optuna_file) as tmp:
            OmegaConf.save(OmegaConf.create(results), tmp)
        if "best_value" in results:
            log.info("Best value (%s): %s, trial %d: %s", self.objectives[0], results["best_value"],
                     results["best_job"], " ".join(f"{k}={v}" for k, v in results["best_params"].items()))
        if "pareto_front" in results:
            _optuna.write_pareto_csv(sweep.pareto_file, results["pareto_front"], self.objectives)
            log.info("Pareto front (%s): trials %s", ", ".join(str(o) for o in self.objectives),
                     ", ".join(str(row["job"]) for row in results["pareto_front"]))


def _optuna_fail() -> Any:
    from optuna.trial import TrialState

    return TrialState.FAIL

