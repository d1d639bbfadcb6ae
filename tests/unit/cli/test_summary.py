"""crawler.cli.summary: the run manifest's counts, its path, and the atomic write."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest

from crawler.cli.summary import RunSummary, summary_path, write_summary
from crawler.engine.crawler import CrawlStats
from crawler.errors import UsageError
from crawler.page import Page


def page(url: str, status: int | None = 200, error: str | None = None, size: int = 100,
         attempts: int = 1, **extra) -> Page:
    return Page(url=url, final_url=url, status=status, ok=status == 200 and error is None, bytes=size,
                error=error, attempts=attempts, extra=extra)


def tally_of(*pages: Page) -> RunSummary:
    tally = RunSummary()
    for p in pages:
        tally.add(p)
    return tally


PAGES = (
    page("http://a.test/", size=1000),
    page("http://a.test/x", status=404, error="http: 404 Not Found", size=50),
    page("http://a.test:8080/y", status=503, error="http: 503 Service Unavailable", attempts=3, size=10),
    page("https://B.test/", status=None, error="dns: b.test: Name or service not known", size=0),
    page("http://b.test/big", error="truncated: body larger than 10 bytes, cut there", size=10, attempts=2),
    page("http://c.test/r", status=None, error="robots: disallowed", size=0, attempts=0),
)


def test_manifest_counts():
    stats = CrawlStats(refused=Counter({"robots": 4}), stopped_by=None)
    stats.finished = stats.started + 12.3456
    data = tally_of(*PAGES).manifest(stats, exit_status=0, output="-")
    assert data["pages"] == 6
    assert data["ok"] == 1
    assert data["errors"] == 5
    assert data["bytes"] == 1070
    assert data["retries"] == 3  # (3 - 1) + (2 - 1); attempts=0 counts nothing
    assert data["truncated"] == 1
    assert data["robots_blocked"] == 4
    assert data["no_response"] == 2
    assert data["by_status"] == {"200": 2, "404": 1, "503": 1}
    assert data["by_error"] == {"dns": 1, "http": 2, "robots": 1, "truncated": 1}
    assert data["by_host"] == {"a.test": 3, "b.test": 2, "c.test": 1}  # per host name, ports merged
    assert data["duration_s"] == 12.346
    assert data["exit_status"] == 0
    assert data["stopped_by"] is None
    assert data["output"] == "-"
    assert "by_change" not in data  # only when records carry a change


def test_manifest_times_and_stop():
    tally = RunSummary()
    stats = CrawlStats(stopped_by="SIGTERM")
    stats.finished = time.monotonic()
    data = tally.manifest(stats, exit_status=143, output="out/pages.csv")
    assert data["stopped_by"] == "SIGTERM"
    assert data["exit_status"] == 143
    assert data["started"].endswith("Z")
    assert data["finished"] >= data["started"]
    assert data["output"] == os.path.abspath("out/pages.csv")
    assert data["pages"] == 0
    assert data["by_status"] == {}
    assert data["by_host"] == {}
    json.dumps(data)  # JSON-ready as it is


def test_by_change_when_records_carry_it():
    tally = tally_of(page("http://a.test/1", change="new"), page("http://a.test/2", change="same"),
                     page("http://a.test/3", change="new"), page("http://a.test/4"))
    stats = CrawlStats()
    stats.finished = stats.started
    assert tally.manifest(stats, 0, None)["by_change"] == {"new": 2, "same": 1}


def test_summary_path(tmp_path):
    assert summary_path("pages.csv") == "pages.csv.summary.json"
    assert summary_path("-") is None
    assert summary_path(None) is None
    assert summary_path("-", str(tmp_path / "s.json")) == str(tmp_path / "s.json")
    assert summary_path("pages.csv", str(tmp_path / "s.json")) == str(tmp_path / "s.json")
    with pytest.raises(UsageError, match="cannot write summary .*: no such directory"):
        summary_path("-", str(tmp_path / "missing" / "s.json"))
    with pytest.raises(UsageError):
        summary_path(str(tmp_path / "missing" / "pages.csv"))


def test_write_summary_is_atomic_and_replaces(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("old")
    write_summary(str(path), {"pages": 1, "host": "é"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"pages": 1, "host": "é"}
    assert os.listdir(tmp_path) == ["s.json"]  # no temporary file left


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"old": true}')
    with pytest.raises(TypeError):
        write_summary(str(path), {"bad": object()})  # not JSON-serialisable: fails mid-write
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["s.json"]
