"""hparams_search=optuna: medsweep's own sweeper on current Optuna (>= 4).

Unit tests of the search space, the objectives, telling trials, the Pareto front and the pruning hook (each
checked against a computation of its own: Hydra's sweep values, scipy's Wilcoxon test, a brute-force
dominance check), and two tiny real searches (slow): one pruned, resumed and opened with optuna.load_study,
one with two objectives and its Pareto front.
"""

import json

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from helpers import metrics_of, run_train

optuna = pytest.importorskip("optuna", reason="optuna is not installed: pip install -e '.[optuna]'")

from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from hydra_plugins.medsweep_sweeper import _optuna  # noqa: E402
from medsweep.job.optuna_pruning import PRUNER_ATTR, optuna_pruning_hooks  # noqa: E402
from medsweep.job.search_objectives import Objective, objective_values, parse_objectives  # noqa: E402
from medsweep.learn.stops import FoldsStopped  # noqa: E402
from medsweep.record.job_record import JobRecord  # noqa: E402

SEARCH = ["hparams_search=optuna", "model=parkinsons", "estimator=logreg", "trainer.folds=3", "trainer.epochs=1",
          "eval.n_boot=0", "hydra.sweeper.n_jobs=3"]


def parsed(*lines):
    return OverridesParser.create().parse_overrides(list(lines))


def journal(path):
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


# -- the search space ------------------------------------------------------------------------------------

def test_search_space_follows_hydras_sweep_syntax():
    space, fixed = _optuna.search_space(parsed(
        "estimator.C=tag(log, interval(0.01, 10))", "a=interval(0, 1)", "b=int(interval(2, 8))",
        "c=range(1, 10, 3)", "d=choice([32],[64,32])", "e=choice(sqrt,log2,'null')", "f=100", "model=parkinsons"))
    d = optuna.distributions
    assert space["estimator.C"] == d.FloatDistribution(0.01, 10.0, log=True)
    assert space["a"] == d.FloatDistribution(0.0, 1.0)
    assert space["b"] == d.IntDistribution(2, 8)
    # range(1, 10, 3) is Hydra's 1, 4, 7: below 10, as a grid sweep runs it.
    assert space["c"] == d.IntDistribution(1, 7, step=3)
    assert list(range(1, 10, 3)) == list(range(space["c"].low, space["c"].high + 1, space["c"].step))
    assert space["d"].choices == ("[32]", "[64,32]") and space["e"].choices == ("sqrt", "log2", "null")
    assert fixed == ["f=100", "model=parkinsons"]
    # The command line replaces a dimension of the config's params, or fixes it.
    space, fixed = _optuna.search_space(parsed("estimator.C=interval(1, 2)", "estimator.C=5"))
    assert space == {} and fixed == ["estimator.C=5"]
    with pytest.raises(ValueError, match=r"interval\(0.0, 1.0\).*start > 0 on a log scale"):
        _optuna.search_space(parsed("x=tag(log, interval(0, 1))"))
    assert _optuna.trial_overrides({"estimator.C": 0.1, "d": "[64,32]"}, ["f=100"]) == [
        "f=100", "estimator.C=0.1", "d=[64,32]"]


def test_corners_put_every_dimension_at_each_end():
    space, _ = _optuna.search_space(parsed("a=interval(1, 2)", "b=choice(x,y,z)"))
    assert _optuna.corners(space) == [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "x"}, {"a": 1.0, "b": "y"},
                                      {"a": 1.0, "b": "z"}]


# -- objectives ------------------------------------------------------------------------------------------

def test_objectives_default_to_the_primary_metric_and_are_checked():
    assert parse_objectives([], "classification") == [Objective("roc_auc", True)]
    assert parse_objectives(None, "regression") == [Objective("rmse", False)]
    got = parse_objectives(["roc_auc", "calibration_slope_distance:minimize", "brier"], "classification")
    assert [str(o) for o in got] == ["roc_auc:maximize", "calibration_slope_distance:minimize", "brier:minimize"]
    for specs, task, message in [
            (["roc_auc:minimize"], "classification", "roc_auc is better higher"),
            (["rmse"], "classification", "not allowed for a classification model"),
            (["calibration_slope_distance"], "regression", "not allowed for a regression model"),
            (["mcc"], "classification", r"add eval.metrics=\[mcc\]"),
            (["roc_auc", "roc_auc"], "classification", "named twice"),
            (["roc_auc:up"], "classification", "maximize or minimize")]:
        with pytest.raises(ValueError, match=message) as err:
            parse_objectives(specs, task)
        assert str(err.value).startswith("hydra.sweeper.objectives")
    assert parse_objectives(["mcc"], "classification", ["mcc"]) == [Objective("mcc", True)]


