"""Whole-request deadlines for fetches: one watchdog thread per process.

requests' ``timeout`` bounds each socket operation, not the request. A
server that sends its status line or headers one byte at a time keeps every
recv() inside the read timeout, and http.client reads headers until they
end, so urllib3 can wait forever. (fetch.py bounds a dripping *body* itself,
reading it with read1() against the deadline; the header phase runs inside
urllib3 and http.client, out of its reach.)

How it works: a fetch runs inside ``with Deadline(timeout)``. The adapter
that `WatchedAdapter` builds tells the watchdog, before each request, which
connection the current thread is about to use (a new one or a reused
keep-alive one), and a new connection reports its socket once connected.
The lean transport (crawler.worker.transport) makes its connections from the
same classes (`CONNECTION_CLASSES`) and calls `before_reuse` itself.
One daemon thread per process
sleeps until the earliest deadline and shuts down (``SHUT_RDWR``) the socket
of every request past its own: the blocked recv() returns at once, urllib3
raises, and the fetch, seeing ``Deadline.expired``, reports a timeout.

Why a thread: SIGALRM reaches only the main thread, and requests run in
fetch threads. Why shutdown() and not close(): closing a file descriptor
another thread is blocked on leaves that thread waiting (and frees the fd
number for reuse at once); shutdown() wakes it and leaves closing to the
socket's owner.

Cost per request: a thread-local lookup and a few uncontended lock round
trips; the thread wakes about once per timeout period, not once per request.

Not watched, bounded otherwise: the TCP connect and the TLS handshake (fetch
gives each request the time left as its socket timeout, and CPython bounds
a whole connect() or do_handshake() by it). Not bounded: DNS resolution
(getaddrinfo cannot be interrupted; the resolver's own timeouts apply).

This hooks ``HTTPConnectionPool._make_request``, a urllib3 internal
(unchanged from 1.26 through 2.x; through `crawler._internals.BeforeEachRequest`),
and ``HTTPConnection.connect``; tests/unit/worker/test_watchdog.py fails if an
upgrade bypasses them.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import _internals
from . import addresses

_local = threading.local()


class Deadline:
    """The deadline of the fetch running in this thread, enforced by the watchdog.

    ``with Deadline(5.0) as d: session.get(...)``: past 5 s the socket in use
    is shut down and ``d.expired`` becomes True. Leaving the block
    unregisters it; after that the watchdog never touches its sockets.
    """

    __slots__ = ("at", "expired", "_sock")

    def __init__(self, timeout: float) -> None:
        self.at = time.monotonic() + timeout
        #: True once the watchdog has cut this request
        self.expired = False
        self._sock: socket.socket | None = None  # the socket in use, to cut

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def __enter__(self) -> Deadline:
        _local.deadline = self
        _watchdog().add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _local.deadline = None
        _watchdog().remove(self)


class _Watchdog:
    """The thread that cuts requests past their deadline."""

    def __init__(self) -> None:
        # The hot paths take the bare lock: Condition's own with-block adds
        # a Python-level call on every request.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._live: set[Deadline] = set()
        self._wake_at = math.inf  # when the thread looks next
        threading.Thread(target=self._run, name="fetch-watchdog", daemon=True).start()

    def add(self, deadline: Deadline) -> None:
        with self._lock:
            self._live.add(deadline)
            # Deadlines mostly come in increasing order: the thread is rarely woken early.
            if deadline.at < self._wake_at:
                self._wake_at = deadline.at
                self._cond.notify()

    def remove(self, deadline: Deadline) -> None:
        with self._lock:
            self._live.discard(deadline)

    def use(self, deadline: Deadline, sock: socket.socket | None) -> None:
        """``sock`` now carries ``deadline``'s request; cut at once if it is already past."""
        with self._lock:
            deadline._sock = sock
            if deadline.expired:
                _cut(sock)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                wake = math.inf
                for deadline in self._live:
                    if deadline.expired:
                        continue  # cut already; later sockets are cut in use()
                    if deadline.at <= now:
                        deadline.expired = True
                        _cut(deadline._sock)
                    elif deadline.at < wake:
                        wake = deadline.at
                self._wake_at = wake
                self._cond.wait(None if wake == math.inf else wake - now)


def _cut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:
        # socket.socket's own shutdown, also for an SSLSocket: its override
        # would drop the SSL object under the reading thread's feet.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):  # closed already (nothing to wake), or not a plain socket
        pass


_dog: _Watchdog | None = None
_dog_lock = threading.Lock()


def _watchdog() -> _Watchdog:
    global _dog
    dog = _dog
    if dog is None:
        with _dog_lock:
            if _dog is None:
                _dog = _Watchdog()
            dog = _dog
    return dog


def _forget_after_fork() -> None:
    # Threads do not survive fork(): a child starts its own watchdog on first use.
    global _dog, _dog_lock
    _dog = None
    _dog_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


# -- the urllib3 side -------------------------------------------------------------
def _use(sock: socket.socket | None) -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None:
        _watchdog().use(deadline, sock)


class _Checked(_internals.ConnectToChosenAddress):
    # The address policy (crawler.worker.addresses) picks what a new connection may connect to.
    def choose_addresses(self, host: str, port: int) -> list[str] | None:
        return addresses.choose(host, port)


class _WatchedHTTPConnection(_Checked, HTTPConnection):
    # Interim 1xx responses skipped, as browsers and curl skip them (see crawler._internals).
    response_class = _internals.SkipInterimResponses

    def connect(self) -> None:
        super().connect()
        _use(self.sock)


class _WatchedHTTPSConnection(_Checked, HTTPSConnection):
    # The socket is reported once the TLS handshake is done (before, it is
    # a plain socket about to be detached into an SSLSocket). The handshake
    # needs no watching: CPython bounds a whole do_handshake() by the
    # socket's timeout, which fetch sets to the time left.
    def connect(self) -> None:
        super().connect()
        _use(self.sock)


#: the connection classes by scheme, for a transport that keeps its own connections (crawler.worker.transport)
CONNECTION_CLASSES: dict[str, type[_WatchedHTTPConnection] | type[_WatchedHTTPSConnection]] = {
    "http": _WatchedHTTPConnection, "https": _WatchedHTTPSConnection}


def before_reuse(conn: HTTPConnection) -> None:
    """Before a kept-alive connection carries another request: the address policy's check
    again, for this fetch, and its socket to the watchdog for this fetch's deadline."""
    # A reused keep-alive connection has its socket already; a new one
    # reports it from connect().
    addresses.check_reused(conn)
    _use(conn.sock)


class _Watched(_internals.BeforeEachRequest):
    def before_request(self, conn: HTTPConnection) -> None:
        before_reuse(conn)


class _WatchedHTTPPool(_Watched, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_Watched, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES: dict[str, type] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An `HTTPAdapter` whose requests the watchdog can cut at their `Deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Build the pool manager with connection pools that report their sockets."""
        super().init_poolmanager(*args, **kwargs)
        _internals.set_pool_classes(self.poolmanager, _POOL_CLASSES)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The proxy's pool manager, with watched pools (SOCKS keeps its own)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if _internals.has_stock_pool_classes(manager):
            _internals.set_pool_classes(manager, _POOL_CLASSES)
        return manager
