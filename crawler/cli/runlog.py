"""Logging of a command-line run: warnings to stderr, and the ``--log-file``.

The log file gets timestamped lines: the run's start, every warning and
error (everything with ``-v``), the closing summary line and the exit
status, appended, so one file can hold the history of a cron job.
`runlog` is the logger for lines meant only for that file.
"""

from __future__ import annotations

import logging

from ..errors import UsageError

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_DATE = "%Y-%m-%dT%H:%M:%S%z"  # local time with its UTC offset, as cron runs in local time

#: Start, end and error lines of a run: only the log file gets them (stderr
#: has its own summary line), and nothing at all without ``--log-file``.
runlog = logging.getLogger("crawler.cli.runlog")
runlog.propagate = False
runlog.setLevel(logging.INFO)
runlog.addHandler(logging.NullHandler())

_installed: list[tuple[logging.Logger, logging.Handler]] = []
_root_levels: list[int] = []


def setup_logging(verbose: bool, log_file: str | None = None) -> None:
    """Warnings (everything with ``verbose``) to stderr; with ``log_file``, to that file too.

    Raises `UsageError` if the log file cannot be opened for appending.
    """
    level = logging.DEBUG if verbose else logging.WARNING
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a caller's own logging setup is left alone
        stderr = logging.StreamHandler()
        stderr.setFormatter(logging.Formatter("crawler: %(levelname)s: %(message)s"))
        _install(root, stderr)
        _root_levels.append(root.level)
        root.setLevel(level)
    if not log_file:
        return
    try:
        handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write log file {log_file!r}: {exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE))
    _install(root, handler)
    _install(runlog, handler)


def teardown_logging() -> None:
    """Undo `setup_logging` and close the log file."""
    # The CLI's main() may run many times in one process (tests, callers):
    # leave logging as it was found.
    while _installed:
        logger, handler = _installed.pop()
        logger.removeHandler(handler)
        handler.close()
    while _root_levels:
        logging.getLogger().setLevel(_root_levels.pop())


def _install(logger: logging.Logger, handler: logging.Handler) -> None:
    logger.addHandler(handler)
    _installed.append((logger, handler))
