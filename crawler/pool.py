"""`ThreadedPool`: a `multiprocessing.Pool` whose worker processes each run
several tasks at once.

A stock Pool worker runs one call at a time, so I/O-bound fetching would need
a process per request in flight. Here each worker process starts ``threads``
copies of the Pool's own worker loop, all reading the same task pipe (its
reads and writes are guarded by the Pool's process-shared locks, which also
serialise threads). Every task is still submitted with ``apply_async`` and
answered through its callback, so nothing else about the Pool changes.

The extra threads are daemons and a worker never exits on its own, so end
the pool with `terminate()` (as ``with Pool(...)`` does), not ``close()``.
"""

from __future__ import annotations

import multiprocessing.pool
import threading
from collections.abc import Callable
from typing import Any


class ThreadedPool(multiprocessing.pool.Pool):
    """A Pool of ``processes`` workers, each serving ``threads`` tasks concurrently."""

    def __init__(self, processes: int, threads: int, initializer: Callable[..., Any] | None = None,
                 initargs: tuple[Any, ...] = (), context: Any = None) -> None:
        self._threads = max(1, threads)  # read by Process(), which __init__ calls
        super().__init__(processes, initializer, initargs, context=context)

    def Process(self, ctx: Any, *args: Any, **kwds: Any) -> Any:  # noqa: N802 - Pool's hook name
        """Start a worker process that runs the Pool's worker loop in several threads."""
        kwds["args"] = (self._threads, kwds["target"], kwds["args"])
        kwds["target"] = _serve_threaded
        return ctx.Process(*args, **kwds)

    @staticmethod
    def _help_stuff_finish(inqueue: Any, task_handler: Any, size: int) -> None:
        # The stock version takes the task pipe's read lock to drain it. Here
        # idle fetch threads block in recv() holding that lock, and only one
        # thread per process ever gets a stop sentinel, so the lock may never
        # come free: take it only if it does soon. Nothing needs draining then,
        # since the crawl never queues more tasks than fit in the pipe.
        if inqueue._rlock.acquire(timeout=0.2):
            while task_handler.is_alive() and inqueue._reader.poll():
                inqueue._reader.recv()


def _serve_threaded(threads: int, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # args = (inqueue, outqueue, initializer, initargs, maxtasks, wrap_exception):
    # run the initializer once for the process, not once per thread.
    inqueue, outqueue, initializer, initargs, *rest = args
    # Pool's worker loop closes the pipe ends a worker does not use. Do it
    # once here: several threads closing one Connection at once could close
    # an fd number another thread has already reused.
    if hasattr(inqueue, "_writer"):
        inqueue._writer.close()
        outqueue._reader.close()
    if initializer is not None:
        initializer(*initargs)
    loop_args = (inqueue, outqueue, None, (), *rest)
    for i in range(threads - 1):
        threading.Thread(target=target, args=loop_args, name=f"fetch-{i + 1}", daemon=True).start()
    target(*loop_args)
