"""Cookies between the plain values that travel with tasks and results and the jar of a Session.

A response's cookies go back to the main process as `crawler.page.CookieData`
tuples (see `crawler.engine.cookies`), and the run's cookies for a host come
with each task the same way; only here do they become `http.cookiejar.Cookie`
objects, for the fetch thread's jar, which applies the usual path, secure and
expiry rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookiejar import Cookie

from ..page import CookieData


def to_jar(cookies: Iterable[CookieData] | None) -> tuple[Cookie, ...] | None:
    """``cookies`` as `http.cookiejar.Cookie` objects for a jar (None when there are none)."""
    if not cookies:
        return None
    return tuple(
        Cookie(c.version, c.name, c.value, c.port, c.port_specified, c.domain, c.domain_specified,
               c.domain_initial_dot, c.path, c.path_specified, c.secure, c.expires, c.discard, None, None, {})
        for c in cookies
    )


def from_jar(cookies: Iterable[Cookie] | None) -> tuple[CookieData, ...] | None:
    """Cookies a response set, as plain values (None when there are none).

    Non-standard attributes (HttpOnly, SameSite) are left out: they tell a
    browser's scripts what they may see, which a crawler's requests never need.
    """
    if not cookies:
        return None
    return tuple(
        CookieData(c.name, c.value, c.domain, c.path, c.secure, c.expires, c.version, c.port, c.port_specified,
                   c.domain_specified, c.domain_initial_dot, c.path_specified, c.discard)
        for c in cookies
    )
