"""The raw HTTP exchange of a fetch, kept for ``--warc``: the request as sent, the response as received.

Only a crawl with ``--warc`` captures (`crawler.worker.fetch` asks for it);
a plain crawl pays nothing. What is kept:

- the request: request line and headers, as http.client sends them for a
  prepared request (the ``Host`` header it adds first, then requests');
- the response's status line and header fields, in the order received, less
  ``Transfer-Encoding: chunked``: the body is kept with its chunk framing
  removed (http.client removes it as it reads), and a header announcing a
  framing the stored body no longer has would mislead a replay;
- the body with its ``Content-Encoding`` intact. `RawBody` reads it raw and
  decodes it for the parser, counting decoded bytes against ``--max-bytes``
  as the plain read does, so a compression bomb is cut the same way;
- the peer's IP address, asked of the socket before the body is read (the
  connection goes back to the pool after that).
"""

from __future__ import annotations

import http
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import urllib3

from .. import _internals
from ..page import Exchange
from ..warcrecord import Records, record_id
from .transport import request_head

if TYPE_CHECKING:
    from collections.abc import Iterable

    import requests

    from .transport import Response as LeanResponse

_VERSIONS = {9: "HTTP/0.9", 10: "HTTP/1.0", 11: "HTTP/1.1", 20: "HTTP/2"}


class Capture:
    """One exchange being captured: its request and head taken when the response arrives, its body
    fed as it is read (`feed`), the exchange handed over at the end (`done`).

    ``gzip`` (True or False: the archive's kind) has the exchange's WARC
    records built here, in the worker, as the body arrives
    (`crawler.warcrecord.Records`); None keeps the body whole, for the main
    process to encode.
    """

    __slots__ = ("url", "date", "request", "head", "ip", "records", "body")

    def __init__(self, url: str, date: str, request: bytes, head: bytes, ip: str | None,
                 gzip: bool | None = None) -> None:
        self.url = url
        self.date = date
        self.request = request
        self.head = head
        self.ip = ip
        self.records = Records(head, gzip) if gzip is not None else None
        self.body: list[bytes] = []

    @classmethod
    def of(cls, resp: requests.Response | LeanResponse, date: str, gzip: bool | None = None) -> Capture:
        """The capture of ``resp``, requests' response or the lean transport's, its head just read."""
        if isinstance(resp.raw, urllib3.BaseHTTPResponse):
            return cls(resp.url or "", date, request_bytes(resp.request), response_head(resp.raw), peer_ip(resp.raw),
                       gzip)
        lean = resp.raw
        return cls(lean.url, date, lean.sent or request_bytes(lean.request),
                   head_bytes(lean.version, lean.status_code, lean.reason, lean.fields), lean.ip, gzip)

    def feed(self, data: bytes) -> None:
        """The next piece of the body, as received."""
        if self.records is not None:
            self.records.feed(data)
        elif data:
            self.body.append(data)

    def done(self, truncated: str | None = None) -> Exchange:
        """The exchange, with the body fed so far (``truncated`` says why it is not whole)."""
        if self.records is not None:
            return self.records.done(self.url, self.date, self.request, self.ip, truncated)
        # Its response's record ID from the start: the main process encodes it, and a
        # metadata record built apart from that names the same ID.
        return Exchange(self.url, self.date, self.request, self.head, b"".join(self.body), self.ip, truncated,
                        record_id=record_id())


def request_bytes(request: requests.PreparedRequest) -> bytes:
    """The request line and headers of ``request`` as they went on the wire (no body: a GET)."""
    parts = urlsplit(request.url or "")
    return request_head(request.method or "GET", request.path_url, parts.hostname or "", parts.port,
                        parts.scheme == "https", request.headers)


def response_head(raw: urllib3.BaseHTTPResponse) -> bytes:
    """The status line and header fields of ``raw``, as received (less chunked framing)."""
    return head_bytes(raw.version, raw.status, raw.reason, raw.headers.iteritems())


def head_bytes(version_number: int, status: int, reason: str | None, fields: Iterable[tuple[str, str]]) -> bytes:
    """A response's status line and header fields (less chunked framing), from what http.client read."""
    version = _VERSIONS.get(version_number, "HTTP/1.1")
    reason = reason if reason is not None else _phrase(status)
    lines = [f"{version} {status} {reason}".rstrip()]
    for name, value in fields:
        if name.lower() == "transfer-encoding" and "chunked" in value.lower():
            continue
        lines.append(f"{name}: {value}")
    # http.client decoded the header bytes as latin-1: encoding them so gives the bytes back.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def peer_ip(raw: urllib3.BaseHTTPResponse) -> str | None:
    """The IP address the response came from (a proxy's, through a proxy), or None."""
    return _internals.peer_address(raw)


class RawBody:
    """Decodes a body read raw, by its ``Content-Encoding``, up to ``limit`` decoded bytes.

    ``feed`` takes raw chunks and returns what they decode to (at most what
    is left of ``limit``; `over` tells that more was there); ``finish``
    flushes the decoder. Decoding errors raise urllib3's `DecodeError`, as a
    decoding read would, so the error record reads the same.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.coding = (content_encoding or "").lower()
        self._decoder = _internals.body_decoder(self.coding)
        #: False when the body has no coding urllib3 would undo: raw and decoded bytes are the same
        self.coded = self._decoder is not None
        self.left = limit
        self.over = False

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes of ``chunk``, no more than the limit has left."""
        return self._take(self._decode(chunk, self.left + 1))

    def finish(self) -> bytes:
        """What the decoder still holds at the end of the body."""
        if self._decoder is None or self.over:
            return b""
        return self._take(self._decode(b"", None))

    def _decode(self, data: bytes, max_length: int | None) -> bytes:
        decoder = self._decoder
        if decoder is None:
            return data
        try:
            if max_length is None:
                return decoder.decompress(data) + decoder.flush()
            return decoder.decompress(data, max_length=max_length)
        except _internals.decoder_errors() as exc:
            raise urllib3.exceptions.DecodeError(
                f"Received response with content-encoding: {self.coding}, but failed to decode it.", exc) from exc

    def _take(self, data: bytes) -> bytes:
        if len(data) > self.left:
            data = data[: self.left]
            self.over = True
        self.left -= len(data)
        return data
