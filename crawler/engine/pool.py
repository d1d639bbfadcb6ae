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
from collections.abc import Callable
from typing import Any

from ..worker.serve import RELEASE_JOB, serve_threaded


class ThreadedPool(mpool.Pool):
    """A Pool of ``processes`` workers, each serving ``threads`` tasks concurrently."""

    def __init__(self, processes: int, threads: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = (), context: Any = None, spare: int = 0) -> None:
        # Read by Process(), which __init__ calls. ``spare`` threads more than
        # slots finish the tasks that released theirs.
        self._threads = max(1, threads)
        self._spare = max(0, spare)
        # Workers are forked with SIGTERM blocked and unblock it once they can
        # die of it: a child that had not run yet when terminate() signalled
        # it took the signal in Python's inherited handler, whose pending flag
        # the interpreter clears after fork (bpo-9535), and lived on, holding
        # terminate() in join() forever (1 run in ~50 that had nothing to do).
        # Threads started here (the Pool's handlers) keep it blocked, so a
        # worker they fork later does too.
        blocked = _block_sigterm()
        try:
            super().__init__(processes, initializer, initargs, context=context)
        finally:
            _restore_sigmask(blocked)
        self._releases: dict[int, Callable[[], None]] = {}
        self._cache[RELEASE_JOB] = _ReleaseSink(self._releases)

    def apply_async(self, func: Callable[..., Any], args: Any = (), kwds: Any = None,  # type: ignore[override]
                    callback: Callable[[Any], None] | None = None,
                    error_callback: Callable[[BaseException], None] | None = None,
                    on_release: Callable[[], None] | None = None) -> mpool.ApplyResult[Any]:
        """`Pool.apply_async`, plus ``on_release()``: called (in the result thread) if the task
        gives its slot back with `release_slot` before it ends; always before ``callback``."""
        kwds = kwds or {}
        if on_release is None:
            return super().apply_async(func, args, kwds, callback, error_callback)
        self._check_running()
        result = _ReleasingResult(self, callback, error_callback)
        # Registered before the task is queued, so its notice cannot come first.
        self._releases[result._job] = on_release
        self._taskqueue.put(([(result._job, 0, func, args, kwds)], None))
        return result

    def close(self) -> None:
        # The sink stays in the cache for the pool's life; close() waits for an
        # empty cache, so it has to go first.
        self._drop_sink()
        super().close()

    def terminate(self) -> None:
        self._drop_sink()
        super().terminate()

    def _drop_sink(self) -> None:
        if RELEASE_JOB in self._cache:
            del self._cache[RELEASE_JOB]  # del, not pop: the cache notifies when it empties

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # noqa: N802 - Pool's hook name
        """Start a worker process that runs the Pool's worker loop in several threads."""
        kwds["args"] = (self._threads, self._spare, kwds["target"], kwds["args"])
        kwds["target"] = serve_threaded
        return ctx.Process(*args, **kwds)

    def _get_sentinels(self) -> list[Any]:
        # The stock list also holds the result pipe's reader, so the worker
        # handler thread woke up, found nothing to do and polled again for as
        # long as a result sat unread: a busy loop taking ~23 % of the main
        # process's GIL samples on a fast site. Worker deaths still wake it
        # (their process sentinels), and so does the change notifier.
        return [self._change_notifier._reader]

    @staticmethod
    def _help_stuff_finish(inqueue: Any, task_handler: Any, size: int) -> None:
        # The stock version takes the task pipe's read lock to drain it. Here
        # a worker's reader thread may block in recv() holding that lock, so
        # it may never come free: take it only if it does soon. Nothing needs draining then,
        # since the crawl never queues more tasks than fit in the pipe.
        if inqueue._rlock.acquire(timeout=0.2):
            while task_handler.is_alive() and inqueue._reader.poll():
                inqueue._reader.recv()


def _block_sigterm() -> set[signal.Signals] | None:
    """Block SIGTERM in this thread; the mask before (None where threads have no mask)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _restore_sigmask(previous: set[signal.Signals] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _ReleaseSink:
    """Stands in the Pool's result cache for release notices: calls the task's ``on_release``."""

    def __init__(self, releases: dict[int, Callable[[], None]]) -> None:
        self._releases = releases

    def _set(self, job: int, obj: Any) -> None:
        del obj
        on_release = self._releases.pop(job, None)
        if on_release is not None:
            on_release()


class _ReleasingResult(mpool.ApplyResult):  # type: ignore[type-arg]
    def _set(self, i: int, obj: Any) -> None:
        self._pool._releases.pop(self._job, None)  # a task that never released its slot
        super()._set(i, obj)


