"""The lean transport: one GET hop on the crawler's watched connections, read with http.client.

Why: under requests' own path a GET goes through the Session, the adapter,
urllib3's pool manager, its connection pool, and urllib3's response wrapped
in requests' Response, each with work that decides nothing for a crawl's
plain GET. A measurement (tests/benchmarks/lean_get_payoff.py, ``LEAN=2``)
put a whole crawl's CPU at ~0.885-0.90 of today's with the GET made on the
same watched connection classes, kept alive in lists of our own, and read
with http.client. This module is that GET, with what the crawl needs of the
layers it skips: the session's headers and cookies, hosts' own headers, the
address policy and the watchdog on every connection, TLS as the adapter
sets it up, keep-alive only when it is safe, and the error types requests
would raise (so `crawler.worker.fetch` words failures the same way).

`crawler.worker.fetch` uses it for every hop where `crawler._internals.send_get`
would take its short path (`pool_for` says when); anything else (a proxy,
``CRAWLER_STOCK=1``, settings from the environment, auth, response hooks)
still goes through requests.

Thread-safety: a `LeanPool` belongs to one adapter, so to one Session, which
one fetch uses at a time (`crawler.worker.fetch.borrow_session`); it locks
anyway, as urllib3's pools do, for a Session shared by a caller.
"""

from __future__ import annotations

import errno
import http.client
import ssl
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
from requests.cookies import RequestsCookieJar
from urllib3.connection import HTTPConnection

from .. import _internals
from .watchdog import CONNECTION_CLASSES, before_reuse

#: what a connection, a request or a response can fail with below requests (mapped to its exceptions)
_TRANSPORT_ERRORS = (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # requests' REDIRECT_STATI: what it would follow
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: a pool's key: scheme, host, port, and the TLS settings the connection was made with
Key = tuple[str, str, int, "bool | str", "tuple[str, str] | str | None"]


class LeanAdapter(Protocol):
    """What the lean transport needs of the Session's adapter (`crawler.worker.adapter.CrawlAdapter`)."""

    lean: LeanPool
    host_headers: Mapping[str, tuple[tuple[str, str], ...]]

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: tuple[str, str] | str | None) -> None: ...


