"""crawler.cli.runlog: the --log-file (appended, timestamped) beside stderr, and undoing it all."""

from __future__ import annotations

import logging
import re

import pytest

from crawler.cli.runlog import runlog, setup_logging, teardown_logging
from crawler.errors import UsageError

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


@pytest.fixture
def logfile(tmp_path):
    path = tmp_path / "crawl.log"
    yield path
    teardown_logging()


def test_lines_are_timestamped_and_appended(logfile):
    logfile.write_text("earlier run\n")
    setup_logging(False, str(logfile))
    runlog.info("start: %d seeds", 3)
    logging.getLogger("crawler.engine.crawler").error("worker failed on %s", "http://a.test/")
    logging.getLogger("crawler.worker.tasks").debug("not without -v")
    teardown_logging()
    lines = logfile.read_text().splitlines()
    assert lines[0] == "earlier run"
    assert re.fullmatch(STAMP + " INFO start: 3 seeds", lines[1]), lines
    assert re.fullmatch(STAMP + " ERROR worker failed on http://a.test/", lines[2]), lines
    assert len(lines) == 3


def test_runlog_lines_go_only_to_the_file(logfile, capsys):
    setup_logging(False, str(logfile))
    runlog.info("only in the file")
    teardown_logging()
    assert "only in the file" in logfile.read_text()
    assert "only in the file" not in capsys.readouterr().err


def test_teardown_restores_logging(logfile):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    setup_logging(True, str(logfile))
    assert len(root.handlers) > len(handlers)
    teardown_logging()
    assert root.handlers == handlers
    assert root.level == level
    runlog.info("after teardown")  # a NullHandler: no error, nothing written
    assert "after teardown" not in logfile.read_text()


def test_unwritable_log_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot write log file .*missing.*No such file"):
        setup_logging(False, str(tmp_path / "missing" / "crawl.log"))
    teardown_logging()
