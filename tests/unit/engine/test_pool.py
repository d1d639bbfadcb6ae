"""ThreadedPool: each worker process runs several tasks at once through the stock Pool protocol."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from crawler import _internals
from crawler.engine.pool import ThreadedPool
from crawler.worker.serve import release_slot


def nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def release_then_nap(seconds: float) -> float:
    release_slot()
    release_slot()  # a second call changes nothing
    time.sleep(seconds)
    return time.monotonic()


def thread_count(release: bool = False) -> int:
    if release:
        release_slot()
    return threading.active_count()


def fail(message: str) -> None:
    raise ValueError(message)


def unpicklable() -> object:
    return threading.Lock()


@pytest.fixture
def pool():
    pool = ThreadedPool(2, 3, context=multiprocessing.get_context("fork"))
    yield pool
    pool.terminate()
    pool.join()


def test_every_thread_of_every_process_runs_a_task_at_once(pool: ThreadedPool) -> None:
    started = time.monotonic()
    results = [pool.apply_async(nap, (0.5,)) for _ in range(6)]
    pids = [r.get(timeout=10) for r in results]
    # Serially this is 3 s; a process taking more tasks than it has idle threads would make it 1 s.
    assert time.monotonic() - started < 0.95
    assert len(set(pids)) == 2
    assert sorted(pids.count(pid) for pid in set(pids)) == [3, 3]


def test_many_small_tasks_come_back_each_once(pool: ThreadedPool) -> None:
    done: list[int] = []
    results = [pool.apply_async(nap, (0,), callback=lambda pid: done.append(pid)) for _ in range(2000)]
    for r in results:
        r.get(timeout=30)
    assert len(done) == 2000


def test_a_task_that_raises_reaches_error_callback(pool: ThreadedPool) -> None:
    errors: list[BaseException] = []
    result = pool.apply_async(fail, ("boom",), error_callback=errors.append)
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=10)
    assert isinstance(errors[0], ValueError)


def test_an_unpicklable_result_fails_its_task_only(pool: ThreadedPool) -> None:
    with pytest.raises(multiprocessing.pool.MaybeEncodingError):
        pool.apply_async(unpicklable).get(timeout=10)
    assert pool.apply_async(nap, (0,)).get(timeout=10) > 0


def test_terminate_ends_busy_workers_at_once() -> None:
    pool = ThreadedPool(2, 4, context=multiprocessing.get_context("fork"))
    for _ in range(8):
        pool.apply_async(nap, (30,))
    time.sleep(0.3)
    started = time.monotonic()
    pool.terminate()
    pool.join()
    assert time.monotonic() - started < 5
    assert all(not p.is_alive() for p in pool._pool)


def _thread_cpu(native_id: int) -> float:
    with open(f"/proc/self/task/{native_id}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.skipif(_internals.STOCK, reason="CRAWLER_STOCK: the stock Pool's handler thread polls the result pipe")
def test_the_worker_handler_thread_sleeps_while_results_stream(pool: ThreadedPool) -> None:
    # The stock Pool also wakes it for every unread result: it then spins.
    handler = pool._worker_handler.native_id
    before = _thread_cpu(handler)
    results = [pool.apply_async(nap, (0.001,)) for _ in range(3000)]
    for r in results:
        r.get(timeout=30)
    assert _thread_cpu(handler) - before < 0.1


def test_a_task_that_releases_its_slot_lets_its_process_take_the_next() -> None:
    pool = ThreadedPool(1, 1, context=multiprocessing.get_context("fork"), spare=1)
    try:
        events: list[tuple[str, int]] = []
        started = time.monotonic()
        results = [pool.apply_async(release_then_nap, (0.6,), callback=lambda _, i=i: events.append(("done", i)),
                                    on_release=lambda i=i: events.append(("released", i)))
                   for i in range(2)]
        for r in results:
            r.get(timeout=10)
        # One slot: held to the end, the second task would start after the first (1.2 s).
        assert time.monotonic() - started < 1.1
        for i in range(2):
            assert events.index(("released", i)) < events.index(("done", i))
        assert pool._releases == {}
    finally:
        pool.terminate()
        pool.join()


def test_without_a_release_the_slot_is_held_to_the_end() -> None:
    pool = ThreadedPool(1, 1, context=multiprocessing.get_context("fork"), spare=1)
    try:
        released: list[int] = []
        started = time.monotonic()
        results = [pool.apply_async(nap, (0.4,), on_release=lambda i=i: released.append(i)) for i in range(2)]
        for r in results:
            r.get(timeout=10)
        assert time.monotonic() - started >= 0.8  # the spare thread took no task: no slot was free
        assert released == []
        assert pool._releases == {}  # forgotten with the result
    finally:
        pool.terminate()
        pool.join()


def test_spare_threads_start_only_once_tasks_give_their_slots_back() -> None:
    pool = ThreadedPool(1, 1, context=multiprocessing.get_context("fork"), spare=2)
    try:
        def run(release: bool) -> int:
            return pool.apply_async(thread_count, (release,), on_release=lambda: None).get(timeout=10)

        before = [run(False) for _ in range(3)]
        assert before == [before[0]] * 3  # tasks that keep their slots start no thread
        assert run(True) == before[0] + 1
        after = [run(True) for _ in range(3)]
        assert after[-1] == before[0] + 2  # at most `spare` more
    finally:
        pool.terminate()
        pool.join()


def test_close_and_join_end_a_pool_that_takes_release_notices() -> None:
    pool = ThreadedPool(2, 2, context=multiprocessing.get_context("fork"))
    assert pool.apply_async(release_then_nap, (0,), on_release=lambda: None).get(timeout=10) > 0
    pool.close()
    joiner = threading.Thread(target=pool.join, daemon=True)
    joiner.start()
    joiner.join(timeout=10)
    alive = joiner.is_alive()
    if alive:
        pool.terminate()
    assert not alive


def test_terminate_right_after_start_ends_every_worker() -> None:
    # With a Python SIGTERM handler in the parent (the CLI has one), a worker
    # that had not run yet when terminate() signalled it used to lose the
    # signal (the interpreter clears pending signals after fork) and live on:
    # terminate() then waited for it forever, about one pool in two here.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        for _ in range(20):
            pool = ThreadedPool(4, 2, context=multiprocessing.get_context("fork"))
            ended = threading.Event()
            threading.Thread(target=lambda p=pool, e=ended: (p.terminate(), p.join(), e.set()), daemon=True).start()
            if not ended.wait(10):
                for process in pool._pool:  # leave nothing behind
                    if process.is_alive():
                        os.kill(process.pid, signal.SIGKILL)
                pytest.fail("a worker outlived terminate()")
    finally:
        signal.signal(signal.SIGTERM, previous)


def broken_initializer() -> None:
    raise ImportError("no module named 'missing_hook'")


def test_a_worker_that_cannot_start_fails_the_first_task_instead_of_respawning() -> None:
    # The stock Pool replaces a worker that dies in its initializer, forever (issue 16, defect 2).
    from crawler.engine.pool import WorkerStartError

    started = time.monotonic()
    pool = ThreadedPool(2, 2, initializer=broken_initializer, context=multiprocessing.get_context("fork"))
    try:
        with pytest.raises(WorkerStartError, match="could not start: ImportError: no module named 'missing_hook'"):
            pool.apply_async(nap, (0,))
        with pytest.raises(WorkerStartError):  # and every later one
            pool.apply_async(nap, (0,))
    finally:
        pool.terminate()
        pool.join()
    assert time.monotonic() - started < 10


def test_too_many_threads_is_a_start_error_with_advice() -> None:
    from crawler.engine.pool import WorkerStartError

    # Only the forked workers see it: the Pool's own handler threads start before.
    pool = ThreadedPool(1, 4, initializer=_patch_thread_start, context=multiprocessing.get_context("fork"))
    try:
        with pytest.raises(WorkerStartError, match=r"can't start new thread \(1 worker\(s\) x 4 threads: lower -c"):
            pool.apply_async(nap, (0,))
    finally:
        pool.terminate()
        pool.join()


def _patch_thread_start() -> None:
    def no_threads(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    threading.Thread.start = no_threads  # type: ignore[method-assign]  # in the forked worker only


def die_holding_the_result_lock() -> None:
    # In a worker: take the result pipe's lock, as the sender does, and be
    # killed before letting go (as terminate()'s SIGTERM may catch a sender).
    from crawler.worker import serve

    outqueue = serve._task.current[4]
    outqueue._wlock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_terminate_ends_even_when_a_worker_died_holding_the_result_pipe_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stock put of the stop sentinels waits for that lock forever: both
    # terminate()'s own and the task handler's (which terminate() joins).
    monkeypatch.setattr(_internals.ResultPipe, "DEAD_LOCK_SECONDS", 0.3)
    pool = ThreadedPool(2, 2, context=multiprocessing.get_context("fork"))
    workers = list(pool._pool)
    pool.apply_async(die_holding_the_result_lock)
    deadline = time.monotonic() + 10
    while all(p.is_alive() for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the worker is dead (the Pool then starts another)
    ended = threading.Event()
    threading.Thread(target=lambda: (pool.terminate(), pool.join(), ended.set()), daemon=True).start()
    try:
        assert ended.wait(20), "terminate() hung on a lock its dead holder never gave back"
    finally:
        for process in pool._pool:
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)


class _Ended:
    """Enough of a Pool for `ResultPipe`: its result handler and state."""

    def __init__(self, handler_alive: bool) -> None:
        self._state = "TERMINATE"
        self._result_handler = threading.Thread(target=lambda: None)
        if handler_alive:
            self._result_handler = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        self._result_handler.start()
        if not handler_alive:
            self._result_handler.join()


def _dead_holder(pipe: _internals.ResultPipe) -> None:
    ctx = multiprocessing.get_context("fork")
    holder = ctx.Process(target=lambda: (pipe._wlock.acquire(), os._exit(0)))  # type: ignore[union-attr]
    holder.start()
    holder.join(10)


def test_the_main_process_drops_a_sentinel_nobody_will_read() -> None:
    pool = _Ended(handler_alive=False)
    pipe = _internals.ResultPipe(multiprocessing.get_context("fork"), pool)  # type: ignore[arg-type]
    _dead_holder(pipe)
    started = time.monotonic()
    pipe.put(None)
    assert time.monotonic() - started < 1
    assert not pipe._reader.poll(0)


def test_the_main_process_writes_a_sentinel_past_a_dead_holder_while_the_pool_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_internals.ResultPipe, "DEAD_LOCK_SECONDS", 0.3)
    pool = _Ended(handler_alive=True)
    pipe = _internals.ResultPipe(multiprocessing.get_context("fork"), pool)  # type: ignore[arg-type]
    _dead_holder(pipe)
    started = time.monotonic()
    pipe.put(None)
    assert _internals.ResultPipe.DEAD_LOCK_SECONDS <= time.monotonic() - started < 5
    assert pipe._reader.poll(1)
    assert pipe.get() is None


def test_a_running_pool_waits_for_the_result_pipe_lock() -> None:
    pool = _Ended(handler_alive=True)
    pool._state = "RUN"
    pipe = _internals.ResultPipe(multiprocessing.get_context("fork"), pool)  # type: ignore[arg-type]
    assert pipe._wlock is not None
    pipe._wlock.acquire()
    threading.Timer(0.5, pipe._wlock.release).start()
    started = time.monotonic()
    pipe.put("x")
    assert 0.4 < time.monotonic() - started < 3
    assert pipe.get() == "x"


def test_a_worker_that_cannot_start_fails_the_tasks_it_is_given_and_stays() -> None:
    from crawler.engine.pool import WorkerStartError

    pool = ThreadedPool(1, 2, initializer=broken_initializer, context=multiprocessing.get_context("fork"))
    try:
        with pytest.raises(WorkerStartError):
            pool.apply_async(nap, (0,))
        first = [p.pid for p in pool._pool]
        # A task queued the stock way still gets an answer, not silence.
        result = _internals.new_result(pool, None, None, lambda job: None)[0]
        _internals.queue_task(pool, result._job, nap, (0,), {})
        with pytest.raises(RuntimeError, match="worker could not start: ImportError"):
            result.get(timeout=10)
        assert [p.pid for p in pool._pool] == first  # not replaced
    finally:
        pool.terminate()
        pool.join()


def test_a_result_pipe_a_worker_unpickled_puts_as_the_stock_queue() -> None:
    # forkserver and spawn workers get the queue pickled (SimpleQueue's state only).
    pipe = _internals.ResultPipe(multiprocessing.get_context("fork"), _Ended(handler_alive=True))  # type: ignore[arg-type]
    copy = _internals.ResultPipe.__new__(_internals.ResultPipe)
    copy.__setstate__((pipe._reader, pipe._writer, pipe._rlock, pipe._wlock))
    copy.put(("job", 0, (True, "x")))
    assert pipe.get() == ("job", 0, (True, "x"))


def test_the_stock_worker_loop_runs_on_a_forkserver_pool() -> None:
    # What CRAWLER_STOCK runs: results put one at a time through the queue's put.
    code = """
import multiprocessing, os
from crawler.engine.pool import ThreadedPool
if __name__ == "__main__":
    pool = ThreadedPool(1, 2, context=multiprocessing.get_context("forkserver"))
    print(pool.apply_async(os.getpid).get(timeout=30) != os.getpid())
    pool.terminate()
    pool.join()
"""
    import subprocess
    import sys

    env = {**os.environ, "CRAWLER_STOCK": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
