"""crawler.warcrecord: the records serialised here read back through warcio as warcio's own records do."""

from __future__ import annotations

import base64
import gzip
import hashlib
import uuid
from io import BytesIO
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.warcwriter import WARCWriter

from crawler.page import Done, Exchange, Page, PageResult, Task
from crawler.store.archive import ArchiveSink
from crawler.warcrecord import (
    NOT_MODIFIED,
    Records,
    archived,
    base32,
    digest,
    gzip_member,
    page_metadata,
    record_id,
    revisit,
)

BODY = gzip.compress(b"<html><title>x</title>" + b"<p>words</p>" * 400 + b"</html>", mtime=0)
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\nETag: \"v1\"\r\n\r\n" % len(BODY))
REQUEST = b"GET /a?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: crawler/0.1.0\r\n\r\n"
URL = "http://127.0.0.1:8000/a?q=1"
DATE = "2026-12-03T10:00:00.123Z"


def records(data: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """(type, WARC fields, payload) of each record, digests checked by warcio as it reads."""
    out = []
    iterator = ArchiveIterator(BytesIO(data), check_digests="raise", ensure_http_headers=False)
    for record in iterator:
        out.append((record.rec_type, dict(record.rec_headers.headers), record.raw_stream.read()))
    return out


def warcio_exchange(exchange: Exchange) -> bytes:
    """The request and response records as warcio's builder and writer make them."""
    builder = RecordBuilder(warc_version="1.1")
    common = {"WARC-Date": exchange.date, "WARC-IP-Address": exchange.ip}
    block = exchange.response + exchange.body
    response = builder.create_warc_record(exchange.url, "response", payload=BytesIO(block), length=len(block),
                                          warc_headers_dict={**common, "WARC-Payload-Digest": digest(exchange.body)})
    request = builder.create_warc_record(
        exchange.url, "request", payload=BytesIO(exchange.request), length=len(exchange.request),
        warc_headers_dict={**common, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
    out = BytesIO()
    writer = WARCWriter(out, gzip=False, warc_version="1.1")
    writer.write_record(request)
    writer.write_record(response)
    return out.getvalue()


def comparable(fields: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k not in ("WARC-Record-ID", "WARC-Concurrent-To")}


@pytest.mark.parametrize("zipped", [False, True])
def test_an_exchange_reads_back_field_for_field_as_warcios_own_records(zipped: bool) -> None:
    exchange = Exchange(URL, DATE, REQUEST, RESPONSE, BODY, ip="127.0.0.1")
    ours = archived(exchange, zipped)
    assert ours.body == b""  # what travels to the main process: the records, not the body twice
    data = gzip.decompress(ours.encoded) if zipped else ours.encoded
    theirs = records(warcio_exchange(exchange))
    mine = records(data)
    assert [(t, comparable(f), b) for t, f, b in mine] == [(t, comparable(f), b) for t, f, b in theirs]
    (_, request, _), (_, response, block) = mine
    assert request["WARC-Concurrent-To"] == response["WARC-Record-ID"] == ours.record_id
    assert ours.payload_digest == response["WARC-Payload-Digest"] == digest(BODY)
    assert block == BODY  # still gzip-encoded
    assert RESPONSE + BODY + b"\r\n\r\n" in data  # the head as received, then the body
    if zipped:  # one gzip member per record, each readable alone
        first = gzip_member(data[: data.index(b"WARC/1.1", 10)])
        assert ours.encoded.startswith(first[:10])


@pytest.mark.parametrize(("coding", "stored"), [("gzip", True), ("br", True), (" Identity ", False), ("", False)])
def test_a_body_compressed_already_is_stored_in_its_member_not_deflated_again(coding: str, stored: bool) -> None:
    # Over 64 KiB, to take more than one stored block; bytes that deflate well, to tell stored from deflated.
    body = bytes(range(256)) * 300
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    head += (b"content-encoding: %s\r\n" % coding.encode() if coding else b"") + b"\r\n"
    exchange = Exchange(URL, DATE, REQUEST, head, body, ip="127.0.0.1")
    ours = archived(exchange, True)
    whole = archived(exchange, False).encoded
    data = gzip.decompress(ours.encoded)
    assert [(t, comparable(f), b) for t, f, b in records(data)] == \
           [(t, comparable(f), b) for t, f, b in records(whole)]
    assert (len(ours.encoded) > len(body)) is stored  # stored as it came, or deflated to a fraction
    response_member = ours.encoded[ours.encoded.index(b"\x1f\x8b", 10):]
    assert gzip.decompress(response_member).startswith(b"WARC/1.1")  # one member per record, each readable alone
    assert b"Content-Type: text/html" not in ours.encoded  # the heads are deflated either way


def test_a_cut_body_says_so_and_keeps_its_own_digest() -> None:
    exchange = Exchange(URL, DATE, REQUEST, RESPONSE, BODY[:100], ip=None, truncated="length")
    (_, request, _), (_, response, block) = records(archived(exchange, False).encoded)
    assert response["WARC-Truncated"] == "length"
    assert "WARC-Truncated" not in request
    assert "WARC-IP-Address" not in response
    assert response["WARC-Payload-Digest"] == digest(BODY[:100])
    assert block == BODY[:100]


def test_the_metadata_record_holds_what_a_replay_cannot_read_off_the_responses() -> None:
    hop = archived(Exchange("http://127.0.0.1:8000/old", DATE, REQUEST, b"HTTP/1.1 301 Moved\r\n\r\n"), False)
    last = archived(Exchange(URL, DATE, REQUEST, RESPONSE, BODY), False)
    page = Page(url="http://127.0.0.1:8000/old", final_url=URL, status=200, depth=2,
                referrer="http://127.0.0.1:8000/", fetched_at=DATE, elapsed_ms=12.25)
    [(kind, fields, body)] = records(page_metadata(page, 2, [hop, last], [URL, "http://127.0.0.1:8000/b"], False))
    assert kind == "metadata"
    assert fields["Content-Type"] == "application/warc-fields"
    assert fields["WARC-Target-URI"] == "http://127.0.0.1:8000/old"
    assert fields["WARC-Concurrent-To"] == last.record_id
    assert body.decode().split("\r\n") == [
        "via: http://127.0.0.1:8000/", "hopsFromSeed: LLR", f"outlink: {URL}", "outlink: http://127.0.0.1:8000/b",
        "fetchTimeMs: 12.25", "redirect: 301 http://127.0.0.1:8000/old", ""]


def test_a_fetch_with_no_final_response_names_its_error_and_where_it_ended() -> None:
    hop = archived(Exchange("http://127.0.0.1:8000/loop", DATE, REQUEST, b"HTTP/1.1 302 Found\r\n\r\n"), True)
    page = Page(url="http://127.0.0.1:8000/loop", final_url="http://127.0.0.1:8000/loop2", status=None,
                error="redirect: too many\nredirects", fetched_at=DATE)
    [(_, fields, body)] = records(gzip.decompress(page_metadata(page, 0, [hop], [], True)))
    assert "WARC-Concurrent-To" not in fields  # the record's status is no response's
    lines = body.decode().split("\r\n")
    assert "redirect: 302 http://127.0.0.1:8000/loop" in lines
    assert "error: redirect: too many redirects" in lines  # folded onto one line
    assert "finalUrl: http://127.0.0.1:8000/loop2" in lines


def test_digests_and_record_ids_are_what_the_standard_modules_make() -> None:
    # base32 and record_id stand in for base64.b32encode and uuid.UUID(version=4), for speed.
    for size in (0, 1, 19, 20, 2047, 2048, 5000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        assert digest(data) == "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")
    for sha1 in (bytes(20), b"\xff" * 20, bytes(range(20))):
        assert base32(sha1) == base64.b32encode(sha1).decode("ascii")
    ids = {record_id() for _ in range(2000)}
    assert len(ids) == 2000
    for rid in list(ids)[:200]:
        assert rid.startswith("<urn:uuid:")
        assert rid.endswith(">")
        parsed = uuid.UUID(rid[len("<urn:uuid:"):-1])
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == rid[len("<urn:uuid:"):-1]


@pytest.mark.parametrize("stored", [True, False])
def test_a_revisit_reads_back_field_for_field_as_warcios_own(stored: bool) -> None:
    head = b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nServer: t\r\n\r\n"
    exchange = archived(Exchange(URL, DATE, REQUEST, head, b"", ip="127.0.0.1"), False)
    copy = ("http://127.0.0.1:8000/a?q=1", "2026-12-01T00:00:00Z", digest(BODY)) if stored else (None, None, None)
    ours = revisit(exchange, NOT_MODIFIED, *copy, gzip=True)
    headers = {"WARC-Date": DATE, "WARC-Profile": NOT_MODIFIED, "WARC-Record-ID": exchange.record_id,
               "WARC-IP-Address": "127.0.0.1"}
    if stored:
        headers.update({"WARC-Refers-To-Target-URI": copy[0], "WARC-Refers-To-Date": copy[1],
                        "WARC-Payload-Digest": copy[2]})
    theirs = RecordBuilder(warc_version="1.1").create_warc_record(URL, "revisit", payload=BytesIO(head),
                                                                  length=len(head), warc_headers_dict=headers)
    out = BytesIO()
    WARCWriter(out, gzip=False, warc_version="1.1").write_record(theirs)
    (kind, fields, payload), = records(gzip.decompress(ours))
    (their_kind, their_fields, their_payload), = records(out.getvalue())
    assert (kind, fields, payload) == (their_kind, their_fields, their_payload)
    assert fields["WARC-Record-ID"] == exchange.record_id  # the metadata record names the response it stands for
    assert head in gzip.decompress(ours)


def test_a_304_to_a_conditional_request_is_left_for_the_revisit_that_replaces_it(tmp_path: Path) -> None:
    head = b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n"
    conditional = REQUEST.replace(b"\r\n\r\n", b"\r\nIf-None-Match: \"v1\"\r\n\r\n")
    records_ = Records(head, True)
    left = records_.done(URL, DATE, conditional, "127.0.0.1", None)
    assert (left.encoded, left.response, left.status) == (b"", head, 304)
    assert left.record_id is not None
    assert left.record_id.startswith("<urn:uuid:")
    bare = b"HTTP/1.1 304\r\nETag: \"v1\"\r\n\r\n"  # no reason phrase: a 304 all the same
    assert Records(bare, True).done(URL, DATE, conditional, None, None).encoded == b""
    assert Exchange(URL, DATE, conditional, bare).status == 304
    # Not conditional (a server's 304 out of the blue), or a 200: encoded as ever.
    assert Records(head, True).done(URL, DATE, REQUEST, None, None).encoded
    assert Records(RESPONSE, True).done(URL, DATE, conditional, None, None).encoded
    # Without a memory of copies (no --state: an If-None-Match the user added), the archive
    # encodes it itself, under the record ID the page's metadata record names.
    sink = ArchiveSink(str(tmp_path / "a.warc.gz"), 10**9, {"software": "crawler/test"})
    sink.open()
    page = Page(url=URL, final_url=URL, status=304, fetched_at=DATE)
    sink.write(Done(page, Task(URL), PageResult(task=Task(URL), page=page, exchanges=[left])))
    sink.close(True)
    found = records((tmp_path / "a.warc.gz").read_bytes())
    kinds = [(kind, fields.get("WARC-Record-ID"), fields.get("WARC-Concurrent-To")) for kind, fields, _ in found]
    assert [kind for kind, _, _ in kinds] == ["warcinfo", "request", "response", "metadata"]
    assert kinds[2][1] == kinds[3][2] == kinds[1][2] == left.record_id
