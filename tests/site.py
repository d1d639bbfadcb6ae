"""A small real HTTP site for the integration tests.

`Site` is a stdlib ``ThreadingHTTPServer`` on a loopback address and port 0,
served from a daemon thread. It counts every request per path (thread-safe),
so a test can assert that each URL was fetched exactly once, and it serves a
generated site whose link graph is known in advance (`EDGES`):

==================  ==============================================================
``/``               links ``/a``, ``/b``, ``/private/x`` (robots.txt disallows it)
``/a``              links ``/a1``, ``/a2``, ``/b``, ``/#frag``, ``/a#top``, plus
                    ``mailto:``, ``javascript:`` and ``tel:`` links (not followed)
``/b``              links ``b1`` (relative) and ``/file.pdf``
``/a1``             → ``/dir/sub/page`` → ``../other``, ``./same``, ``../../a``
``/a2``             ``<base href="/base/">`` + ``<a href="c">`` and ``<area href>``
``/b1``             ``text/html; charset=ISO-8859-1``, title "Café B1", two links
                    to the same URL spelled differently (``?x=2&a=1``, ``?a=1&x=2#f``)
``/file.pdf``       ``application/pdf`` with a fake ``<a href="/from-pdf">``
``/graph/N``        a chain: N links N+1, up to `CHAIN_MAX`
``/fan/N``          links ``/leaf/1`` … ``/leaf/N``
``/gen/N/I``        page I of an N-page site (N <= `GEN_MAX`): see `gen_links`
``/status/N``       status N with a small HTML body (``?retry_after=S`` adds the header;
                    ``?retry_date=S`` sends it as the HTTP-date S seconds ahead)
``/flaky/KEY``      503 for the first ``?fail=N`` requests of KEY, then 200 (Retry-After:
                    0, or ``?retry_date=S`` as for ``/status/N``)
``/redirect``       302 (or ``?code=``) to ``?to=PATH``
``/hops/N``         302 to ``/hops/N-1``; ``/hops/0`` is a page
``/loop/a``         302 to ``/loop/b``, which redirects back to ``/loop/a``
``/links``          a page linking each ``?to=URL``
``/slow?s=S``       sleeps S seconds (at most `SLOW_MAX`); tracks requests in flight
``/formula``        links pages whose titles start with ``=``, ``-``, ``+``, ``@``
``/grow/X``         links ``/grow/Xab``: an infinite URL space
``/cookie/set``     sets ``session=?v`` (default ``abc``), links 20 ``/cookie/check?n=``
                    and the peer's ``/cookie/check``, which show the Cookie header
                    they got in their title
``/v/NAME``         `Site.versions`: title NAME, links to every other ``/v/`` page,
                    ETag + Last-Modified, 304 on a matching If-None-Match
`Site.sitemaps`      any path: the bytes given, as application/xml (or gzip)
``/off``            links ``/a``, the peer server (``127.0.0.2``) and ``localhost``
``/robots.txt``     `Site.robots`: its text (default: ``Disallow: /private/``), a
                    status code to answer with instead, or None (404)
==================  ==============================================================

A request whose target is an absolute URL (``GET http://www.example.com/``)
is a proxy request: the site answers it from `VHOSTS` itself and never
connects anywhere, so tests can crawl "real" host names (to exercise
registered domains) by pointing ``HTTP_PROXY`` at the site.
"""

from __future__ import annotations

import email.utils
import html
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"
DISALLOWED_PREFIX = "/private/"
CHAIN_MAX = 50
FAN_MAX = 100
GEN_MAX = 20000
GEN_FANOUT = 10
SLOW_MAX = 5.0

PDF_BODY = b'%PDF-1.4\n<html><title>Not a title</title><a href="/from-pdf">fake link</a></html>\n%%EOF\n'
LATIN1_TITLE = "Café B1"

#: Titles a spreadsheet would run as formulas, by page.
FORMULA_TITLES = {
    "/formula/eq": "=1+2",
    "/formula/minus": "-2+3",
    "/formula/plus": "+SUM(A1:A2)",
    "/formula/at": "@cmd",
}
QUOTE_TITLE = 'He said "hi", then left'

