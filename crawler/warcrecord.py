"""WARC records of a page, built alike in the workers and the main process (``--warc``).

A worker turns each exchange it captured into its finished ``request`` and
``response`` records, and a page into its ``metadata`` record (`archived`,
`page_metadata`: serialised, and gzip-compressed one member each for
``.warc.gz``), so the main process only appends bytes. Building,
digesting and compressing records there made it the crawl's bottleneck
(``--warc`` halved pages/s on the bench's fast site).

These three record kinds, the bulk of an archive, are serialised here
(`record`) rather than through warcio's record builder: on the bench's
pages warcio took ~0.2 ms a page to build them (it parses the HTTP head it
is handed, and serialises it again), as much as a plain crawl's whole
budget for ``--warc``. The bytes are what warcio writes (WARC 1.1, the same
fields, digests over the block as stored); ``tests/unit/test_warcrecord.py``
reads them back through warcio and compares them with warcio's own records
field by field, and ``warcio check`` validates every archive the tests
write. The ``warcinfo`` and ``revisit`` records (one a file, one an
unchanged page) are still built by warcio (`crawler.store.warc`). A side
effect: the response block is the head exactly as `crawler.worker.capture`
took it, where warcio re-serialised it.

Compression is ISA-L's level 1 (the ``isal`` package: igzip, standard gzip
members): on the bench's pages 0.06 ms a page against zlib's level 1 at
0.35 ms and level 6 (gzip's and wget's default) at 0.74, for a smaller
archive than zlib's level 1 (40.1 % of the records' size against 40.6 %;
level 6: 37.8 %). Recompressing an archive later is cheap; a slower crawl
is not.

A shared leaf: workers and the main process import it; it imports isal,
`crawler.page` and `crawler.warcmember` only.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Sequence
from typing import Any

from isal import isal_zlib

from .page import Exchange, Page, status_of, utc_now
from .warcmember import SL_HEADER_SIZE, sl_header, with_skip_length

#: Revisit profiles (WARC 1.1): the server said 304, or the body hashes as the stored copy's.
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

WARC_VERSION = "1.1"
GZIP_LEVEL = 1
_GZIP_WBITS = 16 + 15  # a gzip member (header and trailer), 32 KiB window

REQUEST_TYPE = "application/http; msgtype=request"
RESPONSE_TYPE = "application/http; msgtype=response"
FIELDS_TYPE = "application/warc-fields"


def digest(data: bytes) -> str:
    """A WARC digest: ``sha1:`` and the base32 SHA-1 of ``data``."""
    sha1 = _SHA1.copy()
    _update(data, sha1)
    return _label(sha1)


#: a fresh SHA-1 to copy: hashlib.sha1() looks the algorithm up in OpenSSL 3 each time (EVP_MD_fetch)
_SHA1 = hashlib.sha1()


def _update(data: bytes, *digests: Any) -> None:
    """Feed ``data`` to each of ``digests`` (hashlib objects), in slices cut once for them all."""
    # hashlib lets go of the GIL to hash 2048 bytes or more at once. In a
    # worker whose fetch threads all want the GIL, each let-go is a hand-over
    # and a wait to get it back: archiving a bench page under 4 busy threads
    # took 0.128 ms of the thread's CPU with whole-body updates, 0.078 with
    # updates below that size (compression left out of both).
    if len(data) < _UNLOCKED:
        for sha1 in digests:
            sha1.update(data)
        return
    view = memoryview(data)
    for start in range(0, len(view), _UNLOCKED):
        piece = view[start:start + _UNLOCKED]
        for sha1 in digests:
            sha1.update(piece)


def _label(sha1: Any) -> str:
    return "sha1:" + base32(sha1.digest())


_UNLOCKED = 2047  # below hashlib's HASHLIB_GIL_MINSIZE

#: every 10-bit value as its two base32 digits (RFC 4648's alphabet)
_PAIRS = tuple(a + b for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_SHIFTS = tuple(range(150, -1, -10))


def base32(sha1: bytes) -> str:
    """A 20-byte SHA-1 in base32 (RFC 4648: 32 digits, no padding), as ``base64.b32encode`` gives it.

    Why not that: Python's own base32 is written in Python, a loop over
    5-byte groups that took ~8 µs a digest in a crawl, four digests a page;
    this takes the 160 bits 10 at a time from one integer (~2 µs).
    """
    number = int.from_bytes(sha1, "big")
    return "".join([_PAIRS[(number >> shift) & 1023] for shift in _SHIFTS])


def record_id() -> str:
    """A new ``WARC-Record-ID`` (a random UUID URN, as warcio makes them).

    From `random` rather than `uuid.uuid4` (os.urandom: a system call that
    lets go of the GIL, see `digest`); `random` is seeded from the system's
    entropy in every process, forked workers included.
    """
    # The UUID's version (4) and variant (RFC 9562) bits set in the integer,
    # formatted by hand: uuid.UUID's checks and properties took ~5 µs an ID,
    # three IDs a page.
    text = f"{random.getrandbits(128) & _UUID_CLEAR | _UUID_SET:032x}"
    return f"<urn:uuid:{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}>"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # the version's 4 bits and the variant's 2
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, variant 10


def record(kind: str, uri: str, date: str, block: bytes, content_type: str,
           fields: Sequence[tuple[str, str]] = (), rid: str | None = None) -> bytes:
    """One WARC record, serialised: the ``WARC/1.1`` head (type, ID, date, target, ``fields``, block
    digest, content type and length), the block, and the two CRLFs that end a record.

    Field values must hold no CR or LF (URLs, dates and digests do not;
    `page_metadata` folds whitespace in what it writes).
    """
    return _head(kind, uri, date, fields, rid or record_id(), digest(block), content_type, len(block)) + block + _END


def _head(kind: str, uri: str, date: str, fields: Sequence[tuple[str, str]], rid: str, block_digest: str,
          content_type: str, length: int) -> bytes:
    """A record's ``WARC/1.1`` head, to the empty line that ends it."""
    head = [f"WARC/{WARC_VERSION}", f"WARC-Type: {kind}", f"WARC-Record-ID: {rid}",
            f"WARC-Date: {date}", f"WARC-Target-URI: {uri}"]
    head += [f"{name}: {value}" for name, value in fields]
    head += [f"WARC-Block-Digest: {block_digest}", f"Content-Type: {content_type}", f"Content-Length: {length}", "",
             ""]
    return "\r\n".join(head).encode("utf-8")