def test_objective_values_read_a_record():
    folds = [0.7, 0.8, 0.9]
    record = JobRecord(status="completed", metrics={"roc_auc": {"folds": folds, "mean": float(np.mean(folds))}},
                       evaluation={"calibration": {"slope": 0.62}})
    objectives = parse_objectives(["roc_auc", "calibration_slope_distance", "sensitivity"], "classification")
    values, missing = objective_values(record, objectives)
    assert values[:2] == [pytest.approx(0.8), pytest.approx(abs(0.62 - 1))] and values[2] is None
    assert missing == ["sensitivity"]


def test_settings_are_checked_before_anything_runs():
    conf = OmegaConf.create({"n_trials": 0, "n_jobs": 2, "sampler": {"name": "cmaes"},
                             "pruner": {"name": "wilcoxon", "p_threshold": 1.5, "n_startup_steps": 2}})
    two = parse_objectives(["roc_auc", "brier"], "classification")
    errors = _optuna.setting_errors(conf, two, {})
    assert any(e.startswith("hydra.sweeper.n_trials=0 is not allowed") for e in errors)
    assert any(e.startswith("hydra.sweeper.sampler.name='cmaes' is not allowed: must be one of tpe") for e in errors)
    assert any("p_threshold=1.5" in e for e in errors)
    assert any("single-objective studies only" in e for e in errors)
    assert any("holds no search dimension" in e for e in errors)
    conf.n_trials, conf.sampler.name, conf.pruner.p_threshold, conf.pruner.name = 5, "tpe", 0.1, "auto"
    calibration_first = parse_objectives(["calibration_slope_distance"], "classification")
    assert _optuna.setting_errors(conf, calibration_first, {"x": None}) == [
        "hydra.sweeper.objectives: calibration_slope_distance has no per-fold value to prune on: put a metric "
        "first, or set hydra.sweeper.pruner.name=none"]
    assert _optuna.setting_errors(conf, two, {"x": None}) == []  # auto: no pruner with two objectives
    assert not _optuna.pruning(conf.pruner, 2) and _optuna.pruning(conf.pruner, 1)


# -- telling trials and the Pareto front ------------------------------------------------------------------

def test_trials_are_told_from_their_jobs_records():
    objectives = parse_objectives(["roc_auc", "calibration_slope_distance"], "classification")
    study = optuna.create_study(directions=["maximize", "minimize"])
    records = [JobRecord(status="completed", metrics={"roc_auc": {"mean": 0.8}},
                         evaluation={"calibration": {"slope": 1.1}}),
               JobRecord(status="pruned"), JobRecord(status="failed"), None,
               JobRecord(status="completed", metrics={"roc_auc": {"mean": 0.8}})]  # no calibration slope
    for record in records:
        _optuna.tell(study, study.ask().number, record, objectives)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.FAIL, TrialState.FAIL]
    assert study.trials[0].values == [0.8, pytest.approx(0.1)]


def test_pareto_front_is_every_trial_no_other_beats_on_all_objectives():
    rng = np.random.default_rng(0)
    objectives = parse_objectives(["roc_auc", "calibration_slope_distance"], "classification")
    study = optuna.create_study(directions=["maximize", "minimize"])
    points = rng.uniform(size=(25, 2))
    for x, y in points:
        trial = study.ask({"estimator.C": optuna.distributions.FloatDistribution(0.01, 10)})
        study.tell(trial, [float(x), float(y)])
    # Brute force: i is on the front unless some j is at least as good on both and better on one.
    front = [i for i, (x, y) in enumerate(points)
             if not any(a >= x and b <= y and (a > x or b < y) for a, b in points)]
    results = _optuna.results(study, objectives)
    assert [row["job"] for row in results["pareto_front"]] == front
    assert "best_params" not in results and results["n_trials"]["complete"] == 25
    assert results["pareto_front"][0]["values"] == {"roc_auc": points[front[0], 0],
                                                    "calibration_slope_distance": points[front[0], 1]}


