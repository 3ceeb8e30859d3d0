"""Racing over folds (race.*, job/racing.py): the one-sided tests against independent computations, the
leader and the decision, a job pruned or left alone through the fold seam, and a real racing sweep (resume
leaves pruned jobs pruned; every summary counts them, never as failed)."""

import itertools
import json
import math

import pytest
from scipy import stats

from helpers import metrics_of, run_train
from medsweep.config.schema import config_errors
from medsweep.job import racing, runner
from medsweep.record.job_record import RUN_SPECIFIC, Status
from medsweep.record.sweep_dir import SweepDir

LEADER = [0.95, 0.96, 0.94, 0.97, 0.95, 0.96]
WORSE = [0.80, 0.84, 0.79, 0.83, 0.81, 0.82]


def _corrected_t_lower_p(d, ratio):
    """Nadeau & Bengio's corrected t of paired differences, lower-tail p, written out (notes/clinical-evaluation)."""
    n = len(d)
    mean = sum(d) / n
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    t = mean / math.sqrt(var * (1 / n + ratio))
    return t, stats.t.cdf(t, n - 1)


def _exact_wilcoxon_less(d):
    """Exact one-sided signed-rank p (H1: differences below 0): the share of the 2^n sign patterns whose sum
    of positive ranks is at most the observed one (no ties, no zeros)."""
    ranks = stats.rankdata([abs(x) for x in d])
    observed = sum(r for r, x in zip(ranks, d) if x > 0)
    sums = [sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=len(d))]
    return observed, sum(s <= observed + 1e-9 for s in sums) / len(sums)


def test_corrected_ttest_one_sided_matches_the_formula_in_both_directions():
    own, leader = [0.81, 0.86, 0.80, 0.84], [0.85, 0.87, 0.86, 0.88]
    ratio = 1 / 4  # 5 folds: n_test / n_train
    t, p = racing.one_sided_p(own, leader, True, "corrected_ttest", ratio)
    t_ref, p_ref = _corrected_t_lower_p([a - b for a, b in zip(own, leader)], ratio)
    assert t == pytest.approx(t_ref, rel=1e-12) and p == pytest.approx(p_ref, rel=1e-10)
    # Lower is better (rmse): the same scores mean own is better, so p is the upper tail.
    t2, p2 = racing.one_sided_p(own, leader, False, "corrected_ttest", ratio)
    assert t2 == pytest.approx(-t_ref) and p2 == pytest.approx(1 - p_ref, rel=1e-10)


def test_wilcoxon_one_sided_matches_the_exact_enumeration():
    own = [0.80, 0.83, 0.79, 0.90, 0.81, 0.84]
    leader = [0.85, 0.86, 0.84, 0.88, 0.87, 0.85]
    d = [a - b for a, b in zip(own, leader)]
    statistic, p = racing.one_sided_p(own, leader, True, "wilcoxon", 0.25)
    observed, p_ref = _exact_wilcoxon_less(d)
    assert statistic == pytest.approx(observed) and p == pytest.approx(p_ref)
    # 4 pairs all worse: the smallest one-sided p is 1/2^4, above 0.05 (why wilcoxon needs race.min_folds >= 5).
    assert racing.one_sided_p(WORSE[:4], LEADER[:4], True, "wilcoxon", 0.25)[1] == pytest.approx(1 / 16)


