"""A loopback HTTP server serving a table of canned responses, for site-check and SEO tests.

``PageSite(pages)`` maps a path (with its query) to a `Canned` response, or
a plain HTML string (200). Unknown paths get ``fallback`` (a 404 by default;
a soft-404 site sets a 200). Every request is counted by method and path.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Canned:
    """One response: status, body, headers (a ``Location`` for redirects)."""

    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"


NOT_FOUND = Canned(404, "<html><title>Not found</title><p>nothing here</p></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: PageSite


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - the stdlib's name
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        site = self.server.site
        with site.lock:
            site.hits[(self.command, self.path)] += 1
        if self.command == "HEAD" and self.path in site.no_head:
            canned = Canned(405, "")
        else:
            page = site.pages.get(self.path, site.fallback)
            canned = Canned(200, page) if isinstance(page, str) else page
        data = canned.body.encode("utf-8")
        self.send_response(canned.status)
        self.send_header("Content-Type", canned.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in canned.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


class PageSite:
    """A running server on ``host`` (loopback) and a free port; use as a context manager."""

    def __init__(self, pages: dict[str, str | Canned] | None = None, host: str = "127.0.0.1",
                 fallback: str | Canned = NOT_FOUND) -> None:
        self.pages: dict[str, str | Canned] = dict(pages or {})
        self.fallback = fallback
        #: paths whose HEAD answers 405 (the checker must then GET them)
        self.no_head: set[str] = set()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.site = self
        self.host, self.port = self._server.server_address[0], self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path``."""
        return self.base + path

    def count(self, path: str, method: str | None = None) -> int:
        """Requests so far for ``path`` (of ``method``, or any)."""
        with self.lock:
            return sum(n for (m, p), n in self.hits.items() if p == path and method in (None, m))

    def __enter__(self) -> PageSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()