# Plain pages: path -> (title, hrefs exactly as written in the page).
PAGES: dict[str, tuple[str, list[str]]] = {
    "/": ("Home", ["/a", "/b", "/private/x"]),
    "/a": ("Page A", ["/a1", "/a2", "/b", "/#frag", "/a#top", "mailto:someone@example.com",
                      "javascript:void(0)", "tel:+15550100"]),
    "/b": ("Page B", ["b1", "/file.pdf"]),
    "/a1": ("A1", ["/dir/sub/page"]),
    "/dir/sub/page": ("Deep page", ["../other", "./same", "../../a"]),
    "/dir/other": ("Other", ["/"]),
    "/dir/sub/same": ("Same", []),
    "/base/c": ("Base C", []),
    "/area-target": ("Area target", []),
    "/private/x": ("Private", ["/private/y"]),
    "/private/y": ("Private Y", []),
    "/via-localhost": ("Via localhost", []),
    "/peer": ("Peer page", ["/peer2"]),
    "/peer2": ("Peer page 2", []),
    "/formula": ("Formulas", [*FORMULA_TITLES, "/formula/quote"]),
    "/formula/quote": (QUOTE_TITLE, []),
    **{path: (title, []) for path, title in FORMULA_TITLES.items()},
}

#: The main graph as the crawler should see it: page -> canonical http(s)
#: links found on it (distinct, in page order). ``links`` of a record is the
#: length of its list. Pages not listed have no links.
EDGES: dict[str, list[str]] = {
    "/": ["/a", "/b", "/private/x"],
    "/a": ["/a1", "/a2", "/b", "/", "/a"],
    "/b": ["/b1", "/file.pdf"],
    "/a1": ["/dir/sub/page"],
    "/a2": ["/base/c", "/area-target"],
    "/b1": ["/b1?a=1&x=2"],
    "/b1?a=1&x=2": ["/b1?a=1&x=2"],
    "/dir/sub/page": ["/dir/other", "/dir/sub/same", "/a"],
    "/dir/other": ["/"],
    "/file.pdf": [],  # not HTML: its fake link must not be followed
}
TITLES: dict[str, str | None] = {
    "/": "Home", "/a": "Page A", "/b": "Page B", "/a1": "A1", "/a2": "A2 (base href)",
    "/b1": LATIN1_TITLE, "/b1?a=1&x=2": LATIN1_TITLE, "/file.pdf": None, "/dir/sub/page": "Deep page",
    "/dir/other": "Other", "/dir/sub/same": "Same", "/base/c": "Base C", "/area-target": "Area target",
}

#: Hosts answered when the site is used as an HTTP proxy: host -> path -> (title, hrefs).
VHOSTS: dict[str, dict[str, tuple[str, list[str]]]] = {
    "www.example.com": {
        "/": ("WWW home", ["/w1", "http://docs.example.com/", "http://www.example.org/"]),
        "/w1": ("W1", []),
    },
    "docs.example.com": {"/": ("Docs home", [])},
    "www.example.org": {"/": ("Other domain", [])},
}


def expected_crawl(depth: int, seed: str = "/", robots: bool = True) -> dict[str, int]:
    """Path -> depth of every page a breadth-first crawl of `EDGES` from ``seed`` records.

    With ``robots``, disallowed links are left out (a disallowed seed is kept:
    it gets a record saying so).
    """
    found = {seed: 0}
    queue = deque([seed])
    while queue:
        path = queue.popleft()
        if found[path] >= depth:
            continue
        for link in EDGES.get(path, []):
            if link in found or (robots and link.startswith(DISALLOWED_PREFIX)):
                continue
            found[link] = found[path] + 1
            queue.append(link)
    return found


def gen_links(n: int, i: int) -> list[str]:
    """Paths ``/gen/N/I`` links: its `GEN_FANOUT` children, one page across the tree, and page 0."""
    children = range(i * GEN_FANOUT + 1, min(i * GEN_FANOUT + GEN_FANOUT, n - 1) + 1)
    return [f"/gen/{n}/{c}" for c in children] + [f"/gen/{n}/{(i * 37 + 11) % n}", f"/gen/{n}/0"]


def gen_depths(n: int) -> dict[str, int]:
    """Path -> shortest depth of every page of the N-page generated site, from ``/gen/N/0``."""
    found = {f"/gen/{n}/0": 0}
    queue = deque([0])
    while queue:
        i = queue.popleft()
        for link in gen_links(n, i):
            if link not in found:
                found[link] = found[f"/gen/{n}/{i}"] + 1
                queue.append(int(link.rsplit("/", 1)[1]))
    return found


def parents_of(path: str) -> set[str]:
    """Pages of `EDGES` that link to ``path``."""
    return {page for page, links in EDGES.items() if path in links}


def write_seeds(directory: Path, lines: Iterable[str], name: str = "seeds.txt") -> Path:
    """Write a seed file (one line each) in ``directory`` and return its path."""
    path = Path(directory) / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def html_page(title: str | None, hrefs: Iterable[str] = (), head: str = "", body: str = "") -> str:
    """A small HTML document with a title and one ``<a>`` per href."""
    title_tag = f"<title>{html.escape(title)}</title>" if title is not None else ""
    links = "".join(f'<li><a href="{html.escape(h)}">{html.escape(h)}</a></li>' for h in hrefs)
    return (f"<!DOCTYPE html>\n<html><head>{title_tag}{head}</head>\n"
            f"<body><h1>{html.escape(title or '')}</h1>{body}<ul>{links}</ul></body></html>\n")


