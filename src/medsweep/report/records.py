"""A job's record as the report reads it: a JobRecord (record.job_record, the one reader of metrics.json's
keys), whether a caller hands over a JobRecord or metrics.json's content as a dict (the MLflow registry and
older callers do), and the two readings of it that have a default of the report's own.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from medsweep.record.job_record import JobRecord, status_text

# A job's record as the report's functions take it: a JobRecord, or metrics.json's content as a dict.
Record = Union[JobRecord, Mapping]


def as_record(record: Any) -> Optional[JobRecord]:
    """``record`` as a JobRecord (a mapping is read as metrics.json's content); None for anything else (no
    readable record)."""
    if isinstance(record, JobRecord):
        return record
    if isinstance(record, Mapping):
        return JobRecord.from_json(record)
    return None


def greater_is_better(record: JobRecord) -> bool:
    """Whether a higher primary metric is better: True where the record does not say (records older than the
    key), else its value as true or false (a recorded null reads as false, as it always has)."""
    return bool(record.greater_is_better) if record.has("greater_is_better") else True


def status_word(record: JobRecord) -> Any:
    """The record's status as metrics.json writes it (the plain word, not the Status member), so that it is
    shown and written exactly as read; a value that is not a status is returned as read."""
    return status_text(record.status)
