"""HTTP fetching for the workers: one pooled `requests.Session` per fetch in flight.

Why not one Session per process: requests has never documented a Session as
thread-safe (psf/requests#2766), and a worker process runs several fetch
threads. Each fetch borrows a Session no other fetch is using and gives it
back when the response is read, so a process keeps as many Sessions (and
keep-alive connections per host) as it has fetches in flight at most, not one
per thread: a thread that goes on to parse holds none.

`fetch` never raises for a page-level failure: it returns a `Fetched` whose
``error`` says what went wrong and whose ``retryable`` says whether trying
again could help. Whether to retry is the main process's call.

``config.timeout`` bounds a whole fetch, redirects included: each fetch runs
under a `watchdog.Deadline`, and redirects are followed here (`_get`), not
by requests.

Each hop is sent by the lean transport (`crawler.worker.transport`: the
watched connections read with http.client) where requests' path would do
nothing more for it, and by requests otherwise (a proxy, settings from the
environment, ``CRAWLER_STOCK=1``): `_send`.
"""

from __future__ import annotations

import email.utils
import http.client
import os
import re
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.cookiejar import Cookie, CookieJar
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.utils import requote_uri

from .. import _internals
from ..config import CrawlConfig
from ..page import Archived, Exchange, utc_now
from ..urls import normalize_url
from .adapter import CrawlAdapter, StockAdapter
from .addresses import BlockedAddress
from .capture import Capture, RawBody
from .network import configure, proxy_failure
from .transport import Response as LeanResponse
from .transport import get as lean_get
from .transport import pool_for
from .watchdog import Deadline

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 64 * 1024
REDIRECT_BODY_MAX = 64 * 1024  # read of a redirect's body, to reuse its connection

#: one hop's response: requests' or the lean transport's (which reads the same way)
Hop = requests.Response | LeanResponse

_idle_sessions: list[requests.Session] = []  # this process's Sessions no fetch is using
# A forked worker must not reuse the parent's connections: the sockets would be shared.
os.register_at_fork(after_in_child=_idle_sessions.clear)


@dataclass(slots=True)
class Fetched:
    """The outcome of one HTTP fetch (redirects followed)."""

    url: str
    final_url: str
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: float = 0.0
    fetched_at: str = ""
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    #: cookies the responses (redirects included) set, for the other threads
    cookies: list[Cookie] | None = None
    #: the X-Robots-Tag header(s), joined
    robots_tag: str | None = None
    #: validators for the next conditional request
    etag: str | None = None
    last_modified: str | None = None
    #: the redirects followed, ``"STATUS URL"`` each, in order (``--seo``'s ``redirects``)
    redirects: list[str] = field(default_factory=list)
    #: with ``--warc``: every exchange that got a response, in order (see `crawler.worker.capture`)
    exchanges: list[Exchange] | None = None
    #: with ``--warc``: the exchange whose body is being read
    capture: Capture | None = None
    #: with ``--warc``: whether its records are gzip members (encoded here, see `crawler.warcrecord`)
    warc_gzip: bool | None = None


