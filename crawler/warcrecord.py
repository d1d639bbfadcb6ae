"""WARC records of an HTTP exchange, built alike in the workers and the main process (``--warc``).

A worker turns each exchange it captured into its finished ``request`` and
``response`` records (`encode`: serialised, and gzip-compressed one member
each for ``.warc.gz``), so the main process only appends bytes: building,
digesting and compressing records there made it the crawl's bottleneck
(``--warc`` halved pages/s on the bench's fast site). Compression is
zlib's level 1: on the bench's 125 MB of records it took 1.4 s of CPU for
49.8 MB, where level 6 (gzip's and wget's default) took 3.9 s for 46.1 MB
and warcio's own level 9 4.0 s for 46.0 MB. Text that compresses better
than the bench's gains more from a higher level (commonly 10-20 % smaller
at 6): recompressing an archive later is cheap; a slower crawl is not.

A shared leaf: workers and the main process import it; it imports warcio
and `crawler.page` only.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable
from io import BytesIO

from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from .page import Exchange

#: Revisit profiles (WARC 1.1): the server said 304, or the body hashes as the stored copy's.
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"

WARC_VERSION = "1.1"
GZIP_LEVEL = 1


def digest(data: bytes) -> str:
    """A WARC digest: ``sha1:`` and the base32 SHA-1 of ``data``."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")



def builder() -> RecordBuilder:
    """A warcio record builder for WARC 1.1 records."""
    return RecordBuilder(warc_version=WARC_VERSION)


def encode(records: Iterable[ArcWarcRecord], gzip: bool) -> bytes:
    """``records`` as they go in a file: serialised, each its own gzip member when ``gzip``."""
    parts = []
    for record in records:
        buffer = BytesIO()
        WARCWriter(buffer, gzip=False, warc_version=WARC_VERSION).write_record(record)
        data = buffer.getvalue()
        if gzip:
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
            data = compressor.compress(data) + compressor.flush()
        parts.append(data)
    return b"".join(parts)


def archived(exchange: Exchange, gzip: bool) -> Exchange:
    """``exchange`` with its records encoded and its body dropped: what travels to the main process."""
    request, response = exchange_records(builder(), exchange)
    return Exchange(exchange.url, exchange.date, exchange.request, exchange.response, b"", exchange.ip,
                    exchange.truncated, encoded=encode((request, response), gzip),
                    record_id=str(response.rec_headers.get_header("WARC-Record-ID")),
                    payload_digest=str(response.rec_headers.get_header("WARC-Payload-Digest")))


def exchange_records(writer: RecordBuilder, exchange: Exchange) -> tuple[ArcWarcRecord, ArcWarcRecord]:
    """The ``request`` and ``response`` records of one HTTP exchange, tied by ``WARC-Concurrent-To``.

    The response block is the status line and headers as received and the
    body with its ``Content-Encoding``; a body cut at ``--max-bytes`` gets
    ``WARC-Truncated: length``.
    """
    common = {"WARC-Date": exchange.date}
    if exchange.ip:
        common["WARC-IP-Address"] = exchange.ip
    block = exchange.response + exchange.body
    # warcio digests the block as it writes it (status line and headers as it
    # serialises them); the payload is the body as received.
    response_headers = {**common, "WARC-Payload-Digest": digest(exchange.body)}
    if exchange.truncated:
        response_headers["WARC-Truncated"] = exchange.truncated
    response = writer.create_warc_record(exchange.url, "response", payload=BytesIO(block), length=len(block),
                                         warc_headers_dict=response_headers)
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    request = writer.create_warc_record(exchange.url, "request", payload=BytesIO(exchange.request),
                                        length=len(exchange.request),
                                        warc_headers_dict={**common, "WARC-Concurrent-To": response_id})
    return request, response