# -- pruning across folds -----------------------------------------------------------------------------------

def test_pruning_hook_stops_a_trial_when_wilcoxon_says_so(tmp_path):
    from scipy.stats import wilcoxon

    storage = journal(tmp_path / "optuna.journal")
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    study.set_user_attr(PRUNER_ATTR, {"metric": "roc_auc", "p_threshold": 0.1, "n_startup_steps": 2})
    best_folds = [0.80, 0.82, 0.78, 0.81, 0.79, 0.83]
    best = study.ask()
    for step, value in enumerate(best_folds):
        best.report(value, step)
    study.tell(best, float(np.mean(best_folds)))
    worse = [v - d for v, d in zip(best_folds, (0.05, 0.04, 0.06, 0.05, 0.03, 0.02))]
    running = study.ask()
    cfg = OmegaConf.create({"optuna_trial": {"storage": "optuna.journal", "study": "s", "number": running.number}})
    [hook] = optuna_pruning_hooks(cfg, tmp_path / str(running.number), tmp_path)
    # Independently: the first fold (past the 2 startup folds) where the one-sided signed-rank test of
    # trial - best on the folds so far is below 0.1.
    expected = next(n for n in range(3, 7)
                    if wilcoxon(np.subtract(worse[:n], best_folds[:n]), alternative="less").pvalue < 0.1)
    with pytest.raises(FoldsStopped) as stop:
        for fold, value in enumerate(worse):
            hook(fold, {"roc_auc": value})
    assert stop.value.details["folds_scored"] == expected == 4
    assert stop.value.details["pruner"] == "WilcoxonPruner" and stop.value.details["trial"] == running.number
    assert storage.get_trial(running._trial_id).intermediate_values == dict(enumerate(worse[:expected]))
    # A trial as good as the best is never pruned; a finished trial (medsweep reproduce) gets no hook.
    other = study.ask()
    cfg.optuna_trial.number = other.number
    [hook] = optuna_pruning_hooks(cfg, tmp_path / "x", tmp_path)
    for fold, value in enumerate(best_folds):
        hook(fold, {"roc_auc": value + 0.01})
    cfg.optuna_trial.number = best.number
    assert optuna_pruning_hooks(cfg, tmp_path / "x", tmp_path) == []
    assert optuna_pruning_hooks(OmegaConf.create({"optuna_trial": None}), tmp_path, tmp_path) == []


def test_optuna_trial_key_is_range_checked(compose_cfg):
    from medsweep.config.schema import config_errors

    cfg = compose_cfg("optuna_trial={storage:optuna.journal,study:s,number:-1}")
    assert [e for e in config_errors(cfg) if e.startswith("optuna_trial=")]
    cfg = compose_cfg("optuna_trial={storage:optuna.journal,study:s,number:3}")
    assert not [e for e in config_errors(cfg) if e.startswith("optuna_trial")]