def make_session(config: CrawlConfig, pool_size: int = 4) -> requests.Session:
    """A Session with the crawl's identity, redirect limit and connection pool."""
    session = requests.Session()
    session.headers["User-Agent"] = config.user_agent
    session.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    for name, value in config.headers:
        session.headers[name] = value
    session.max_redirects = config.max_redirects
    session.trust_env = _environment_matters()
    # pool_connections is the number of hosts kept alive at once; pool_maxsize
    # the connections per host: one thread makes one request at a time.
    # The watched adapter lets the watchdog cut a request at its deadline
    # (and skips requests' proxy and cookie work where there is none, unless
    # CRAWLER_STOCK asks for requests' own: see crawler._internals).
    adapter_class = StockAdapter if _internals.STOCK else CrawlAdapter
    adapter = adapter_class(pool_connections=64, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    configure(session, config)  # proxy, TLS checks, hosts' own headers (crawler.worker.network)
    return session


def _environment_matters() -> bool:
    """True when requests would take a proxy or ~/.netrc credentials from the environment."""
    # With trust_env, requests looks these up on every request (file-system
    # calls per page, ~0.1 ms); only pay for it when there is something to find.
    # no_proxy alone configures nothing: it only exempts hosts from a proxy.
    # (The bench harness sets no_proxy=*, as many shells do.)
    if any(name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value
           for name, value in os.environ.items()):
        return True
    return bool(os.environ.get("NETRC")) or os.path.exists(os.path.expanduser("~/.netrc"))


def borrow_session(config: CrawlConfig) -> requests.Session:
    """A Session no other fetch of this process is using (the last one given back, whose
    connections are the warmest), or a new one; give it back with `return_session`."""
    try:
        return _idle_sessions.pop()
    except IndexError:
        return make_session(config)


def return_session(session: requests.Session) -> None:
    """Give back a Session from `borrow_session`, for the next fetch to use."""
    _idle_sessions.append(session)


def fetch(url: str, config: CrawlConfig, session: requests.Session | None = None,
          max_bytes: int | None = None, cookies: tuple[Cookie, ...] | None = None,
          validators: tuple[str | None, str | None] | None = None) -> Fetched:
    """GET ``url``, following redirects, reading at most ``max_bytes`` of decoded body.

    ``config.timeout`` bounds the whole fetch, redirects and body included.
    ``cookies`` (the run's cookies for this host) join the session's jar
    first; ``validators`` (ETag, Last-Modified) make the request conditional.
    """
    if session is not None:
        return _fetch(url, config, session, max_bytes, cookies, validators)
    session = borrow_session(config)
    try:
        return _fetch(url, config, session, max_bytes, cookies, validators)
    finally:
        return_session(session)


def _fetch(url: str, config: CrawlConfig, session: requests.Session, max_bytes: int | None,
           cookies: tuple[Cookie, ...] | None, validators: tuple[str | None, str | None] | None) -> Fetched:
    limit = config.max_bytes if max_bytes is None else max_bytes
    result = Fetched(url=url, final_url=url, fetched_at=utc_now())
    if config.warc:
        result.exchanges = []
        result.warc_gzip = config.warc.endswith(".gz")
    for cookie in cookies or ():
        session.cookies.set_cookie(cookie)
    start = time.monotonic()
    with Deadline(config.timeout) as deadline:
        try:
            conditional = _conditional(validators)
            with _get(session, url, config.max_redirects, deadline, result, conditional) as resp:
                result.status = resp.status_code
                if resp.status_code < 200:
                    # Interim responses are skipped (crawler._internals.SkipInterimResponses):
                    # this is a 101 nobody asked for. What follows it on the connection is
                    # no HTTP/1.1 response to go by: never reuse it (closed before the
                    # empty body's read would hand it back to the pool).
                    resp.raw.close()
                _content_type(resp, result)
                result.robots_tag = resp.headers.get("X-Robots-Tag")
                result.etag = resp.headers.get("ETag")
                result.last_modified = resp.headers.get("Last-Modified")
                headers = resp.headers
                # Framed twice: which framing a server meant is in doubt (RFC 9112
                # 6.3: close after it). The connection goes back to the pool when
                # the body is read: closed, it is not reused.
                doubtful = resp.raw.connection if "Transfer-Encoding" in headers and "Content-Length" in headers \
                    else None
                if result.capture is not None or isinstance(resp, LeanResponse):
                    _read_raw_body(resp, result, limit, deadline)
                else:
                    _read_body(resp, result, limit, deadline.at)
                if doubtful is not None:
                    doubtful.close()
                if deadline.expired:  # cut at the very end: the body may lack its tail
                    raise TimeoutError("body not read within the timeout")
                status = resp.status_code
                result.error = status_error(status, resp.reason, "Location" in resp.headers, bool(conditional))
                if status in RETRY_STATUSES:
                    result.retryable = True
                    result.retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            _failed(result, exc, deadline.expired, config.timeout)
        except ValueError as exc:  # a URL the libraries cannot parse (never an `internal` error)
            result.error = f"url: {_short(exc)}"
    result.elapsed_ms = round((time.monotonic() - start) * 1000, 1)
    return result


def status_error(status: int, reason: str | None, location: bool, conditional: bool) -> str | None:
    """The record's error for a final response of ``status`` (None for a good one)."""
    if status >= 400:
        return f"http: {status} {reason or ''}".rstrip()
    if status < 200:
        return f"http: {status} {reason or ''}".rstrip() + " (not a final response)"
    if status == 304 and not conditional:
        return "http: 304 Not Modified to a request that was not conditional"
    if 300 <= status < 400 and status != 304:
        # A redirect status that _get did not follow: every not-ok record names its error.
        return (f"redirects: {status} without Location" if not location
                else f"redirects: {status} {reason or ''}".rstrip() + " not followed")
    return None


def from_archive(archived: Archived, limit: int) -> Fetched:
    """The `Fetched` a live fetch would have made of an archived response (``crawler extract``):
    the body decoded by its ``Content-Encoding`` up to ``limit`` bytes, the error derived from
    the status unless the archive gives the crawl's own."""
    result = Fetched(url=archived.url, final_url=archived.final_url, status=archived.status,
                     fetched_at=archived.date, elapsed_ms=archived.elapsed_ms, redirects=list(archived.redirects))
    headers = requests.structures.CaseInsensitiveDict(archived.headers)
    # A 304's body is its stored copy's: read by the copy's type and coding.
    body_headers = requests.structures.CaseInsensitiveDict(archived.copy_headers) if archived.copy_headers \
        else headers
    _parse_content_type(body_headers.get("Content-Type"), result)
    result.robots_tag = headers.get("X-Robots-Tag")
    if archived.status is None:
        result.error = archived.error
        return result
    try:
        decoder = RawBody(body_headers.get("Content-Encoding"), limit)
        result.body = decoder.feed(archived.body) + decoder.finish()
        result.truncated = archived.truncated or decoder.over
    except urllib3.exceptions.DecodeError as exc:
        result.error = f"body: {_readable(exc, urlsplit(archived.final_url).netloc) or _short(exc)}"[:200]
    if archived.error is not None:
        result.error = archived.error
    elif result.error is None:
        result.error = status_error(archived.status, archived.reason, "Location" in headers, conditional=True)
    return result


def _conditional(validators: tuple[str | None, str | None] | None) -> dict[str, str] | None:
    if not validators:
        return None
    etag, modified = validators
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    return headers


def _failed(result: Fetched, exc: BaseException, expired: bool, timeout: float) -> None:
    host = urlsplit(result.final_url).netloc
    if expired or isinstance(exc, (TimeoutError, urllib3.exceptions.ReadTimeoutError)):
        # Whatever the watchdog's cut made urllib3 raise, the cause is the deadline.
        result.error = f"timeout: no complete response from {host} within {timeout:g} s"
        result.retryable = True
    elif isinstance(exc, requests.exceptions.RequestException):
        kind = error_kind(exc)
        result.error = f"{kind}: {_describe(kind, exc, result.final_url, timeout)}"[:200]
        result.retryable = kind in ("timeout", "connection", "refused", "body")
    else:
        # A reset mid-body, a malformed chunked body, a bad gzip stream.
        result.error = f"body: {_readable(exc, host) or _broken(exc)}"[:200]
        result.retryable = isinstance(exc, (urllib3.exceptions.ProtocolError, OSError))


def _broken(exc: BaseException) -> str:
    inner = exc.args[-1] if isinstance(exc, urllib3.exceptions.ProtocolError) and exc.args else None
    # ProtocolError("Connection broken: X", X): say X once.
    return f"connection broken: {inner}" if isinstance(inner, BaseException) else _short(exc)


class RedirectError(requests.exceptions.RequestException):
    """A redirect that is not followed: a loop, or a target that is not http(s)."""


def _get(session: requests.Session, url: str, max_redirects: int, deadline: Deadline,
         result: Fetched, headers: dict[str, str] | None = None) -> Hop:
    # Redirects are followed here rather than by requests, to refuse what it
    # would try (ftp:, file: targets), to catch a loop at its first repeat
    # instead of at the hop limit, to give each hop only the time left, and
    # to read at most a little of a redirect's body (requests reads it all).
    visited: dict[str, int] = {}  # canonical URL -> hop that requested it
    cookie_hop = -1  # the last hop whose response set a cookie
    sent: dict[str, str | None] | None = dict(headers) if headers else None
    for hop in range(max_redirects + 1):
        result.final_url = url
        left = deadline.remaining()
        if left <= 0:
            raise TimeoutError("deadline passed between redirects")
        # A GET as session.get would send it, without its per-request merging.
        date = utc_now() if result.exchanges is not None else ""
        try:
            resp = _send(session, url, left, sent, result.exchanges is not None)
        except ValueError as exc:
            if isinstance(exc, requests.exceptions.RequestException):  # InvalidURL: the URL requested
                raise
            # requests' own send (a proxy, CRAWLER_STOCK) parses a redirect's Location itself.
            raise RedirectError(f"invalid redirect target: {_short(exc)}") from None
        if resp.cookies:  # what this response set (and the jar accepted), for the other threads
            jar: CookieJar = resp.cookies  # iterated as a CookieJar: its Cookie objects
            result.cookies = (result.cookies or []) + list(jar)
        if deadline.expired:
            # http.client takes a cut in the middle of the headers for their
            # end: what arrived is no response to go by.
            resp.close()
            raise TimeoutError("headers not read within the timeout")
        capture = Capture.of(resp, date, result.warc_gzip) if result.exchanges is not None else None
        target = resp.redirect_target() if isinstance(resp, LeanResponse) else session.get_redirect_target(resp)
        if target is None:
            result.capture = capture
            return resp
        drained = _drain(resp)
        result.redirects.append(f"{resp.status_code} {url}")
        if capture is not None and result.exchanges is not None:
            body, cut = drained
            capture.feed(body)
            result.exchanges.append(capture.done(cut))
        visited[_key(url)] = hop
        if "Set-Cookie" in resp.headers:
            cookie_hop = hop
        try:
            target = urljoin(url, requote_uri(target))
            parts = urlsplit(target)
            parts.port  # noqa: B018 - raises ValueError on a port that is not one
        except ValueError:
            raise RedirectError(f"invalid redirect target {target[:100]}") from None
        scheme = parts.scheme.lower()
        if "@" in parts.netloc:
            # Credentials in a redirect are not the crawl's to send, nor to record
            # in final_url (canonical URLs drop them: urls.normalize_url).
            target = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if scheme not in ("http", "https"):
            raise RedirectError(f"refused redirect to {target[:100]} (only http and https are followed)")
        # A URL already requested, with no cookie set since, would answer the same again:
        # a loop. (A site that sets a cookie and redirects to the same URL is no loop.)
        if visited.get(_key(target), -1) > cookie_hop:
            raise RedirectError(f"redirect loop: {url} redirects back to {target[:100]}")
        # requests drops Authorization when a redirect leaves the host; so do we.
        if session.should_strip_auth(url, target):
            sent = {**(sent or {}), "Authorization": None}
        url = target
    raise requests.exceptions.TooManyRedirects(f"more than {max_redirects} redirects")


def _send(session: requests.Session, url: str, timeout: float, headers: Mapping[str, str | None] | None,
          peer: bool) -> Hop:
    # The lean transport where requests' short path would send it; requests' path
    # (`_internals.send_get`) for everything else. ``peer``: --warc wants the server's IP.
    adapter = pool_for(session, url)
    if adapter is not None:
        return lean_get(session, adapter, url, timeout, headers, peer)
    return _internals.send_get(session, url, timeout, headers)


def _key(url: str) -> str:
    try:
        return normalize_url(url)
    except ValueError:
        return url


def _drain(resp: Hop) -> tuple[bytes, str | None]:
    # A short redirect body read to its end frees the connection for reuse;
    # a longer one is not worth the wait: close the connection.
    # Returns what was read, as received, and why it is not whole (WARC's words).
    body, cut = b"", None
    try:
        body = resp.raw.read(REDIRECT_BODY_MAX, decode_content=False)
        if len(body) >= REDIRECT_BODY_MAX and resp.raw.read(1, decode_content=False):
            cut = "length"
    except (urllib3.exceptions.HTTPError, OSError):
        cut = "disconnect"
    resp.close()
    return body, cut


def _content_type(resp: Hop, result: Fetched) -> None:
    _parse_content_type(resp.headers.get("Content-Type"), result)


def media_type(fields: Iterable[tuple[str, str]]) -> str | None:
    """The media type the first ``Content-Type`` of ``fields`` names, lower-cased (None without one)."""
    return _media(next((value for name, value in fields if name.lower() == "content-type"), None))


def _media(header: str | None) -> str | None:
    return (header.partition(";")[0].strip().lower() or None) if header else None


def _parse_content_type(header: str | None, result: Fetched) -> None:
    if not header:
        return
    result.content_type = _media(header)
    for param in header.partition(";")[2].split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            result.charset = value.strip().strip("\"'")


def _read_body(resp: requests.Response, result: Fetched, limit: int, deadline: float) -> None:
    # read1() returns after at most one recv(), so the deadline is checked
    # at least once per read timeout even when a server drips a byte a
    # second (read(amt) would wait for the whole chunk, resetting the socket
    # timeout with every byte). Decoded bytes are counted, so a compressed
    # body cannot inflate past the limit before we notice.
    chunks: list[bytes] = []
    size = 0
    raw = resp.raw
    try:
        while True:
            chunk = raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            if size + len(chunk) > limit:
                chunks.append(chunk[: limit - size])
                size = limit
                result.truncated = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError("body not read within the timeout")
    finally:
        result.body = b"".join(chunks)


def _read_raw_body(resp: Hop, result: Fetched, limit: int, deadline: Deadline) -> None:
    # _read_body for --warc and for the lean transport: the body is read as
    # received (Content-Encoding intact) for the archive, and decoded here for
    # the parser, ``limit`` counting decoded bytes as there (RawBody bounds
    # each decoder's output: a bomb is cut as urllib3's read cuts it). With
    # --warc the exchange is kept however the read ends: a response that
    # broke off mid-body is still what the server sent.
    capture = result.capture
    exchanges = result.exchanges
    decoder = RawBody(resp.headers.get("Content-Encoding"), limit)
    # With a coding the archive keeps each chunk as read (fed before it is
    # decoded: one that fails to decode was still received); without one it
    # keeps what the parser got, cut at the same byte.
    coded = capture if decoder.coded else None
    plain = None if decoder.coded else capture
    chunks: list[bytes] = []
    cut: str | None = "unspecified"  # WARC-Truncated, if the read does not end well
    try:
        while not decoder.over:
            chunk = resp.raw.read1(CHUNK, decode_content=False)
            if not chunk:
                chunks.append(decoder.finish())
                break
            if coded is not None:
                coded.feed(chunk)
            piece = decoder.feed(chunk)
            if plain is not None:
                plain.feed(piece)
            chunks.append(piece)
            if time.monotonic() > deadline.at:
                raise TimeoutError("body not read within the timeout")
        # Over the limit: what was read is all the archive has, unless the
        # compressed body ended within it.
        cut = "length" if decoder.over and (not decoder.coded or resp.raw.length_remaining != 0) else None
    except (TimeoutError, urllib3.exceptions.ReadTimeoutError):
        cut = "time"
        raise
    except urllib3.exceptions.DecodeError:
        raise  # what came is whole as far as it goes; it does not decode
    except (urllib3.exceptions.HTTPError, OSError):
        cut = "time" if deadline.expired else "disconnect"
        raise
    finally:
        result.body = b"".join(chunks)
        result.truncated = decoder.over
        if capture is not None and exchanges is not None:
            exchanges.append(capture.done(cut))
            result.capture = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_kind(exc: BaseException) -> str:
    """Map a fetch exception to a short, stable kind (``timeout``, ``dns``…)."""
    if isinstance(exc, (requests.exceptions.TooManyRedirects, RedirectError)):
        return "redirects"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(_root(exc), BlockedAddress):
        return "blocked"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "SOCKS" in text:  # urllib3's SOCKS connections say what failed in text only
            return "proxy"
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


def _describe(kind: str, exc: BaseException, url: str, timeout: float) -> str:
    host = urlsplit(getattr(exc.request, "url", None) or url).netloc if hasattr(exc, "request") else url
    if kind == "dns":
        return f"cannot resolve host {host.rsplit(':', 1)[0] if ':' in host and not host.endswith(']') else host}"
    if kind == "refused":
        return f"connection refused by {host}"
    if kind == "timeout":
        return f"no answer from {host} within {timeout:g} s"
    if kind == "proxy":
        return proxy_failure(exc, host)
    if kind == "blocked":
        return str(_root(exc))
    return _readable(exc, host) or _short(exc)


def _root(exc: BaseException) -> BaseException:
    # The innermost exception urllib3 and requests wrapped: each layer keeps
    # the one below in ``reason`` (MaxRetryError) or in its args
    # (ProtocolError("Connection aborted.", X), requests' errors).
    for _ in range(8):
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((arg for arg in reversed(exc.args) if isinstance(arg, BaseException)), None)
        if inner is None or inner is exc:
            break
        exc = inner
    return exc


def _readable(exc: BaseException, host: str) -> str | None:
    """A one-line reason for the usual transport failures, or None (then `_short` says it).

    Defect 10 of issue 16: texts cut out of nested reprs ("Connection
    aborted.', ConnectionResetError(104, …") are no message for a user.
    """
    root = _root(exc)
    if isinstance(root, ConnectionResetError):
        return f"connection reset by {host}"
    if isinstance(root, BrokenPipeError):
        return f"connection closed by {host} while the request was sent"
    if isinstance(root, http.client.RemoteDisconnected):
        return f"{host} closed the connection without a response"
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"certificate of {host} not accepted: {root.verify_message or root.reason}"
    if isinstance(root, ssl.SSLError):
        reason = root.reason.replace("_", " ").lower() if root.reason else root.strerror or type(root).__name__
        return f"TLS with {host} failed: {reason}"
    if isinstance(exc, (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError)):
        coding = _CODING.search(str(exc))
        return f"cannot decode the {coding.group(1) if coding else 'compressed'} body: {_short(root)}"
    if isinstance(root, OSError) and root.strerror:
        return f"{root.strerror[:1].lower()}{root.strerror[1:]} ({host})"
    return None


_CODING = re.compile(r"content-encoding: ([\w-]+)")


def _short(exc: BaseException) -> str:
    # urllib3 wraps the useful part in layers of reprs; the innermost reason
    # is what a user wants to read.
    text = str(exc)
    for marker in ("Caused by ", "Failed to ", "[Errno"):
        idx = text.rfind(marker)
        if idx >= 0:
            text = text[idx:]
            break
    return " ".join(text.strip("()'\" ").split())[:200]