def test_decide_pairs_the_jobs_folds_with_the_leader_the_best_of_those_that_scored_all_of_them():
    own = dict(enumerate(WORSE[:4]))
    others = {"1": dict(enumerate(LEADER)),                       # the leader on folds 0-3
              "2": {0: 0.99, 1: 0.99},                            # better, but only 2 shared folds: not compared
              "5": {0: 0.99, 1: 0.99, 2: 0.99},                   # best on 3 folds, but has not scored fold 3:
              #                                                      judged on other folds than ours, never the leader
              "3": {0: 0.90, 1: 0.88, 2: 0.89, 3: 0.90, 4: 0.2}}  # fold 4 not shared: ignored
    stop = racing.decide(own, others, True, 3, 0.05, "corrected_ttest", 0.25)
    assert stop["leader"] == {"job": "1", "scores": LEADER[:4]}
    assert stop["folds"] == [0, 1, 2, 3] and stop["scores"] == WORSE[:4]
    t_ref, p_ref = _corrected_t_lower_p([a - b for a, b in zip(WORSE, LEADER[:4])], 0.25)
    assert stop["statistic"] == pytest.approx(t_ref) and stop["p_value"] == pytest.approx(p_ref)
    assert stop["p_value"] < 0.05 and stop["test"].startswith("corrected resampled t-test")
    # Fewer own folds than min_folds, a NaN fold, or a better job: it goes on.
    assert racing.decide(dict(enumerate(WORSE[:2])), others, True, 3, 0.05, "corrected_ttest", 0.25) is None
    assert racing.decide({0: 0.8, 1: math.nan, 2: 0.8}, others, True, 3, 0.05, "corrected_ttest", 0.25) is None
    assert racing.decide(dict(enumerate(LEADER)), {"1": dict(enumerate(WORSE))}, True, 3, 0.05,
                         "corrected_ttest", 0.25) is None
    # Lower is better: the "worse" scores lead.
    assert racing.decide(dict(enumerate(LEADER)), {"1": dict(enumerate(WORSE))}, False, 3, 0.05,
                         "corrected_ttest", 0.25)["leader"]["job"] == "1"


def test_race_keys_are_checked_before_any_job(compose_cfg):
    ok = compose_cfg("race.enabled=true")
    assert config_errors(ok) == []
    errors = " | ".join(config_errors(compose_cfg("race.enabled=true", "race.test=anova", "race.alpha=0.7",
                                                "race.min_folds=9")))
    assert config_errors(compose_cfg("trainer.folds=2")) == []   # racing off: its minimum is not checked
    assert "race.test='anova' is not allowed: must be one of corrected_ttest, wilcoxon" in errors
    assert "race.alpha=0.7" in errors and "race.min_folds=9" in errors and "(5)" in errors
    errors = " | ".join(config_errors(compose_cfg("race.enabled=true", "race.test=wilcoxon", "race.min_folds=4")))
    assert "race.min_folds=4 is not allowed with race.test=wilcoxon" in errors and "race.min_folds>=5" in errors


