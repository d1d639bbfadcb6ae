"""Errors raised by `crawler`.

Hierarchy::

    CrawlerError              root of everything this package raises
    ├── UsageError            bad command line or option value (exit 2)
    │   └── ConfigError       a CrawlConfig value is invalid
    ├── SeedError             a seed file or seed URL is unusable (exit 2)
    └── FrontierError         the frontier backend failed

Page-level failures (DNS, refused, timeout, HTTP 4xx/5xx) are never raised:
they become the ``error`` field of a record. `error_kind` turns a requests
exception into the short stable kind used there.
"""

from __future__ import annotations

import requests


class CrawlerError(Exception):
    """Root of the exceptions this package raises."""


class UsageError(CrawlerError, ValueError):
    """The command line or an option value is unusable."""


class ConfigError(UsageError):
    """A `CrawlConfig` value is invalid."""


class SeedError(CrawlerError, ValueError):
    """A seed file or seed URL is unusable."""


class FrontierError(CrawlerError):
    """The frontier backend failed."""


def error_kind(exc: BaseException) -> str:
    """Map a fetch exception to a short, stable kind (``timeout``, ``dns``…)."""
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "redirects"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return "dns"
        if "Connection refused" in text or "ConnectionRefused" in text:
            return "refused"
        return "connection"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                        requests.exceptions.MissingSchema)):
        return "url"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return "body"
    return "fetch"
