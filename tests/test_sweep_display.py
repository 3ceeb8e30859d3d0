"""What a user sees while a sweep runs: the dry run and the progress display."""

import io
import json
import logging
import sys

import pytest
from sklearn.datasets import load_breast_cancer

from helpers import run_train
from hydra_plugins.medsweep_launcher._core import job_listing
from hydra_plugins.medsweep_sweeper._job_warnings import job_numbers
from hydra_plugins.medsweep_sweeper._progress import Progress
from medsweep.record.outputs import write_json


@pytest.mark.slow
def test_dry_run_of_100_jobs_lists_them_and_creates_nothing(tmp_path):
    seeds = ",".join(map(str, range(25)))
    proc = run_train("-m", "model=parkinsons,breast_cancer", "estimator=logreg,mlp", f"seed={seeds}",
                     "dry_run=true", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert proc.returncode == 0, proc.stderr
    assert "dry run: 100 jobs would run" in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("#")]
    assert len(lines) == 100 and lines[0].startswith("#0 ") and lines[-1].startswith("#99 ")
    assert "model=breast_cancer estimator=mlp epochs=20 folds=5 batch_size=32 seed=24 data=sklearn:breast_cancer" \
        in proc.stdout
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_dry_run_still_refuses_bad_values(tmp_path):
    proc = run_train("-m", "model=parkinsons", "trainer.folds=1", "dry_run=true", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode != 0 and "trainer.folds=1 is not allowed" in proc.stderr


class Terminal(io.StringIO):
    def isatty(self):
        return True


def write_status(sweep_dir, num, status, log="", **fields):
    (sweep_dir / str(num)).mkdir(exist_ok=True)
    write_json(sweep_dir / str(num) / "metrics.json", {"status": status, **fields})
    if log:
        (sweep_dir / str(num) / "train.log").write_text(log)


def log_line(level, message):
    return f"[2026-12-02 05:52:23,453][medsweep][{level}] - {message}\n"


@pytest.mark.parametrize("stream_type", [io.StringIO, Terminal])
def test_progress_counts_jobs_and_lists_only_those_that_did_not_complete(tmp_path, stream_type):
    stream = stream_type()
    jobs = [["model=als", f"seed={n}"] for n in range(4)]
    progress = Progress(tmp_path, [0, 1, 2, 3], stream=stream, interval_s=0.05, overrides=jobs)
    write_status(tmp_path, 0, "completed", overrides=jobs[0])
    write_status(tmp_path, 1, "running")
    counts = progress.poll()
    assert counts["completed"] == 1 and counts["running"] == 1
    assert "1/4 jobs done (1 completed, 0 failed), 1 running" in progress.line(counts)
    assert "left" in progress.line(counts)
    progress.start()
    write_status(tmp_path, 1, "failed", overrides=jobs[1], error="data file x.csv is empty", error_type="DataError")
    write_status(tmp_path, 2, "timeout", overrides=jobs[2], error="over 1 min", error_type="JobTimeout")
    write_status(tmp_path, 3, "completed", overrides=jobs[3])
    progress.stop()
    out = stream.getvalue()
    # a line for each job that did not complete: what tells it apart, its status and error type (the error
    # itself is listed once, in the leaderboard); none for completed jobs
    assert "[medsweep] #1 failed  seed=1  DataError (its error: at the end)" in out
    assert "[medsweep] #2 timeout  seed=2  JobTimeout" in out
    assert "#0 completed" not in out and "#3 completed" not in out and "x.csv is empty" not in out
    if stream_type is Terminal:  # the bar, each line written on a line of its own above it
        assert "\r" in out and "4/4 jobs" in out and "2 completed, 1 failed, 1 timeout" in out
        assert out[out.index("[medsweep] #1 failed") - 1] in "\r\n"
    else:  # a short sweep off a terminal: only its lines (the leaderboard counts the jobs)
        assert "\r" not in out and out.endswith("\n") and len(out.splitlines()) == 2


def test_progress_off_a_terminal_prints_a_count_while_jobs_run(tmp_path, monkeypatch):
    from hydra_plugins.medsweep_sweeper import _progress

    monkeypatch.setattr(_progress, "HEARTBEAT_S", 0.0)
    stream = io.StringIO()
    progress = Progress(tmp_path, [0, 1], stream=stream, interval_s=0.05)
    write_status(tmp_path, 0, "completed")
    progress.poll()
    progress._show()
    write_status(tmp_path, 1, "completed")
    progress.stop()
    assert len(stream.getvalue().splitlines()) == 2
    assert "1/2 jobs done (1 completed, 0 failed)" in stream.getvalue().splitlines()[0]
    assert "2/2 jobs done (2 completed, 0 failed), 0 running" in stream.getvalue().splitlines()[1]


def test_the_sweeps_own_lines_are_written_above_the_bar(tmp_path, monkeypatch):
    """Log lines of handlers made before the bar and after it (Hydra configures logging again for each batch of
    the launcher, onto sys.stdout) and prints, on the terminal the bar is drawn on."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(sys, "stdout", terminal)
    before = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(before)
    after = None
    try:
        progress = Progress(tmp_path, [0], stream=terminal, interval_s=0.05).start()
        progress._show()
        logging.getLogger("hydra_plugins.medsweep_sweeper").warning("Restarting the workers")
        after = logging.StreamHandler(sys.stdout)  # what logging.config makes of ext://sys.stdout meanwhile
        logging.getLogger("hydra.launcher").addHandler(after)
        logging.getLogger("hydra.launcher").propagate = False
        logging.getLogger("hydra.launcher").warning("Launching 3 jobs")
        print("a line printed")
        write_status(tmp_path, 0, "completed")
        progress.stop()
    finally:
        logging.getLogger().removeHandler(before)
        if after is not None:
            logging.getLogger("hydra.launcher").removeHandler(after)
        logging.getLogger("hydra.launcher").propagate = True
    out = terminal.getvalue()
    assert "[medsweep]" in out and "1/1 jobs" in out
    for text in ("Restarting the workers", "Launching 3 jobs", "a line printed"):
        at = out.index(text)
        line_start = max(out.rfind("\n", 0, at), out.rfind("\r", 0, at))
        assert out[line_start + 1:at] == "" and out[at + len(text)] == "\n", (text, out[line_start:at + 40])


def test_a_jobs_warnings_are_shown_once_per_sweep_naming_the_jobs(tmp_path):
    stream = io.StringIO()
    progress = Progress(tmp_path, list(range(5)), stream=stream, interval_s=0.05).start()
    unused = log_line("WARNING", "trainer.batch_size=16 is not used by estimator 'logreg'")
    for n in (0, 1, 2, 4):
        write_status(tmp_path, n, "completed", warnings=[{"kind": "small_test_fold", "message": "fold 1 is small"}],
                     log=log_line("INFO", "Data 'x'") + unused + log_line("WARNING", "fold 1 is small")
                     + (log_line("WARNING", "Column 'z' is entirely empty") if n == 4 else ""))
    write_status(tmp_path, 3, "failed", error="bad file x.csv", error_type="DataError",
                 log=unused + log_line("ERROR", "Attempt 1 of 1 failed: DataError: bad file x.csv")
                 + log_line("ERROR", "Traceback (most recent call last):") + "  File ...\n")
    progress.stop()
    lines = stream.getvalue().splitlines()
    assert lines == ["[medsweep] #3 failed  (defaults)  DataError (its error: at the end)",
                     "[medsweep] jobs #0-#4: trainer.batch_size=16 is not used by estimator 'logreg'",
                     "[medsweep] job #4: Column 'z' is entirely empty"]


def test_job_numbers_are_written_as_runs():
    assert job_numbers([3, 0, 1, 2, 7]) == "#0-#3, #7"
    assert job_numbers([5]) == "#5"
    assert job_numbers(range(0, 40, 2), limit=3) == "#0, #2, #4, ... (20 jobs)"


def test_the_launchers_listing_is_condensed_beyond_a_few_jobs():
    jobs = [["model=als", f"seed={n}", f"hydra.sweep.subdir={n + 10}"] for n in range(12)]
    assert job_listing(jobs[:4], 0) == [f"\t#{n + 10} : model=als seed={n}" for n in range(4)]
    lines = job_listing(jobs, 0)
    assert lines == ["\t#10 : model=als seed=0", "\t#11 : model=als seed=1",
                     "\t... 10 more (#12 to #21), varying seed; each job's overrides in <job>/.hydra/overrides.yaml"]
    assert job_listing([["a=1"], ["a=1", "b=2"], ["a=1"], ["a=1"], ["a=1"]], 5)[-1].startswith(
        "\t... 3 more (#7 to #9), varying b;")


@pytest.mark.slow
def test_a_12_job_sweep_prints_at_most_30_lines_with_its_failure_once(tmp_path):
    """The sweep of issue 24 (82 lines before), with one job made to fail (its data file is empty) and one setting
    logreg does not use set by the user (trainer.batch_size; trainer.epochs is left at its default)."""
    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    for seed in range(12):
        frame.to_csv(tmp_path / f"bc_{seed}.csv", index=False)
    (tmp_path / "bc_7.csv").write_text("")
    seeds = ",".join(map(str, range(12)))
    proc = run_train("-m", "model=breast_cancer", "estimator=logreg", f"seed={seeds}", "trainer.folds=2",
                     "eval.n_boot=0", "hydra.launcher.n_jobs=2", "trainer.batch_size=16",
                     f"data.path={tmp_path}/bc_" + r"$\{seed\}.csv", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    console = proc.stdout + proc.stderr
    lines = console.splitlines()
    assert proc.returncode == 1, console
    assert len(lines) <= 30, console
    assert console.count("is empty: it needs a header row") == 1, console  # the error, once: at the end
    assert "[medsweep] #7 failed  seed=7  DataError (its error: at the end)" in proc.stderr  # as it failed
    assert proc.stderr.splitlines()[-2:] == [
        f"1 of 12 jobs failed: #7 (details in each job's train.log and metrics.json); report: "
        f"{tmp_path / 'sweep' / 'report.html'}",
        f"  #7 failed  seed=7  DataError: data file {tmp_path}/bc_7.csv is empty: it needs a header row and at "
        "least one data row"]
    assert "HYDRA_FULL_ERROR" not in console and "Not completed" not in console
    assert console.count("is not used by estimator") == 1 and "trainer.epochs" not in console
    assert "[medsweep] jobs #0-#6, #8-#11: trainer.batch_size=16 is not used by estimator 'logreg'" in console
    assert "... 10 more (#2 to #11), varying seed" in console
    assert json.loads((tmp_path / "sweep" / "11" / "metrics.json").read_text())["unused_settings"] == \
        ["trainer.epochs", "trainer.batch_size"]


def test_a_jobs_console_lines_are_dropped_only_while_it_runs_in_its_thread(monkeypatch):
    """What CheckConfig.on_job_start installs in a job of a medsweep sweep: its lines reach train.log only (the
    sweep shows its warnings from there); the sweep's own lines, in another thread or after the job (a job run
    in the sweep's process), still reach the console."""
    import threading

    from hydra.core.hydra_config import HydraConfig

    from medsweep.job.callbacks import _WhileJobRuns

    monkeypatch.setattr(HydraConfig.instance(), "cfg", object())  # the job's runtime config, as run_job sets it
    only_while_job_runs = _WhileJobRuns()
    record = logging.LogRecord("medsweep", logging.WARNING, __file__, 1, "a job's warning", None, None)
    assert only_while_job_runs.filter(record) is False
    other_thread = []
    thread = threading.Thread(target=lambda: other_thread.append(only_while_job_runs.filter(record)))
    thread.start()
    thread.join()
    assert other_thread == [True]
    monkeypatch.setattr(HydraConfig.instance(), "cfg", object())  # run_job put the sweep's config back
    assert only_while_job_runs.filter(record) is True
