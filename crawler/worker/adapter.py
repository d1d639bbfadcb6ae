"""`CrawlAdapter`: the watchdog's transport adapter, without per-request work
requests does for features a request without a proxy does not use.

Per request, requests' `HTTPAdapter` looks the URL up in the proxy map and
parses it three more times (pool key, TLS context, request line), stats the
CA bundle path to tell a file from a folder, and runs the cookie jar's
extraction even when the response sets no cookie: ~15 % of a fetch's CPU on
a local site. The overrides that skip it stand in for requests' own code, so
they live with the crawler's other reliances on library internals, in
`crawler._internals.AdapterFastPaths` (what each skips, and the gain).
"""

from __future__ import annotations

from .._internals import AdapterFastPaths
from .watchdog import WatchedAdapter


class CrawlAdapter(AdapterFastPaths, WatchedAdapter):
    """A `WatchedAdapter` that does no proxy or cookie work for requests that need none."""
