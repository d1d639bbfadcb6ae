"""A raw-socket HTTP server for replies no well-behaved server would send.

Each request runs the scenario named by its path (see `SCENARIOS`); the
server binds 127.0.0.1 on port 0 and serves from daemon threads. A scenario
returns True to keep the connection open for the next request (keep-alive),
else the connection closes after it. Every scenario ends by itself (bounded
loops), and sooner when the client hangs up.

Header phase: ``/drip-status`` (the status line, a byte every 0.2 s),
``/drip-headers`` (status line at once, then headers a byte every 0.2 s),
``/silent`` (reads the request, never answers). Body: ``/drip``, ``/reset``,
``/gzipbomb``, ``/short`` (Content-Length 1000, 100 bytes, close),
``/overlong`` (Content-Length 50, 300 bytes sent, kept alive), ``/badchunk``.
Content served as text/html: ``/binary``, ``/pdf``, ``/nul``, ``/links``
(`MANY_LINKS` links), ``/deep`` (`DEEP_DIVS` unclosed ``<div>``).
``/ok`` and ``/keepalive`` (the same page, connection kept open) are normal.

Issue 16: ``/br``, ``/zstd`` (the page in that coding), ``/brbomb``,
``/zstdbomb`` (64 MB of decoded body); ``/hints`` (a ``103 Early Hints`` and a
``102`` before a kept-alive 200 titled "hinted"), ``/switch`` (an unrequested
``101``, then a 200 on the same connection); ``/nolocation`` (a 302 without
Location), ``/badlocation`` (``Location: http://[::1/``), ``/userinfo``
(a redirect to this server's ``/ok`` with ``user:pass@``), ``/refuse`` (RST
before any answer), ``/bigtitle`` (a 5 MB ``<title>``), ``/badgzip``, ``/badbr``
(plain text sent as gzip, br), ``/clte`` (Content-Length and chunked both, kept alive).
"""

from __future__ import annotations

import functools
import gzip
import random
import socket
import threading
import time
from collections.abc import Callable

HTML = b"<html><head><title>ok</title></head><body>" + b"x" * 200 + b"</body></html>"
DRIP_INTERVAL = 0.2  # seconds between bytes: each recv() succeeds well within any read timeout
DRIP_FOR = 15.0  # a drip gives up after this long (far past any test's timeout)
MANY_LINKS = 20_000
DEEP_DIVS = 100_000


def _drip_bytes(conn: socket.socket, data: bytes) -> None:
    # Ends when the client hangs up (sendall fails) or after DRIP_FOR.
    give_up = time.monotonic() + DRIP_FOR
    for i in range(len(data)):
        if time.monotonic() > give_up:
            return
        conn.sendall(data[i:i + 1])
        time.sleep(DRIP_INTERVAL)


_HEAD = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nX-Padding: " + b"p" * 100 + b"\r\n"


def _drip_status(conn: socket.socket) -> None:
    _drip_bytes(conn, _HEAD + b"Content-Length: 0\r\n\r\n")


def _drip_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    _drip_bytes(conn, _HEAD.split(b"\r\n", 1)[1] + b"Content-Length: 0\r\n\r\n")


def _silent(conn: socket.socket) -> None:
    # Read nothing more, answer nothing: returns when the client hangs up.
    conn.settimeout(DRIP_FOR)
    conn.recv(1)


def _reply(body: bytes, content_type: bytes = b"text/html", length: int | None = None,
           keep_alive: bool = False) -> bytes:
    size = len(body) if length is None else length
    return (b"HTTP/1.1 200 OK\r\n" + (b"" if keep_alive else b"Connection: close\r\n")
            + b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(size).encode()
            + b"\r\n\r\n" + body)


def _short(conn: socket.socket) -> None:
    conn.sendall(_reply(HTML[:100], length=1000))


def _overlong(conn: socket.socket) -> bool:
    # 250 bytes beyond the declared length stay unread in the client's socket:
    # a client reusing the connection would read them as the next status line.
    conn.sendall(_reply(b"<title>overlong</title>".ljust(300, b"!"), length=50, keep_alive=True))
    return True


def _badchunk(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n10\r\n<title>ch</title>\r\nzz\r\nnot hex\r\n0\r\n\r\n")


def _page(body: bytes) -> Callable[[socket.socket], None]:
    reply = _reply(body)
    return lambda conn: conn.sendall(reply)


_BINARY = random.Random(3).randbytes(200_000)
_PDF = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n"
        + _BINARY[:50_000] + b"\nendstream\n%%EOF\n")
_LINKS = (b"<html><head><title>many links</title></head><body>"
          + b"".join(b'<a href="/l/%d">%d</a>' % (i, i) for i in range(MANY_LINKS)) + b"</body></html>")
_DEEP = b"<html><head><title>deep</title></head><body>" + b"<div>" * DEEP_DIVS + b"<a href='/bottom'>x</a>"


def _keepalive(conn: socket.socket) -> bool:
    conn.sendall(_reply(HTML, keep_alive=True))
    return True