def _race_files(sweep, cfg, scores_by_job):
    folder = sweep / racing.RACE_DIR / racing.group_key(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    for job, scores in scores_by_job.items():
        (folder / f"{job}.json").write_text(json.dumps({"scores": {str(f): s for f, s in enumerate(scores)}}))
    return folder


def _run(cfg, job_dir, sweep, monkeypatch):
    monkeypatch.setattr(runner, "_sweep_dir", lambda: sweep)
    return runner.run_job(cfg, job_dir)


@pytest.fixture(scope="module")
def plain_job(tmp_path_factory):
    """The job run without racing (the numbers a full sweep records)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from helpers import ROOT

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["model=breast_cancer", "estimator=logreg", "trainer.folds=4",
                                                      "eval.n_boot=0"])
    GlobalHydra.instance().clear()
    job = tmp_path_factory.mktemp("plain") / "0"
    runner.run_job(cfg, job)
    return metrics_of(job)


def test_a_job_worse_than_the_leader_is_pruned_with_the_test_that_stopped_it(compose_cfg, tmp_path, monkeypatch,
                                                                               plain_job):
    cfg = compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=4", "eval.n_boot=0",
                      "race.enabled=true", "race.min_folds=3")
    ahead = [s + d for s, d in zip(plain_job["metrics"]["roc_auc"]["folds"], (0.05, 0.06, 0.04, 0.05))]
    folder = _race_files(tmp_path, cfg, {"7": ahead})                   # a leader ahead on every fold
    (folder / "8.json").write_text("not json")                           # a damaged file is not raced against
    value = _run(cfg, tmp_path / "3", tmp_path, monkeypatch)
    record = metrics_of(tmp_path / "3")
    assert value != value and record["status"] == "pruned"
    pruned = record["pruned"]
    assert pruned["by"] == "racing" and pruned["metric"] == "roc_auc" and pruned["folds"] == [0, 1, 2]
    assert pruned["leader"] == {"job": "7", "scores": ahead[:3]}
    assert pruned["alpha"] == 0.05 and pruned["p_value"] < 0.05 and "worse than job 7" in pruned["reason"]
    assert pruned["scores"] == plain_job["metrics"]["roc_auc"]["folds"][:3]
    t_ref, p_ref = _corrected_t_lower_p([s - a for s, a in zip(pruned["scores"], ahead)], 1 / 3)
    assert pruned["statistic"] == pytest.approx(t_ref) and pruned["p_value"] == pytest.approx(p_ref)
    # Its own fold scores are in the race folder for the jobs after it.
    own = json.loads((folder / "3.json").read_text())
    assert [own["scores"][str(f)] for f in range(3)] == pruned["scores"]


def test_a_job_not_pruned_records_exactly_the_numbers_of_a_full_sweep(compose_cfg, tmp_path, monkeypatch, plain_job):
    cfg = compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=4", "eval.n_boot=0",
                      "race.enabled=true", "race.min_folds=2")
    _race_files(tmp_path, cfg, {"9": [0.5, 0.5, 0.5, 0.5]})  # a weak leader: raced against, never ahead
    _run(cfg, tmp_path / "1", tmp_path, monkeypatch)
    raced = metrics_of(tmp_path / "1")
    assert raced["status"] == "completed" and "pruned" not in raced
    assert {k: v for k, v in raced.items() if k not in RUN_SPECIFIC} == \
        {k: v for k, v in plain_job.items() if k not in RUN_SPECIFIC}
    # Without a sweep there is nothing to race against: no hook at all.
    assert racing.race_hook(cfg, tmp_path / "x", None) is None


@pytest.mark.slow
def test_a_racing_sweep_prunes_the_loser_keeps_it_pruned_on_resume_and_counts_it(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "model=breast_cancer", "estimator=random_forest", "estimator.max_depth=1",
            "estimator.n_estimators=20,1", "trainer.folds=5", "eval.n_boot=0", "race.enabled=true",
            "race.min_folds=3", f"hydra.sweep.dir={sweep}", "hydra.launcher.n_jobs=1"]
    proc = run_train(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    good, stump = metrics_of(sweep / "0"), metrics_of(sweep / "1")
    assert good["status"] == "completed"
    assert stump["status"] == "pruned" and stump["pruned"]["leader"]["job"] == "0"
    assert stump["pruned"]["leader"]["scores"] == good["metrics"]["roc_auc"]["folds"][:len(stump["pruned"]["folds"])]
    # Screened first (both jobs' 3 folds known), the stump was pruned there; nothing of the stages is left.
    assert stump["pruned"]["stage"] == "screening" and stump["pruned"]["folds"] == [0, 1, 2]
    assert not (sweep / racing.RACE_DIR / racing.STAGE_FILE).exists()
    assert not list(sweep.glob("*/.folds"))
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["sweep"]["counts"]["pruned"] == 1 and summary["sweep"]["counts"]["failed"] == 0
    assert "## Pruned" in (sweep / "summary.md").read_text()
    assert "pruned: racing: roc_auc worse than job 0" in (sweep / "report.html").read_text()  # the job's block says why
    assert "Pruned (stopped early" in proc.stdout + proc.stderr
    # resume=true leaves it pruned; race.rerun_pruned=true asks for it again.
    assert SweepDir(sweep).resume_plan([0, 1]).todo == []
    assert SweepDir(sweep).resume_plan([0, 1]).pruned == [1]
    assert SweepDir(sweep).resume_plan([0, 1], rerun_pruned=True).todo == [1]
    proc = run_train(*args, "resume=true")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert metrics_of(sweep / "1")["finished_at"] == stump["finished_at"]
    assert metrics_of(sweep / "1")["status"] == Status.PRUNED.value


def test_a_pruned_job_is_an_mlflow_run_killed_with_why(tmp_path):
    from medsweep.tracking.mlflow.runs import job_run

    record = {"model": "heart", "estimator": "logreg", "status": "pruned",
              "pruned": {"reason": "racing: roc_auc worse than job 0's", "by": "racing"}}
    (tmp_path / "metrics.json").write_text(json.dumps(record))
    run = job_run(tmp_path, record, json.dumps(record).encode(), overrides=[], num="3")
    assert run["run_status"] == "KILLED" and run["status"] == "pruned"
    assert run["tags"]["status"] == "pruned" and run["tags"]["pruned"] == "racing: roc_auc worse than job 0's"


# -- racing in two stages (job/race_screening.py, learn/fold_store.py) -------------------------------------------

def _screened(sweep, num, cfg):
    """A screened job's record, as the runner writes it."""
    folder = sweep / str(num)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps({"model": "m", "status": "screened", "job_num": num}))


