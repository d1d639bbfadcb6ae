"""The worker side of `crawler.engine.pool.ThreadedPool`: a pool process that runs
several tasks at once.

`serve_threaded` replaces the stock worker loop (``multiprocessing.pool.worker``)
with the same protocol on both pipes: one reader thread takes a task off the
shared task pipe whenever a task thread is idle, ``threads`` task threads run
them, and one sender thread writes finished results to the result pipe in
batches. A task may give its slot back before it ends (`release_slot`): its
process may then take another task, and the main process hears of it before
the result (``apply_async(..., on_release=...)``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .. import _internals

#: The job key of release notices on the result pipe (`crawler._internals.NOTICE_JOB`).
RELEASE_JOB = _internals.NOTICE_JOB
#: The job key of start-up reports: ``(STARTUP_JOB, READY, None)`` once a worker
#: serves, ``(STARTUP_JOB, FAILED, "Kind: message")`` when it cannot start.
STARTUP_JOB = RELEASE_JOB - 1
READY, FAILED = 0, 1

_task = threading.local()  # in a task thread: the running task's job and how to release its slot


class _Spares:
    """The task threads a worker process may still start, one per slot given back while in use.

    Started only once a task releases its slot, so a crawl whose tasks never
    do (a fast site, no hook) keeps no threads that could only wait.
    """

    def __init__(self, left: int, start: Callable[[], None]) -> None:
        self.left = left
        self.start = start
        self.lock = threading.Lock()

    def grow(self) -> None:
        with self.lock:
            if self.left > 0:
                self.left -= 1
                self.start()

    def stop(self) -> None:
        with self.lock:
            self.left = 0


_spares: _Spares | None = None  # in a worker process


def release_slot() -> None:
    """From inside a pool task: this task needs its slot no more (idempotent).

    Its process may take another task at once, and the main process's
    ``on_release`` for it runs before its result's callback. Outside a
    `ThreadedPool` task (a direct call, a test), does nothing.
    """
    current = getattr(_task, "current", None)
    if current is None or current[2]:
        return
    job, results, _, idle, outqueue = current
    current[2] = True
    _hand_over((RELEASE_JOB, job, (True, None)), results, outqueue)
    idle.release()
    if _spares is not None:
        _spares.grow()


def serve_threaded(threads: int, spare: int, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """A worker process: one thread reads tasks, ``threads`` (+ up to ``spare``) threads run them,
    one sends results.

    Only the reader touches the task pipe. Both pipes are guarded by locks
    shared by every process; when all fetch threads waited for those locks
    themselves, a thread holding one often had to wait for its own process's
    GIL before it could let go, and the rest queued behind it: at -c 64, 20
    of a process's 32 threads sat in the result pipe's lock, each result
    waiting ~60 ms to be sent. So a fetch thread writes its own result (or
    release notice) only when the sender has nothing queued and the lock is
    free at once; otherwise the sender writes it, with whatever else is ready.

    The Pool's pipe protocol and the pipes' private parts are used through
    `crawler._internals`.
    """
    del target  # the stock loop (multiprocessing.pool.worker): replaced, same protocol
    # Forked with SIGTERM blocked (ThreadedPool.__init__): from here on it ends
    # the worker, even if terminate() sent it already.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    inqueue, outqueue, initializer, initargs, _maxtasks, wrap_exception = _internals.worker_args(args)
    _internals.close_unused_ends(inqueue, outqueue)
    try:
        runners, sender, tasks, results, idle = _start(threads, spare, initializer, initargs, wrap_exception,
                                                       outqueue)
    except Exception as exc:
        # Dying here would have the Pool start another worker, which dies
        # the same way, forever: say why instead, and stay until the pool
        # ends (a worker that came and went while the pool was ending was
        # one more process that could die holding a pipe's lock).
        reason = f"{type(exc).__name__}: {exc}"
        with _unless_main_gone():
            _internals.send_results(outqueue, [(STARTUP_JOB, FAILED, (False, reason))])
        _refuse_tasks(inqueue, outqueue, reason, wrap_exception)
        return
    with _unless_main_gone():
        _internals.send_results(outqueue, [(STARTUP_JOB, READY, (True, None))])
    _read_tasks(inqueue, tasks, idle)
    assert _spares is not None
    _spares.stop()
    for _ in runners:
        tasks.put(None)
    for thread in runners:
        thread.join()
    results.put(None)
    sender.join()


def _start(threads: int, spare: int, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...],
           wrap_exception: bool, outqueue: Any) -> tuple[list[threading.Thread], threading.Thread,
                                                       queue.SimpleQueue[Any], queue.SimpleQueue[Any],
                                                       threading.Semaphore]:
    """Run the initializer and start the threads (raises what fails: too many threads, a bad hook)."""
    if initializer is not None:
        initializer(*initargs)
    tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()
    # The reader takes a task off the shared pipe only for a free slot, so
    # a busy process leaves work to the other processes.
    idle = threading.Semaphore(threads)
    runners: list[threading.Thread] = []

    def start_runner() -> None:
        thread = threading.Thread(target=_run_tasks, args=(tasks, results, idle, wrap_exception, outqueue),
                                  name=f"fetch-{len(runners)}", daemon=True)
        runners.append(thread)
        thread.start()

    global _spares
    _spares = _Spares(spare, start_runner)
    sender = threading.Thread(target=_send_results, args=(results, outqueue), name="send", daemon=True)
    sender.start()
    for _ in range(threads):
        start_runner()
    return runners, sender, tasks, results, idle


def _refuse_tasks(inqueue: Any, outqueue: Any, reason: str, wrap_exception: bool) -> None:
    """A worker that could not start: fail each task it gets, until the pool's stop sentinel."""
    while True:
        try:
            task = inqueue.get()
        except (EOFError, OSError):  # the pool is gone
            return
        if task is None:
            return
        exc = RuntimeError(f"worker could not start: {reason}")
        with _unless_main_gone():
            _internals.send_results(outqueue, [(task[0], task[1],
                                                (False, _internals.task_error(exc) if wrap_exception else exc))])


