"""`CrawlAdapter`: the watchdog's transport adapter, without per-request work
requests does for features a request without a proxy does not use.

Per request, requests' `HTTPAdapter` looks the URL up in the proxy map and
parses it three more times (pool key, TLS context, request line), stats the
CA bundle path to tell a file from a folder, and runs the cookie jar's
extraction even when the response sets no cookie: ~15 % of a fetch's CPU on
a local site. The overrides that skip it stand in for requests' own code, so
they live with the crawler's other reliances on library internals, in
`crawler._internals.AdapterFastPaths` (what each skips, and the gain).

Both adapters add a host's own headers (`HostHeaders`) to each request to it,
and reach NO_PROXY's hosts directly under ``--proxy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from .._internals import AdapterFastPaths
from .transport import LeanPool
from .watchdog import WatchedAdapter


class HostHeaders(HTTPAdapter):
    """Adds the headers of a host's own settings (config file ``[hosts.NAME]``: ``user_agent``,
    ``header``) to every request to that host, each redirect hop judged by its own host.

    Here, per hop, rather than in the Session's headers: a redirect to another
    host must not carry them (an API key for one host is not the next one's).
    """

    #: host name → headers; set per adapter by `crawler.worker.network.configure`
    host_headers: Mapping[str, tuple[tuple[str, str], ...]] = {}
    #: with ``--proxy``: the environment's NO_PROXY, whose hosts are reached directly (as curl does)
    no_proxy: str | None = None

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: float | tuple[float, float] | tuple[float, None] | None = None,
             verify: bool | str = True, cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        """Send ``request`` with its host's own headers, if it has some."""
        if (self.host_headers or self.no_proxy) and request.url:
            url = request.url if isinstance(request.url, str) else request.url.decode()
            extra = self.host_headers.get((urlsplit(url).hostname or "").lower()) if self.host_headers else None
            if extra:
                request.headers.update(extra)
            if proxies and self.no_proxy and should_bypass_proxies(url, self.no_proxy):
                proxies = {}
        return super().send(request, stream, timeout, verify, cert, proxies)


class CrawlAdapter(HostHeaders, AdapterFastPaths, WatchedAdapter):
    """A `WatchedAdapter` that does no proxy or cookie work for requests that need none.

    It also holds the kept-alive connections of the lean transport
    (`crawler.worker.transport`), which fetch uses instead of requests for a
    plain GET: ``lean``, sized as the adapter's own pools, closed with them.
    """

    def __init__(self, pool_connections: int = 10, pool_maxsize: int = 10, max_retries: int = 0,
                 pool_block: bool = False) -> None:
        self.lean = LeanPool(pool_connections, pool_maxsize)
        super().__init__(pool_connections, pool_maxsize, max_retries, pool_block)

    def close(self) -> None:
        """Close every connection, the lean transport's too."""
        self.lean.close()
        super().close()


class StockAdapter(HostHeaders, WatchedAdapter):
    """The `WatchedAdapter` with requests' own per-request work (``CRAWLER_STOCK=1``)."""