# -- real searches ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_search_prunes_resumes_and_opens_with_optuna(tmp_path):
    proc = run_train("-m", *SEARCH, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="parkinsons-logreg", storage=journal(tmp_path / "optuna.journal"))
    assert [t.number for t in study.trials] == [0, 1, 2]
    records = [metrics_of(tmp_path / str(n)) for n in range(3)]
    for trial, record in zip(study.trials, records):
        state = {"completed": TrialState.COMPLETE, "pruned": TrialState.PRUNED}[record["status"]]
        assert trial.state == state
        # Each fold's score was reported to the trial as it was scored.
        folds = record["metrics"]["roc_auc"]["folds"] if state == TrialState.COMPLETE else None
        if folds:
            assert trial.intermediate_values == dict(enumerate(folds))
            assert trial.value == pytest.approx(np.mean(folds))
        assert f"estimator.C={trial.params['estimator.C']!r}" in record["overrides"]
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
    top = max(completed, key=lambda t: t.value)
    assert (best["best_job"], best["best_value"]) == (top.number, pytest.approx(top.value))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["optimization"]["best_params"] == {"estimator.C": top.params["estimator.C"]}
    assert summary["optimization"]["selected_job"] == top.number
    assert [j["num"] for j in json.loads((tmp_path / "sweep.json").read_text())["jobs"]] == [0, 1, 2]

    # A resume extends the search: the three trials stay as they were, one new trial runs (and reports its folds).
    before = {n: (tmp_path / str(n) / "metrics.json").stat().st_mtime_ns for n in range(3)}
    proc = run_train("-m", *SEARCH, "hydra.sweeper.n_trials=4", "resume=true", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert {n: (tmp_path / str(n) / "metrics.json").stat().st_mtime_ns for n in range(3)} == before
    study = optuna.load_study(study_name="parkinsons-logreg", storage=journal(tmp_path / "optuna.journal"))
    assert len(study.trials) == 4 and study.trials[3].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert study.trials[3].intermediate_values and study.trials[3].params != study.trials[0].params
    assert metrics_of(tmp_path / "3")["status"] in ("completed", "pruned")


@pytest.mark.slow
def test_two_objectives_give_a_pareto_front(tmp_path):
    proc = run_train("-m", *SEARCH, "hydra.sweeper.n_trials=3", "hydra.sweeper.objectives=[roc_auc,brier]",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    values = {n: (metrics_of(tmp_path / str(n))["metrics"]["roc_auc"]["mean"],
                  metrics_of(tmp_path / str(n))["metrics"]["brier"]["mean"]) for n in range(3)}
    front = [n for n, (a, b) in values.items()
             if not any(x >= a and y <= b and (x > a or y < b) for x, y in values.values())]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert [row["job"] for row in results["pareto_front"]] == front
    rows = (tmp_path / "pareto_front.csv").read_text().splitlines()
    assert rows[0] == "job,roc_auc,brier,estimator.C" and [int(r.split(",")[0]) for r in rows[1:]] == front
    assert "## Pareto front" in (tmp_path / "summary.md").read_text()
    assert "<h2>Pareto front</h2>" in (tmp_path / "report.html").read_text()
    assert all("optuna_trial" not in " ".join(metrics_of(tmp_path / str(n))["overrides"]) for n in range(3))


@pytest.mark.slow
def test_invalid_space_stops_before_launch_and_dry_run_lists_the_first_batch(tmp_path):
    proc = run_train("-m", *SEARCH, "estimator.C=interval(-1, 10)", f"hydra.sweep.dir={tmp_path / 's'}")
    assert proc.returncode == 1
    assert "estimator.C=-1.0 is not allowed" in proc.stderr and not (tmp_path / "s").exists()
    # The dry run lists the space and the first batch the sampler proposes, and creates nothing.
    proc = run_train("-m", *SEARCH, "dry_run=true", f"hydra.sweep.dir={tmp_path / 's'}")
    assert proc.returncode == 0, proc.stderr
    assert "estimator.C: FloatDistribution(high=100.0, log=True, low=0.001, step=None)" in proc.stdout
    assert proc.stdout.count("estimator.C=") == 3 and "would run" in proc.stdout and not (tmp_path / "s").exists()


def test_optuna_preset_has_a_search_space_for_every_estimator():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from helpers import ROOT
    from medsweep.estimators import REGISTRY

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=["hparams_search=optuna"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    s = cfg.hydra.sweeper
    assert s._target_.endswith("MedsweepOptunaSweeper") and s.params is None and list(s.objectives) == []
    assert sorted(s.search_space) == sorted(REGISTRY)
    for name, table in s.search_space.items():  # every dimension parses, and names a key of its estimator
        space, fixed = _optuna.search_space(parsed(*(f"{k}={v}" for k, v in table.items())))
        assert not fixed and all(k.split(".", 1)[1] in REGISTRY[name].Params.__dataclass_fields__ for k in space)


def _four_trials(path):
    """A study "s" with 4 trials asked, each with its job's overrides kept, as the sweeper asks them."""
    objectives = parse_objectives([], "classification")
    study = _optuna.create_study(path, "s", objectives, _optuna.sampler("tpe", 0))
    space = {"estimator.C": optuna.distributions.FloatDistribution(0.01, 10, log=True)}
    trials = [study.ask(space) for _ in range(4)]
    for t in trials:
        t.set_user_attr(_optuna.OVERRIDES_ATTR, [f"estimator.C={t.params['estimator.C']!r}"])
    return objectives, space, study, trials


def _sweeper(n_trials):
    from hydra_plugins.medsweep_sweeper.optuna_sweeper import MedsweepOptunaSweeper

    return MedsweepOptunaSweeper(n_trials=n_trials, n_jobs=2, objectives=[], study_name="s",
                                 sampler=OmegaConf.create({"name": "tpe", "seed": 0}),
                                 pruner=OmegaConf.create({"name": "auto", "p_threshold": 0.1, "n_startup_steps": 2}),
                                 params=None, search_space={})


def test_resume_tells_finished_trials_and_reruns_those_cut_short(tmp_path):
    from medsweep.record.job_record import write_record

    objectives, space, study, trials = _four_trials(tmp_path)
    study.tell(trials[0], 0.7)
    # 1: its job completed, but the sweep died before telling it; 2: interrupted; 3: never started.
    for num, record in ((0, JobRecord(status="completed", metrics={"roc_auc": {"mean": 0.7}})),
                        (1, JobRecord(status="completed", metrics={"roc_auc": {"mean": 0.9}})),
                        (2, JobRecord(status="interrupted"))):
        (tmp_path / str(num)).mkdir()
        write_record(tmp_path / str(num), record)
    sweeper = _sweeper(n_trials=6)
    sweeper.objectives, sweeper.study_name = objectives, "s"
    todo = sweeper._open_study(tmp_path, resume=True)
    assert todo == [2, 3, 4, 5]
    stored = optuna.load_study(study_name="s", storage=journal(tmp_path / _optuna.STORAGE_FILE))
    states = [t.state for t in stored.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.RUNNING, TrialState.RUNNING]
    assert sweeper._study.best_trial.number == 1 and sweeper._jobs[2] == trials[2].user_attrs[_optuna.OVERRIDES_ATTR]
    sweeper.objectives = parse_objectives(["roc_auc", "brier"], "classification")
    with pytest.raises(Exception, match="the study optimises roc_auc:maximize, this command roc_auc:maximize, brier"):
        sweeper._open_study(tmp_path, resume=True)


def _pruned_study(path):
    """A study of 4 trials as a search leaves it: 0 and 3 complete, 1 told PRUNED, 2 still RUNNING whose job
    was pruned (the sweep died before telling it)."""
    from medsweep.record.job_record import write_record

    objectives, space, study, trials = _four_trials(path)
    study.tell(trials[0], 0.7)
    study.tell(trials[1], state=TrialState.PRUNED)
    study.tell(trials[3], 0.8)
    (path / "2").mkdir()
    write_record(path / "2", JobRecord(status="pruned", pruned={"reason": "worse"}))
    return objectives, space, [t.params for t in trials]


def _resumed(path, objectives, space, rerun, n_trials=4):
    sweeper = _sweeper(n_trials)
    sweeper.objectives, sweeper.study_name, sweeper.space, sweeper.fixed = objectives, "s", space, ["model=x"]
    sweeper.config = OmegaConf.create({"race": {"rerun_pruned": rerun}, "hydra": {"sweep": {"dir": str(path)}}})
    sweeper._check = lambda overrides: None       # the app's range checks need Hydra: not what is tested here
    sweeper._write_jobs = lambda sweep_dir: None
    return sweeper, sweeper._open_study(path, resume=True)


def _asked(sweeper):
    return [n for batch in sweeper._batches([]) for n in batch]


def test_resume_with_rerun_pruned_runs_each_pruned_trials_parameters_again_as_a_new_trial(tmp_path):
    objectives, space, params = _pruned_study(tmp_path)
    # Without race.rerun_pruned a pruned trial stays pruned: the study holds n_trials, nothing runs.
    sweeper, todo = _resumed(tmp_path, objectives, space, rerun=False)
    assert todo == [] and _asked(sweeper) == []
    sweeper, todo = _resumed(tmp_path, objectives, space, rerun=True)
    assert todo == [4, 5] and _asked(sweeper) == [4, 5]
    stored = optuna.load_study(study_name="s", storage=journal(tmp_path / _optuna.STORAGE_FILE))
    states = [t.state for t in stored.trials]
    # The pruned trials stay PRUNED (trial 2 told so from its record); 4 and 5 run their parameters again.
    assert states[:4] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.PRUNED, TrialState.COMPLETE]
    assert [(t.params, t.user_attrs[_optuna.RERUN_ATTR]) for t in stored.trials[4:]] == [(params[1], 1),
                                                                                        (params[2], 2)]
    assert sweeper._jobs[4] == ["model=x", f"estimator.C={params[1]['estimator.C']!r}"]
    assert stored.trials[4].user_attrs[_optuna.OVERRIDES_ATTR] == sweeper._jobs[4]
    # A rerun pruned again is rerun by the next such resume; a pruned trial already rerun is not.
    sweeper._study.tell(4, 0.9)
    sweeper._study.tell(5, state=TrialState.PRUNED)
    sweeper, todo = _resumed(tmp_path, objectives, space, rerun=True, n_trials=5)
    assert todo == [6] and _asked(sweeper) == [6]
    sweeper._study.tell(6, state=TrialState.PRUNED)
    stored = optuna.load_study(study_name="s", storage=journal(tmp_path / _optuna.STORAGE_FILE))
    assert (stored.trials[6].params, stored.trials[6].user_attrs[_optuna.RERUN_ATTR]) == (params[2], 5)
    # Reruns enqueued by a resume that died before asking for them run on the next resume, as trial = job number.
    _resumed(tmp_path, objectives, space, rerun=True)   # enqueues trial 7 (rerun of 6), asks for nothing
    sweeper, todo = _resumed(tmp_path, objectives, space, rerun=False)
    assert todo == [7] and _asked(sweeper) == [7]
    assert sweeper._study.trials[7].params == params[2]


@pytest.mark.slow
def test_a_real_resume_with_rerun_pruned_runs_the_pruned_trial_again(tmp_path):
    """A search whose only trial was pruned, resumed with race.rerun_pruned=true: trial 1 runs trial 0's
    parameters to the end in its own directory; trial 0's directory and state are left as they were."""
    from medsweep.record.job_record import write_record

    search = [a for a in SEARCH if not a.startswith(("trainer.folds", "hydra.sweeper.n_jobs"))] + ["trainer.folds=2"]
    objectives = parse_objectives([], "classification")
    study = _optuna.create_study(tmp_path, "parkinsons-logreg", objectives, _optuna.sampler("tpe", 0))
    study.set_user_attr(PRUNER_ATTR, {"metric": "roc_auc", "p_threshold": 0.1, "n_startup_steps": 1})
    trial = study.ask({"estimator.C": optuna.distributions.FloatDistribution(1e-3, 1e2, log=True)})
    trial.set_user_attr(_optuna.OVERRIDES_ATTR, [f"estimator.C={trial.params['estimator.C']!r}"])
    study.tell(trial, state=TrialState.PRUNED)
    (tmp_path / "0").mkdir()
    write_record(tmp_path / "0", JobRecord(status="pruned", pruned={"reason": "worse"}))
    (tmp_path / "sweep.json").write_text("{}")
    before = (tmp_path / "0" / "metrics.json").read_bytes()
    proc = run_train("-m", *search, "hydra.sweeper.n_trials=1", "resume=true", "race.rerun_pruned=true",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert "the parameters of pruned trial(s) 0 run again as new trials 1" in proc.stderr + proc.stdout
    stored = optuna.load_study(study_name="parkinsons-logreg", storage=journal(tmp_path / "optuna.journal"))
    assert [t.state for t in stored.trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    record = metrics_of(tmp_path / "1")
    assert record["status"] == "completed" and f"estimator.C={trial.params['estimator.C']!r}" in record["overrides"]
    assert stored.trials[1].value == pytest.approx(np.mean(record["metrics"]["roc_auc"]["folds"]))
    assert (tmp_path / "0" / "metrics.json").read_bytes() == before
