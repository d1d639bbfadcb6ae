"""`CrawlAdapter`: the watchdog's transport adapter, without per-request work
requests does for features a request without a proxy does not use.

Per request, requests' `HTTPAdapter` looks the URL up in the proxy map and
parses it three more times (pool key, TLS context, request line), stats the
CA bundle path to tell a file from a folder, and runs the cookie jar's
extraction (a mock request and response, two header scans) even when the
response sets no cookie. Together that was ~15 % of a fetch's CPU on a
local site. These overrides skip that work in the cases where it decides
nothing, and hand every other case (a proxy, a cookie) to requests' own
code; they use only the hooks requests documents for subclassing adapters
(``get_connection_with_tls_context`` is one since requests 2.32.2, the
project's lower bound).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import InvalidURL
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from .watchdog import WatchedAdapter


class CrawlAdapter(WatchedAdapter):
    """A `WatchedAdapter` that does no proxy or cookie work for requests that need none."""

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: dict[str, str] | None = None, cert: Any = None) -> Any:
        """The connection pool for ``request``: requests' own when a proxy may apply."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        url = request.url if isinstance(request.url, str) else str(request.url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidURL(exc, request=request) from exc
        return self.poolmanager.connection_from_host(scheme=parts.scheme.lower(), host=parts.hostname, port=port,
                                                     pool_kwargs=dict(_pool_kwargs(verify, cert)))

    def request_url(self, request: requests.PreparedRequest, proxies: dict[str, str] | None) -> str:
        """The request line's target: without a proxy, the path (as requests sends it)."""
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """A `requests.Response` for urllib3's ``resp``; cookies read only if it sets some."""
        response = requests.Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url  # type: ignore[union-attr]
        if sets_cookies(resp):
            extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self  # type: ignore[attr-defined]
        return response


def sets_cookies(resp: Any) -> bool:
    """Whether a urllib3 response carries a header the cookie jar reads."""
    headers = getattr(resp, "headers", None)
    return headers is None or "set-cookie" in headers or "set-cookie2" in headers


@lru_cache(maxsize=16)
def _pool_kwargs(verify: Any, cert: Any) -> dict[str, Any]:
    # requests' _urllib3_request_context, once per (verify, cert) rather than per request.
    kwargs: dict[str, Any] = {"cert_reqs": "CERT_NONE" if verify is False else "CERT_REQUIRED"}
    if isinstance(verify, str):
        kwargs["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
    if isinstance(cert, tuple) and len(cert) == 2:
        kwargs["cert_file"], kwargs["key_file"] = cert
    elif cert is not None:
        kwargs["cert_file"] = cert
    return kwargs
