"""`DemoServer`: the demo site served on three loopback addresses, one port, in this process.

The site is served by stdlib ``ThreadingHTTPServer``s (one per address,
each in a daemon thread), so ``crawler demo`` needs no network, no other
process and nothing installed. `DemoServer.stop` closes every socket; the
context manager does it however the block ends.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from .site import HOSTS, DemoSite

#: The port tried first: the same URLs from run to run, so that ``crawler demo
#: --state demo.db`` run twice re-crawls incrementally. Taken: any free port.
PREFERRED_PORT = 8642
#: Ports tried before giving up (each attempt after the first takes a free port of 127.0.0.1).
ATTEMPTS = 20


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's hook name
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        response = self.server.site.respond(self.server.octet, self.path.split("?", 1)[0])
        if response.delay:
            time.sleep(response.delay)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # the crawl's own records say what happened


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Another process may have the port on 127.0.0.2 or .3: fail, and try the next port.
    allow_reuse_address = False

    def __init__(self, octet: int, port: int, site: DemoSite) -> None:
        self.octet = octet
        self.site = site
        super().__init__((f"127.0.0.{octet}", port), _Handler)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DemoServer:
    """The demo site on ``127.0.0.1``, ``.2`` and ``.3``, all on one port (`PREFERRED_PORT` if free).

    >>> with DemoServer() as server:
    ...     server.site.seeds()[0].startswith("http://127.0.0.1:")
    True
    """

    def __init__(self) -> None:
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self.site = self._bind()

    def _bind(self) -> DemoSite:
        for attempt in range(ATTEMPTS):
            port = PREFERRED_PORT if attempt == 0 else _free_port()
            site = DemoSite(port)
            try:
                self._servers = [_Server(octet, port, site) for octet, _ in HOSTS]
            except OSError as exc:
                self.stop()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            return site
        raise OSError(errno.EADDRINUSE, f"no port free on 127.0.0.1-3 after {ATTEMPTS} tries")

    def start(self) -> DemoServer:
        """Serve in daemon threads; returns self."""
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, name=f"demo-{server.octet}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving and close every socket (idempotent)."""
        for server, thread in zip(self._servers, self._threads, strict=False):
            if thread.is_alive():
                server.shutdown()
        for server in self._servers:
            server.server_close()
        self._servers, self._threads = [], []

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
