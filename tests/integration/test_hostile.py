"""Servers that misbehave: the crawler records them and moves on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.conftest import parse_jsonl, run_cli
from tests.rawserver import RawServer


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
