"""Issue 16's defects on the worker side, end to end: the real CLI against
`tests.rawserver.RawServer` on 127.0.0.1 (replies no well-behaved server sends)."""

from __future__ import annotations

import contextlib
import csv
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import assert_clean_stderr, parse_jsonl, run_cli
from tests.rawserver import HINTED, RawServer


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def crawl(raw: RawServer, *paths: str, args: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Records by path of one crawl of ``paths``, one request at a time on one worker."""
    result = run_cli(*(raw.url(p) for p in paths), "--retries", "0", "-w", "1", "-c", "1", *args, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    assert_clean_stderr(result.stderr)
    records = parse_jsonl(result.stdout)
    prefix = raw.url("")
    return {r["url"].removeprefix(prefix): r for r in records}


def assert_no_internal(records: dict[str, dict[str, Any]]) -> None:
    for record in records.values():
        assert not (record["error"] or "").startswith("internal"), record
        if not record["ok"] and record["status"] != 304:
            assert record["error"], record  # every not-ok record names its error (defect 12)


# -- defect 15: interim responses ---------------------------------------------------------


def test_interim_responses_are_skipped_and_the_connection_stays_in_step(raw: RawServer) -> None:
    # 103 and 102 before the real 200; the next URL goes on the same kept-alive connection.
    before = raw.connections
    records = crawl(raw, "/hints", "/keepalive", args=("--no-robots",))
    hints, after = records["/hints"], records["/keepalive"]
    assert (hints["status"], hints["ok"], hints["title"]) == (200, True, "hinted"), hints
    assert hints["bytes"] == len(HINTED)
    # Before the fix: 103 for /hints, and /hints's 200 handed to /keepalive.
    assert (after["status"], after["title"]) == (200, "ok"), after
    assert raw.connections - before == 1  # one kept-alive connection served both
    assert_no_internal(records)


def test_unrequested_101_closes_the_connection(raw: RawServer) -> None:
    records = crawl(raw, "/switch", "/keepalive")
    switch, after = records["/switch"], records["/keepalive"]
    assert switch["status"] == 101
    assert switch["ok"] is False
    assert switch["error"].startswith("http: 101"), switch
    # What followed the 101 on its connection is never read as another URL's answer.
    assert (after["status"], after["title"]) == (200, "ok"), after
    assert_no_internal(records)


# -- defects 4, 5, 12: redirects ------------------------------------------------------------


def test_redirect_with_userinfo_keeps_no_credentials(raw: RawServer) -> None:
    records = crawl(raw, "/userinfo")
    record = records["/userinfo"]
    assert record["final_url"] == raw.url("/ok"), record
    assert record["ok"] is True
    for rec in records.values():
        assert "secret" not in rec["url"], rec
        assert "secret" not in rec["final_url"], rec
        assert "user" not in rec["final_url"], rec


def test_invalid_redirect_target_is_a_redirects_record(raw: RawServer) -> None:
    records = crawl(raw, "/badlocation", "/ok")
    record = records["/badlocation"]
    # With requests' own send (CRAWLER_STOCK=1, a proxy) requests parses Location first: ": Invalid IPv6 URL".
    assert record["error"].startswith("redirects: invalid redirect target"), record
    assert record["ok"] is False
    assert records["/ok"]["ok"] is True  # the worker lived on
    assert_no_internal(records)


def test_redirect_without_location_names_its_error(raw: RawServer) -> None:
    records = crawl(raw, "/nolocation")
    record = records["/nolocation"]
    assert record["status"] == 302
    assert record["ok"] is False
    assert record["error"] == "redirects: 302 without Location", record


# -- defect 10: readable error texts ----------------------------------------------------------


def test_transport_errors_are_readable_one_liners(raw: RawServer) -> None:
    records = crawl(raw, "/refuse", "/reset", "/badgzip", "/badbr")
    host = raw.url("").removeprefix("http://")
    assert records["/refuse"]["error"] == f"connection: connection reset by {host}", records["/refuse"]
    assert records["/reset"]["error"] == f"body: connection reset by {host}", records["/reset"]
    assert records["/badgzip"]["error"] == ("body: cannot decode the gzip body: "
                                            "Error -3 while decompressing data: incorrect header check")
    assert records["/badbr"]["error"].startswith("body: cannot decode the br body: "), records["/badbr"]
    for record in records.values():
        assert "Error(" not in record["error"], record
        assert "'," not in record["error"], record
    assert_no_internal(records)


def test_tls_failure_is_readable() -> None:
    # A server answering the TLS ClientHello with plain HTTP: the handshake fails.
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    host = f"127.0.0.1:{server.getsockname()[1]}"
    try:
        result = run_cli(f"https://{host}/", "--no-robots", "--retries", "0", "--timeout", "5", "-w", "1",
                         timeout=60)
    finally:
        server.close()
    (record,) = parse_jsonl(result.stdout)
    assert record["error"].startswith(f"tls: TLS with {host} failed: "), record
    assert "SSLError(" not in record["error"], record
    assert "'" not in record["error"], record


# -- codings -------------------------------------------------------------------------------------


def test_br_and_zstd_are_advertised_and_decoded(raw: RawServer) -> None:
    records = crawl(raw, "/br", "/zstd")
    for path in ("/br", "/zstd"):
        assert (records[path]["ok"], records[path]["title"]) == (True, "ok"), records[path]
        assert records[path]["bytes"] == 256


def test_accept_encoding_names_every_coding() -> None:
    from crawler.config import CrawlConfig
    from crawler.worker.fetch import make_session

    offered = make_session(CrawlConfig()).headers["Accept-Encoding"].replace(" ", "").split(",")
    assert {"gzip", "deflate", "br", "zstd"} <= set(offered), offered


@pytest.mark.parametrize("path", ["/brbomb", "/zstdbomb"])
def test_bombs_are_cut_at_max_bytes(raw: RawServer, path: str) -> None:
    records = crawl(raw, path, args=("--max-bytes", "100000"))
    record = records[path]
    assert record["bytes"] == 100000, record
    assert record["error"].startswith("truncated"), record
    assert record["title"] == "bomb"


# -- defect 13: long texts ----------------------------------------------------------------------


def test_five_megabyte_title_is_capped_in_the_csv(raw: RawServer, tmp_path) -> None:
    out = tmp_path / "out.csv"
    result = run_cli(raw.url("/bigtitle"), "-o", out, "--retries", "0", "-w", "1", timeout=60)
    assert result.returncode == 0, result.stderr
    with open(out, encoding="utf-8", newline="") as f:
        (row,) = csv.DictReader(f)  # Python's csv reader refuses fields over 128 KiB: the 5 MB cell broke it
    assert row["title"] == "T" * 999 + "\u2026"


def test_connection_framed_twice_is_not_reused(raw: RawServer) -> None:
    # Content-Length and chunked both: the page is read (chunked wins, as RFC 9112 says),
    # then its connection closed; the next URL comes on a new one.
    before = raw.connections
    records = crawl(raw, "/clte", "/keepalive", args=("--no-robots",))
    assert (records["/clte"]["ok"], records["/clte"]["title"]) == (True, "hinted"), records["/clte"]
    assert (records["/keepalive"]["ok"], records["/keepalive"]["title"]) == (True, "ok"), records["/keepalive"]
    assert raw.connections - before == 2


# -- defect 7: extract hooks, through the library's worker processes ----------------------------


def returns_a_list(url: str, soup: Any) -> Any:
    """An `extract` hook that returns what is not a dict (pickled by name into the workers)."""
    return [url]


def clashes(url: str, soup: Any) -> dict[str, Any]:
    """An `extract` hook whose fields clash with record fields, and one that starts like a formula."""
    return {"title": "hook's", "url": "x", "=cmd": "y"}


def test_extract_hook_mistakes_in_worker_processes(raw: RawServer, capfd: pytest.CaptureFixture[str]) -> None:
    from crawler import crawl

    (page,) = crawl([raw.url("/ok")], extract=returns_a_list, robots=False, workers=1, retries=0)
    assert page.ok is False
    assert page.error == "extract: the hook returned list, not a dict or None"

    # The library logs through the "crawler" logger (a NullHandler until the program sets one up).
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger("crawler").addHandler(handler)
    try:
        pages = list(crawl([raw.url("/ok"), raw.url("/keepalive")], extract=clashes, robots=False, workers=1,
                           retries=0))
    finally:
        logging.getLogger("crawler").removeHandler(handler)
    assert [p.title for p in pages] == ["ok", "ok"]
    assert all(p.extra == {"=cmd": "y"} for p in pages)
    err = capfd.readouterr().err
    # Once per field per worker process, not once per page.
    assert err.count("'title' is a record field") == 1, err
    assert err.count("'url' is a record field") == 1, err
