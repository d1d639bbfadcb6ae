"""Exit statuses and usage errors of every command: one ``crawler: error:`` line, exit 2.

Exit status: 0 the run finished (page errors are records); 1 nothing could be
fetched; 2 bad usage or input; 3 lost Redis mid-run (``--redis``); 130/143
stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any, NoReturn

from ..errors import UsageError
from .runlog import runlog

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_REDIS_LOST = 0, 1, 2, 3


class UsageParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit status 2.

    ``raise_errors`` makes a bad value raise `UsageError` instead (checking a
    config file's values, where the caller names file and key).
    """

    def __init__(self, *args: Any, raise_errors: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raise_errors = raise_errors

    def error(self, message: str) -> NoReturn:
        if self.raise_errors:  # checking a config file's value: the caller names file and key
            raise UsageError(re.sub(r"^argument [^:]+: ", "", message))
        # One line, not argparse's usage block: cron mails and scripts read it.
        self.exit(EXIT_USAGE, f"crawler: error: {message} (see --help)\n")


def usage_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser whose errors are one ``crawler: error:`` line and exit status 2 (for subcommands)."""
    return UsageParser(prog=prog, description=description)


def fail(message: str, status: int) -> int:
    """Print ``crawler: error: MESSAGE`` on stderr (and to the run log); returns ``status``."""
    print(f"crawler: error: {message}", file=sys.stderr)
    runlog.error("crawler: error: %s", message)
    return status


def fail_usage(message: str) -> int:
    """Print a usage error line; returns exit status 2."""
    return fail(message, EXIT_USAGE)
