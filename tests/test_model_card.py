"""model_card.md: every section of a real completed job's card, with the figures of its metrics.json; no card
for a failed job; text from the data and the config shown, never rendered as HTML."""

import json
import re

import pandas as pd
import pytest

from helpers import needs_shared_data, run_train
from medsweep.record.files import METRICS_FILE, Status
from medsweep.record.files import MODEL_CARD_FILE
from medsweep.report.model_card import write_model_card

HTML_COLUMN = "chol <b>mg/dl</b> | serum"
HTML_DESCRIPTION = "<img src=x onerror=alert(1)> risk"
SECTIONS = ("# Model card: cardiovascular (logreg)", "## Intended use", "## Data", "## Features", "## Validation",
            "## Performance", "## Calibration", "## Clinical utility", "## Operating point", "## Subgroups",
            "## Training settings and software", "## Reproduce")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The real Cleveland file with a column renamed to HTML, a description in HTML, an operating point
    rule, a subgroup column and a hold-out: every section of a card has something to say."""
    folder = tmp_path_factory.mktemp("card")
    data = folder / "cleveland.csv"
    frame = pd.read_csv(needs_shared_data("cleveland_heart.csv"), dtype=str, keep_default_na=False)
    frame.rename(columns={"chol": HTML_COLUMN}).to_csv(data, index=False)
    job = folder / "job"
    result = run_train("model=cardiovascular", f"data.path={data}", "estimator=logreg",
                       f"model.description='{HTML_DESCRIPTION}'", "eval.threshold=youden", "eval.subgroups=[sex]",
                       "trainer.holdout=0.2", f"hydra.run.dir={job}")
    assert result.returncode == 0, result.stderr[-2000:]
    return job


def _outside_code_blocks(text: str) -> str:
    return re.sub(r"```.*?```", "", text, flags=re.S)


def test_card_has_every_section_with_the_figures_of_metrics_json(job):
    path = write_model_card(job)
    assert path == job / MODEL_CARD_FILE
    card = path.read_text()
    record = json.loads((job / METRICS_FILE).read_text())
    positions = [card.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    for name, m in record["metrics"].items():
        shown = name.replace("_", "\\_")  # Markdown-escaped
        row = next(line for line in card.splitlines() if line.startswith((f"| {shown} |", f"| **{shown}** (primary) |")))
        assert f"{m['mean']:.4f} ± {m['std']:.4f}" in row
        assert f"{m['pooled']:.4f} ({m['lower']:.4f}-{m['upper']:.4f})" in row
        assert ", ".join(f"{v:.4f}" for v in m["folds"]) in row
    for name, m in record["test"]["metrics"].items():
        assert f"{m['value']:.4f} ({m['lower']:.4f}-{m['upper']:.4f})" in card
    counts = record["evaluation"]["counts"]
    assert f"{counts['patients']} patients, {counts['rows']} rows" in card
    for cls, n in counts["events"].items():
        assert f"| {cls} | {n} | {counts['patients_with'][cls]} |" in card
    assert record["data"]["sha256"] in card and record["data"]["path"] in card
    assert f"Used ({len(record['features']['used'])}): age, sex, cp, trestbps, " in card
    assert "| num | target |" in card
    calibration = record["evaluation"]["calibration"]
    assert (f"| all rows | {calibration['slope']:.4f} | {calibration['intercept']:.4f} | {calibration['citl']:.4f} "
            f"| {calibration['ece']:.4f} | {calibration['brier']:.4f} |") in card
    for t, nb in record["evaluation"]["decision_curve"]["net_benefit"].items():
        assert f"| {t} | {nb['model']:.4f} | {nb['treat_all']:.4f} | {nb['treat_none']:.4f} |" in card
    op = record["operating_point"]
    assert op["rule"] == "youden" and f"{op['final_threshold']:.4f}" in card
    assert ", ".join(f"{t:.4f}" for t in op["fold_thresholds"]) in card
    assert "5-fold cross-validation (StratifiedKFold), seed 0" in card
    assert f"hold-out of 0.2 of the patients (data.seed 0): {record['test']['patients']} patients" in card
    assert "trainer.epochs, trainer.batch\\_size" in card  # unused by logreg
    for package, version in record["versions"].items():
        assert f"| {package} | {version} |" in card
    assert f"medsweep reproduce {job}\nmedsweep run model=cardiovascular " in card
    assert "eval.threshold=youden 'eval.subgroups=[sex]' trainer.holdout=0.2\n```" in card


def test_text_from_data_and_config_is_escaped(job):
    card = _outside_code_blocks(write_model_card(job).read_text())
    assert "<img" not in card and "<b>" not in card
    assert "&lt;img src=x onerror=alert(1)&gt; risk" in card
    assert "chol &lt;b&gt;mg/dl&lt;/b&gt; \\| serum" in card  # the pipe cannot break a table cell


def test_a_failed_job_gets_no_card(tmp_path):
    failed = tmp_path / "failed"
    result = run_train("model=als", "data.target=nope", f"hydra.run.dir={failed}")
    assert result.returncode != 0
    assert json.loads((failed / METRICS_FILE).read_text())["status"] == Status.FAILED
    assert write_model_card(failed) is None
    assert not (failed / MODEL_CARD_FILE).exists()
    assert write_model_card(tmp_path / "no job here") is None
