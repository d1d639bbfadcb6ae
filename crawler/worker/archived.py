"""Reading one archived response in a worker (``crawler extract``): an `ArchiveRef` to an `Archived`.

The main process indexes the archives (`crawler.store.warcread`) and hands
out where each page's response lies; reading it here (decompressing its
record, parsing its HTTP head, undoing chunked framing) runs on the pool.
Each worker keeps its archive files open for the whole extract.

A page of a ``.warc.gz`` this crawler wrote comes with the span of gzip
members the index skipped (`ArchiveRef.span`): they are inflated and checked
here (`crawler.warcmember.check_members`) and the response kept from them.
A record in a gzip member (ours, wget's, anyone's) is read directly: its
WARC head, then its HTTP head when that is of the plain kind (CRLF lines, no
folding, UTF-8). Damage raises `ArchiveDamaged` (`crawler.worker.entry`
hands it to the main process in the page's place). A ``.warc`` or an HTTP
head of another kind is read by warcio, which knows heads of many shapes;
warcio took a fifth of an extract's worker CPU on the bench's fast site (it
reads a record line by line through Python).
"""

from __future__ import annotations

import io
from typing import IO, Any, NamedTuple

from ..page import Archived, ArchiveRef
from ..warcmember import GZIP_MAGIC, block_length, check_members, head, read_member
from ..warcrecord import IDENTICAL, NOT_MODIFIED

_files: dict[str, IO[bytes]] = {}

_Headers = tuple[tuple[str, str], ...]


class _Record(NamedTuple):
    """What `read` uses of a record: its WARC fields (names lower-cased, the first of each),
    its HTTP status, reason and header fields (status None and no fields: no HTTP head), its body."""

    fields: dict[str, str]
    status: int | None
    reason: str
    headers: _Headers
    body: bytes


def read(ref: ArchiveRef) -> Archived:
    """The page ``ref`` points at, as the archive holds it."""
    if ref.path is None:  # no final response: what the crawl noted is all there is
        return Archived(ref.url, ref.final_url or ref.url, ref.date or "", elapsed_ms=ref.elapsed_ms, error=ref.error,
                        redirects=ref.redirects)
    record = _load(ref.path, ref.offset, ref.span)
    status, reason, headers, body = record.status, record.reason, record.headers, record.body
    truncated = bool(record.fields.get("warc-truncated"))
    not_modified = False
    copy_headers: _Headers = ()
    if record.fields.get("warc-type") == "revisit":
        profile = record.fields.get("warc-profile", "")
        not_modified = profile == NOT_MODIFIED
        body = b""
        if ref.copy_path is not None:
            copy = _load(ref.copy_path, ref.copy_offset, None)
            body = copy.body
            truncated = bool(copy.fields.get("warc-truncated"))
            if profile == IDENTICAL:  # the stored copy's head; the revisit keeps only its own date
                headers = copy.headers
            elif not_modified:  # the 304's own head, and the copy's to read the copy's body by
                copy_headers = copy.headers
    final = record.fields.get("warc-target-uri", "").strip("<>")
    date = ref.date or record.fields.get("warc-date", "")
    return Archived(ref.url, final, date, status, reason, headers, body, truncated, not_modified, ref.elapsed_ms,
                    ref.error, ref.redirects, copy_headers)


def _file(path: str) -> IO[bytes]:
    f = _files.get(path)
    if f is None:
        f = _files[path] = open(path, "rb")  # noqa: SIM115 - kept open for the worker's life
    return f


def _load(path: str, offset: int, span: tuple[int, int] | None) -> _Record:
    """The record at ``offset`` of ``path``, its gzip members from ``span`` checked on the way."""
    f = _file(path)
    data = check_members(path, f, span[0], span[1], offset) if span is not None else None
    if data is None:
        f.seek(offset)
        if f.read(2) != GZIP_MAGIC:
            return _by_warcio(f, offset)
        data = read_member(path, f, offset)
    return _lean(path, offset, data)


def _lean(path: str, offset: int, data: bytes) -> _Record:
    """The record inflated in ``data``, read here when its HTTP head is of the plain kind, else by warcio."""
    fields, head_size = head(path, offset, data)
    length = block_length(path, offset, fields)
    kind = fields.get("warc-type")
    if (kind not in ("response", "revisit") or not fields.get("content-type", "").startswith("application/http")
            or not fields.get("warc-target-uri", "").strip("<>").startswith(("http:", "https:"))):
        return _by_warcio(io.BytesIO(data), 0)
    block = data[head_size:head_size + length]
    end = block.find(b"\r\n\r\n")
    parsed = _plain_http(block[:end]) if end > 0 and block[:5].upper() == b"HTTP/" else None
    if parsed is None:
        return _by_warcio(io.BytesIO(data), 0)
    status, reason, headers, chunked = parsed
    body = block[end + 4:]
    if chunked:
        body = _unchunked(body)
    return _Record(fields, status, reason, headers, body)


def _plain_http(head_bytes: bytes) -> tuple[int | None, str, _Headers, bool] | None:
    """(status, reason, fields without a chunked ``Transfer-Encoding``, chunked) of an HTTP head
    of the plain kind, read as warcio reads it; None for any other (warcio reads that)."""
    if head_bytes.count(b"\n") != head_bytes.count(b"\r\n"):
        return None  # bare line feeds: warcio splits lines there
    try:
        lines = head_bytes.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        return None  # warcio decodes line by line, each as UTF-8 or else Latin-1
    statusline = lines[0].rstrip().split(" ", 1)
    rest = statusline[1].strip() if len(statusline) > 1 else ""
    code, _, reason = rest.partition(" ")
    headers = []
    chunked = False
    for line in lines[1:]:
        if line[:1] in (" ", "\t") or not line.strip():
            return None  # a folded field, or white space that ends warcio's head early
        name, sep, value = line.rstrip().partition(":")
        if not sep:
            continue  # warcio drops a line without a colon
        name, value = name.rstrip(" \t"), value.lstrip()
        if name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
            continue
        headers.append((name, value))
    return (int(code) if code.isdigit() else None), reason, tuple(headers), chunked


def _unchunked(body: bytes) -> bytes:
    # Framing only: the Content-Encoding stays, for from_archive. warcio's reader, for its leniency.
    from warcio.bufferedreaders import ChunkedDataReader

    return bytes(ChunkedDataReader(io.BytesIO(body)).read())


def _by_warcio(f: IO[bytes], offset: int) -> _Record:
    # warcio imported here, by the extract's workers only: a crawl's workers never read an archive (~5 ms a start).
    from warcio.archiveiterator import ArchiveIterator
    from warcio.bufferedreaders import ChunkedDataReader

    f.seek(offset)
    record = next(iter(ArchiveIterator(f, check_digests=False)))
    stream: Any = record.raw_stream
    http = record.http_headers
    if http is not None and "chunked" in (http.get_header("Transfer-Encoding") or "").lower():
        stream = ChunkedDataReader(stream)  # framing only: the Content-Encoding stays, for from_archive
    body = stream.read()
    fields: dict[str, str] = {}
    for name, value in record.rec_headers.headers:
        fields.setdefault(name.lower(), value)
    if http is None:
        return _Record(fields, None, "", (), body)
    code = http.get_statuscode()
    reason = http.statusline.partition(" ")[2]
    headers = tuple((str(name), str(value)) for name, value in http.headers
                    if not (name.lower() == "transfer-encoding" and "chunked" in value.lower()))
    return _Record(fields, int(code) if code and code.isdigit() else None, reason, headers, body)