def _read_tasks(inqueue: Any, tasks: queue.SimpleQueue[Any], idle: threading.Semaphore) -> None:
    while True:
        idle.acquire()
        try:
            task = inqueue.get()
        except (EOFError, OSError):  # the pool is gone
            return
        if task is None:  # the pool's stop sentinel
            return
        tasks.put(task)


def _run_tasks(tasks: queue.SimpleQueue[Any], results: queue.SimpleQueue[Any], idle: threading.Semaphore,
               wrap_exception: bool, outqueue: Any) -> None:
    result: tuple[bool, Any] | None
    while (task := tasks.get()) is not None:
        job, i, func, args, kwds = task
        current = _task.current = [job, results, False, idle, outqueue]
        try:
            result = (True, func(*args, **kwds))
        except Exception as exc:
            result = (False, _internals.task_error(exc) if wrap_exception else exc)
        _task.current = None
        _hand_over((job, i, result), results, outqueue)
        task = func = args = kwds = result = None  # drop references while idle, as the stock loop does
        if not current[2]:
            idle.release()


def _send_results(results: queue.SimpleQueue[Any], outqueue: Any) -> None:
    stop = False
    while not stop:
        batch = [results.get()]
        while not results.empty():  # whatever else is ready goes under the same lock
            batch.append(results.get())
        if None in batch:  # the stop sentinel comes last: every result is in already
            batch.remove(None)
            stop = True
        # A release notice whose task's result goes in the same batch says
        # nothing the result does not: when the process is busy, most do.
        finished = {job for job, _, _ in batch}
        with _unless_main_gone():
            _internals.send_results(outqueue, [item for item in batch
                                               if not (item[0] == RELEASE_JOB and item[1] in finished)])


def _hand_over(item: tuple[int, int, Any], results: queue.SimpleQueue[Any], outqueue: Any) -> None:
    """Send a result or release notice from this thread, or leave it to the sender.

    Sent from here only when nothing is queued for the sender (so a result
    does not pass its own task's queued release notice) and the pipe is free: handing
    over to the sender costs a wake-up and a turn at the GIL, milliseconds
    when the process is busy. Never waits for the lock (threads queueing
    there held up every process's results).
    """
    with _unless_main_gone():
        if not (results.empty() and _internals.try_send(outqueue, item)):
            results.put(item)


@contextlib.contextmanager
def _unless_main_gone() -> Iterator[None]:
    """Run a write to the result pipe; if the main process is gone (killed: the pipe
    is broken), end this worker at once and quietly: nobody can use its results,
    and a traceback per thread would only fill the terminal of whoever killed it."""
    try:
        yield
    except (BrokenPipeError, ConnectionResetError):
        os._exit(0)
