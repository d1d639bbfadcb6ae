"""crawler.worker.archived: a record read here, without warcio, is what warcio reads; damage in a span is raised."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from crawler.page import ArchiveRef, Exchange, Page
from crawler.store.warc import WarcFiles
from crawler.store.warcscan import scan
from crawler.warcmember import ArchiveDamaged
from crawler.warcrecord import archived, page_metadata
from crawler.worker import archived as reader

REQUEST = b"GET /p HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
BODY = b"<html><title>t</title><p>words</p></html>"
CHUNKED = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)

#: response heads of many shapes: the plain kind is read here, the others by warcio (the same either way)
HEADS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\nX-Two: a\r\nX-Two: b\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.0 200\r\nContent-Type:text/html  \r\nno colon here\r\nX-Pad :  v \r\n\r\n",
    b"HTTP/1.1 200 OK\nContent-Type: text/html\n\n",  # bare line feeds
    b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\nContent-Type: text/html\r\n\r\n",
    b"HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n",
]


@pytest.fixture(autouse=True)
def _close_files() -> Iterator[None]:
    yield
    _close()


def _close() -> None:
    for f in reader._files.values():  # the worker keeps them open for its life
        f.close()
    reader._files.clear()


def body_for(head: bytes) -> bytes:
    if b"chunked" in head:
        return CHUNKED
    if b"gzip" in head:
        return gzip.compress(BODY, mtime=0)
    return b"" if b" 301 " in head else BODY


def archive(path: Path) -> None:
    files = WarcFiles(str(path), 10**9, {"software": "crawler/test"})
    for n, head in enumerate(HEADS):
        url = f"http://127.0.0.1:8000/p{n}"
        sent = archived(Exchange(url, "2026-12-03T10:00:00Z", REQUEST, head, body_for(head), ip="127.0.0.1"),
                        files.gzip)
        page = Page(url=url, final_url=url, status=200, fetched_at="2026-12-03T10:00:00Z")
        files.write_encoded(sent.encoded + page_metadata(page, 0, [sent], [], files.gzip))
    files.close()


def responses(path: Path) -> list[int]:
    with open(path, "rb") as f:
        return [r.offset for r in scan(str(path), f) if r.kind == "response"]


@pytest.mark.parametrize("name", ["a.warc.gz", "a.warc"])
def test_every_response_reads_as_warcio_reads_it(tmp_path: Path, name: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / name
    archive(path)
    offsets = responses(path)
    assert len(offsets) == len(HEADS)
    by_warcio = reader._by_warcio
    fallbacks: list[int] = []

    def counted(f: IO[bytes], at: int) -> Any:
        fallbacks.append(len(fallbacks))
        return by_warcio(f, at)

    monkeypatch.setattr(reader, "_by_warcio", counted)
    read_by_warcio = []
    for offset, head in zip(offsets, HEADS, strict=True):
        before = len(fallbacks)
        ours = reader._load(str(path), offset, None)
        if len(fallbacks) > before:
            read_by_warcio.append(head)
        with open(path, "rb") as f:
            theirs = by_warcio(f, offset)
        assert ours == theirs, head
    # Read here: a .warc.gz's heads of the plain kind; warcio: bare LFs, folding, Latin-1, and any .warc.
    assert read_by_warcio == (HEADS[5:8] if name.endswith(".gz") else HEADS)
    for offset, head in zip(offsets, HEADS, strict=True):
        ours = reader._load(str(path), offset, None)
        assert ours.body == (BODY if b"chunked" in head else body_for(head))
    plain = reader._load(str(path), offsets[0], None)
    assert (plain.status, plain.reason, plain.headers) == (200, "OK", (("Content-Type", "text/html"),))


def test_a_page_with_its_span_reads_its_response_and_fails_on_damage_in_the_span(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    archive(path)
    with open(path, "rb") as f:
        records = list(scan(str(path), f))
    request, response, metadata = records[1:4]
    ref = ArchiveRef("http://127.0.0.1:8000/p0", str(path), response.offset, span=(request.offset, metadata.offset))
    page = reader.read(ref)
    assert (page.status, page.body, page.final_url) == (200, BODY, "http://127.0.0.1:8000/p0")
    data = bytearray(path.read_bytes())
    data[request.offset + 30] ^= 0xFF  # the request's member: read by no one but this check
    path.write_bytes(bytes(data))
    _close()
    with pytest.raises(ArchiveDamaged) as damage:
        reader.read(ref)
    assert damage.value.offset == request.offset
