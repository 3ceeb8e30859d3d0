"""Predict a file with a completed job's final model (``model.skops``):

    medsweep predict multirun/2026-11-28/09-30-00/0 new_patients.csv -o new_patients.predictions.csv

writes one row per data row of the file: ``row`` (its 0-based data row), ``patient`` (where the job had a
patient column), ``proba_<class>`` per class and ``y_pred`` at the job's operating point (binary: the
positive class iff its probability >= ``operating_point.final_threshold``; multiclass: the most probable
class; regression: ``y_pred`` only). The file is read with the job's own data settings (delimiter,
missing-value markers, patient column and pattern from its ``.hydra/config.yaml``) by the reader training
uses (data.read.read_chunks), in chunks, so memory stays bounded however long the file is. The job
directory may come from elsewhere: the model file must have the sha256 its metrics.json records, and is
loaded and used in a child process under memory and time limits (persistence.ModelProcess), so a
malformed one ends in one line. Library functions only: the command line is medsweep.cli.predict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from medsweep.data.columns import patients
from medsweep.data.read import CHUNK_ROWS, read_chunks as read_table_chunks
from medsweep.escape import csv_safe
from medsweep.evaluate.metrics import predicted_classes
from medsweep.learn.persistence import MEMORY_MB, TIMEOUT_S, ModelProcess
from medsweep.record.files import METRICS_FILE, MODEL_FILE, SAVED_CONFIG, JobPaths, sha256_of_file
from medsweep.record.job_record import JobRecord, as_record, load_record, status_text
from medsweep.record.outputs import atomic_path

OUTPUT_SUFFIX = ".predictions.csv"


class PredictError(ValueError):
    """The job, its model file or the input file cannot be used to predict (one line)."""


def completed_record(job_dir: Path) -> JobRecord:
    """The job's record (metrics.json), when the job completed (only then is there a model to trust)."""
    try:
        record = load_record(job_dir)
    except (FileNotFoundError, NotADirectoryError):
        raise PredictError(f"{job_dir} is not a job directory: it has no {METRICS_FILE}") from None
    except ValueError as exc:
        raise PredictError(f"{JobPaths(job_dir).metrics} is not valid JSON ({exc})") from None
    if not record.completed:
        error_type = record.error_type if record.has("error_type") else "error"
        why = f": {error_type}: {record.error}" if record.error else ""
        raise PredictError(f"job {job_dir} did not complete (status {status_text(record.status)!r}{why}); only a "
                           "completed job's model is used to predict")
    return record


def checked_model_file(job_dir: Path, record: JobRecord) -> Path:
    """The job's model file, when its bytes are those the job saved (before anything loads it)."""
    job = JobPaths(job_dir)
    path = job.model
    if not path.is_file():
        raise PredictError(f"job {job_dir} has no {MODEL_FILE}")
    recorded = record.model_sha256
    if not recorded:
        raise PredictError(f"{job.metrics} records no model_sha256 (a job from an older "
                           f"medsweep), so {path} cannot be checked; run the job again to predict with it")
    actual = sha256_of_file(path)
    if actual != recorded:
        raise PredictError(f"{path} is not the model this job saved (sha256 {actual}, {METRICS_FILE} records "
                           f"{recorded}): it was replaced or corrupted, so it was not loaded")
    return path


def saved_data_config(job_dir: Path) -> Any:
    """The ``data`` section of the config the job ran (how its file was read)."""
    path = JobPaths(job_dir).saved_config
    try:
        return OmegaConf.load(path).data
    except FileNotFoundError:
        raise PredictError(f"job {job_dir} has no {SAVED_CONFIG}: the data settings it was trained with "
                           "(delimiter, missing-value markers, patient column) are read from there") from None


def feature_kinds(record: JobRecord | Mapping[str, Any], info: dict) -> dict[str, str]:
    """Each training feature, in training order, with its kind: "numeric" or "text" (one-hot encoded).
    ``info``: what the loaded model says of itself (persistence.model_info)."""
    features = as_record(record).features
    used = list(features["used"])
    recorded = features.get("kinds")
    if recorded:
        return {c: recorded[c] for c in used}
    # The preprocessing of the saved pipeline tells (preprocess.py): its "categorical" step holds the text
    # columns; without one every feature was numeric.
    if (info.get("features") or used) != used:
        raise PredictError(f"{MODEL_FILE}'s features differ from {METRICS_FILE}'s features.used")
    text = set(info.get("text") or ())
    return {c: "text" if c in text else "numeric" for c in used}


