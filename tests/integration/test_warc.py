"""``--warc``: the archive a real crawl writes, read back with warcio and cdxj-indexer.

A small site on loopback serves what an archive must keep as it came: a
gzip-served page (Content-Encoding intact), a chunked page (framing
removed, the header with it), a redirect, a body cut at ``--max-bytes``,
a page with an ETag (a 304 on the next run) and one without (the same
body again). Each test runs the real CLI and pool.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import ROOT, cli_command, cli_env, kill_group, read_output, run_cli

ARTICLE = b"<html><head><title>Gz</title></head><body>" + b"<p>compressed words</p>" * 200 + b"</body></html>"
BIG = b"<html><title>Big</title>" + b"x" * 50_000 + b"</html>"


def links(*paths: str) -> bytes:
    return ("<html><head><title>Home</title></head><body>"
            + "".join(f'<a href="{p}">{p}</a>' for p in paths) + "</body></html>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as real servers send
    version = {"n": 0}  # /changing's body changes every run the test asks it to

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private\n", "text/plain")
        elif path == "/":
            self._send(200, links("/gz", "/chunked", "/redirect", "/big", "/etag", "/same", "/changing",
                                  "/private", "/missing"))
        elif path == "/gz":
            self._send(200, gzip.compress(ARTICLE, mtime=0), headers={"Content-Encoding": "gzip"})
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"<html><title>Chunked</title>", b"<p>in pieces</p>", b"</html>"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/redirect":
            self._send(301, b"moved", headers={"Location": "/target"})
        elif path == "/target":
            self._send(200, links())
        elif path == "/big":
            self._send(200, BIG)
        elif path == "/etag":
            if self.headers.get("If-None-Match") == '"v1"':
                self._send(304, b"", headers={"ETag": '"v1"'})
            else:
                self._send(200, links("/"), headers={"ETag": '"v1"'})
        elif path == "/same":
            self._send(200, b"<html><title>Same</title><p>never changes</p></html>")
        elif path == "/changing":
            self._send(200, f"<html><title>Run {Handler.version['n']}</title></html>".encode())
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def records(path: Path) -> list[Any]:
    """Every record of a WARC file, its payload read (warcio checks the digests as it reads)."""
    out = []
    with open(path, "rb") as f:
        for record in ArchiveIterator(f, check_digests="raise"):
            record.payload = record.content_stream().read()
            out.append(record)
    return out


def header(record: Any, name: str) -> str | None:
    value = record.rec_headers.get_header(name)
    return None if value is None else str(value)


def responses(recs: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in recs:
        if r.rec_type == "response":
            out[header(r, "WARC-Target-URI") or ""] = r
    return out


def warcio_check(*paths: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, paths)], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0 and "No module named" in result.stderr:
        result = subprocess.run([shutil.which("warcio") or "warcio", "check", *map(str, paths)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def crawl(base: str, tmp_path: Path, *args: Any, name: str = "out") -> tuple[subprocess.CompletedProcess[str],
                                                                                list[dict[str, Any]]]:
    out = tmp_path / f"{name}.jsonl"
    result = run_cli(f"{base}/", "-d", 1, "-o", out, "--max-bytes", 20_000, "-c", 4, *args, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    return result, read_output(out)


def test_every_exchange_is_archived_as_received_and_the_archive_validates(base: str, tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    _, recs_out = crawl(base, tmp_path, "--warc", warc)
    recs = records(warc)
    assert recs[0].rec_type == "warcinfo"
    info = recs[0].payload.decode()
    assert "software: crawler/" in info
    assert "robots: obey" in info
    kinds = Counter(r.rec_type for r in recs)
    by_uri = responses(recs)
    # Each response has its request, tied by WARC-Concurrent-To, with the same target and date.
    ids = {header(r, "WARC-Record-ID"): r for r in recs}
    for r in recs:
        if r.rec_type == "request":
            response = ids[header(r, "WARC-Concurrent-To")]
            assert response.rec_type == "response"
            assert header(response, "WARC-Target-URI") == header(r, "WARC-Target-URI")
            assert r.http_headers.protocol == "GET"
            assert r.http_headers.get_header("Host").startswith("127.0.0.1:")
    assert kinds["request"] == kinds["response"]
    for r in by_uri.values():
        # (requests' own redirect handling, under CRAWLER_STOCK, reads a redirect
        # before the crawler sees it: its connection, and so its address, are gone.)
        if r.http_headers.get_statuscode() != "301":
            assert header(r, "WARC-IP-Address") == "127.0.0.1"
        assert header(r, "WARC-Payload-Digest", ).startswith("sha1:")  # type: ignore[union-attr]
    # robots.txt, both hops of the redirect, every page; nothing refused by robots.txt.
    assert {f"{base}/robots.txt", f"{base}/redirect", f"{base}/target", f"{base}/gz", f"{base}/missing"} \
        <= set(by_uri)
    assert f"{base}/private" not in by_uri
    assert by_uri[f"{base}/redirect"].http_headers.get_statuscode() == "301"
    # The gzip body as it came: still gzip, and its payload digest is the compressed bytes'.
    gz = by_uri[f"{base}/gz"]
    assert gz.http_headers.get_header("Content-Encoding") == "gzip"
    raw = gzip.compress(ARTICLE, mtime=0)
    assert header(gz, "WARC-Payload-Digest") == "sha1:" + base64.b32encode(hashlib.sha1(raw).digest()).decode()
    # The chunked body without its framing, and without the header that announced it.
    chunked = by_uri[f"{base}/chunked"]
    assert chunked.http_headers.get_header("Transfer-Encoding") is None
    assert chunked.payload == b"<html><title>Chunked</title><p>in pieces</p></html>"
    # A body cut at --max-bytes says so.
    big = by_uri[f"{base}/big"]
    assert header(big, "WARC-Truncated") == "length"
    assert 20_000 <= len(big.payload) < len(BIG)
    # One metadata record per page record, tied to the page's last response.
    metadata = [r for r in recs if r.rec_type == "metadata"]
    assert len(metadata) == len(recs_out)
    home = next(r for r in metadata if header(r, "WARC-Target-URI") == f"{base}/")
    assert f"outlink: {base}/gz".encode() in home.payload
    assert b"hopsFromSeed: \r\n" in home.payload
    redirect = next(r for r in metadata if header(r, "WARC-Target-URI") == f"{base}/redirect")
    assert f"via: {base}/".encode() in redirect.payload
    assert b"hopsFromSeed: LR\r\n" in redirect.payload
    assert ids[header(redirect, "WARC-Concurrent-To")] is by_uri[f"{base}/target"]
    warcio_check(warc)
    # cdxj-indexer (pywb's indexer) indexes every response.
    indexer = shutil.which("cdxj-indexer") or str(Path(sys.executable).parent / "cdxj-indexer")
    index = subprocess.run([indexer, str(warc)], capture_output=True, text=True, timeout=60)
    assert index.returncode == 0, index.stderr
    indexed = [line for line in index.stdout.splitlines() if '"mime"' in line and "/robots.txt" not in line]
    assert len([line for line in index.stdout.splitlines() if '"status": "' in line]) >= len(by_uri)
    assert indexed


def test_a_plain_warc_and_rotation_by_size(base: str, tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc"
    crawl(base, tmp_path, "--warc", warc, "--warc-max-size", "3K")
    files = [warc, *sorted(tmp_path.glob("crawl-*.warc"))]
    assert len(files) >= 3
    assert files[0].name == "crawl.warc"
    assert files[1].name == "crawl-00001.warc"
    for path in files:
        recs = records(path)
        assert recs[0].rec_type == "warcinfo"
        assert header(recs[0], "WARC-Filename") == path.name
    warcio_check(*files)
    uris = Counter(header(r, "WARC-Target-URI") for path in files for r in records(path) if r.rec_type == "response")
    assert uris[f"{base}/gz"] == 1


def test_a_re_crawl_with_state_archives_only_what_changed(base: str, tmp_path: Path) -> None:
    state = tmp_path / "crawl.db"
    first, second = tmp_path / "run1.warc.gz", tmp_path / "run2.warc.gz"
    Handler.version["n"] = 1
    crawl(base, tmp_path, "--state", state, "--warc", first, name="run1")
    Handler.version["n"] = 2
    _, out = crawl(base, tmp_path, "--state", state, "--warc", second, name="run2")
    stored = responses(records(first))
    recs = records(second)
    revisits = {header(r, "WARC-Target-URI"): r for r in recs if r.rec_type == "revisit"}
    changes = {r["url"]: r["change"] for r in out}
    # A 304: server-not-modified, pointing at the first run's copy.
    etag = revisits[f"{base}/etag"]
    assert header(etag, "WARC-Profile").endswith("/revisit/server-not-modified")  # type: ignore[union-attr]
    assert header(etag, "WARC-Refers-To-Target-URI") == f"{base}/etag"
    assert header(etag, "WARC-Refers-To-Date") == header(stored[f"{base}/etag"], "WARC-Date")
    assert changes[f"{base}/etag"] == "unchanged"
    # The same body again: identical-payload-digest, the stored copy's digest and date.
    same = revisits[f"{base}/same"]
    assert header(same, "WARC-Profile").endswith("/revisit/identical-payload-digest")  # type: ignore[union-attr]
    assert header(same, "WARC-Payload-Digest") == header(stored[f"{base}/same"], "WARC-Payload-Digest")
    assert header(same, "WARC-Refers-To-Date") == header(stored[f"{base}/same"], "WARC-Date")
    # What changed is archived whole.
    again = responses(recs)
    assert f"{base}/changing" in again
    assert f"{base}/changing" not in revisits
    assert b"Run 2" in again[f"{base}/changing"].payload
    warcio_check(first, second)
    # The archive costs the bytes of what changed.
    assert os.path.getsize(second) < os.path.getsize(first)
    # Extracted with the first run's file, the second run's records are the live ones: a 304's
    # title and links are its stored copy's, read by the copy's type and coding (a 304 has neither).
    extracted = tmp_path / "extracted.jsonl"
    result = run_cli("extract", first, second, "-o", extracted, timeout=60)
    assert result.returncode == 0, result.stderr
    last = {r["url"]: r for r in read_output(extracted)}
    for record in out:
        again = last[record["url"]]
        assert {k: v for k, v in again.items() if k not in LIVE_ONLY} == \
            {k: v for k, v in record.items() if k not in (*LIVE_ONLY, "change")}  # change: the state's word
    assert last[f"{base}/etag"]["status"] == 304
    assert last[f"{base}/etag"]["title"]


@pytest.mark.parametrize(("kills", "max_size"), [((60,), None), ((25, 140), "40K")], ids=["once", "twice-rotating"])
def test_a_killed_state_run_resumes_without_writing_a_response_twice(base: str, tmp_path: Path, kills: tuple[int, ...],
                                                                     max_size: str | None) -> None:
    from tests.conftest import page_handler, serving

    # A tree of 300 pages (three links each), served a little slowly: the kills land mid-crawl.
    pages = {f"/p/{i}": links(*(f"/p/{j}" for j in range(i * 3 + 1, i * 3 + 4) if j < 300)) for i in range(300)}
    pages["/"] = links("/p/0")
    state, warc, out = tmp_path / "s.db", tmp_path / "a.warc.gz", tmp_path / "out.jsonl"
    sizing = ("--warc-max-size", max_size) if max_size else ()
    with serving(page_handler(pages, delays={f"/p/{i}": 0.01 for i in range(300)})) as site:
        args = (f"{site}/", "-d", 10, "-o", out, "--state", state, "--warc", warc, *sizing,
                "-c", 8, "--per-host", 8, "--no-robots")
        for at in kills:
            proc = subprocess.Popen(cli_command(*args), cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < at):
                    time.sleep(0.02)
                assert proc.poll() is None, "the crawl ended before it was killed"
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            finally:
                kill_group(proc.pid)
            # A torn last record, as a kill in the middle of a write leaves it.
            files = [warc, *sorted(tmp_path.glob("a-*.warc.gz"))]
            with open(files[-1], "ab") as f:
                f.write(b"\x1f\x8b\x08\x00torn")
        result = run_cli(*args, timeout=90)
        assert result.returncode == 0, result.stderr
    files = [warc, *sorted(tmp_path.glob("a-*.warc.gz"))]
    assert len(files) > 1 if max_size else len(files) == 1
    warcio_check(*files)
    recs = [r for path in files for r in records(path)]
    uris = Counter(header(r, "WARC-Target-URI") for r in recs if r.rec_type == "response")
    assert [u for u, n in uris.items() if n > 1] == []
    reported = {r["url"] for r in read_output(out)}
    assert len(reported) == 301
    assert set(uris) == reported
    assert Counter(r.rec_type for r in recs)["metadata"] == 301


def test_each_redis_node_writes_its_own_archive(base: str, tmp_path: Path, redis_url: str) -> None:
    warc = tmp_path / "crawl.warc.gz"
    out = tmp_path / "n1.jsonl"
    result = run_cli(f"{base}/", "-d", 1, "-o", out, "--redis", redis_url, "--crawl-id", f"warc-{os.getpid()}",
                     "--node", "n1", "--warc", warc, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    assert not warc.exists()
    mine = tmp_path / "crawl-n1.warc.gz"
    warcio_check(mine)
    assert f"{base}/gz" in responses(records(mine))


def test_without_warc_the_workers_capture_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.config import CrawlConfig
    from crawler.worker.fetch import fetch
    from tests.conftest import page_handler, serving

    with serving(page_handler({"/": b"<html>x</html>"})) as site:
        assert fetch(f"{site}/", CrawlConfig()).exchanges is None
        (exchange,) = fetch(f"{site}/", CrawlConfig(warc="x.warc.gz")).exchanges or ()
    # Encoded in the worker: the records, not the body, travel to the main process.
    assert exchange.status == 200
    assert exchange.body == b""
    kinds, bodies = [], []
    for record in ArchiveIterator(io.BytesIO(exchange.encoded)):
        kinds.append((record.rec_type, record.rec_headers.get_header("WARC-Record-ID")))
        bodies.append(record.content_stream().read())
    assert kinds[1] == ("response", exchange.record_id)
    assert [kind for kind, _ in kinds] == ["request", "response"]
    assert bodies[1] == b"<html>x</html>"


LIVE_ONLY = ("elapsed_ms", "fetched_at", "attempts")


def test_extract_writes_what_the_live_crawl_wrote(base: str, tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    select = ("--select", "h=title", "--select-all", "paras=p", "--seo")
    _, live = crawl(base, tmp_path, "--warc", warc, *select)
    out = tmp_path / "extracted.jsonl"
    result = run_cli("extract", warc, "-o", out, "--max-bytes", 20_000, *select, "-w", 2, timeout=60)
    assert result.returncode == 0, result.stderr
    extracted = {r["url"]: r for r in read_output(out)}
    assert set(extracted) == {r["url"] for r in live}
    for record in live:
        again = extracted[record["url"]]
        assert list(again) == list(record)
        assert {k: v for k, v in again.items() if k not in LIVE_ONLY} == \
            {k: v for k, v in record.items() if k not in LIVE_ONLY}
    # (the error records are there too: the 404, the page cut at --max-bytes)
    assert extracted[f"{base}/missing"]["error"] == "http: 404 Not Found"
    assert extracted[f"{base}/big"]["error"].startswith("truncated:")
    assert extracted[f"{base}/redirect"]["redirects"] == [f"301 {base}/redirect"]
    assert extracted[f"{base}/gz"]["word_count"] > 0


def test_extract_of_a_damaged_archive_writes_the_records_before_the_damage_and_names_it(
        base: str, tmp_path: Path) -> None:
    from crawler.store.warcscan import scan

    warc = tmp_path / "crawl.warc.gz"
    crawl(base, tmp_path, "--warc", warc)
    with open(warc, "rb") as f:
        records = list(scan(str(warc), f))
    metadata = [r for r in records if r.kind == "metadata"]
    cut = metadata[len(metadata) // 2]  # the damage: this record's member cut in two
    before = {r.get("WARC-Target-URI") for r in metadata if r.offset < cut.offset}
    data = warc.read_bytes()
    warc.write_bytes(data[: cut.offset + 20])
    out = tmp_path / "extracted.jsonl"
    result = run_cli("extract", warc, "-o", out, "-w", 2, timeout=60)
    assert result.returncode == 1
    assert f"crawler: extract: {warc}: damaged at offset {cut.offset}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert {r["url"] for r in read_output(out)} == before
    # Bytes flipped in a member: the same, where its check fails.
    flipped = bytearray(data)
    flipped[cut.offset + 30] ^= 0xFF
    warc.write_bytes(bytes(flipped))
    result = run_cli("extract", warc, "-o", out, "-w", 2, timeout=60)
    assert result.returncode == 1
    assert f"{warc}: damaged at offset {cut.offset}: gzip: " in result.stderr
    assert {r["url"] for r in read_output(out)} == before
    # A byte flipped in a response's body: the index reads only its head (by the member's sl
    # field); the worker reading the page checks the member, and the damage comes through it.
    response = max((r for r in records if r.kind == "response" and metadata[2].offset < r.offset < metadata[-2].offset),
                   key=lambda r: len(r.block))
    flipped = bytearray(data)
    flipped[response.offset + 200] ^= 0xFF
    warc.write_bytes(bytes(flipped))
    result = run_cli("extract", warc, "-o", out, "-w", 2, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"{warc}: damaged at offset {response.offset}: " in result.stderr
    assert "Traceback" not in result.stderr
    assert {r["url"] for r in read_output(out)} == {r.get("WARC-Target-URI") for r in metadata
                                                     if r.offset < response.offset}
    # After the last page (a run cut short): records no worker reads, checked by the index.
    last = metadata[-1]
    tail = max(r.offset for r in records if r.kind == "response" and metadata[-2].offset < r.offset < last.offset)
    flipped = bytearray(data[: last.offset])
    flipped[tail + 40] ^= 0xFF
    warc.write_bytes(bytes(flipped))
    result = run_cli("extract", warc, "-o", out, "-w", 2, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"{warc}: damaged at offset {tail}: " in result.stderr
    assert {r["url"] for r in read_output(out)} == {r.get("WARC-Target-URI") for r in metadata[:-1]}


def test_extract_reads_an_archive_wget_wrote(base: str, tmp_path: Path) -> None:
    wget = shutil.which("wget")
    if wget is None:
        pytest.skip("wget is not installed")
    fetched = subprocess.run([wget, "-q", "-r", "-l", "1", "--no-proxy", "-e", "robots=off", "-P", str(tmp_path / "m"),
                              "--tries=1", "--timeout=10", "--warc-file", str(tmp_path / "wget"), f"{base}/"],
                             capture_output=True, text=True, timeout=120)
    assert fetched.returncode in (0, 8), fetched.stderr  # 8: some page answered 404, as planted
    archive = tmp_path / "wget.warc.gz"
    wget_uris = {header(r, "WARC-Target-URI") for r in records(archive) if r.rec_type == "response"}
    out = tmp_path / "from-wget.jsonl"
    result = run_cli("extract", archive, "-o", out, timeout=60)
    assert result.returncode == 0, result.stderr
    got = {r["url"]: r for r in read_output(out)}
    assert set(got) == {u.strip("<>") for u in wget_uris if u}  # one record per page wget fetched
    assert got[f"{base}/gz"]["title"] == "Gz"  # gzip undone for the parser
    assert got[f"{base}/chunked"]["title"] == "Chunked"  # wget keeps the chunk framing: undone too
    assert got[f"{base}/"]["links"] == 9
    redirect = got[f"{base}/redirect"]  # its target is in the archive: followed there
    assert (redirect["final_url"], redirect["status"], redirect["ok"]) == (f"{base}/target", 200, True)
    assert got[f"{base}/missing"]["error"] == "http: 404 Not Found"


def test_extract_usage_errors(tmp_path: Path) -> None:
    missing = run_cli("extract", tmp_path / "none.warc.gz", timeout=30)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"crawler: error: no such archive: {str(tmp_path / 'none.warc.gz')!r}"
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"this is no archive\r\n\r\n")
    bad = run_cli("extract", junk, timeout=30)
    assert bad.returncode == 2
    assert bad.stderr.startswith("crawler: error: ")
    assert "Traceback" not in bad.stderr


def test_every_response_the_test_site_served_is_archived_once(site: Any, tmp_path: Path) -> None:
    from urllib.parse import urlsplit

    from tests.conftest import crawl_cli

    warc = tmp_path / "site.warc.gz"
    run = crawl_cli(site, site.url("/"), "-d", 3, "--warc", warc, "--sitemaps", output=tmp_path / "site.jsonl")
    assert run.result.returncode in (0, 1), run.result.stderr
    archived: Counter[str] = Counter()
    for r in records(warc):
        if r.rec_type == "response":
            parts = urlsplit(header(r, "WARC-Target-URI") or "")
            archived[parts.path + (f"?{parts.query}" if parts.query else "")] += 1
    assert archived == Counter(run.hits)  # one response record per request the site answered
    warcio_check(warc)


def test_extract_builds_the_markdown_directory_and_chunks_the_crawl_built(base: str, tmp_path: Path) -> None:
    warc = tmp_path / "crawl.warc.gz"
    live_dir, again_dir = tmp_path / "live-md", tmp_path / "again-md"
    text = ("--markdown", "--content", "full")
    _, live = crawl(base, tmp_path, "--warc", warc, *text, "--markdown-dir", live_dir, "--chunks",
                    tmp_path / "live.jsonl")
    out = tmp_path / "extracted.jsonl"
    result = run_cli("extract", warc, "-o", out, "--max-bytes", 20_000, *text, "--markdown-dir", again_dir,
                     "--chunks", tmp_path / "again.jsonl", timeout=60)
    assert result.returncode == 0, result.stderr
    extracted = {r["url"]: r for r in read_output(out)}
    for record in live:
        again = extracted[record["url"]]
        assert list(again) == list(record)
        assert (again["markdown"], again["markdown_file"]) == (record["markdown"], record["markdown_file"])

    def files(root: Path) -> dict[str, list[str]]:
        return {str(p.relative_to(root)): [line for line in p.read_text().splitlines()
                                           if not line.startswith("fetched_at:")] for p in root.rglob("*.md")}

    assert files(again_dir) == files(live_dir)
    assert files(live_dir)
    chunks = sorted((tmp_path / "live.jsonl").read_text().splitlines())
    assert chunks
    assert sorted((tmp_path / "again.jsonl").read_text().splitlines()) == chunks
