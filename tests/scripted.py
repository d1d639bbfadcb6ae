"""A scripted HTTP server on loopback, for tests that pin what a fetch does on the wire.

Like the ``responses`` library, but a real server: whatever transport the
crawler uses under requests (or instead of it) is exercised. Answers are
scripted per URL (``http://HOST:PORT/path``, or a compiled regex matched
against it); several answers for one URL are given in turn, the last one
repeating. Every request received is recorded with its headers.

The server listens on 127.0.0.1 and 127.0.0.2 on the same port, so a test
has two hosts (``base`` and ``other``) for cross-host redirects. It serves
from daemon threads; idle kept-alive connections end after `IDLE` seconds.

With ``tls`` (an `ssl.SSLContext` for the server side) it speaks HTTPS.

An answer may instead be an ``action``: ``"reset"`` (the request is read,
then the connection is reset without a response), ``"close"`` (read, then
closed without a response), ``"stray"`` (the answer, then 0.1 s later the
bytes of a response nobody asked for) or ``"silent"`` (the
request is read and never answered; the connection ends when the client
hangs up, or after `IDLE` seconds).
"""

from __future__ import annotations

import http
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from requests.structures import CaseInsensitiveDict

IDLE = 5.0  # seconds a kept-alive connection may sit idle (bounds the handler threads)

Headers = Mapping[str, str] | Sequence[tuple[str, str]]


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: Headers = ()
    action: str | None = None


@dataclass
class Call:
    """One request the server received."""

    url: str
    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    #: every header field as received, in order (repeated names kept)
    fields: list[tuple[str, str]]
    #: the local port of the client's socket: requests on one connection share it
    client_port: int


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    timeout = IDLE
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # a quiet test run

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        owner = self.server.owner
        host = self.headers.get("Host", "")
        url = f"{owner.scheme}://{host}{self.path}"
        fields = list(self.headers.items())
        owner.calls.append(Call(url, self.command, self.path, CaseInsensitiveDict(fields), fields,
                                self.client_address[1]))
        answer = owner.answer_for(url)
        if answer.action == "reset":
            # RST on close: the client sees a reset, not a clean end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            return
        if answer.action == "close":
            self.close_connection = True
            return
        if answer.action == "silent":
            self.connection.settimeout(IDLE)
            try:
                self.connection.recv(1)
            except OSError:
                pass
            self.close_connection = True
            return
        try:
            phrase = http.HTTPStatus(answer.status).phrase
        except ValueError:
            phrase = ""
        self.send_response_only(answer.status, phrase)
        items = list(answer.headers.items()) if isinstance(answer.headers, Mapping) else list(answer.headers)
        for name, value in items:
            self.send_header(name, value)
        if not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in items):
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)
        if answer.action == "stray":
            # Bytes after the response, once the client has read it: nothing it asked for.
            self.wfile.flush()
            time.sleep(0.1)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-response (a cut body) is what some tests do


class ScriptedServer:
    """``with ScriptedServer() as s: s.add(s.url("/p"), body=b"hi"); fetch(s.url("/p"))``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.calls: list[Call] = []
        self._answers: list[tuple[str | re.Pattern[str], list[Answer]]] = []
        self._lock = threading.Lock()
        self._servers = self._bind()
        if tls is not None:
            for server in self._servers:
                server.socket = tls.wrap_socket(server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._servers[0].server_address[1]
        self.base = f"{self.scheme}://127.0.0.1:{self.port}"
        #: the same server as another host (127.0.0.2)
        self.other = f"{self.scheme}://127.0.0.2:{self.port}"

    @staticmethod
    def _bind() -> list[_Server]:
        # The port 127.0.0.1 got may be taken on 127.0.0.2: try a few.
        for _ in range(20):
            first = _Server(("127.0.0.1", 0), _Handler)
            try:
                second = _Server(("127.0.0.2", first.server_address[1]), _Handler)
            except OSError:
                first.server_close()
                continue
            return [first, second]
        raise OSError("no port free on both 127.0.0.1 and 127.0.0.2")

    def url(self, path: str) -> str:
        """``path`` on 127.0.0.1."""
        return self.base + path

    def add(self, url: str | re.Pattern[str], body: bytes | str = b"", status: int = 200,
            headers: Headers = (), action: str | None = None) -> None:
        """Script one more answer for ``url`` (a full URL, or a regex matched against one)."""
        answer = Answer(status, body.encode() if isinstance(body, str) else body, headers, action)
        with self._lock:
            for key, answers in self._answers:
                if key == url:
                    answers.append(answer)
                    return
            self._answers.append((url, [answer]))

    def reset(self) -> None:
        """Forget every scripted answer and recorded call (a server shared by several tests)."""
        with self._lock:
            self._answers.clear()
            self.calls.clear()

    def answer_for(self, url: str) -> Answer:
        """The next scripted answer for ``url`` (a 404 when none is scripted)."""
        with self._lock:
            for key, answers in self._answers:
                if key == url if isinstance(key, str) else key.match(url):
                    return answers.pop(0) if len(answers) > 1 else answers[0]
        return Answer(404, b"not scripted")

    def __enter__(self) -> ScriptedServer:
        for server in self._servers:
            server.owner = self
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()


def refused_url(path: str = "/") -> str:
    """A loopback URL whose port was bound and closed again: connecting is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"


def shared(server: ScriptedServer) -> Iterator[ScriptedServer]:
    """The body of a per-test fixture over a module's ``server``: each test starts with none scripted."""
    server.reset()
    yield server
    server.reset()


class FakeResolver:
    """``socket.getaddrinfo`` for tests: IP literals as the real one, ``names`` to their address,
    any other name a resolution failure (no DNS query ever leaves the machine). ``connects``
    records every address a socket connected to meanwhile."""

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})
        self.asked: list[str] = []
        self.connects: list[Any] = []
        self._real = socket.getaddrinfo
        self._connect = socket.socket.connect

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
        except OSError:
            if name not in self.names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            name = self.names[name]
        return self._real(name, port, *args, **kwargs)

    def connect(self, sock: socket.socket, address: Any) -> None:
        self.connects.append(address)
        self._connect(sock, address)

    def install(self, monkeypatch: Any) -> FakeResolver:
        """Put it in place for the test (``monkeypatch`` undoes it)."""
        monkeypatch.setattr(socket, "getaddrinfo", self.getaddrinfo)
        resolver = self

        def connect(sock: socket.socket, address: Any) -> None:  # a function: bound to each socket
            resolver.connect(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)
        return self