def check_classes(record: JobRecord | Mapping[str, Any], info: dict) -> None:
    """Checked, not assumed: proba_<class> columns are named from metrics.json's classes."""
    record = as_record(record)
    if record.task == "classification" and info.get("classes") != record.classes:
        raise PredictError(f"the model's classes {info.get('classes')} differ from {METRICS_FILE}'s "
                           f"{record.classes}")


def read_chunks(path: Path, data_cfg: Any, text_columns: list,
                chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The file's column names (checked now) and its rows, ``chunk_rows`` at a time, read with the job's data
    settings (``data_cfg``: its delimiter and missing-value markers) as training read its file."""
    return read_table_chunks(path, data_cfg.na_values, data_cfg.get("delimiter"), text_columns, chunk_rows)


# -- checking and predicting ----------------------------------------------------------------------------

def check_columns(path: Path, columns: list[str], record: JobRecord | Mapping[str, Any]) -> list[str]:
    """Refuse a file lacking any training feature (naming all); the columns it has that the model ignores,
    each with why (its role in training, or that training had no such column)."""
    features = as_record(record).features
    used = features["used"]
    missing = [c for c in used if c not in columns]
    if missing:
        raise PredictError(f"{path} lacks {len(missing)} of the {len(used)} feature columns the model was "
                           f"trained on: {', '.join(map(repr, missing))}")
    excluded = features.get("excluded", {})
    return [f"{c!r}: {excluded.get(c, 'not in the training data')}" for c in columns if c not in used]


def features(chunk: pd.DataFrame, kinds: dict[str, str], first_row: int, markers: list) -> pd.DataFrame:
    """The chunk's training features with the training types (prepare's): numbers as float64, text as
    object with NaN. A column whose values are of the other kind than in training is refused."""
    X = chunk[list(kinds)]
    for c, kind in kinds.items():
        col = X[c]
        is_number = pd.api.types.is_numeric_dtype(col)
        if kind == "numeric" and not is_number:
            bad = col[col.notna() & pd.to_numeric(col, errors="coerce").isna()]
            if len(bad):
                position = chunk.index.get_loc(bad.index[0])
                raise PredictError(
                    f"column {c!r} holds text ({bad.iloc[0]!r} in data row {first_row + position + 1}) where "
                    f"the model was trained on numbers: allowed are numbers and the job's missing-value "
                    f"markers (data.na_values: {', '.join(map(repr, markers))})")
        if kind == "text" and is_number and col.notna().any():
            raise PredictError(f"column {c!r} holds numbers ({col[col.notna()].iloc[0]!r}) where the model was "
                               "trained on text: allowed are the text categories of training (unseen ones "
                               "count as none of them)")
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    text = [c for c, k in kinds.items() if k == "text"]
    X = X.astype({**{c: "float64" for c in numeric}, **{c: object for c in text}})
    if text:
        X[text] = X[text].where(X[text].notna(), np.nan)
    return X


def _patients(chunk: pd.DataFrame, data_cfg: Any) -> pd.Series:
    """The patient of each row as training derived it (data.group, data.group_pattern); empty where the
    file leaves it out (a prediction needs no patient)."""
    group = data_cfg.group
    filled = chunk[group].notna()
    out = pd.Series(np.nan, index=chunk.index, dtype=object)
    if filled.any():
        out[filled] = patients(chunk.loc[filled, [group]], group, data_cfg.get("group_pattern")).to_numpy()
    return out


def _predictions(model: Any, record: JobRecord, X: pd.DataFrame) -> dict[str, Any]:
    if record.task != "classification":
        return {"y_pred": model.predict(X)}
    classes = record.classes
    proba = model.predict_proba(X)
    out: dict[str, Any] = {f"proba_{c}": proba[:, i] for i, c in enumerate(classes)}
    threshold = record.operating_point["final_threshold"] if len(classes) == 2 else None
    out["y_pred"] = predicted_classes(proba, classes, threshold=threshold)
    return out


def predict_file(job_dir: Path, data_file: Path, output: Path, chunk_rows: int = CHUNK_ROWS,
                 note: Callable[[str], None] = lambda line: None, memory_mb: int = MEMORY_MB,
                 timeout_s: float = TIMEOUT_S) -> int:
    """Write ``output`` (atomically) with the predictions of the job's model for every row of ``data_file``;
    the number of rows. ``note`` receives what the user should know (ignored columns). The model is a file
    from outside this process: it is loaded and used in a child process limited to ``memory_mb`` of address
    space and ``timeout_s`` per step (persistence.ModelProcess)."""
    job_dir, data_file, output = Path(job_dir), Path(data_file), Path(output)
    record = completed_record(job_dir)
    model_file = checked_model_file(job_dir, record)
    data_cfg = saved_data_config(job_dir)
    _refuse_output(output, data_file, job_dir)
    with ModelProcess(model_file, memory_mb, timeout_s) as model:
        for line in _printable_lines(model.warnings()):
            note(line)
        return _predict_with(model, record, data_cfg, data_file, output, chunk_rows, note)


def _printable_lines(text: str, limit: int = 20) -> list[str]:
    """What the model's process wrote (library warnings), without control characters."""
    lines = ["".join(ch for ch in line if ch.isprintable()) for line in text.splitlines()]
    return [line for line in lines if line.strip()][:limit]