_END = b"\r\n\r\n"  # what ends a record, after its block


def gzip_member(data: bytes) -> bytes:
    """``data`` as one gzip member (a ``.warc.gz`` holds one per record), with its ``sl`` field
    (`crawler.warcmember`)."""
    return with_skip_length(isal_zlib.compress(data, GZIP_LEVEL, _GZIP_WBITS), len(data))


def archived(exchange: Exchange, gzip: bool) -> Exchange:
    """``exchange`` with its records encoded and its body dropped: what travels to the main process
    (`Records`, fed the whole body at once)."""
    records = Records(exchange.response, gzip)
    records.feed(exchange.body)
    return records.done(exchange.url, exchange.date, exchange.request, exchange.ip, exchange.truncated,
                        exchange.record_id, whole=True)


class Records:
    """An exchange's ``request`` and ``response`` records, built as the response's body is read.

    ``head`` is the response's status line and headers as received; `feed`
    takes the body as received (``Content-Encoding`` intact) in pieces;
    `done` returns the exchange with its records encoded and no body. The
    two records are tied by ``WARC-Concurrent-To``; the payload digest is the
    body's as received; a body that is not whole says why in
    ``WARC-Truncated`` (``length``: cut at ``--max-bytes``).

    Each piece is digested (payload and block) as it arrives, and the pieces
    are joined once, into the record itself: the body is not joined, then
    joined again to its head, then copied into the record. The record is
    compressed in one call at the end: ISA-L lets go of the GIL for each
    call, and in a worker whose threads all want it every let-go is a
    hand-over (a version that compressed each piece as it came, while it was
    still in the CPU's cache, made ~50 futex calls a page against ~16, for
    no gain on the bench).

    A body with a ``Content-Encoding`` is compressed already: deflating it
    again took ISA-L ~27 µs for a gzipped bench page (8.8 KB), to make it
    0.3 % larger. Its ``.warc.gz`` member deflates the two heads only and
    stores the body as it is, in stored deflate blocks (RFC 1951 3.2.4) after
    them; any gzip reader reads it as one member.
    """

    __slots__ = ("_head", "_block", "_payload", "_size", "_parts", "gzip", "_coded")

    def __init__(self, head: bytes, gzip: bool) -> None:
        self._head = head
        self._block = _SHA1.copy()
        self._block.update(head)  # a head is well below the size that lets go of the GIL
        self._payload = _SHA1.copy()
        self._size = len(head)
        #: the record's parts: its WARC head (set by done), the HTTP head, the body's pieces, its end
        self._parts: list[bytes] = [b"", head]
        self.gzip = gzip
        #: the body is compressed data (see above)
        self._coded = gzip and _content_coded(head)

    def feed(self, data: bytes) -> None:
        """Take the next piece of the body."""
        if not data:
            return
        _update(data, self._block, self._payload)
        self._size += len(data)
        self._parts.append(data)

    def done(self, url: str, date: str, request: bytes, ip: str | None, truncated: str | None,
             response_id: str | None = None, whole: bool = False) -> Exchange:
        """The exchange (``request`` as sent, the head given first) with its records encoded
        (the response's record ID ``response_id``, or a new one).

        A 304 to a conditional request is not encoded (unless ``whole``): it
        comes from an incremental run (``--state``), whose archive writes a
        ``revisit`` for it instead (`crawler.store.archive`), so records built
        here would be thrown away (~0.1 ms of a worker's CPU a page on a
        re-crawl of the bench's site). It keeps its record ID, which the
        page's ``metadata`` record names.
        """
        if response_id is None:
            response_id = record_id()
        if not whole and status_of(self._head) == 304 and _conditional(request):
            return Exchange(url, date, request, self._head, b"", ip, truncated, record_id=response_id)
        common = [("WARC-IP-Address", ip)] if ip else []
        payload = _label(self._payload)
        fields = [*common, ("WARC-Payload-Digest", payload)]
        if truncated:
            fields.append(("WARC-Truncated", truncated))
        request_record = record("request", url, date, request, REQUEST_TYPE,
                                [*common, ("WARC-Concurrent-To", response_id), ("WARC-Payload-Digest", _EMPTY)])
        parts = self._parts
        parts[0] = _head("response", url, date, fields, response_id, _label(self._block), RESPONSE_TYPE, self._size)
        parts.append(_END)
        if self._coded:
            encoded = gzip_member(request_record) + _member_storing_body(parts)
        elif self.gzip:
            encoded = gzip_member(request_record) + gzip_member(b"".join(parts))
        else:
            encoded = b"".join([request_record, *parts])
        return Exchange(url, date, request, self._head, b"", ip, truncated, encoded=encoded, record_id=response_id,
                        payload_digest=payload)


