"""crawler.engine.crawler: the crawl loop with fakes for the pool and the sinks, no processes.

The pool answers each task from a small in-memory site, in a timer thread
after a delay per URL (so requests overlap as with real workers); the
frontier is the real in-process `ManagerFrontier` (no Manager); the sink
records what it is given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from crawler.config import CrawlConfig
from crawler.engine.crawler import Crawler
from crawler.engine.frontier import ManagerFrontier
from crawler.engine.sink import Backend, local_want
from crawler.page import PAGE, ROBOTS, Done, Page, PageResult, RobotsResult, Task
from crawler.policy import follows_links

A = "http://a.test"
B = "http://b.test"


@dataclass
class Route:
    """What the fake site answers for one URL."""

    status: int | None = 200
    links: Sequence[str] = ()
    delay: float = 0.0
    error: str | None = None
    #: answers for the first attempts, before this route's own (e.g. a 503, then the page)
    before: list[Route] = field(default_factory=list)
    retry_after: float | None = None


class FakePool:
    """Runs each task against ``site`` in a timer thread; records dispatches and what was in flight."""

    def __init__(self, site: dict[str, Route], config: CrawlConfig) -> None:
        self.site = site
        self.config = config
        self.lock = threading.Lock()
        self.dispatched: list[Task] = []
        self.inflight: dict[str, Task] = {}
        #: (task, depths in flight when it was dispatched)
        self.overlap: list[tuple[Task, list[int]]] = []
        self.attempts: dict[str, int] = {}
        self.timers: list[threading.Timer] = []
        self.terminated = False

    def apply_async(self, func: Callable[..., Any], args: Any = (), kwds: Any = None,
                    callback: Callable[[Any], None] | None = None,
                    error_callback: Callable[[BaseException], None] | None = None,
                    on_release: Callable[[], None] | None = None) -> None:
        (task,) = args
        with self.lock:
            self.overlap.append((task, [t.depth for t in self.inflight.values() if t.kind == PAGE]))
            self.dispatched.append(task)
            self.inflight[task.url] = task
        route = self._route(task)
        assert callback is not None
        assert error_callback is not None
        timer = threading.Timer(route.delay, self._finish, (task, route, callback, error_callback))
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def _route(self, task: Task) -> Route:
        if task.kind == ROBOTS:
            return self.site.get(task.url, Route(404))
        route = self.site.get(task.url, Route(404))
        tries = self.attempts.get(task.url, 0)
        self.attempts[task.url] = tries + 1
        return route.before[tries] if tries < len(route.before) else route

    def _finish(self, task: Task, route: Route, callback: Callable[[Any], None],
                error_callback: Callable[[BaseException], None]) -> None:
        with self.lock:
            self.inflight.pop(task.url, None)
            if self.terminated:
                return
        if route.error == "bug":
            error_callback(RuntimeError("worker bug"))
            return
        ok = route.status is not None and 200 <= route.status < 300 and route.error is None
        page = Page(url=task.url, final_url=task.url, status=route.status, ok=ok, depth=task.depth,
                    referrer=task.referrer, error=route.error, fetched_at="2026-12-03T00:00:00.000Z",
                    attempts=task.attempt + 1, links=len(route.links))
        links = list(route.links) if ok and follows_links(task.depth, self.config.depth) else []
        retry = route.retry_after if route.retry_after is not None or route.status in (429, 503) else None
        if task.kind == ROBOTS:
            callback(RobotsResult(task=task, page=page, retry_after=retry, body="\n".join(route.links)))
        else:
            callback(PageResult(task=task, page=page, links=tuple(links), retry_after=retry))

    def terminate(self) -> None:
        with self.lock:
            self.terminated = True
        for timer in self.timers:
            timer.cancel()

    def join(self) -> None:
        for timer in self.timers:
            timer.join(timeout=5)


class RecordingFrontier(ManagerFrontier):
    """The in-process frontier, remembering the tasks dropped."""

    def __init__(self) -> None:
        super().__init__(None)
        self.dropped: list[str] = []

    def drop(self, task: Task) -> None:
        self.dropped.append(task.url)


class RecordingSink:
    """A record sink: writes into a list, queues links in the frontier at each tick."""

    def __init__(self, frontier: RecordingFrontier, fail_on: str | None = None) -> None:
        self.frontier = frontier
        self.fail_on = fail_on
        self.records: list[Page] = []
        self.ticks = 0
        self.closed: bool | None = None
        self._links: list[Task] = []

    def open(self) -> None:
        pass

    def write(self, done: Done) -> bool:
        if done.page.url == self.fail_on:
            raise OSError(28, "No space left on device")
        self.records.append(done.page)
        self._links.extend(done.links)
        return True

    def tick(self) -> None:
        self.ticks += 1
        links, self._links = self._links, []
        if links:
            self.frontier.put(links)

    def close(self, finished: bool) -> None:
        self.closed = finished


@dataclass
class Run:
    crawler: Crawler
    sink: RecordingSink
    frontier: RecordingFrontier
    pools: list[FakePool]

    @property
    def pool(self) -> FakePool:
        (pool,) = self.pools
        return pool

    @property
    def urls(self) -> list[str]:
        return [page.url for page in self.sink.records]

    def page(self, url: str) -> Page:
        (page,) = [p for p in self.sink.records if p.url == url]
        return page


def make(site: dict[str, Route], fail_on: str | None = None, on_page: Callable[[Page], None] | None = None,
         **options: Any) -> Run:
    options.setdefault("workers", 1)
    config = CrawlConfig(**options)
    frontier = RecordingFrontier()
    sink = RecordingSink(frontier, fail_on)
    pools: list[FakePool] = []

    def backend(config: CrawlConfig, seeds: list[str], ctx: Any, stopping: Callable[[], bool],
                selected: tuple[str, ...]) -> Backend:
        frontier.put([Task(url, 0, None, url) for url in seeds])
        return Backend(frontier, [sink], local_want)

    def pool(config: CrawlConfig, extract: Any, ctx: Any) -> FakePool:
        pools.append(FakePool(site, config))
        return pools[-1]

    return Run(Crawler(config, on_page=on_page, backend=backend, pool=pool), sink, frontier, pools)


def crawl(run: Run, *seeds: str) -> Run:
    started = time.monotonic()
    run.crawler.run(list(seeds))
    assert time.monotonic() - started < 10
    return run


def tree() -> dict[str, Route]:
    """a.test: / -> /1, /2; /1 -> /1/1, /2 (again); /2 -> /2/1; /1/1 -> /1/1/1."""
    return {
        f"{A}/": Route(links=[f"{A}/1", f"{A}/2"]),
        f"{A}/1": Route(links=[f"{A}/1/1", f"{A}/2"]),
        f"{A}/2": Route(links=[f"{A}/2/1"]),
        f"{A}/1/1": Route(links=[f"{A}/1/1/1"]),
        f"{A}/2/1": Route(),
        f"{A}/1/1/1": Route(),
    }


# -- the crawl and its end ------------------------------------------------------------------

def test_crawls_to_the_depth_limit_and_finishes():
    run = crawl(make(tree(), depth=2), f"{A}/")
    assert sorted(run.urls) == [f"{A}/", f"{A}/1", f"{A}/1/1", f"{A}/2", f"{A}/2/1"]
    assert {p.url: p.depth for p in run.sink.records}[f"{A}/2"] == 1  # its shortest path
    assert run.sink.closed is True  # finished: every URL done
    assert run.crawler.stats.pages == 5
    assert run.pool.terminated
    # robots.txt first, once per origin, then the pages
    assert [t.url for t in run.pool.dispatched if t.kind == ROBOTS] == [f"{A}/robots.txt"]
    assert run.pool.dispatched[0].kind == ROBOTS


def test_breadth_first_depth_gate_holds_deep_tasks_back():
    # /1 is slow: its siblings' children (depth 2) may go meanwhile, but
    # nothing at depth 3 while a depth-1 page is still in flight.
    site = tree()
    site[f"{A}/1"] = Route(links=[f"{A}/1/1", f"{A}/2"], delay=0.2)
    site[f"{A}/2/1"] = Route(links=[f"{A}/2/1/1"])
    site[f"{A}/2/1/1"] = Route()
    run = crawl(make(site, depth=3, concurrency=8, per_host=8), f"{A}/")
    assert f"{A}/2/1/1" in run.urls
    for task, depths in run.pool.overlap:
        if task.kind == PAGE:
            assert all(d >= task.depth - 1 for d in depths), (task.url, depths)


def test_max_pages_stops_and_leaves_the_state_unfinished():
    site = {f"{A}/": Route(links=[f"{A}/{i}" for i in range(6)])}
    site.update({f"{A}/{i}": Route(delay=0.05) for i in range(6)})
    run = crawl(make(site, depth=1, max_pages=3, concurrency=8, per_host=8), f"{A}/")
    assert len(run.urls) == run.crawler.stats.pages == 3
    assert run.sink.closed is False  # the rest stays queued for a resumed run
    assert run.crawler.stats.refused["max-pages"] == 4  # taken from the buffer while two were in flight
    assert run.frontier.dropped == []  # ... but not done for good


def test_max_pages_per_host_refuses_and_drops_the_rest():
    site = tree()
    site[f"{B}/"] = Route(links=[f"{B}/1", f"{B}/2"])
    site[f"{B}/1"] = Route()
    site[f"{B}/2"] = Route()
    run = crawl(make(site, depth=1, max_pages_per_host=2), f"{A}/", f"{B}/")
    assert sum(url.startswith(A) for url in run.urls) == 2
    assert sum(url.startswith(B) for url in run.urls) == 2
    assert run.crawler.stats.host_capped == 2
    assert run.crawler.stats.refused["host-cap"] == 2
    assert len(run.frontier.dropped) == 2
    assert run.sink.closed is True


def test_stop_from_a_callback_ends_the_crawl_unfinished():
    stopper: list[Crawler] = []
    site = tree()
    for route in site.values():
        route.delay = 0.05
    run = make(site, depth=3, on_page=lambda page: stopper[0].stop("SIGINT"))
    stopper.append(run.crawler)
    crawl(run, f"{A}/")
    assert run.urls == [f"{A}/"]
    assert run.crawler.stats.stopped_by == "SIGINT"
    assert run.sink.closed is False
    assert run.pool.terminated


# -- retries ------------------------------------------------------------------------------

def test_a_503_is_retried_and_recorded_once_with_its_attempts():
    site = {f"{A}/": Route(before=[Route(503, retry_after=0.01), Route(503, retry_after=0.01)])}
    run = crawl(make(site, retries=2), f"{A}/")
    page = run.page(f"{A}/")
    assert (page.status, page.attempts) == (200, 3)
    assert run.crawler.stats.retries == 2


def test_retries_run_out_into_an_error_record():
    site = {f"{A}/": Route(503, retry_after=0.01)}
    run = crawl(make(site, retries=1), f"{A}/")
    assert [(p.status, p.attempts) for p in run.sink.records] == [(503, 2)]


def test_a_retry_after_beyond_the_limit_is_not_waited_for():
    site = {f"{A}/": Route(429, error="http: 429", retry_after=3600)}
    run = crawl(make(site, retries=2, max_retry_after=60), f"{A}/")
    (page,) = run.sink.records
    assert page.attempts == 1
    assert "exceeds --max-retry-after" in (page.error or "")


# -- the gate -----------------------------------------------------------------------------

def test_robots_refusals_are_values_counted_by_reason():
    site = tree()
    site[f"{A}/robots.txt"] = Route(200, links=["User-agent: *", "Disallow: /2"])
    run = crawl(make(site, depth=2), f"{A}/", f"{A}/2/x")
    seed = run.page(f"{A}/2/x")
    assert (seed.error, seed.status, seed.attempts) == ("robots: disallowed", None, 0)
    assert f"{A}/2" not in run.urls
    assert run.frontier.dropped == [f"{A}/2"]  # a found link: counted, no record
    assert run.crawler.stats.refused["robots"] == 2
    assert run.crawler.stats.refused_urls == [f"{A}/2"]


def test_a_worker_bug_is_an_error_record_not_a_crash():
    site = tree()
    site[f"{A}/1"] = Route(error="bug")
    run = crawl(make(site, depth=1), f"{A}/")
    assert run.page(f"{A}/1").error == "internal: RuntimeError: worker bug"
    assert sorted(run.urls) == [f"{A}/", f"{A}/1", f"{A}/2"]


# -- sinks --------------------------------------------------------------------------------

def test_a_failing_sink_stops_the_crawl_and_everything_is_closed():
    run = make(tree(), depth=2, fail_on=f"{A}/1")
    with pytest.raises(OSError, match="No space left"):
        crawl(run, f"{A}/")
    assert run.sink.closed is False
    assert run.pool.terminated
    assert f"{A}/1" not in run.urls


def test_sinks_tick_and_a_second_sink_sees_every_reported_record():
    seen: list[str] = []

    class Second:
        def open(self) -> None: ...
        def write(self, done: Done) -> bool:
            seen.append(done.page.url)
            return True
        def unrecorded(self, result: object) -> None: ...
        def tick(self) -> None: ...
        def close(self, finished: bool) -> None:
            seen.append(f"closed {finished}")

    run = make(tree(), depth=1)
    original = run.crawler._open_backend

    def with_second(*args: Any) -> Backend:
        backend = original(*args)
        backend.sinks.append(Second())
        return backend

    run.crawler._open_backend = with_second
    crawl(run, f"{A}/")
    assert seen[:-1] == run.urls
    assert seen[-1] == "closed True"
    assert run.sink.ticks > 0


def test_a_record_sink_that_declines_a_page_keeps_it_out_of_stats_and_callbacks():
    got: list[str] = []
    run = make(tree(), depth=1, on_page=lambda page: got.append(page.url))
    write = run.sink.write
    run.sink.write = lambda done: False if done.page.url == f"{A}/1" else write(done)  # type: ignore[method-assign]
    crawl(run, f"{A}/")
    assert f"{A}/1" not in got
    assert run.crawler.stats.pages == len(got) == 2


def test_fetches_that_make_no_record_reach_the_sinks_after_the_record_sink():
    # An archive keeps every exchange: the tries that were retried too.
    unrecorded: list[tuple[str, int]] = []

    class Archive:
        def open(self) -> None: ...
        def write(self, done: Done) -> bool:
            return True
        def unrecorded(self, result: Any) -> None:
            unrecorded.append((result.task.url, result.page.status))
        def tick(self) -> None: ...
        def close(self, finished: bool) -> None: ...

    site = {f"{A}/": Route(before=[Route(503, retry_after=0.01)])}
    run = make(site, retries=2)
    original = run.crawler._open_backend

    def with_archive(*args: Any) -> Backend:
        backend = original(*args)
        backend.sinks.append(Archive())
        return backend

    run.crawler._open_backend = with_archive
    crawl(run, f"{A}/")
    assert unrecorded == [(f"{A}/robots.txt", 404), (f"{A}/", 503)]  # robots.txt, and the try retried
    assert [(p.status, p.attempts) for p in run.sink.records] == [(200, 2)]


class HeldElsewhere(RecordingFrontier):
    """A shared frontier whose seed another node holds for ``held`` seconds: pending, but not to be had."""

    def __init__(self, held: float) -> None:
        super().__init__()
        self.until = time.monotonic() + held

    def pending(self) -> int:
        return max(1, super().pending()) if time.monotonic() < self.until else super().pending()

    def get(self, limit: int, max_depth: int | None = None) -> list[Task]:
        return super().get(limit, max_depth) if time.monotonic() >= self.until else []


@pytest.mark.parametrize(("idle_poll", "slowest"), [(0.02, 0.35), (None, 0.5)])
def test_a_node_with_nothing_in_flight_asks_again_at_its_idle_poll(idle_poll: float | None, slowest: float) -> None:
    # A Redis node whose work another node holds: no result of its own wakes its loop.
    # It used to wait the whole lease tick (0.5 s) each time, at every crawl's start and end.
    frontier = HeldElsewhere(0.1)
    sink = RecordingSink(frontier)

    def backend(config: CrawlConfig, seeds: list[str], ctx: Any, stopping: Callable[[], bool],
                selected: tuple[str, ...]) -> Backend:
        frontier.put([Task(url, 0, None, url) for url in seeds])
        return Backend(frontier, [sink], local_want, tick=0.5, idle_poll=idle_poll)

    crawler = Crawler(CrawlConfig(workers=1, depth=0), backend=backend,
                      pool=lambda config, extract, ctx: FakePool({f"{A}/": Route()}, config))
    started = time.monotonic()
    crawler.run([f"{A}/"])
    took = time.monotonic() - started
    assert [page.url for page in sink.records] == [f"{A}/"]
    if idle_poll is not None:
        assert took < slowest
    else:  # the lease tick alone: the case the idle poll is for
        assert took >= slowest
