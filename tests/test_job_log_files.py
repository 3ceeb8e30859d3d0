"""A job's log file on a full disk stays quiet; other logging errors, and other handlers, are untouched, and
nothing process-wide changes (logging.raiseExceptions)."""

import errno
import logging

import pytest

from medsweep.job.log_files import quiet_log_files_when_disk_full


class _Failing:
    """A log file's stream whose writes fail with ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code

    def write(self, text: str) -> None:
        raise OSError(self.code, "simulated")

    def flush(self) -> None:
        pass


@pytest.fixture
def logger(tmp_path, monkeypatch):
    """A logger with one file handler whose stream fails with the code the test sets; Python's default
    setting for logging errors (an earlier test's job on a full disk may have changed it: runner.py sets
    logging.raiseExceptions = False and leaves it so)."""
    monkeypatch.setattr(logging, "raiseExceptions", True)
    logger = logging.getLogger("test_job_log_files")
    handler = logging.FileHandler(tmp_path / "train.log", delay=True)
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_drops_the_line_silently(logger, capsys, code):
    logger, handler = logger
    quiet_log_files_when_disk_full(logger)
    handler.stream = _Failing(code)
    logger.error("a line that cannot be written")
    assert capsys.readouterr().err == ""
    assert logging.raiseExceptions is True  # nothing process-wide


def test_other_errors_are_still_reported(logger, capsys):
    logger, handler = logger
    quiet_log_files_when_disk_full(logger)
    quiet_log_files_when_disk_full(logger)  # twice: one wrapper, not two
    handler.stream = _Failing(errno.EIO)
    logger.error("a line that cannot be written")
    err = capsys.readouterr().err
    assert err.count("--- Logging error ---") == 1 and "OSError" in err


def test_without_it_python_reports_every_failed_line(logger, capsys):
    """What it prevents: one traceback per line on stderr."""
    logger, handler = logger
    handler.stream = _Failing(errno.ENOSPC)
    logger.error("one")
    logger.error("two")
    assert capsys.readouterr().err.count("--- Logging error ---") == 2
