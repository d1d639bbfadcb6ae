"""``--cookies FILE``: a Netscape ``cookies.txt``, as curl, wget and browser extensions write it.

One cookie a line, seven fields separated by tabs::

    # Netscape HTTP Cookie File
    .example.com	TRUE	/	FALSE	1893456000	session	abc123
    #HttpOnly_shop.example.com	FALSE	/cart	TRUE	0	cart	42

domain, whether subdomains get it too, path, whether only HTTPS gets it,
expiry (Unix time; 0 for a session cookie), name, value. Blank lines and
``#`` comments are skipped; ``#HttpOnly_`` before a domain is curl's mark of
an HttpOnly cookie (a browser's business, not a crawler's: the cookie is
kept). Expired cookies are left out.

Why not `http.cookiejar.MozillaCookieJar`: it names no line in its errors
(``--cookies`` must say which line is wrong) and refuses a file without the
``# Netscape HTTP Cookie File`` header, which several browser extensions do
not write. The cookies become `crawler.page.CookieData`, the values the run's
other cookies travel as (`crawler.engine.cookies`), so the usual domain, path,
secure and expiry rules apply to them in the workers' jars.
"""

from __future__ import annotations

import time

from ..errors import UsageError
from ..page import CookieData

_HTTP_ONLY = "#HttpOnly_"
_FLAGS = {"TRUE": True, "FALSE": False}


class CookieFileError(UsageError):
    """A ``--cookies`` file cannot be read or has a malformed line."""


def read_cookie_file(path: str, now: float | None = None) -> tuple[CookieData, ...]:
    """The unexpired cookies of the Netscape cookies file at ``path``; raises `CookieFileError`."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise CookieFileError(f"cannot read cookies file {path!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CookieFileError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    now = time.time() if now is None else now
    cookies = []
    for number, line in enumerate(lines, 1):
        cookie = parse_cookie_line(line, f"{path}:{number}")
        if cookie is not None and (cookie.expires is None or cookie.expires > now):
            cookies.append(cookie)
    return tuple(cookies)


def parse_cookie_line(line: str, where: str) -> CookieData | None:
    """One line of a cookies file as a cookie, or None for a blank or comment line."""
    if line.startswith(_HTTP_ONLY):
        line = line[len(_HTTP_ONLY):]
    elif not line.strip() or line.lstrip().startswith("#"):
        return None
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != 7:
        raise CookieFileError(f"{where}: expected 7 tab-separated fields (domain, subdomains, path, secure, "
                              f"expires, name, value), got {len(fields)}: {line[:80]!r}")
    domain, subdomains, path, secure, expires, name, value = fields
    domain = domain.strip().lower()
    if not domain or any(c.isspace() for c in domain):
        raise CookieFileError(f"{where}: no usable domain: {line[:80]!r}")
    for what, flag in (("subdomains", subdomains), ("secure", secure)):
        if flag.strip().upper() not in _FLAGS:
            raise CookieFileError(f"{where}: the {what} field must be TRUE or FALSE, got {flag[:20]!r}")
    try:
        expiry = int(expires.strip() or 0)
    except ValueError:
        raise CookieFileError(f"{where}: the expiry must be a Unix time (0: a session cookie), "
                              f"got {expires[:20]!r}") from None
    if not name and not value:
        raise CookieFileError(f"{where}: a cookie needs a name: {line[:80]!r}")
    # A cookie for subdomains too is a Domain= cookie (leading dot); another is for its host only.
    wide = _FLAGS[subdomains.strip().upper()]
    domain = "." + domain.lstrip(".") if wide else domain.lstrip(".")
    return CookieData(name=name, value=value, domain=domain, path=path or "/",
                      secure=_FLAGS[secure.strip().upper()], expires=expiry or None,
                      domain_specified=wide, domain_initial_dot=wide, path_specified=bool(path),
                      discard=not expiry)
