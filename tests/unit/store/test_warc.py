"""crawler.store.warc: records as warcio reads them back, `warcio check`, rotation, repair after a kill."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.config import parse_size
from crawler.errors import UsageError
from crawler.page import Exchange, Page
from crawler.store.warc import IDENTICAL, WarcFiles, digest, repair
from crawler.warcrecord import archived, page_metadata, revisit

BODY = gzip.compress(b"<html><title>x</title><a href='/b'>b</a></html>", mtime=0)
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\nETag: \"v1\"\r\n\r\n" % len(BODY))
REQUEST = b"GET /a HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: crawler/0.1.0\r\nAccept-Encoding: gzip\r\n\r\n"


def exchange(url: str = "http://127.0.0.1:8000/a", body: bytes = BODY, truncated: str | None = None) -> Exchange:
    return Exchange(url, "2026-12-03T10:00:00Z", REQUEST, RESPONSE, body, ip="127.0.0.1", truncated=truncated)


def encoded(files: WarcFiles, *exchanges: Exchange) -> bytes:
    return b"".join(archived(e, files.gzip).encoded for e in exchanges)


def read(path: Path) -> list:
    with open(path, "rb") as f:
        return [(r.rec_type, r.rec_headers, r.content_stream().read(), r.http_headers)
                for r in ArchiveIterator(f)]


def warcio_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, paths)],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_an_exchange_reads_back_as_request_and_response(tmp_path: Path, name: str) -> None:
    files = WarcFiles(str(tmp_path / name), 10**9, {"software": "crawler/test"})
    sent = archived(exchange(), files.gzip)
    page = Page(url="http://127.0.0.1:8000/a", final_url="http://127.0.0.1:8000/a", status=200,
                referrer="http://127.0.0.1:8000/", fetched_at="2026-12-03T10:00:00Z", elapsed_ms=1.5)
    files.write_encoded(sent.encoded + page_metadata(page, 1, [sent], ["http://127.0.0.1:8000/b"], files.gzip))
    files.close()
    records = read(tmp_path / name)
    assert [r[0] for r in records] == ["warcinfo", "request", "response", "metadata"]
    _, req_headers, req_body, _ = records[1]
    _, resp_headers, payload, http = records[2]
    assert req_headers.get_header("WARC-Concurrent-To") == resp_headers.get_header("WARC-Record-ID")
    assert resp_headers.get_header("WARC-Target-URI") == "http://127.0.0.1:8000/a"
    assert resp_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert resp_headers.get_header("WARC-Date") == "2026-12-03T10:00:00Z"
    assert resp_headers.get_header("WARC-Payload-Digest") == digest(BODY)
    assert http.get_header("Content-Encoding") == "gzip"
    assert http.get_header("ETag") == '"v1"'
    with open(tmp_path / name, "rb") as f:  # the body as received: still gzip-encoded in the record
        raw = [r.raw_stream.read() for r in ArchiveIterator(f) if r.rec_type == "response"]
    assert raw == [BODY]
    assert records[3][2] == (b"via: http://127.0.0.1:8000/\r\nhopsFromSeed: L\r\n"
                             b"outlink: http://127.0.0.1:8000/b\r\nfetchTimeMs: 1.5\r\n")
    assert records[3][1].get_header("WARC-Concurrent-To") == sent.record_id == resp_headers.get_header("WARC-Record-ID")
    check = warcio_check(tmp_path / name)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_truncated_body_is_flagged_and_a_revisit_points_at_the_stored_copy(tmp_path: Path) -> None:
    files = WarcFiles(str(tmp_path / "c.warc.gz"), 10**9, {})
    cut = archived(exchange(body=BODY[:10], truncated="length"), files.gzip)
    same = archived(exchange(), files.gzip)
    again = revisit(same, IDENTICAL, "http://127.0.0.1:8000/a", "2026-12-01T00:00:00Z", digest(BODY), files.gzip)
    files.write_encoded(cut.encoded + again)
    files.close()
    records = read(tmp_path / "c.warc.gz")
    assert [r[0] for r in records] == ["warcinfo", "request", "response", "revisit"]
    assert records[1][1].get_header("WARC-Truncated") is None
    assert records[2][1].get_header("WARC-Truncated") == "length"
    kind, headers, payload, http = records[3]
    assert kind == "revisit"
    assert headers.get_header("WARC-Record-ID") == same.record_id  # a metadata record naming the response names it
    assert headers.get_header("WARC-Profile") == IDENTICAL
    assert headers.get_header("WARC-Refers-To-Target-URI") == "http://127.0.0.1:8000/a"
    assert headers.get_header("WARC-Refers-To-Date") == "2026-12-01T00:00:00Z"
    assert payload == b""  # headers only: the body is the stored copy's
    assert http.get_header("ETag") == '"v1"'
    assert warcio_check(tmp_path / "c.warc.gz").returncode == 0


def test_files_rotate_past_the_size_each_starting_with_warcinfo(tmp_path: Path) -> None:
    files = WarcFiles(str(tmp_path / "r.warc.gz"), 1500, {"software": "crawler/test"})
    for i in range(12):
        files.write_encoded(encoded(files, exchange(f"http://127.0.0.1:8000/{i}")))
    files.close()
    names = files.names()
    assert names[:3] == [str(tmp_path / n) for n in ("r.warc.gz", "r-00001.warc.gz", "r-00002.warc.gz")]
    responses = []
    for name in names:
        records = read(Path(name))
        assert records[0][0] == "warcinfo"
        responses += [r[1].get_header("WARC-Target-URI") for r in records if r[0] == "response"]
    assert responses == [f"http://127.0.0.1:8000/{i}" for i in range(12)]  # each once, in order
    assert warcio_check(*map(Path, names)).returncode == 0


@pytest.mark.parametrize("name", ["k.warc.gz", "k.warc"])
def test_a_torn_last_record_is_cut_on_resume(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    files = WarcFiles(str(path), 10**9, {})
    files.write_encoded(encoded(files, exchange("http://127.0.0.1:8000/1")))
    files.close()
    whole = os.path.getsize(path)
    with open(path, "ab") as f:  # killed halfway through the next record
        f.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + b"x" * 400)[:150])
    resumed = WarcFiles(str(path), 10**9, {}, resume=True)
    assert os.path.getsize(path) == whole
    resumed.write_encoded(encoded(resumed, exchange("http://127.0.0.1:8000/2")))
    resumed.close()
    records = read(path)
    assert [r[0] for r in records] == ["warcinfo", "request", "response", "request", "response"]
    assert warcio_check(path).returncode == 0
    assert repair(str(path)) == 0  # whole: nothing to cut


def test_sizes_and_names_are_checked() -> None:
    assert parse_size("2G") == 2_000_000_000
    assert parse_size("1.5M") == 1_500_000
    with pytest.raises(UsageError):
        parse_size("lots")
    with pytest.raises(UsageError, match="must end in"):
        WarcFiles("/tmp/x.txt", 1, {})


@pytest.mark.parametrize("name", ["crawl.warc.gz", "crawl.warc"])
def test_a_whole_capture_and_the_metadata_made_beside_it_name_one_record_id(tmp_path: Path, name: str) -> None:
    # A capture kept whole (no records built in the worker, no metadata record from it): the archive
    # encodes it and makes the page's metadata record, which must name the response it wrote.
    from crawler.page import Done, PageResult, Task
    from crawler.store.archive import ArchiveSink
    from crawler.worker.capture import Capture

    url = "http://127.0.0.1:8000/a"
    capture = Capture(url, "2026-12-03T10:00:00Z", REQUEST, RESPONSE, "127.0.0.1")
    capture.feed(BODY)
    page = Page(url=url, final_url=url, status=200, fetched_at="2026-12-03T10:00:00Z")
    task = Task(url)
    sink = ArchiveSink(str(tmp_path / name), 10**9, {"software": "crawler/test"})
    sink.open()
    sink.write(Done(page, task, PageResult(task=task, page=page, exchanges=(capture.done(),))))
    sink.close(True)
    records = read(tmp_path / name)
    assert [r[0] for r in records] == ["warcinfo", "request", "response", "metadata"]
    assert records[3][1].get_header("WARC-Concurrent-To") == records[2][1].get_header("WARC-Record-ID")
    assert records[2][2] == gzip.decompress(BODY)  # warcio undoes the Content-Encoding kept in the record