def test_a_screened_job_goes_on_from_its_kept_folds_to_exactly_the_numbers_of_a_plain_job(
        compose_cfg, tmp_path, monkeypatch, plain_job):
    from medsweep.learn import training

    cfg = compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=4", "eval.n_boot=0",
                      "race.enabled=true", "race.min_folds=2")
    racing.set_stage(tmp_path, racing.SCREEN)
    _run(cfg, tmp_path / "1", tmp_path, monkeypatch)
    screened = metrics_of(tmp_path / "1")
    assert screened["status"] == "screened" and "metrics" not in screened
    assert sorted(p.name for p in (tmp_path / "1" / ".folds").iterdir()) == ["fold_000.npz", "fold_001.npz"]
    trained = []
    original = training._train_fold
    monkeypatch.setattr(training, "_train_fold", lambda *a, **k: trained.append(1) or original(*a, **k))
    racing.set_stage(tmp_path, "continue")
    _run(cfg, tmp_path / "1", tmp_path, monkeypatch)
    raced = metrics_of(tmp_path / "1")
    assert len(trained) == 2   # folds 2 and 3 only: 0 and 1 were kept
    assert raced["status"] == "completed" and not (tmp_path / "1" / ".folds").exists()
    assert {k: v for k, v in raced.items() if k not in RUN_SPECIFIC} == \
        {k: v for k, v in plain_job.items() if k not in RUN_SPECIFIC}