def _retry_after(seconds: str, date_in: str) -> str:
    # ``date_in``: the HTTP-date that many seconds from now, else ``seconds`` as given.
    if date_in:
        return email.utils.formatdate(time.time() + float(date_in), usegmt=True)
    return seconds


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site

    def handle_error(self, request, client_address):  # noqa: ANN001 - socketserver's signature
        # A client that hangs up (a crawl stopped mid-request) is expected.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Site:
    """A running test site on ``host`` (a loopback address) and a free port.

    Usage::

        with Site() as site:
            requests.get(site.url("/a"))
            assert site.count("/a") == 1
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0), _Handler)
        self._server.site = self
        self.host: str = self._server.server_address[0]
        self.port: int = self._server.server_address[1]
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._headers: dict[str, dict[str, str]] = {}
        self._log: list[tuple[float, str]] = []
        self._thread: threading.Thread | None = None
        self.robots: str | int | None = DEFAULT_ROBOTS
        #: another Site that ``/off`` links to (the 127.0.0.2 server)
        self.peer: Site | None = None
        self.inflight = 0
        self.max_inflight = 0
        #: sitemap documents served as they are: path -> bytes
        self.sitemaps: dict[str, bytes] = {}
        #: ``/v/NAME`` pages: NAME -> title (None: 404). They send ETag and
        #: Last-Modified and answer a matching conditional request with 304.
        self.versions: dict[str, str | None] = {}

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> Site:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"site-{self.host}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Site:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------
    @property
    def base(self) -> str:
        """``http://host:port`` of the site."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this site."""
        return self.base + path

    def path_of(self, url: str) -> str:
        """The path (and query) of one of this site's URLs, as `hits` keys it."""
        assert url.startswith(self.base + "/"), url
        return url[len(self.base):]

    # -- counters ----------------------------------------------------------
    def reset(self) -> None:
        """Forget the hits and restore the default robots.txt."""
        with self._lock:
            self._hits.clear()
            self._headers.clear()
            self._log.clear()
            self.robots = DEFAULT_ROBOTS
            self.max_inflight = self.inflight

    def hits(self) -> dict[str, int]:
        """Requests so far, per request target (path and query as sent)."""
        with self._lock:
            return dict(self._hits)

    def count(self, path: str) -> int:
        """Requests so far for exactly ``path`` (with its query, if any)."""
        with self._lock:
            return self._hits[path]

    def headers(self) -> dict[str, dict[str, str]]:
        """Per request target, the headers of its last request (names lower-cased)."""
        with self._lock:
            return {path: dict(headers) for path, headers in self._headers.items()}

    def log(self) -> list[tuple[float, str]]:
        """(``time.monotonic()``, target) of every request, in arrival order."""
        with self._lock:
            return list(self._log)

    def page_hits(self) -> dict[str, int]:
        """`hits` without robots.txt fetches."""
        return {k: v for k, v in self.hits().items() if not k.endswith("/robots.txt")}

    def _record(self, target: str, headers: dict[str, str]) -> int:
        with self._lock:
            self._headers[target] = headers
            self._log.append((time.monotonic(), target))
            self._hits[target] += 1
            return self._hits[target]

    def _enter_slow(self) -> None:
        with self._lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def _leave_slow(self) -> None:
        with self._lock:
            self.inflight -= 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    server_version = "crawler-test-site/1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # keep test output quiet

    # -- plumbing ------------------------------------------------------------
    def _send(self, status: int, body: bytes | str, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _not_found(self) -> None:
        self._send(404, html_page("Not found", ["/"]))

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's hook name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        site = self.server.site
        count = site._record(self.path, {k.lower(): v for k, v in self.headers.items()})
        if "://" in self.path:
            self._proxy()
            return
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        arg = lambda name, default="": query.get(name, [default])[0]  # noqa: E731
        if path == "/robots.txt":
            if site.robots is None:
                self._not_found()
            elif isinstance(site.robots, int):
                self._send(site.robots, html_page(f"robots.txt {site.robots}"))
            else:
                self._send(200, site.robots, "text/plain; charset=utf-8")
        elif path in PAGES:
            title, hrefs = PAGES[path]
            self._send(200, html_page(title, hrefs))
        elif path == "/a2":
            body = ('<a href="c">relative to base</a>'
                    '<map name="m"><area shape="rect" coords="0,0,1,1" href="/area-target"></map>')
            self._send(200, html_page(TITLES["/a2"], head='<base href="/base/">', body=body))
        elif path == "/b1":
            page = html_page(LATIN1_TITLE, ["/b1?x=2&a=1", "/b1?a=1&x=2#f"])
            self._send(200, page.encode("iso-8859-1"), "text/html; charset=ISO-8859-1")
        elif path == "/file.pdf":
            self._send(200, PDF_BODY, "application/pdf")
        elif path.startswith("/graph/") and path[7:].isdigit():
            n = int(path[7:])
            self._send(200, html_page(f"Graph {n}", [f"/graph/{n + 1}"] if n < CHAIN_MAX else []))
        elif path.startswith("/fan/") and path[5:].isdigit():
            n = min(int(path[5:]), FAN_MAX)
            self._send(200, html_page(f"Fan {n}", [f"/leaf/{i}" for i in range(1, n + 1)]))
        elif path.startswith("/gen/") and path.count("/") == 3 and path[5:].replace("/", "").isdigit():
            n, i = (int(part) for part in path[5:].split("/"))
            if n > GEN_MAX or i >= n:
                self._not_found()
            else:
                self._send(200, html_page(f"Gen {i}", gen_links(n, i)))
        elif path.startswith("/leaf/"):
            self._send(200, html_page(f"Leaf {path[6:]}"))
        elif path.startswith("/status/") and path[8:].isdigit():
            status = int(path[8:])
            retry_after = _retry_after(arg("retry_after"), arg("retry_date"))
            headers = {"Retry-After": retry_after} if retry_after else None
            self._send(status, html_page(f"Status {status}"), headers=headers)
        elif path.startswith("/flaky/"):
            # Fails the first ?fail=N requests of this exact target, then works.
            if count <= int(arg("fail", "1")):
                retry_after = _retry_after("0", arg("retry_date"))
                self._send(503, html_page("Try again"), headers={"Retry-After": retry_after})
            else:
                self._send(200, html_page("Flaky, now fine"))
        elif path == "/redirect":
            self._send(int(arg("code", "302")), html_page("Moved"), headers={"Location": arg("to", "/")})
        elif path.startswith("/hops/") and path[6:].isdigit():
            n = int(path[6:])
            if n > 0:
                self._send(302, html_page("Hop"), headers={"Location": f"/hops/{n - 1}"})
            else:
                self._send(200, html_page("Last hop"))
        elif path in ("/loop/a", "/loop/b"):
            self._send(302, html_page("Loop"), headers={"Location": "/loop/b" if path == "/loop/a" else "/loop/a"})
        elif path == "/links":
            self._send(200, html_page("Links", query.get("to", [])))
        elif path == "/slow":
            self._slow(float(arg("s", "1")))
        elif path in site.sitemaps:
            self._send(200, site.sitemaps[path], "application/gzip" if path.endswith(".gz") else "application/xml")
        elif path.startswith("/v/"):
            self._versioned(path[3:])
        elif path.startswith("/grow/"):
            # An infinite URL space: every page links a longer URL.
            self._send(200, html_page(f"Grow {len(path)}", [path + "ab"]))
        elif path == "/cookie/set":
            # Links 20 checks of its own host (fetched by many threads) and one of the peer.
            hrefs = [f"/cookie/check?n={i}" for i in range(1, 21)]
            hrefs += [site.peer.url("/cookie/check")] if site.peer else []
            self._send(200, html_page("Cookie set", hrefs),
                       headers={"Set-Cookie": f"session={arg('v', 'abc')}; Path=/"})
        elif path == "/cookie/check":
            self._send(200, html_page(f"Cookie {self.headers.get('Cookie', '-')}"))
        elif path == "/off":
            peer = site.peer.url("/peer") if site.peer else "http://127.0.0.2:9/peer"
            self._send(200, html_page("Off-host links",
                                      ["/a", peer, f"http://localhost:{site.port}/via-localhost"]))
        else:
            self._not_found()

    def _versioned(self, name: str) -> None:
        title = self.server.site.versions.get(name)
        if title is None:
            self._not_found()
            return
        links = [f"/v/{other}" for other in sorted(self.server.site.versions) if other != name]
        body = html_page(title, links)
        etag = f'"{zlib.crc32(body.encode())}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self._send(200, body, headers={"ETag": etag, "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})

    def _slow(self, seconds: float) -> None:
        site = self.server.site
        site._enter_slow()
        try:
            time.sleep(max(0.0, min(seconds, SLOW_MAX)))
        finally:
            site._leave_slow()
        self._send(200, html_page(f"Slow {seconds:g}"))

    def _proxy(self) -> None:
        # Answer from VHOSTS; a test proxy must never connect anywhere.
        parts = urlsplit(self.path)
        pages = VHOSTS.get(parts.netloc)
        if pages is None or (parts.path or "/") not in pages:
            self._not_found()
            return
        title, hrefs = pages[parts.path or "/"]
        self._send(200, html_page(title, hrefs))