_EMPTY = digest(b"")  # a GET request's payload (warcio digests it too)


def _conditional(request: bytes) -> bool:
    """Whether ``request`` (its line and headers) asks ``If-None-Match`` or ``If-Modified-Since``."""
    lower = request.lower()
    return b"\nif-none-match:" in lower or b"\nif-modified-since:" in lower


def _content_coded(head: bytes) -> bool:
    """Whether a response's ``head`` names a ``Content-Encoding`` (other than identity)."""
    lower = head.lower()
    at = lower.find(b"\ncontent-encoding:")
    if at < 0:
        return False
    end = lower.find(b"\n", at + 1)
    return lower[at + 18:end if end >= 0 else len(lower)].strip() not in (b"", b"identity")


def _member_storing_body(parts: list[bytes]) -> bytes:
    """A gzip member of the record ``parts`` (WARC head, HTTP head, the body's pieces, the end):
    the heads deflated, the rest in stored blocks."""
    heads = parts[0] + parts[1]
    deflate = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, -15)
    out = [b"", deflate.compress(heads), deflate.flush(isal_zlib.Z_SYNC_FLUSH)]
    crc = isal_zlib.crc32(heads)
    size = len(heads)
    last = len(parts) - 1
    for index in range(2, len(parts)):
        piece = parts[index]
        crc = isal_zlib.crc32(piece, crc)
        size += len(piece)
        for start in range(0, len(piece), 0xFFFF):
            block = piece[start:start + 0xFFFF]
            final = index == last and start + 0xFFFF >= len(piece)
            out.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF))
            out.append(block)
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    out[0] = sl_header(SL_HEADER_SIZE + sum(map(len, out)), size)
    return b"".join(out)


