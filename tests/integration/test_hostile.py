"""Servers that misbehave: the crawler records them and moves on."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import assert_clean_stderr, parse_jsonl, run_cli
from tests.rawserver import MANY_LINKS, RawServer


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def test_dripping_body_is_bounded_by_timeout(raw: RawServer) -> None:
    start = time.monotonic()
    result = run_cli(raw.url("/drip"), raw.url("/ok"), "--timeout", "1.5", "--retries", "0", "-w", "1", timeout=30)
    took = time.monotonic() - start
    records = {r["url"]: r for r in parse_jsonl(result.stdout)}
    assert result.returncode == 0, result.stderr
    assert records[raw.url("/drip")]["error"].startswith("timeout"), records[raw.url("/drip")]
    assert records[raw.url("/ok")]["ok"] is True
    assert took < 8, f"a 1.5 s timeout held the run for {took:.1f} s"


def test_header_phase_is_bounded_by_timeout(raw: RawServer) -> None:
    # A status line or headers sent a byte at a time, and a server that never
    # answers: each is a timeout record after about --timeout, and with one
    # slot (-c 1) the page behind them still gets fetched.
    hostile = [raw.url("/drip-status"), raw.url("/drip-headers"), raw.url("/silent")]
    start = time.monotonic()
    result = run_cli(*hostile, raw.url("/ok"), "--timeout", "1", "--retries", "0", "-w", "1", "-c", "1",
                     timeout=40)
    took = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    records = {r["url"]: r for r in parse_jsonl(result.stdout)}
    for url in hostile:
        assert records[url]["error"].startswith("timeout"), records[url]
        assert records[url]["status"] is None
        assert records[url]["elapsed_ms"] < 1800, records[url]
    assert records[raw.url("/ok")]["ok"] is True
    assert took < 9, f"three 1 s timeouts held the run for {took:.1f} s"


def test_reset_mid_body_is_a_record(raw: RawServer) -> None:
    result = run_cli(raw.url("/reset"), "--retries", "0", "-w", "1", timeout=30)
    (record,) = parse_jsonl(result.stdout)
    assert record["status"] == 200
    assert record["ok"] is False
    assert record["error"].startswith("body"), record
    assert "Traceback" not in result.stderr


def test_gzip_bomb_is_cut_at_max_bytes(raw: RawServer) -> None:
    result = run_cli(raw.url("/gzipbomb"), "--max-bytes", "100000", "-w", "1", timeout=60)
    (record,) = parse_jsonl(result.stdout)
    assert record["bytes"] == 100000
    assert record["error"].startswith("truncated"), record
    assert record["title"] == "bomb"


# -- hostile bodies: one crawl of them all, one test per case --------------------------
BODIES = ("/short", "/overlong", "/keepalive", "/badchunk", "/binary", "/pdf", "/nul", "/links", "/deep")


@pytest.fixture(scope="module")
def bodies(raw: RawServer) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str], float]:
    """Records (by path) of one crawl of every hostile body, one request at a time
    (so /keepalive comes on the connection /overlong left), its process, and its duration."""
    start = time.monotonic()
    result = run_cli(*(raw.url(p) for p in BODIES), "--retries", "0", "-w", "1", "-c", "1", timeout=60)
    took = time.monotonic() - start
    records = {r["url"][len(raw.url("")):]: r for r in parse_jsonl(result.stdout)}
    return records, result, took


def test_hostile_bodies_each_get_a_record(bodies) -> None:
    records, result, took = bodies
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    assert set(records) == set(BODIES)
    for record in records.values():
        assert record["status"] == 200, record
        assert record["content_type"] == "text/html", record
    assert took < 20, f"{len(BODIES)} small hostile pages took {took:.1f} s"


@pytest.mark.parametrize("path", ["/short", "/badchunk"])
def test_broken_framing_is_a_body_error(bodies, path: str) -> None:
    # Content-Length 1000 but 100 bytes then close; a chunk size that is not hex.
    record = bodies[0][path]
    assert record["ok"] is False
    assert record["error"].startswith("body: connection broken"), record


def test_body_longer_than_content_length_is_cut_there(bodies) -> None:
    records = bodies[0]
    assert records["/overlong"]["bytes"] == 50
    assert records["/overlong"]["ok"] is True
    assert records["/overlong"]["title"] == "overlong"
    # The 250 extra bytes must not be read as the next response on that connection.
    assert records["/keepalive"]["ok"] is True, records["/keepalive"]
    assert records["/keepalive"]["title"] == "ok"


@pytest.mark.parametrize(("path", "size"), [("/binary", 200_000), ("/pdf", None), ("/nul", 100_000)])
def test_binary_served_as_html_is_a_plain_record(bodies, path: str, size: int | None) -> None:
    record = bodies[0][path]
    assert record["error"] is None, record
    assert record["title"] is None
    assert record["links"] == 0
    if size is not None:
        assert record["bytes"] == size


def test_twenty_thousand_links(bodies) -> None:
    record = bodies[0]["/links"]
    assert record["links"] == MANY_LINKS
    assert record["title"] == "many links"


def test_deeply_nested_html(bodies) -> None:
    # 100,000 unclosed <div>: the link below them all is still found.
    record = bodies[0]["/deep"]
    assert record["error"] is None, record
    assert record["title"] == "deep"
    assert record["links"] == 1


def test_twenty_thousand_links_followed_under_max_pages(raw: RawServer) -> None:
    # The worker hands the main process 20,000 links at once.
    start = time.monotonic()
    result = run_cli(raw.url("/links"), "-d", "1", "--max-pages", "30", "-w", "1", timeout=60)
    took = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    records = parse_jsonl(result.stdout)
    assert len(records) == 30
    assert all(r["ok"] for r in records), [r for r in records if not r["ok"]][:3]
    assert took < 15, f"took {took:.1f} s"
