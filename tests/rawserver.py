"""A raw-socket HTTP server for replies no well-behaved server would send.

Each connection reads one request and runs the scenario named by the path
(``/drip``, ``/reset``, ``/gzipbomb``); it binds 127.0.0.1 on port 0 and
serves from a daemon thread. Every scenario ends by itself (bounded loops).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable

HTML = b"<html><head><title>ok</title></head><body>" + b"x" * 200 + b"</body></html>"


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


SCENARIOS: dict[str, Callable[[socket.socket], None]] = {
    "/drip": _drip, "/reset": _reset, "/gzipbomb": _gzipbomb, "/ok": _ok,
}


class RawServer:
    """``with RawServer() as s: s.url("/drip")``."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    part = conn.recv(4096)
                    if not part:
                        return
                    data += part
                path = data.split(b" ", 2)[1].decode()
                if path == "/robots.txt":
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    return
                SCENARIOS.get(path, _ok)(conn)
            except OSError:
                return
