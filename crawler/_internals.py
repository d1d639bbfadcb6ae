"""Every place the crawler leans on another library's internals, in one module.

Much of the crawler's speed comes from going under the public surface of
``multiprocessing.pool``, ``http.client`` and ``email``, requests and urllib3:
a Pool whose worker processes run many tasks at once, a header parser
without the email package, a GET that skips requests' per-request merging.
Each such touch lives here, behind a small named function or class that the
rest of the package calls, with a note on what it touches, why, and what it
was measured to gain (figures from the commits that brought each in).

`PRIVATE_ATTRIBUTES` lists every private or undocumented name relied on,
and every function replaced; ``tests/unit/test_internals.py`` checks that
each still exists, so an upgrade that drops one fails loudly, by name.

``CRAWLER_STOCK=1`` in the environment (read once, when this module is first
imported; forked workers inherit the choice) runs the stock code instead
wherever there is one:

- http.client parses response headers itself (`install_header_parser` does nothing);
- sessions mount the watched adapter without `AdapterFastPaths`
  (``crawler.worker.fetch.make_session``), and `send_get` is ``session.get``;
- fetch sends every hop through requests: no lean transport
  (``crawler.worker.transport``, which `read_response` and the functions
  after it serve);
- the Pool keeps its own ``_get_sentinels`` (its ``_help_stuff_finish`` is
  replaced either way: the stock one can hang, see below);
- results reach the result pipe only through the sender thread, one
  ``SimpleQueue.put`` each (`send_results`, `try_send`).

What has no stock alternative stays on: the threaded worker loop
(`PoolHooks.Process` and the pipe protocol below; a stock worker runs one task
at a time), the slot-release notices that loop sends (`install_notice_sink`,
`new_result`: the crawl's ``-c`` counts requests in flight through them), and
the watchdog's hook before each request (`BeforeEachRequest`: nothing public
bounds the header phase of a response).

This is a shared leaf: the main process (``crawler.engine.pool``) and the
workers both import it, and it imports nothing else of the crawler. Only the
standard library is imported at module level; requests and urllib3 are
imported inside the functions that use them, which only worker processes
call, so the main process never loads them (see ``crawler.worker.entry``).
"""

from __future__ import annotations

import contextlib
import http.client
import multiprocessing.pool as mpool
import multiprocessing.queues
import multiprocessing.reduction
import os
import queue
import re
import socket
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from http.cookiejar import CookieJar
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Lock

    import requests
    import requests.cookies
    import requests.exceptions
    import requests.structures
    import requests.utils
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool
    from urllib3.poolmanager import PoolManager
    from urllib3.response import BaseHTTPResponse

    # The mixins below subclass these for the type checker only: at run time
    # they sit in front of the real class in the subclass's bases.
    _AdapterBase = HTTPAdapter
    _ConnectionPoolBase = HTTPConnectionPool
    _ConnectionBase = HTTPConnection
else:
    _AdapterBase = _ConnectionPoolBase = _ConnectionBase = object

#: True when ``CRAWLER_STOCK`` is set to anything but "" or "0": run the stock code paths.
STOCK: Final[bool] = os.environ.get("CRAWLER_STOCK", "") not in ("", "0")


class Reliance(NamedTuple):
    """A name of another library the crawler relies on: ``module``'s ``path`` (dotted)."""

    module: str
    path: str
    #: set by the owner's ``__init__``: only an instance of ``path``'s first part has it
    on_instance: bool = False