def _predict_with(model: ModelProcess, record: JobRecord, data_cfg: Any, data_file: Path, output: Path,
                  chunk_rows: int, note: Callable[[str], None]) -> int:
    check_classes(record, model.info)
    kinds = feature_kinds(record, model.info)
    columns, chunks = read_chunks(data_file, data_cfg, [c for c, k in kinds.items() if k == "text"], chunk_rows)
    ignored = check_columns(data_file, columns, record)
    if ignored:
        note(f"note: {len(ignored)} column(s) of {data_file} are not features of the model and are ignored: "
             f"{'; '.join(ignored)}")
    group = data_cfg.get("group")
    with_patient = bool(group) and group in columns
    if group and not with_patient:
        note(f"note: {data_file} has no patient column {group!r} (data.group): predictions have no patient")
    markers = [str(v) for v in data_cfg.na_values]
    rows = 0
    with atomic_path(output) as tmp, open(tmp, "w", newline="") as f:
        for chunk in chunks:
            X = features(chunk, kinds, rows, markers)
            out = {"row": np.arange(rows, rows + len(chunk))}
            if with_patient:
                out["patient"] = _patients(chunk, data_cfg).to_numpy()
            out.update(_predictions(model, record, X))
            csv_safe(pd.DataFrame(out)).to_csv(f, header=rows == 0, index=False)  # no formulas (escape.py)
            rows += len(chunk)
        if rows == 0:
            raise PredictError(f"data file {data_file} has a header but no data rows")
    return rows


def _refuse_output(output: Path, data_file: Path, job_dir: Path) -> None:
    target = output.resolve()
    if target == data_file.resolve():
        raise PredictError(f"-o {output} is the input file: choose another output file")
    job = job_dir.resolve()
    if job in target.parents:
        raise PredictError(f"-o {output} is inside the job directory {job_dir}, whose files are the job's "
                           "record: write the predictions elsewhere")
    if target.is_dir():
        raise PredictError(f"-o {output} is a folder: give a file name")


def default_output(data_file: Path) -> Path:
    """``<file name without suffixes>.predictions.csv`` in the current directory (never beside the input,
    which may be read-only or shared)."""
    name = Path(data_file).name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".data", ".parquet", ".pq"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return Path(name + OUTPUT_SUFFIX)


if __name__ == "__main__":   # the command moved to medsweep.cli.predict: say so rather than exit silently
    import sys

    print("error: the predict command is `medsweep predict` (or python -m medsweep.cli predict); "
          "medsweep.tools.predict holds its library functions", file=sys.stderr)
    sys.exit(2)
