"""A job's record as the report reads it: a JobRecord (record.job_record, the one reader of metrics.json's
keys), whether a caller hands over a JobRecord or metrics.json's content as a dict (the MLflow registry and
older callers do), and the status as the file has it.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from medsweep.record import job_record
from medsweep.record.job_record import JobRecord, status_text

# A job's record as the report's functions take it: a JobRecord, or metrics.json's content as a dict.
Record = Union[JobRecord, Mapping]


def as_record(record: Any) -> Optional[JobRecord]:
    """``record`` as a JobRecord (a mapping is read as metrics.json's content); None for anything else (no
    readable record)."""
    return job_record.as_record(record) if isinstance(record, (JobRecord, Mapping)) else None


def status_word(record: JobRecord) -> Any:
    """The record's status as metrics.json writes it (the plain word, not the Status member), so that it is
    shown and written exactly as read; a value that is not a status is returned as read."""
    return status_text(record.status)
