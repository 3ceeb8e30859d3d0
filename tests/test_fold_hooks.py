"""The seam searches use to stop a job after a fold (racing, Optuna pruning): the job ends "pruned", with the
folds it scored, and is neither failed nor completed."""

import json

from medsweep.job import runner
from medsweep.learn.stops import FoldsStopped


def test_a_fold_hook_that_stops_the_job_records_it_pruned(compose_cfg, tmp_path, monkeypatch):
    seen = []

    def hook(fold, metrics):
        seen.append((fold, metrics["roc_auc"]))
        if fold == 1:
            raise FoldsStopped("worse than the leader", {"folds_scored": fold + 1})

    monkeypatch.setattr(runner, "fold_hook", lambda cfg, out_dir, sweep_dir: hook)
    value = runner.run_job(compose_cfg("model=breast_cancer", "estimator=logreg", "trainer.folds=4", "eval.n_boot=0"),
                           tmp_path / "job")
    record = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert [f for f, _ in seen] == [0, 1]          # stopped after the second of four folds
    assert all(0.5 < auc <= 1 for _, auc in seen)
    assert record["status"] == "pruned"
    assert record["pruned"] == {"reason": "worse than the leader", "folds_scored": 2}
    assert value != value                            # NaN: no score a sweeper could take for a full one
    assert not (tmp_path / "job" / "model.skops").exists()
