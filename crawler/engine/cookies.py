"""Cookies shared by every fetch thread of a run, host by host.

Each fetch thread has its own `requests.Session`, so a cookie one thread
receives would otherwise never reach the others. Workers send back the
cookies a response set (`Result.cookies`); the main process keeps them in a
`CookieStore` and hands each task the cookies its host may receive
(`Task.cookies`), which the worker adds to its thread's jar before the
request. The jar then applies the usual path, secure and expiry rules.

A cookie is handed only to hosts its domain matches: a host-only cookie to
its host, a ``Domain=.example.com`` cookie to example.com and its subdomains.
The cookie jar has already refused domains the setting host may not claim.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..page import CookieData

#: cookies kept per domain; a browser keeps about this many too
MAX_PER_DOMAIN = 50


class CookieStore:
    """The run's cookies by (domain, path, name); the newest value wins."""

    def __init__(self) -> None:
        self._by_domain: dict[str, dict[tuple[str, str], CookieData]] = {}
        self._for_host: dict[str, tuple[CookieData, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_domain)

    def add(self, cookies: Iterable[CookieData]) -> None:
        """Keep ``cookies`` (set by one response), replacing older values."""
        for cookie in cookies:
            jar = self._by_domain.setdefault(cookie.domain.lower(), {})
            key = (cookie.path, cookie.name)
            if key not in jar and len(jar) >= MAX_PER_DOMAIN:
                continue
            jar[key] = cookie
        self._for_host.clear()

    def for_host(self, host: str) -> tuple[CookieData, ...] | None:
        """The cookies ``host`` may receive, or None when there are none."""
        if not self._by_domain:
            return None
        found = self._for_host.get(host)
        if found is None:
            found = self._for_host[host] = tuple(
                cookie
                for domain, jar in self._by_domain.items()
                if _domain_match(host, domain)
                for cookie in jar.values()
            )
        return found or None


def _domain_match(host: str, domain: str) -> bool:
    if domain.startswith("."):
        return host == domain[1:] or host.endswith(domain)
    return host == domain