def test_kept_folds_are_used_only_for_the_same_config_data_and_rows(tmp_path):
    import numpy as np

    from medsweep.learn.fold_store import FoldStore, SavedFold

    rows = np.array([3, 5, 8])
    saved = SavedFold(out=np.array([[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]), threshold=0.35,
                      history=[{"epoch": 1, "train_loss": 0.25, "val_roc_auc": float("nan")}])
    FoldStore(tmp_path, "a").save(0, rows, "sha", saved)
    back = FoldStore(tmp_path, "a").load(0, rows, "sha")
    assert np.array_equal(back.out, saved.out) and back.threshold == 0.35
    assert back.history[0]["train_loss"] == 0.25 and math.isnan(back.history[0]["val_roc_auc"])
    assert FoldStore(tmp_path, "b").load(0, rows, "sha") is None             # another config
    assert FoldStore(tmp_path, "a").load(0, rows, "other") is None           # another data file
    assert FoldStore(tmp_path, "a").load(0, np.array([3, 5, 9]), "sha") is None  # other test rows
    assert FoldStore(tmp_path, "a").load(1, rows, "sha") is None             # never saved
    (tmp_path / ".folds" / "fold_000.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert FoldStore(tmp_path, "a").load(0, rows, "sha") is None             # damaged: trained again


def test_screening_prunes_against_the_leader_of_all_jobs_and_runs_the_most_promising_first(compose_cfg, tmp_path):
    from medsweep.job import race_screening

    cfg = compose_cfg("model=breast_cancer", "trainer.folds=4", "race.enabled=true", "race.min_folds=3")
    scores = {"0": [0.80, 0.84, 0.79], "1": [0.95, 0.96, 0.94], "2": [0.93, 0.97, 0.95], "3": [0.90, 0.99, 0.88]}
    folder = _race_files(tmp_path, cfg, scores)
    for job in scores:  # what the Race hook writes: the settings with the scores
        data = json.loads((folder / f"{job}.json").read_text())
        data.update(metric="roc_auc", greater_is_better=True, min_folds=3, alpha=0.05, test="corrected_ttest",
                    test_train_ratio=1 / 3)
        (folder / f"{job}.json").write_text(json.dumps(data))
        _screened(tmp_path, int(job), cfg)
    going_on, pruned = race_screening.screen(tmp_path, [0, 1, 2, 3])
    # The leader is job 2 (best mean, 0.950); each other job against it, by the corrected t-test written here.
    expected_pruned = set()
    for job in ("0", "1", "3"):
        _, p = _corrected_t_lower_p([a - b for a, b in zip(scores[job], scores["2"])], 1 / 3)
        if p < 0.05:
            expected_pruned.add(int(job))
    assert expected_pruned == {0}    # job 0 is clearly worse; 1 and 3 are within noise of the leader
    assert pruned == sorted(expected_pruned)
    record = metrics_of(tmp_path / "0")
    assert record["status"] == "pruned" and record["pruned"]["stage"] == "screening"
    assert record["pruned"]["leader"]["job"] == "2" and record["pruned"]["folds"] == [0, 1, 2]
    assert going_on == [2, 1, 3]     # by mean over the screened folds, best first
    assert all(metrics_of(tmp_path / str(n))["status"] == "screened" for n in going_on)


def test_the_winners_bbc_cv_says_how_many_pruned_jobs_it_left_out():
    from medsweep.report import cells, table

    rows = [{"job": 0, "model": "heart", "status": "completed", "primary_metric": "roc_auc", "primary_pooled": 0.9},
            {"job": 1, "model": "heart", "status": "completed", "primary_metric": "roc_auc", "primary_pooled": 0.8},
            {"job": 2, "model": "heart", "status": "pruned"}, {"job": 3, "model": "heart", "status": "pruned"},
            {"job": 4, "model": "other", "status": "pruned"}]
    comparisons = {0: {"best": 0, "group": [0, 1]},
                   1: {"best": 0, "group": [0, 1], "difference": -0.1, "lower": -0.2, "upper": 0.0, "p_value": 0.04,
                       "p_holm": 0.04, "distinguishable": True}}
    res = {"estimate": 0.87, "lower": 0.8, "upper": 0.93, "level": 0.95, "n_boot": 10, "n_valid": 10,
           "selected": {0: 8, 1: 2}, "method": "bbc"}
    selection = table.add_comparisons(rows, comparisons, lambda jobs: res)
    assert selection[0]["pruned_left_out"] == 2 and rows[0]["bbc_pruned"] == 2   # job 4 is another model's
    assert cells.row_bbc(rows[0]).endswith("of 2 (2 pruned left out)")
    assert table.csv_appended(rows)["bbc_pruned"] == [2, None, None, None, None]


def test_a_resume_runs_screened_jobs_on_and_leaves_pruned_ones(tmp_path):
    for num, status in ((0, "completed"), (1, "screened"), (2, "pruned")):
        (tmp_path / str(num)).mkdir()
        (tmp_path / str(num) / "metrics.json").write_text(json.dumps({"status": status, "job_num": num}))
    plan = SweepDir(tmp_path).resume_plan([0, 1, 2])
    assert 1 in plan.todo and 2 not in plan.todo and plan.pruned == [2] and not plan.running