#: Every private or undocumented name used here, and every function replaced.
PRIVATE_ATTRIBUTES: Final[tuple[Reliance, ...]] = (
    # The threaded pool (PoolHooks and the worker-side functions after it).
    Reliance("multiprocessing.pool", "Pool.Process"),
    Reliance("multiprocessing.pool", "Pool._get_sentinels"),
    Reliance("multiprocessing.pool", "Pool._help_stuff_finish"),
    Reliance("multiprocessing.pool", "Pool._check_running"),
    Reliance("multiprocessing.pool", "Pool._setup_queues"),
    Reliance("multiprocessing.pool", "Pool._ctx", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._state", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._outqueue", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._quick_put", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._quick_get", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._result_handler", on_instance=True),
    Reliance("multiprocessing.pool", "RUN"),
    Reliance("multiprocessing.pool", "Pool._cache", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._taskqueue", on_instance=True),
    Reliance("multiprocessing.pool", "Pool._change_notifier", on_instance=True),
    Reliance("multiprocessing.pool", "ApplyResult._set"),
    Reliance("multiprocessing.pool", "ApplyResult._job", on_instance=True),
    Reliance("multiprocessing.pool", "job_counter"),
    Reliance("multiprocessing.pool", "worker"),
    Reliance("multiprocessing.pool", "ExceptionWithTraceback"),
    Reliance("multiprocessing.pool", "MaybeEncodingError"),
    Reliance("multiprocessing.queues", "SimpleQueue._reader", on_instance=True),
    Reliance("multiprocessing.queues", "SimpleQueue._writer", on_instance=True),
    Reliance("multiprocessing.queues", "SimpleQueue._rlock", on_instance=True),
    Reliance("multiprocessing.queues", "SimpleQueue._wlock", on_instance=True),
    Reliance("multiprocessing.reduction", "ForkingPickler.dumps"),
    # The header parser.
    Reliance("http.client", "parse_headers"),
    Reliance("http.client", "_MAXLINE"),
    Reliance("http.client", "_MAXHEADERS"),
    Reliance("email.message", "Message.set_raw"),
    # Interim responses.
    Reliance("http.client", "HTTPResponse._read_status"),
    # The watchdog's hook.
    Reliance("urllib3.connectionpool", "HTTPConnectionPool._make_request"),
    Reliance("urllib3.poolmanager", "pool_classes_by_scheme"),
    Reliance("urllib3.poolmanager", "PoolManager.pool_classes_by_scheme", on_instance=True),
    # The address policy's hook.
    Reliance("urllib3.connection", "HTTPConnection._new_conn"),
    Reliance("urllib3.connection", "HTTPConnection._dns_host", on_instance=True),
    # The adapter's and the GET's fast paths.
    Reliance("requests.adapters", "HTTPAdapter.get_connection_with_tls_context"),
    Reliance("requests.adapters", "HTTPAdapter.request_url"),
    Reliance("requests.adapters", "HTTPAdapter.build_response"),
    Reliance("requests.cookies", "extract_cookies_to_jar"),
    Reliance("requests.cookies", "get_cookie_header"),
    Reliance("requests.models", "PreparedRequest._cookies", on_instance=True),
    # The raw body of a --warc capture.
    Reliance("urllib3.response", "_get_decoder"),
    Reliance("urllib3.response", "BaseHTTPResponse.CONTENT_DECODERS"),
    Reliance("urllib3.response", "BaseHTTPResponse.DECODER_ERROR_CLASSES"),
    # The peer's address in a --warc capture.
    Reliance("urllib3.response", "HTTPResponse._fp", on_instance=True),
    Reliance("http.client", "HTTPResponse.fp", on_instance=True),
    Reliance("socket", "SocketIO._sock", on_instance=True),
    # The lean transport (crawler.worker.transport).
    Reliance("urllib3.response", "HTTPResponse._original_response", on_instance=True),
    Reliance("http.client", "HTTPResponse.length", on_instance=True),
    Reliance("http.client", "HTTPResponse.will_close", on_instance=True),
)


# -- multiprocessing.pool: a Pool whose workers run many tasks at once --------------
#
# Why: a stock Pool worker runs one call at a time, so I/O-bound fetching
# would need a process per request in flight. `PoolHooks.Process` starts each
# worker on `crawler.worker.serve.serve_threaded` instead of the stock loop
# (``multiprocessing.pool.worker``); it speaks the stock loop's protocol on
# both pipes (tasks ``(job, i, func, args, kwds)``, results ``(job, i, (ok,
# value))``, ``None`` to stop), so apply_async and its callbacks work as
# before. Gain: one reader and one batching sender thread per process cut the
# time results waited on the result pipe's lock (~60 ms at -c 64 on the 50 ms
# site) and main CPU 2.4 -> 1.3 s (7519e5b). No stock alternative: the loop
# needs this protocol, and a stock worker runs one task at a time.


class _PipeQueue(Protocol):
    """A `multiprocessing.SimpleQueue`'s private parts: its pipe's two ends and their locks."""

    _reader: Connection
    _writer: Connection
    _rlock: Lock
    _wlock: Lock | None

    def put(self, obj: Any) -> None: ...


class PoolHooks(mpool.Pool):
    """A `multiprocessing.pool.Pool` whose worker processes run ``worker_loop`` instead of the stock loop.

    Each new worker process calls ``worker_loop(*loop_args, stock_target,
    stock_args)``, where ``stock_args`` are what the stock loop would have
    been called with (`worker_args` names them). Unless `STOCK`, the Pool's
    handler threads also skip two waits of the stock Pool (see
    ``_get_sentinels`` and ``_help_stuff_finish`` below).
    """

    # Set by Pool.__init__; typeshed leaves them out.
    _ctx: Any
    _state: str
    _inqueue: Any
    _outqueue: ResultPipe
    _quick_put: Callable[[Any], None]
    _quick_get: Callable[[], Any]
    _result_handler: threading.Thread
    _cache: dict[int, Any]
    _taskqueue: queue.SimpleQueue[Any]
    _change_notifier: _PipeQueue
    if TYPE_CHECKING:
        def _check_running(self) -> None: ...

    def __init__(self, processes: int, initializer: Callable[..., object] | None, initargs: Iterable[Any],
                 context: Any, worker_loop: Callable[..., None], loop_args: tuple[Any, ...]) -> None:
        # Read by Process(), which Pool.__init__ calls.
        self._worker_loop = worker_loop
        self._loop_args = loop_args
        super().__init__(processes, initializer, initargs, context=context)

    # Pool.Process: Pool starts every worker with ``self.Process(ctx,
    # target=worker, args=(...))``. A staticmethod there (and in typeshed:
    # hence the ignore); an instance method here, which the lookup on self binds.
    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # type: ignore[override]  # noqa: N802
        """Start a worker process that runs ``worker_loop`` in place of the stock loop."""
        kwds["args"] = (*self._loop_args, kwds["target"], kwds["args"])
        kwds["target"] = self._worker_loop
        return ctx.Process(*args, **kwds)

    if not STOCK:
        # Pool._get_sentinels: what the worker handler thread waits on. The
        # stock list also holds the result pipe's reader, so that thread woke
        # up, found nothing to do and polled again for as long as a result
        # sat unread: a busy loop taking ~23 % of the main process's GIL
        # samples on a fast site. Worker deaths still wake it (their process
        # sentinels), and so does the change notifier. Gain: main CPU on the
        # fast site 3.7 -> 1.7 s at -c 16, 2.7 -> 1.4 s at -c 64 (4af7e33).
        def _get_sentinels(self) -> list[Any]:
            return [self._change_notifier._reader]

    # Pool._setup_queues: the stock one makes both pipes as SimpleQueues; the
    # result pipe here is a `ResultPipe`, whose put in the main process cannot
    # wait forever for a lock a dead worker holds (see there). A correctness
    # fix: it stays on under `STOCK`.
    def _setup_queues(self) -> None:
        self._inqueue = self._ctx.SimpleQueue()
        self._outqueue = ResultPipe(self._ctx, self)
        self._quick_put = self._inqueue._writer.send
        self._quick_get = self._outqueue._reader.recv

    # Pool._help_stuff_finish: terminate() drains the task pipe under its
    # read lock. The stock version waits for that lock, but a worker's
    # reader thread may block in recv() holding it, so it may never come
    # free: take it only if it does soon. Nothing needs draining then,
    # since the crawl never queues more tasks than fit in the pipe. Gain:
    # none in speed; terminate() cannot hang on a lock held by a reader, or
    # by a worker that died holding it (a SIGTERM to the whole process group
    # hung the stock version in 1 of 4 runs). A correctness fix: it stays on
    # under `STOCK`.
    @staticmethod
    def _help_stuff_finish(inqueue: _PipeQueue, task_handler: threading.Thread, size: int) -> None:
        if inqueue._rlock.acquire(timeout=0.2):
            while task_handler.is_alive() and inqueue._reader.poll():
                inqueue._reader.recv()


class ResultPipe(multiprocessing.queues.SimpleQueue[Any]):
    """The Pool's result pipe, whose ``put`` in the main process never waits forever.

    The main process writes only stop sentinels here (``Pool._handle_tasks``
    and ``Pool._terminate_pool``), under the lock every worker takes to send
    results. A worker killed while it held that lock (by terminate()'s own
    SIGTERM, or a SIGTERM to the whole process group) never lets go, and the
    stock put then waits forever: terminate() hung joining the task handler
    (5 of 5 loops of pools ended at random moments; 0 in 4000 with this).
    So the main process waits for the lock in short steps, and gives up:
    - once the result handler has ended: the sentinel is for it, and nobody
      reads the pipe any more;
    - once the pool is ending and the lock has not come free for
      `DEAD_LOCK_SECONDS`: its holder died with it, and the sentinel, a few
      bytes written at once, goes in without it.
    Workers (forked children) put as the stock queue does.
    """

    #: How long, when the pool is ending, the lock may stay taken before it is taken for dead.
    DEAD_LOCK_SECONDS = 2.0
    # SimpleQueue's own, as in `_PipeQueue` (typeshed leaves them out).
    _reader: Connection
    _writer: Connection
    _rlock: Lock
    _wlock: Lock | None

    def __init__(self, ctx: Any, pool: mpool.Pool) -> None:
        super().__init__(ctx=ctx)
        self._main_pid = os.getpid()
        self._pool = weakref.ref(pool)
        self._main_lock = threading.Lock()  # the main process's own threads take turns

    def __setstate__(self, state: Any) -> None:
        # A worker started by forkserver or spawn gets the queue pickled: it
        # puts as the stock queue does (the stock loop's put, under STOCK).
        super().__setstate__(state)
        self._main_pid = -1

    def put(self, obj: Any) -> None:
        """Write ``obj`` to the pipe; in the main process, give up as the class says."""
        if os.getpid() != self._main_pid or self._wlock is None:
            super().put(obj)
            return
        data = multiprocessing.reduction.ForkingPickler.dumps(obj)
        waited = 0.0
        while not self._wlock.acquire(timeout=0.1):
            waited += 0.1
            pool = self._pool()
            handler: threading.Thread | None = getattr(pool, "_result_handler", None)
            if handler is not None and not handler.is_alive():
                return
            if (pool is None or getattr(pool, "_state", None) != mpool.RUN) and waited >= self.DEAD_LOCK_SECONDS:
                with self._main_lock:
                    self._writer.send_bytes(data)
                return
        try:
            with self._main_lock:
                self._writer.send_bytes(data)
        finally:
            self._wlock.release()


def check_running(pool: PoolHooks) -> None:
    """Raise ValueError unless ``pool`` takes tasks (``Pool._check_running``, as apply_async does)."""
    pool._check_running()


def new_result(pool: PoolHooks, callback: Callable[[Any], object] | None,
               error_callback: Callable[[BaseException], object] | None,
               on_result: Callable[[int], None]) -> tuple[mpool.ApplyResult[Any], int]:
    """An `AsyncResult` in ``pool``'s cache, as apply_async makes one, and its job key.

    ``on_result(job)`` runs in the result thread when the task's result comes,
    before ``callback``. Queue the task with `queue_task`.
    """
    result = _Result(pool, callback, error_callback, on_result)
    return result, result._job


def queue_task(pool: PoolHooks, job: int, func: Callable[..., Any], args: Iterable[Any],
               kwds: Mapping[str, Any]) -> None:
    """Queue ``func(*args, **kwds)`` as job ``job``'s only task (``Pool._taskqueue``, as apply_async does)."""
    pool._taskqueue.put(([(job, 0, func, args, kwds)], None))


class _Result(mpool.ApplyResult[Any]):
    # ApplyResult(pool, callback, error_callback) registers itself in the
    # pool's cache under ``_job`` (``next(job_counter)``); the result handler
    # thread calls ``cache[job]._set(i, (ok, value))``.
    _job: int  # typeshed leaves it out

    def __init__(self, pool: PoolHooks, callback: Callable[[Any], object] | None,
                 error_callback: Callable[[BaseException], object] | None, on_result: Callable[[int], None]) -> None:
        self._on_result = on_result
        super().__init__(pool, callback, error_callback)

    def _set(self, i: int, obj: tuple[bool, Any]) -> None:
        self._on_result(self._job)
        super()._set(i, obj)  # type: ignore[misc]  # ApplyResult._set is private: typeshed leaves it out


#: The job key of out-of-band notices on the result pipe: never a real job's
#: (``multiprocessing.pool.job_counter`` counts up from 0).
NOTICE_JOB: Final = -1


def install_notice_sink(pool: PoolHooks, key: int, on_notice: Callable[[int], None]) -> None:
    """Have ``pool``'s result thread call ``on_notice(i)`` for each ``(key, i, obj)`` on the result pipe.

    The release notices of tasks that give their slot back early
    (``crawler.worker.serve.release_slot``) travel this way: the result
    handler looks each message's key up in ``Pool._cache`` and calls
    ``_set(i, obj)`` on what it finds. Gain of releasing slots early: lat
    c16 281 -> 286 p/s, lat c64 677 -> 704, --select c16 187 -> 213 (A/B
    alternated 5x, 22e660f). No stock alternative: the Pool has no other
    way to hear from a task before its result.
    """
    pool._cache[key] = _NoticeSink(on_notice)


def remove_notice_sink(pool: PoolHooks, key: int) -> None:
    """Take `install_notice_sink`'s sink out of ``pool``'s cache (close() waits for an empty cache)."""
    if key in pool._cache:
        del pool._cache[key]  # del, not pop: the cache (a _PoolCache) notifies when it empties


def install_message_sink(pool: PoolHooks, key: int, on_message: Callable[[int, object], None]) -> None:
    """As `install_notice_sink`, and ``on_message(i, obj)`` gets the message's object too.

    The start-up reports of worker processes travel this way
    (``crawler.worker.serve``): ready, or what failed (no stock alternative:
    the Pool replaces a worker that dies in its initializer, forever).
    """
    pool._cache[key] = _MessageSink(on_message)


class _MessageSink:
    __slots__ = ("_on_message",)

    def __init__(self, on_message: Callable[[int, object], None]) -> None:
        self._on_message = on_message

    def _set(self, i: int, obj: object) -> None:
        self._on_message(i, obj)


class _NoticeSink:
    __slots__ = ("_on_notice",)

    def __init__(self, on_notice: Callable[[int], None]) -> None:
        self._on_notice = on_notice

    def _set(self, i: int, obj: object) -> None:
        del obj
        self._on_notice(i)


# -- the worker side of the same protocol ---------------------------------------------


class WorkerArgs(NamedTuple):
    """What the Pool passes the stock worker loop, ``multiprocessing.pool.worker(...)``, in its order."""

    inqueue: Any
    outqueue: Any
    initializer: Callable[..., object] | None
    initargs: tuple[Any, ...]
    maxtasks: int | None
    wrap_exception: bool


def worker_args(args: tuple[Any, ...]) -> WorkerArgs:
    """Name the stock loop's arguments, as `PoolHooks.Process` hands them to the worker loop."""
    return WorkerArgs(*args)


def close_unused_ends(inqueue: _PipeQueue, outqueue: _PipeQueue) -> None:
    """Close the pipe ends a worker does not use, as the stock loop does first.

    Call once, before any thread starts (threads closing them raced: EBADF, 56ed4af).
    """
    if hasattr(inqueue, "_writer"):
        inqueue._writer.close()
        outqueue._reader.close()


# Both undocumented classes of multiprocessing.pool, which typeshed leaves out:
# the stock loop wraps a task's exception so its traceback crosses the pipe,
# and an unpicklable result so it fails its task rather than the pool.
_ExceptionWithTraceback: Callable[[BaseException, TracebackType | None], object] = (
    mpool.ExceptionWithTraceback)  # type: ignore[attr-defined]  # undocumented, not in typeshed
_MaybeEncodingError: Callable[[BaseException, object], Exception] = (
    mpool.MaybeEncodingError)  # type: ignore[attr-defined]  # undocumented, not in typeshed


def task_error(exc: BaseException) -> object:
    """``exc`` wrapped as the stock loop wraps a failed task's exception (``wrap_exception``)."""
    return _ExceptionWithTraceback(exc, exc.__traceback__)


def result_payload(item: tuple[int, int, tuple[bool, Any]]) -> memoryview:
    """``item`` pickled as the result pipe carries it; an unpicklable result fails its task."""
    dumps = multiprocessing.reduction.ForkingPickler.dumps
    try:
        return dumps(item)
    except Exception as exc:
        job, i, result = item
        return dumps((job, i, (False, _MaybeEncodingError(exc, result[1]))))


def send_results(outqueue: _PipeQueue, items: list[tuple[int, int, tuple[bool, Any]]]) -> None:
    """Write ``items`` to the result pipe (the sender thread's batch).

    All under one take of the pipe's write lock (``SimpleQueue._wlock``, shared
    by every process), pickled before it. Why: when every fetch thread wrote
    its own result, a thread holding the lock often had to wait for its own
    process's GIL before it could let go, and the rest queued behind it: at
    -c 64, 20 of a process's 32 threads sat in that lock, each result waiting
    ~60 ms (7519e5b, with the reader thread: main CPU 2.4 -> 1.3 s). `STOCK`:
    one ``SimpleQueue.put`` per item.
    """
    if STOCK:
        for item in items:
            _put_result(outqueue, item)
        return
    payloads = [result_payload(item) for item in items]
    with outqueue._wlock or contextlib.nullcontext():
        for payload in payloads:
            outqueue._writer.send_bytes(payload)


def _put_result(outqueue: _PipeQueue, item: tuple[int, int, tuple[bool, Any]]) -> None:
    # The stock loop's own way, MaybeEncodingError included.
    try:
        outqueue.put(item)
    except Exception as exc:
        job, i, result = item
        outqueue.put((job, i, (False, _MaybeEncodingError(exc, result[1]))))


def try_send(outqueue: _PipeQueue, item: tuple[int, int, tuple[bool, Any]]) -> bool:
    """Write ``item`` to the result pipe from this thread if its lock is free at once; False if not.

    Why: handing a result over to the sender thread costs a wake-up and a turn
    at the GIL, milliseconds when the process is busy; never waiting for the
    lock keeps the queueing above away (104f6f4; no A/B figure of its own:
    it came with the early slot release, lat -c 16 280 -> 286 p/s, a8cec57).
    `STOCK`: always False (results go through the sender only).
    """
    if STOCK:
        return False
    wlock = outqueue._wlock
    if wlock is None:
        return False
    payload = result_payload(item)  # before the lock, which every process's results wait for
    if not wlock.acquire(False):
        return False  # rare: the sender pickles it again
    try:
        outqueue._writer.send_bytes(payload)
    finally:
        wlock.release()
    return True


# -- http.client and email: the response header parser ---------------------------------
#
# Why: http.client hands each response's header block to the email package's
# general-purpose FeedParser (MIME structure, unix "From " lines, a defect
# list): ~10 % of a worker's CPU on a fast site. crawler.worker.headers builds
# the same HTTPMessage without it. Gain: 72 -> 32 µs CPU per response; A/B
# alternated 5x, fast/list c16/c64 +3-5 % pages/s (5fd4d60).

#: http.client's limits on a header line's length and on the number of header
#: lines (private constants; the defaults are their values in 3.10-3.13).
HEADER_LINE_MAX: Final[int] = getattr(http.client, "_MAXLINE", 65536)
HEADER_COUNT_MAX: Final[int] = getattr(http.client, "_MAXHEADERS", 100)


def install_header_parser(parse: Callable[..., http.client.HTTPMessage]) -> None:
    """Make http.client (and so urllib3 and requests) in this process parse headers with ``parse``.

    Replaces ``http.client.parse_headers``, the module function
    ``HTTPResponse.begin`` calls. `STOCK`: does nothing.
    """
    if STOCK:
        return
    http.client.parse_headers = parse  # type: ignore[assignment]  # replacing the module's function on purpose


def header_message(cls: type[http.client.HTTPMessage], fields: list[list[str]]) -> http.client.HTTPMessage:
    """A ``cls`` holding ``fields`` (each a header line and its folded continuation lines).

    Stored as the email package's parser stores them: with
    ``Message.set_raw`` (documented as "an internal API, intended only for
    use by a parser"), after compat32's ``header_source_parse``.
    """
    message = cls()
    for source in fields:
        name, value = source[0].split(":", 1)
        message.set_raw(name, (value.lstrip(" \t") + "".join(source[1:])).rstrip("\r\n"))
    return message



# -- http.client: interim (1xx) responses ----------------------------------------------
#
# Why: http.client (3.10-3.12) skips only a "100 Continue" before the final
# response; any other 1xx ("103 Early Hints", "102 Processing") was taken
# as the final response, with no body, and the real response, left unread on
# the kept-alive connection, became the answer to the next request sent on
# it (issue 16, defect 15). Browsers and curl skip every interim response.
# A correctness fix, not a speed-up: it stays on under `STOCK`.

#: interim responses skipped before one final response, at most (then the response is refused)
INTERIM_MAX: Final[int] = 20


class SkipInterimResponses(http.client.HTTPResponse):
    """An `http.client.HTTPResponse` that skips every interim 1xx response but 101.

    Overrides ``HTTPResponse._read_status`` (private; ``begin`` calls it for
    each status line until one is not 100). A ``101 Switching Protocols``
    is final (nobody asked for it: the fetch refuses it and closes the connection).
    """

    def _read_status(self) -> tuple[str, int, str]:
        for _ in range(INTERIM_MAX):
            version, status, reason = super()._read_status()  # type: ignore[misc]  # private: not in typeshed
            if not 100 <= status < 200 or status == 101:
                return version, status, reason
            for _ in range(HEADER_COUNT_MAX + 1):  # the interim response's header block, read and dropped
                line = self.fp.readline(HEADER_LINE_MAX + 1)
                if len(line) > HEADER_LINE_MAX:
                    raise http.client.LineTooLong("header line")
                if line in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException(f"got more than {HEADER_COUNT_MAX} headers")
        raise http.client.HTTPException(f"more than {INTERIM_MAX} interim responses")


# -- urllib3: the watchdog's hook before each request ----------------------------------


class BeforeEachRequest(_ConnectionPoolBase):
    """Mixin for urllib3 connection pools: ``before_request(conn)`` runs before each request on ``conn``.

    Put it before ``HTTPConnectionPool`` (or a subclass) in the bases. It hooks
    ``HTTPConnectionPool._make_request``, a urllib3 internal (unchanged from
    1.26 through 2.x), because nothing public runs on a reused keep-alive
    connection before its request. Why: the fetch watchdog
    (``crawler.worker.watchdog``) must know which socket a request uses to cut
    it at its deadline; without it, a server dripping its status line or
    headers held a fetch forever (a24580b). No stock alternative.
    """

    def before_request(self, conn: HTTPConnection) -> None:
        """Called with the connection a request is about to be sent on."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        self.before_request(conn)
        return super()._make_request(conn, *args, **kwargs)


class ConnectToChosenAddress(_ConnectionBase):
    """Mixin for urllib3 connections: ``choose_addresses(host, port)`` resolves the host and says
    which of its addresses a new connection may go to (None: urllib3's own resolution).

    Put it before ``HTTPConnection`` (or a subclass) in the bases. It hooks
    ``HTTPConnection._new_conn`` and sets ``_dns_host``, urllib3 internals
    (unchanged from 2.0 through 2.x; ``_dns_host`` is the name urllib3
    connects to, apart from ``host``, which TLS checks and the Host header
    use). Why: the address policy (``crawler.worker.addresses``) must see the
    addresses after resolution and before any connection, and connect to the
    address it checked, not to what a second resolution returns (DNS
    rebinding); nothing public runs between the two. No stock alternative.
    A connection to a proxy is left alone (the proxy resolves the target).
    """

    def choose_addresses(self, host: str, port: int) -> Sequence[str] | None:
        """The addresses a new connection to ``host`` may use, in order (None: any, as urllib3 resolves)."""
        return None

    def _new_conn(self) -> socket.socket:
        from urllib3.exceptions import NameResolutionError, NewConnectionError

        if self.proxy is not None:
            return super()._new_conn()
        name = self._dns_host
        try:
            chosen = self.choose_addresses(name, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        if not chosen:
            return super()._new_conn()
        failure: NewConnectionError | None = None
        try:
            for address in chosen:  # as urllib3's create_connection tries each address in turn
                self._dns_host = address
                try:
                    return super()._new_conn()
                except NewConnectionError as exc:
                    failure = exc
        finally:
            self._dns_host = name
        assert failure is not None
        raise failure


def has_stock_pool_classes(manager: PoolManager) -> bool:
    """Whether ``manager`` makes urllib3's own connection pools (and not, say, SOCKS ones)."""
    import urllib3.poolmanager

    return manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme


def set_pool_classes(manager: PoolManager, classes: dict[str, type]) -> None:
    """Have ``manager`` make its connection pools from ``classes`` (by scheme).

    ``PoolManager.pool_classes_by_scheme`` is undocumented, though urllib3
    sets it per instance "so other PoolManagers can override them".
    """
    manager.pool_classes_by_scheme = classes


# -- requests: the adapter's and the GET's fast paths ---------------------------------


class AdapterFastPaths(_AdapterBase):
    """requests' `HTTPAdapter` hooks, without per-request work that decides nothing.

    Put it before an ``HTTPAdapter`` subclass in the bases. Per request,
    requests' adapter looks the URL up in the proxy map and parses it three
    more times (pool key, TLS context, request line), stats the CA bundle
    path to tell a file from a folder, and runs the cookie jar's extraction
    (a mock request and response, two header scans) even when the response
    sets no cookie: ~15 % of a fetch's CPU on a local site. These overrides
    skip that work where it decides nothing and hand every other case (a
    proxy, a cookie) to requests' own code. They override documented hooks
    (``get_connection_with_tls_context`` is one since requests 2.32.2, the
    project's lower bound) but stand in for requests' bodies of them. Gain:
    A/B 5x, fast c16 1280 -> 1356, list c16 1289 -> 1356, list c64 1253 ->
    1328 pages/s (c5a941d). `STOCK`: sessions mount the adapter without this.
    """

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: bool | str | None,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: tuple[str, str] | str | None = None) -> ConnectionPool:
        """The connection pool for ``request``: requests' own when a proxy may apply."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        import requests

        url = request.url if isinstance(request.url, str) else str(request.url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise requests.exceptions.InvalidURL(exc, request=request) from exc
        pool: ConnectionPool = self.poolmanager.connection_from_host(
            scheme=parts.scheme.lower(), host=parts.hostname, port=port, pool_kwargs=dict(pool_kwargs(verify, cert)))
        return pool

    def request_url(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        """The request line's target: without a proxy, the path (as requests sends it)."""
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url

    def build_response(self, req: requests.PreparedRequest, resp: BaseHTTPResponse) -> requests.Response:
        """A `requests.Response` for urllib3's ``resp``; cookies read only if it sets some."""
        import requests  # its submodules are loaded with it; one import is the cheapest

        response = requests.Response()
        status = getattr(resp, "status", None)  # requests' own fallback
        if status is not None:  # else it stays None, as Response() made it
            response.status_code = status
        response.headers = requests.structures.CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw = resp
        if resp.reason is not None:  # else it stays None, as Response() made it
            response.reason = resp.reason
        url: str | bytes | None = req.url
        if isinstance(url, bytes):
            url = url.decode("utf-8")
        if url is not None:  # else it stays None, as Response() made it
            response.url = url
        if sets_cookies(resp):
            requests.cookies.extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self
        return response


def sets_cookies(resp: object) -> bool:
    """Whether a urllib3 response carries a header the cookie jar reads."""
    headers = getattr(resp, "headers", None)
    return headers is None or "set-cookie" in headers or "set-cookie2" in headers


@lru_cache(maxsize=16)
def pool_kwargs(verify: bool | str | None, cert: tuple[str, str] | str | None) -> dict[str, Any]:
    """The connection pool settings requests derives from ``verify`` and ``cert``.

    What requests' private ``_urllib3_request_context`` computes on every
    request, once per (verify, cert) here. Copy before changing it: it is cached.
    """
    kwargs: dict[str, Any] = {"cert_reqs": "CERT_NONE" if verify is False else "CERT_REQUIRED"}
    if isinstance(verify, str):
        kwargs["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
    if isinstance(cert, tuple) and len(cert) == 2:
        kwargs["cert_file"], kwargs["key_file"] = cert
    elif cert is not None:
        kwargs["cert_file"] = cert
    return kwargs


#: An http(s) URL ``PreparedRequest.prepare_url`` leaves as it is: a lower-case
#: host name or IPv4 address, a port without leading zeros, a path, maybe a
#: query, no credentials, no fragment, only characters it does not quote (a
#: ``%`` escape is checked against its requoting); no dot segment ("/." is
#: not taken, for it removes them).
_PLAIN_URL = re.compile(r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[1-9][0-9]{0,4})?"
                        r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?")


def prepare_get(session: requests.Session, url: str,
                headers: Mapping[str, str | bytes]) -> requests.PreparedRequest:
    """The GET of ``url`` with ``headers`` and the session's cookies and hooks, as ``prepare()`` makes it."""
    import requests

    prepared = requests.PreparedRequest()
    if (_PLAIN_URL.fullmatch(url) and "/." not in url[8:]
            and ("%" not in url or requests.utils.requote_uri(url) == url)):
        # What prepare() makes of such a URL is the URL itself, and it has no
        # credentials and the request no body: only the headers, the cookies
        # and the hooks are left to prepare. prepare() parsed and requoted the
        # URL and asked the cookie jar even when it was empty: 35 -> 14 us a
        # request in a microbenchmark on a loaded machine (tests/unit/
        # test_internals.py compares the two ways).
        prepared.method = "GET"
        prepared.url = url
        prepared.prepare_headers(headers)
        prepared._cookies = session.cookies  # type: ignore[attr-defined]  # set by prepare_cookies
        if len(session.cookies):
            header = requests.cookies.get_cookie_header(session.cookies, prepared)  # type: ignore[no-untyped-call]
            if header is not None:
                prepared.headers["Cookie"] = header
        prepared.prepare_hooks(session.hooks)
    else:
        prepared.prepare(method="GET", url=url, headers=headers, cookies=session.cookies, hooks=session.hooks)
    return prepared


def with_session_headers(session: requests.Session,
                         headers: Mapping[str, str | None] | None) -> Mapping[str, str | bytes]:
    """The session's headers with ``headers`` over them (``None`` drops one), as ``session.get``
    merges them: the session's own mapping when there is nothing to add (`prepare_get` copies it)."""
    if not headers:
        return session.headers
    import requests

    merged: requests.structures.CaseInsensitiveDict[str | bytes] = requests.structures.CaseInsensitiveDict(
        session.headers)
    for name, value in headers.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def send_get(session: requests.Session, url: str, timeout: float,
             headers: Mapping[str, str | None] | None) -> requests.Response:
    """One streamed GET of ``url``, not following redirects, as ``session.get`` would send it.

    Why: Session.request merges every setting of the session with the call's
    (several runtime Protocol isinstance checks each) and copies the cookie
    jar, ~0.3 ms a request; with nothing in the environment to merge, the
    request it prepares is this one. Then, for a GET that follows no
    redirect and has no proxy and no hook, Session.send comes down to the
    adapter's send and the response's cookies into the session's jar (read
    only if it set any). Gain: 1194 -> 1080 µs CPU median per fetch, A/B in
    one process (5484426); the adapter call as c5a941d. ``None`` in
    ``headers`` drops a session header. `STOCK`: ``session.get``.
    """
    if STOCK or session.trust_env or session.auth is not None:
        # Proxies and ~/.netrc come from the environment: requests' whole path.
        # verify passed on: requests would put an environment CA bundle over
        # the Session's own (psf/requests#3829), even over verify=False.
        return session.get(url, stream=True, timeout=timeout, allow_redirects=False, headers=headers,
                           verify=session.verify)
    import requests  # its submodules are loaded with it; one import is the cheapest

    prepared = prepare_get(session, url, with_session_headers(session, headers))
    verify = session.verify
    if session.proxies or session.hooks.get("response") or verify is None:
        return session.send(prepared, stream=True, timeout=timeout, allow_redirects=False)
    resp = session.get_adapter(url).send(prepared, stream=True, timeout=timeout, verify=verify,
                                         cert=session.cert, proxies={})
    if sets_cookies(resp.raw):
        requests.cookies.extract_cookies_to_jar(session.cookies, prepared, resp.raw)
    return resp



# -- http.client under urllib3's connections: the lean transport ----------------------
#
# Why: crawler.worker.transport makes a crawl's plain GET on the watched urllib3
# connection classes and reads the response with http.client, without
# urllib3's pool and response or requests' Session and Response: a whole
# crawl's CPU ~0.885-0.90 of requests' path (tests/benchmarks/
# lean_get_payoff.py, LEAN=2). What it needs below the public surface is
# here. `STOCK`: fetch takes requests' path (transport.pool_for says None).


def read_response(conn: HTTPConnection) -> http.client.HTTPResponse:
    """The response to the request sent on ``conn``, read by http.client's own ``getresponse``.

    urllib3's connection overrides ``getresponse`` to wrap the result in its
    own response (header checks, its decoders, the pool's bookkeeping);
    calling http.client's method on the urllib3 connection skips that and
    keeps the rest (``response_class``: interim responses skipped).
    """
    return http.client.HTTPConnection.getresponse(conn)


def body_left(response: http.client.HTTPResponse) -> int | None:
    """Body bytes still to come by Content-Length (None: chunked or read to the close).

    ``HTTPResponse.length``: set by ``begin`` and counted down by every read; undocumented.
    """
    length: int | None = response.length
    return length


def closes_after(response: http.client.HTTPResponse) -> bool:
    """Whether the connection ends with ``response`` (``Connection: close``, HTTP/1.0...).

    ``HTTPResponse.will_close``: set by ``begin``; undocumented.
    """
    return bool(response.will_close)


class _OriginalResponse:
    # What requests.cookies.extract_cookies_to_jar reads of urllib3's response:
    # ``_original_response``, the http.client response whose ``msg`` holds the headers.
    __slots__ = ("_original_response",)

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self._original_response = response


def extract_cookies(jar: CookieJar, request: requests.PreparedRequest, response: http.client.HTTPResponse) -> None:
    """Put the cookies ``response`` (http.client's) sets into ``jar``, as requests does for its responses.

    ``requests.cookies.extract_cookies_to_jar`` is public but takes urllib3's
    response and reads its private ``_original_response``: a stand-in with
    that one attribute hands it http.client's.
    """
    import requests.cookies

    requests.cookies.extract_cookies_to_jar(jar, request, _OriginalResponse(response))


# -- urllib3's content decoders, for a body read raw (``--warc``) --------------------------
#
# Why: the archive keeps a body as received, with its Content-Encoding, and
# the parser needs it decoded. Reading it raw and decoding it with urllib3's
# own decoders (the ones a decoding read uses, brotli and zstd included, and
# their max_length bound against bombs) reads the body once for both. No
# public API hands out a decoder; a decoding read would lose the raw bytes.


class ContentDecoder(Protocol):
    """urllib3's ``ContentDecoder``: ``decompress`` (bounded by ``max_length``) and ``flush``."""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...

    def flush(self) -> bytes: ...


def body_decoder(content_encoding: str) -> ContentDecoder | None:
    """The decoder urllib3 would use for ``content_encoding`` (lower case), or None when it
    would leave the body as it is (no coding, ``identity``, a coding it does not know)."""
    if not content_encoding:
        return None  # most responses: no import statement, no lookups (every fetch asks)
    from urllib3.response import BaseHTTPResponse, _get_decoder

    known = BaseHTTPResponse.CONTENT_DECODERS
    if content_encoding in known or any(e.strip() in known for e in content_encoding.split(",")):
        decoder: ContentDecoder = _get_decoder(content_encoding)
        return decoder
    return None


def peer_address(raw: object) -> str | None:
    """The IP address a urllib3 response is read from, or None (the connection is gone).

    Why: the archive's ``WARC-IP-Address``. The connection's ``sock`` is
    public, but http.client drops it as soon as the response says the
    connection will close (every HTTP/1.0 answer); the response's own file
    still reads from the socket, and only that path reaches it.
    """
    connection = getattr(raw, "connection", None)
    if getattr(connection, "sock", None) is not None:
        return connection_peer(connection)
    reader = getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None)
    return _ip_of(getattr(reader, "_sock", None))


def connection_peer(connection: object) -> str | None:
    """The IP address ``connection``'s socket is connected to, or None (not connected).

    Why here: a kept-alive connection answers many requests from one peer, so
    it is asked once per socket (getpeername lets go of the GIL, a hand-over
    in a busy worker), and the answer is kept on the connection, an attribute
    of the crawler's own beside urllib3's. The address policy
    (`crawler.worker.addresses.check_reused`) and the archive's
    ``WARC-IP-Address`` both ask.
    """
    sock = getattr(connection, "sock", None)
    known = getattr(connection, "_crawler_peer", None)
    if known is not None and known[0] is sock:
        return str(known[1]) if known[1] is not None else None
    ip = _ip_of(sock)
    if sock is not None and ip is not None:
        with contextlib.suppress(AttributeError):  # a connection class with __slots__
            connection._crawler_peer = (sock, ip)  # type: ignore[attr-defined]
    return ip


def _ip_of(sock: Any) -> str | None:
    try:
        address = sock.getpeername() if sock is not None else None
    except OSError:
        return None
    return str(address[0]) if isinstance(address, tuple) and address else None


def decoder_errors() -> tuple[type[BaseException], ...]:
    """What urllib3's decoders raise on a body that does not decode."""
    from urllib3.response import BaseHTTPResponse

    return tuple(BaseHTTPResponse.DECODER_ERROR_CLASSES)