def revisit(exchange: Exchange, profile: str, refers_to_uri: str | None, refers_to_date: str | None,
            payload_digest: str | None, gzip: bool) -> bytes:
    """A ``revisit`` record for ``exchange``, encoded: its status line and headers only, pointing at
    the stored copy (``refers_to_uri`` and ``refers_to_date``).

    Without a stored copy (a 304 to a request whose earlier answer was never
    archived) the pointers are left out, as WARC 1.1 allows. It takes the
    record ID the worker gave the response it stands for
    (``exchange.record_id``), so a ``metadata`` record naming that response
    names the revisit. Built here, not by warcio's record builder: an
    incremental re-crawl writes one for every unchanged page, in the main
    process, and warcio took ~45 µs each (this ~10).
    """
    fields = [("WARC-Profile", profile)]
    if refers_to_uri and refers_to_date:
        fields += [("WARC-Refers-To-Target-URI", refers_to_uri), ("WARC-Refers-To-Date", refers_to_date)]
    if payload_digest:
        fields.append(("WARC-Payload-Digest", payload_digest))
    if exchange.ip:
        fields.append(("WARC-IP-Address", exchange.ip))
    data = record("revisit", exchange.url, exchange.date, exchange.response, RESPONSE_TYPE, fields,
                  exchange.record_id)
    return gzip_member(data) if gzip else data


def page_metadata(page: Page, depth: int, exchanges: Sequence[Exchange], outlinks: Sequence[str],
                  gzip: bool) -> bytes:
    """The page's ``metadata`` record, as Heritrix writes it, encoded.

    Its fields: ``via`` (the referrer), ``hopsFromSeed`` (``L`` a link,
    ``R`` a redirect), an ``outlink`` per link followed, then what
    ``crawler extract`` cannot read off the responses: ``fetchTimeMs``, a
    ``redirect: STATUS URL`` per redirect followed, the crawl's ``error`` (a
    timeout's limit, a loop), and where a fetch that got no final response
    ended (``finalUrl``). It is tied (``WARC-Concurrent-To``) to the last
    response when the record's status is that response's; ``exchanges``
    must carry their responses' record IDs (`archived` keeps them, and a
    capture has one from the start).
    """
    redirects = max(0, len(exchanges) - 1)
    lines = [f"via: {page.referrer}"] if page.referrer else []
    lines.append(f"hopsFromSeed: {'L' * depth}{'R' * redirects}")
    lines += [f"outlink: {link}" for link in outlinks]
    lines.append(f"fetchTimeMs: {page.elapsed_ms:g}")
    hops = exchanges if page.status is None else exchanges[:-1]
    lines += [f"redirect: {hop.status} {hop.url}" for hop in hops]
    if page.error is not None:
        lines.append(f"error: {' '.join(page.error.split())}")
    fields: list[tuple[str, str]] = []
    if page.status is None:
        if page.final_url != page.url:
            lines.append(f"finalUrl: {page.final_url}")
    elif exchanges and exchanges[-1].record_id:
        fields.append(("WARC-Concurrent-To", exchanges[-1].record_id))
    body = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    data = record("metadata", page.url, page.fetched_at or utc_now(), body, FIELDS_TYPE, fields)
    return gzip_member(data) if gzip else data