def _drip(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: 60\r\n\r\n")
    for _ in range(60):  # one byte every 0.25 s: 15 s in all, far past the test's timeout
        conn.sendall(b"x")
        time.sleep(0.25)


def _reset(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\n"
                 b"Content-Length: 100000\r\n\r\n" + HTML[:100])
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close


_BOMB = gzip.compress(b"<html><title>bomb</title>" + b" " * (64 * 1024 * 1024), compresslevel=9)


def _gzipbomb(conn: socket.socket) -> None:
    head = (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: " + str(len(_BOMB)).encode() + b"\r\n\r\n")
    conn.sendall(head + _BOMB)


def _ok(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Length: "
                 + str(len(HTML)).encode() + b"\r\n\r\n" + HTML)


SCENARIOS: dict[str, Callable[[socket.socket], bool | None]] = {
    "/drip": _drip, "/reset": _reset, "/gzipbomb": _gzipbomb, "/ok": _ok, "/keepalive": _keepalive,
    "/drip-status": _drip_status, "/drip-headers": _drip_headers, "/silent": _silent,
    "/short": _short, "/overlong": _overlong, "/badchunk": _badchunk,
    "/binary": _page(_BINARY), "/pdf": _page(_PDF), "/nul": _page(b"\0" * 100_000),
    "/links": _page(_LINKS), "/deep": _page(_DEEP),
}


# -- issue 16 -----------------------------------------------------------------------------
BOMB_TEXT = b"<html><title>bomb</title>" + b" " * (64 * 1024 * 1024)
BIG_TITLE = 5 * 1024 * 1024


@functools.cache
def _coded(coding: str, bomb: bool) -> bytes:
    body = BOMB_TEXT if bomb else HTML
    if coding == "br":
        import brotli

        return bytes(brotli.compress(body, quality=5))
    from backports import zstd  # urllib3's zstd (compression.zstd from 3.14)

    return bytes(zstd.compress(body, 3))


def _coding(coding: str, bomb: bool) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        body = _coded(coding, bomb)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Encoding: "
                     + coding.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return serve


HINTED = b"<html><head><title>hinted</title></head><body>the real page</body></html>"


def _hints(conn: socket.socket) -> bool:
    # Apart, as a server thinking between them sends them: the final response
    # is still in flight when the client has read the first.
    conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n")
    time.sleep(0.3)
    conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
    time.sleep(0.3)
    conn.sendall(_reply(HINTED, keep_alive=True))
    return True


def _switch(conn: socket.socket) -> bool:
    # 101 without an Upgrade asked for: what follows cannot be trusted as framed.
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    time.sleep(0.3)
    conn.sendall(_reply(HINTED, keep_alive=True))
    return True


def _nolocation(conn: socket.socket) -> bool:
    conn.sendall(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")
    return True


def _badlocation(conn: socket.socket) -> bool:
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://[::1/\r\nContent-Length: 0\r\n\r\n")
    return True


def _badcoding(coding: bytes) -> Callable[[socket.socket], None]:
    body = b"this is not compressed at all" * 10
    reply = (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: text/html\r\nContent-Encoding: " + coding
             + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return lambda conn: conn.sendall(reply)


def _clte(conn: socket.socket) -> bool:
    # Both framings (RFC 9112 6.3: the connection must be closed after such a message).
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(HINTED) + HINTED + b"\r\n0\r\n\r\n")
    return True


def _refuse(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close


def _bigtitle(conn: socket.socket) -> None:
    conn.sendall(_reply(b"<html><head><title>" + b"T" * BIG_TITLE + b"</title></head><body>x</body></html>"))


SCENARIOS.update({
    "/br": _coding("br", False), "/zstd": _coding("zstd", False),
    "/brbomb": _coding("br", True), "/zstdbomb": _coding("zstd", True),
    "/hints": _hints, "/switch": _switch, "/nolocation": _nolocation, "/badlocation": _badlocation,
    "/refuse": _refuse, "/bigtitle": _bigtitle, "/badgzip": _badcoding(b"gzip"), "/badbr": _badcoding(b"br"),
    "/clte": _clte,
})


class RawServer:
    """``with RawServer() as s: s.url("/drip")``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        #: connections accepted so far
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        try:  # close() alone leaves accept() blocked (Linux): shutdown wakes it
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                while self._serve_one(conn):
                    pass
            except OSError:
                return

    def _serve_one(self, conn: socket.socket) -> bool:
        """Answer one request; True to keep the connection for another."""
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            part = conn.recv(4096)
            if not part:
                return False
            data += part
        path = data.split(b" ", 2)[1].decode()
        if path == "/robots.txt":
            conn.sendall(b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            return False
        if path == "/userinfo":
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://user:secret@127.0.0.1:%d/ok\r\n"
                         b"Content-Length: 0\r\n\r\n" % self.port)
            return True
        return bool(SCENARIOS.get(path, _ok)(conn))
