"""`ThreadedPool`: a `multiprocessing.Pool` whose worker processes each run
several tasks at once.

A stock Pool worker runs one call at a time, so I/O-bound fetching would need
a process per request in flight. Here each worker process runs ``threads``
task threads behind one reader thread, which takes a task off the shared task
pipe whenever a task thread is idle, and one sender thread, which writes
finished results to the result pipe in batches. The protocol on both pipes is
the stock worker loop's (``multiprocessing.pool.worker``): every task is still
submitted with ``apply_async`` and answered through its callback, so nothing
else about the Pool changes.

A task may give its slot back before it ends (`release_slot`): from then on
its process may take another task, and the main process hears of it through
``apply_async(..., on_release=...)``. The crawl releases a page's slot once
its response is read when the parse would hold it up (see `crawler.worker.tasks`).

The threads are daemons and a worker never exits on its own, so end the pool
with `terminate()` (as ``with Pool(...)`` does), not ``close()``.
"""

from __future__ import annotations

import multiprocessing.pool as mpool
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import _internals
from ..errors import CrawlerError
from ..worker.serve import FAILED, READY, RELEASE_JOB, STARTUP_JOB, serve_threaded


class WorkerStartError(CrawlerError):
    """A worker process could not start (too many threads for the system, a failing
    initializer): the pool takes no task, rather than replacing it forever."""


class ThreadedPool(_internals.PoolHooks):
    """A Pool of ``processes`` workers, each serving ``threads`` tasks concurrently.

    The Pool internals it relies on are in `crawler._internals` (`PoolHooks`
    and the functions after it), with what each gains.
    """

    def __init__(self, processes: int, threads: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = (), context: Any = None, spare: int = 0) -> None:
        # Workers are forked with SIGTERM blocked and unblock it once they can
        # die of it: a child that had not run yet when terminate() signalled
        # it took the signal in Python's inherited handler, whose pending flag
        # the interpreter clears after fork (bpo-9535), and lived on, holding
        # terminate() in join() forever (1 run in ~50 that had nothing to do).
        # Threads started here (the Pool's handlers) keep it blocked, so a
        # worker they fork later does too.
        # Start-up reports (crawler.worker.serve): the sink goes in before the
        # first worker starts (`Process`), so no report can come before it.
        self._worker_count, self._threads = processes, max(1, threads)
        self._ready = 0
        self._started = threading.Event()
        self._start_error: str | None = None
        self._report_sink = False
        blocked = _block_sigterm()
        try:
            # ``spare`` threads more than slots finish the tasks that released theirs.
            super().__init__(processes, initializer, initargs, context, worker_loop=serve_threaded,
                             loop_args=(max(1, threads), max(0, spare)))
        finally:
            _restore_sigmask(blocked)
        self._releases: dict[int, Callable[[], None]] = {}
        _internals.install_notice_sink(self, RELEASE_JOB, self._released)

    def apply_async(self, func: Callable[..., Any], args: Iterable[Any] = (),
                    kwds: Mapping[str, Any] | None = None,
                    callback: Callable[[Any], object] | None = None,
                    error_callback: Callable[[BaseException], object] | None = None,
                    on_release: Callable[[], None] | None = None) -> mpool.ApplyResult[Any]:
        """`Pool.apply_async`, plus ``on_release()``: called (in the result thread) if the task
        gives its slot back with `release_slot` before it ends; always before ``callback``."""
        self._check_started()
        kwds = kwds or {}
        if on_release is None:
            return super().apply_async(func, args, kwds, callback, error_callback)
        _internals.check_running(self)
        result, job = _internals.new_result(self, callback, error_callback, on_result=self._forget_release)
        # Registered before the task is queued, so its notice cannot come first.
        self._releases[job] = on_release
        _internals.queue_task(self, job, func, args, kwds)
        return result

    def close(self) -> None:
        # The sinks stay in the cache for the pool's life; close() waits for an
        # empty cache, so they have to go first.
        _internals.remove_notice_sink(self, RELEASE_JOB)
        _internals.remove_notice_sink(self, STARTUP_JOB)
        super().close()

    def terminate(self) -> None:
        _internals.remove_notice_sink(self, RELEASE_JOB)
        _internals.remove_notice_sink(self, STARTUP_JOB)
        super().terminate()

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # type: ignore[override]  # noqa: N802
        """`PoolHooks.Process`, with the start-up report sink installed before the first worker."""
        if not self._report_sink:
            self._report_sink = True
            _internals.install_message_sink(self, STARTUP_JOB, self._start_report)
        return super().Process(ctx, *args, **kwds)

    def _start_report(self, outcome: int, obj: object) -> None:
        # In the result thread: a worker serves, or could not start.
        if outcome == READY:
            self._ready += 1
            if self._ready >= self._worker_count:
                self._started.set()
        elif outcome == FAILED and self._start_error is None:
            detail = obj[1] if isinstance(obj, tuple) and len(obj) == 2 else obj
            self._start_error = str(detail)
            self._started.set()

    def _check_started(self) -> None:
        """Wait until every worker serves; raise `WorkerStartError` if one could not start.

        The first task waits for the workers' start-up (they could not have
        run it sooner); a worker that cannot start would otherwise be
        replaced by the Pool, dying the same way, for as long as the crawl waits.
        """
        while not self._started.wait(0.1):
            _internals.check_running(self)  # terminated meanwhile: the Pool's own ValueError
        if self._start_error is not None:
            advice = ""
            if "thread" in self._start_error or "MemoryError" in self._start_error:
                advice = (f" ({self._worker_count} worker(s) x {self._threads} threads: "
                          "lower -c/--concurrency or raise -w/--workers)")
            raise WorkerStartError(f"a worker process could not start: {self._start_error}{advice}")

    def _released(self, job: int) -> None:
        # A release notice: the task ``job`` gave its slot back.
        on_release = self._releases.pop(job, None)
        if on_release is not None:
            on_release()

    def _forget_release(self, job: int) -> None:
        self._releases.pop(job, None)  # a task that never released its slot


def _block_sigterm() -> set[int | signal.Signals] | None:
    """Block SIGTERM in this thread; the mask before (None where threads have no mask)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _restore_sigmask(previous: set[int | signal.Signals] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