class LeanPool:
    """Idle kept-alive connections, by `Key`: at most ``per_host`` each, for ``hosts`` keys
    (the least recently used key's connections are closed first), as urllib3's
    pool manager keeps them for requests' adapter."""

    def __init__(self, hosts: int, per_host: int) -> None:
        self._hosts = max(1, hosts)
        self._per_host = max(1, per_host)
        self._idle: OrderedDict[Key, list[HTTPConnection]] = OrderedDict()
        self._lock = threading.Lock()
        # As urllib3's pools do: a Session dropped without close() leaves no socket open.
        weakref.finalize(self, _close_all, self._idle)

    def take(self, key: Key) -> HTTPConnection | None:
        """An idle connection for ``key`` still fit for a request, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
            # As urllib3 does before reusing one: readable means the server closed it, or sent
            # bytes nobody asked for (a body longer than it said); either way it cannot be trusted.
            if conn.is_connected:
                return conn
            conn.close()

    def give(self, key: Key, conn: HTTPConnection) -> None:
        """Keep ``conn`` (its response read to the end) for the next request to ``key``."""
        dropped: list[HTTPConnection] = []
        with self._lock:
            idle = self._idle.get(key)
            if idle is None:
                if len(self._idle) >= self._hosts:
                    dropped = self._idle.popitem(last=False)[1]
                idle = self._idle[key] = []
            else:
                self._idle.move_to_end(key)
            if len(idle) < self._per_host:
                idle.append(conn)
            else:
                dropped.append(conn)
        for extra in dropped:
            extra.close()

    def close(self) -> None:
        """Close every idle connection (the Session is closed)."""
        with self._lock:
            _close_all(self._idle)


def _close_all(idle: dict[Key, list[HTTPConnection]]) -> None:
    conns = [conn for kept in idle.values() for conn in kept]
    idle.clear()
    for conn in conns:
        conn.close()


def pool_for(session: requests.Session, url: str) -> LeanAdapter | None:
    """The adapter whose lean pool ``url``'s GET may use, or None: requests must send it.

    The lean path is taken exactly where `crawler._internals.send_get` takes
    its short path (nothing from the environment, no auth, no proxy, no
    response hook, a verify setting) and the adapter is the crawler's own.
    """
    if (_internals.STOCK or session.trust_env or session.auth is not None or session.proxies
            or session.hooks.get("response") or session.verify is None):
        return None
    try:
        adapter = session.get_adapter(url)
    except requests.exceptions.InvalidSchema:
        return None  # requests' own path raises it, worded as always
    return adapter if isinstance(getattr(adapter, "lean", None), LeanPool) else None  # type: ignore[return-value]


def get(session: requests.Session, adapter: LeanAdapter, url: str, timeout: float,
        headers: Mapping[str, str | None] | None, peer: bool = False) -> Response:
    """One GET of ``url`` (no redirect followed), as `crawler._internals.send_get` would send it.

    ``timeout`` bounds the connect and each read; ``None`` in ``headers``
    drops a session header; ``peer`` asks for the server's IP address
    (``--warc``). Failures raise what requests would have raised.
    """
    prepared = _internals.prepare_get(session, url, _internals.with_session_headers(session, headers))
    target = prepared.url if isinstance(prepared.url, str) else str(prepared.url)
    try:
        parts = urlsplit(target)
        port = parts.port
    except ValueError as exc:
        raise requests.exceptions.InvalidURL(exc, request=prepared) from exc
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    # A host's own headers, judged per hop (as HostHeaders.send does for requests' path).
    extra = adapter.host_headers.get(host) if adapter.host_headers else None
    if extra:
        prepared.headers.update(extra)
    verify = session.verify
    assert verify is not None  # pool_for said so
    cert = session.cert
    key: Key = (scheme, host, port or _DEFAULT_PORTS[scheme], verify, cert)
    pool = adapter.lean
    conn = pool.take(key)
    if conn is not None:
        try:
            before_reuse(conn)  # the address policy again, and the watchdog on its socket
        except OSError as exc:
            conn.close()
            raise _as_requests_error(exc, conn, prepared) from exc
    else:
        conn = _connect(adapter, key, timeout, prepared)
    if scheme == "https" and not conn.is_verified:
        # urllib3's own warning, per request as it gives it (worker processes filter it: crawler.worker.network).
        warnings.warn(f"Unverified HTTPS request is being made to host '{host}'. Adding certificate verification "
                      "is strongly advised. See: https://urllib3.readthedocs.io/en/latest/advanced-usage.html"
                      "#tls-warnings", urllib3.exceptions.InsecureRequestWarning, stacklevel=2)
    conn.timeout = timeout  # request() applies it to the socket: the time left for this hop
    address = _internals.connection_peer(conn) if peer else None
    try:
        try:
            conn.request("GET", prepared.path_url, headers=prepared.headers)
        except BrokenPipeError:
            pass  # as urllib3: the server may have answered before it closed; read that
        except OSError as exc:
            if exc.errno not in (errno.EPROTOTYPE, errno.ECONNRESET):
                raise
        response = _internals.read_response(conn)
        resp = Response(session, prepared, target, response, conn, pool, key, address)
        if peer:  # --warc: the request as sent, from the parts known here (request_bytes parses the URL again)
            resp.sent = request_head("GET", prepared.path_url, host, port, scheme == "https", prepared.headers)
        return resp
    except BaseException as exc:
        # As urllib3's pool: a connection whose exchange went wrong, whatever the error, is closed.
        conn.close()
        if isinstance(exc, _TRANSPORT_ERRORS):
            raise _as_requests_error(exc, conn, prepared) from exc
        raise  # what requests' path lets through too (a header value http.client refuses: ValueError)


def request_head(method: str, path: str, host: str, port: int | None, https: bool,
                 headers: Mapping[str, str]) -> bytes:
    """A request's line and headers as http.client sends them: the ``Host`` header it adds first
    (unless ``headers`` has one), then ``headers`` in order."""
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != (443 if https else 80):
        host = f"{host}:{port}"
    lines = [f"{method} {path} HTTP/1.1"]
    if "Host" not in headers:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _connect(adapter: LeanAdapter, key: Key, timeout: float, prepared: requests.PreparedRequest) -> HTTPConnection:
    scheme, host, port, verify, cert = key
    cls = CONNECTION_CLASSES[scheme]
    settings: dict[str, Any] = {}
    if scheme == "https":
        settings = _TLSSettings(verify, cert).settings(adapter, str(prepared.url))
    conn = cls(host, port, timeout=timeout, **settings)
    try:
        conn.connect()  # the address policy picks the address; the socket goes to the watchdog
    except BaseException as exc:
        conn.close()
        if isinstance(exc, _TRANSPORT_ERRORS):
            raise _as_requests_error(exc, conn, prepared) from exc
        raise
    return conn


class _TLSSettings:
    """The TLS settings requests' adapter gives a pool for ``verify`` and ``cert``: the pool's
    own (`crawler._internals.pool_kwargs`), then the adapter's ``cert_verify`` over them
    (its public hook: the CA bundle it trusts when verify is True, certifi's, and its
    checks that the files named exist, raising its own OSError when not)."""

    def __init__(self, verify: bool | str, cert: tuple[str, str] | str | None) -> None:
        self.verify = verify
        self.cert = cert
        self.cert_reqs: str | None = None
        self.ca_certs: str | None = None
        self.ca_cert_dir: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        for name, value in _internals.pool_kwargs(verify, cert).items():
            setattr(self, name, value)

    def settings(self, adapter: LeanAdapter, url: str) -> dict[str, Any]:
        adapter.cert_verify(self, url, self.verify, self.cert)
        return {"cert_reqs": self.cert_reqs, "ca_certs": self.ca_certs, "ca_cert_dir": self.ca_cert_dir,
                "cert_file": self.cert_file, "key_file": self.key_file}


class _PoolName:
    # What urllib3's errors name the pool by ("HTTPConnectionPool(host='h', port=80)"): the
    # same words in the error chain as requests' path, for the same texts downstream.
    def __init__(self, conn: HTTPConnection) -> None:
        kind = "HTTPS" if isinstance(conn, CONNECTION_CLASSES["https"]) else "HTTP"
        self.text = f"{kind}ConnectionPool(host={conn.host!r}, port={conn.port})"

    def __str__(self) -> str:
        return self.text


def _as_requests_error(exc: BaseException, conn: HTTPConnection,
                       prepared: requests.PreparedRequest) -> requests.exceptions.RequestException:
    """The exception requests (with urllib3 under it, retries off) raises for ``exc``.

    `crawler.worker.fetch` reads the kind and the words of a failure from
    requests' exception types and from the chain they carry; the same chain
    here gives the same record for the same failure.
    """
    if isinstance(exc, urllib3.exceptions.InvalidHeader):
        return requests.exceptions.InvalidHeader(exc, request=prepared)
    pool = _PoolName(conn)
    path = prepared.path_url
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        exc = urllib3.exceptions.SSLError(exc)
    if isinstance(exc, urllib3.exceptions.SSLError):
        error = urllib3.exceptions.MaxRetryError(pool, path, exc)  # type: ignore[arg-type]
        return requests.exceptions.SSLError(error, request=prepared)
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError and NameResolutionError too
        error = urllib3.exceptions.MaxRetryError(pool, path, exc)  # type: ignore[arg-type]
        if not isinstance(exc, urllib3.exceptions.NewConnectionError):
            return requests.exceptions.ConnectTimeout(error, request=prepared)
        return requests.exceptions.ConnectionError(error, request=prepared)
    if isinstance(exc, TimeoutError) or (isinstance(exc, OSError) and exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK)):
        late = urllib3.exceptions.ReadTimeoutError(pool, path, "Read timed out.")  # type: ignore[arg-type]
        return requests.exceptions.ReadTimeout(late, request=prepared)
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", exc),
                                                   request=prepared)
    return requests.exceptions.ConnectionError(exc, request=prepared)  # urllib3's ProtocolError, as requests wraps it


class Response:
    """One hop's response: status and headers read, the body still on the connection.

    What `crawler.worker.fetch` reads of a `requests.Response` is here under
    the same names (``status_code``, ``reason``, ``headers``, ``cookies``,
    ``url``, ``request``, ``close``, a with-block), and the body is read raw
    (Content-Encoding intact) through ``raw`` (this object): ``read1``,
    ``read``, ``length_remaining``. Closing gives the connection back for
    the next request when the body was read to its end and the response
    allows it, and closes it otherwise.
    """

    __slots__ = ("status_code", "reason", "headers", "cookies", "url", "request", "sent", "ip", "version", "_response",
                 "_conn", "_pool", "_key", "_reusable", "_ended", "_closed", "_read")

    def __init__(self, session: requests.Session, prepared: requests.PreparedRequest, url: str,
                 response: http.client.HTTPResponse, conn: HTTPConnection, pool: LeanPool, key: Key,
                 ip: str | None) -> None:
        self.status_code = response.status
        self.reason = response.reason
        self.version = response.version
        self.url = url
        self.request = prepared
        #: with ``peer`` (``--warc``): the request line and headers as sent
        self.sent: bytes | None = None
        self.ip = ip
        self.headers = Headers(response.msg)
        lengths = self.headers.get("content-length")
        if lengths is not None and "," in lengths and not _chunked(self.headers):
            _one_length(lengths)
        self._response = response
        self._conn = conn
        self._pool = pool
        self._key = key
        # Framed twice: which framing the server meant is in doubt (RFC 9112 6.3: close after it).
        self._reusable = not ("transfer-encoding" in self.headers and "content-length" in self.headers)
        self._ended = False
        self._closed = False
        self._read = 0  # body bytes read, as received
        #: the cookies this response set (and the jar accepted); None when it set none
        self.cookies: RequestsCookieJar | None = None
        if "set-cookie" in self.headers or "set-cookie2" in self.headers:
            # Into the session's jar for the next hops, and apart, for the other threads (fetch's result).
            self.cookies = RequestsCookieJar()
            _internals.extract_cookies(self.cookies, prepared, response)
            _internals.extract_cookies(session.cookies, prepared, response)

    @property
    def raw(self) -> Response:
        """The body's reader: this response (as ``requests.Response.raw`` is urllib3's)."""
        return self

    #: requests' path keeps a connection framed twice here, for fetch to close; this one never reuses it
    connection = None

    @property
    def fields(self) -> list[tuple[str, str]]:
        """The header fields as received, in order."""
        # raw_items: items() runs each value through the email policy, which
        # changes only text with surrogates, and http.client decodes a head as latin-1.
        return list(self._response.msg.raw_items())

    @property
    def length_remaining(self) -> int | None:
        """Body bytes still to come by Content-Length (None: not framed by length)."""
        return _internals.body_left(self._response)

    def redirect_target(self) -> str | None:
        """The Location of a redirect requests would follow, as ``Session.get_redirect_target`` reads it."""
        if self.status_code in REDIRECT_STATUSES and "location" in self.headers:
            # http.client decoded the header as latin-1; servers send UTF-8 (as requests reads it).
            return self.headers["location"].encode("latin1").decode("utf8")
        return None

    def read1(self, amount: int, decode_content: bool = False) -> bytes:
        """At most ``amount`` bytes of the body as received, after at most one recv(); b"" at its end.

        Errors are urllib3's, as its response raises them (fetch words them).
        """
        assert not decode_content, "the body is read raw: crawler.worker.capture.RawBody decodes it"
        if self._closed or self._ended:
            return b""
        try:
            chunk = self._response.read1(amount)
        except TimeoutError:
            self._reusable = False
            raise
        except ssl.SSLError as exc:
            self._reusable = False
            raise urllib3.exceptions.SSLError(exc) from exc
        except (http.client.HTTPException, OSError, ValueError) as exc:
            self._reusable = False
            raise urllib3.exceptions.ProtocolError(f"Connection broken: {exc!r}", exc) from exc
        if chunk:
            self._read += len(chunk)
            return chunk
        left = _internals.body_left(self._response)
        if left:  # the connection ended before the length said
            self._reusable = False
            short = urllib3.exceptions.IncompleteRead(self._read, left)
            raise urllib3.exceptions.ProtocolError(f"Connection broken: {short!r}", short)
        self._ended = True
        return b""

    def read(self, amount: int, decode_content: bool = False) -> bytes:
        """Up to ``amount`` bytes of the body as received (fewer only at its end)."""
        parts: list[bytes] = []
        size = 0
        while size < amount:
            chunk = self.read1(amount - size, decode_content)
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        """Done with the response: its connection kept for the next request if it may be, else closed."""
        if self._closed:
            return
        self._closed = True
        response = self._response
        keep = self._ended and self._reusable and not _internals.closes_after(response)
        response.close()  # the response's end: http.client lets the connection take the next request
        if keep:
            self._pool.give(self._key, self._conn)
        else:
            self._conn.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _chunked(headers: Headers) -> bool:
    return "chunked" in (coding.strip() for coding in headers.get("transfer-encoding", "").lower().split(","))


def _one_length(lengths: str) -> None:
    # Content-Length sent more than once, or as a list (RFC 9110 8.6: "42, 42"): the
    # same length each time is that length; two lengths leave the body's end in
    # doubt, and urllib3 refuses the response (http.client would go by the first).
    try:
        values = {int(value) for value in lengths.split(",")}
    except ValueError:
        return  # not a number: http.client and urllib3 both read the body to the close
    if len(values) > 1:
        raise urllib3.exceptions.InvalidHeader(f"Content-Length contained multiple unmatching values ({lengths})")


class Headers(Mapping[str, str]):
    """A response's header fields by name, in any case, as requests' ``CaseInsensitiveDict``
    reads them: a header sent more than once is its values joined by ", " (as urllib3's
    HTTPHeaderDict gives them to requests), under the first spelling of its name.

    Why not a ``CaseInsensitiveDict``: filling one goes through ``MutableMapping.update``,
    a Python call per field, and it was built anew for every response (~6 % of a
    fetch's time in a profile); this one keeps the dict it is built from.
    """

    __slots__ = ("_fields",)

    def __init__(self, message: http.client.HTTPMessage) -> None:
        fields: dict[str, tuple[str, str]] = {}  # lower-case name -> (name as first sent, value)
        # raw_items, as `LeanResponse.fields`: the same values here (a latin-1 head), without
        # three calls into the email policy per field (2.6 -> 1.2 µs for a bench response).
        for name, value in message.raw_items():
            folded = name.lower()
            known = fields.get(folded)
            fields[folded] = (known[0], f"{known[1]}, {value}") if known is not None else (name, value)
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()][1]

    def get(self, name: str, default: Any = None) -> Any:  # noqa: D102 - Mapping's
        field = self._fields.get(name.lower())
        return default if field is None else field[1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)
