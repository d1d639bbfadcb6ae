"""`Crawler`: owns the worker pool, the frontier, the scheduler and the output.

Data flow (all bookkeeping in the main process)::

    seeds ─► frontier ─► scheduler ─► pool.apply_async(worker.process)
                ▲                                   │
                └── links ◄── _on_result (callback) ◄┘──► writer, on_page

The loop thread pulls tasks from the frontier into the scheduler and
dispatches what the gates allow; the pool's result thread runs
`_on_result`, which writes the record and queues the new links. One lock
guards the shared state between the two threads.

With ``--redis`` the frontier, the completed set and the per-host gate are a
`crawler.cluster.node.RedisNode`'s, shared with the crawl's other nodes: a
record is committed there (with its links) before it is written, as under
``--state``.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import CrawlConfig
from ..page import PAGE, ROBOTS, SITEMAP, Page, Result, Task, utc_now
from ..store.journal import Journal
from ..store.output import Writer, open_writer
from ..store.state import StateStore
from ..urls import host_of, origin_of
from ..worker import entry
from .cookies import CookieStore
from .discovery import SitemapDiscovery
from .frontier import Frontier, ManagerFrontier, start_manager
from .pool import ThreadedPool
from .robots import RobotsRules
from .scheduler import Scheduler

if TYPE_CHECKING:
    from ..cluster.node import RedisNode
    from ..worker.tasks import Extract

log = logging.getLogger(__name__)

OnPage = Callable[[Page], None]
BACKOFF_BASE = 0.5  # seconds; doubled per attempt, with jitter
# Tasks kept buffered in the scheduler. The frontier is FIFO, so a page's
# links arrive together and are mostly of one host: a buffer of a few slots'
# worth leaves the other hosts idle under --per-host. A few thousand small
# tasks keep every host fed and cost well under a megabyte.
_BUFFER_MIN = 2000
_BUFFER_PER_SLOT = 16
# With --redis, buffered tasks are leased: a node holds only about two
# rounds of work (so the others get theirs) and refills at half of that, so
# one lease call serves many pages.
_SHARED_BUFFER_PER_SLOT = 2
_SHARED_BUFFER_MIN = 4
# Threads per worker process beyond its request slots, to parse the pages
# whose slot already fetches again (a hook's tree, a slow server's page). Parsing
# is CPU work under one GIL per process: more parsing threads only queue for
# it. With a --select at -c 64, 16 spare threads made the crawl 5 % slower
# than holding the slot through the parse; 2 made it no slower, and 14 %
# faster at -c 16. A task read while every thread is busy waits for one,
# holding its slot.
_SPARE_THREADS = 2


@dataclass
class CrawlStats:
    """Counts of a run, for the end summary and the exit status."""

    pages: int = 0
    errors: int = 0
    responses: int = 0
    retries: int = 0
    robots_refused: int = 0
    #: URLs left out by --max-pages-per-host
    host_capped: int = 0
    refused_urls: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    stopped_by: str | None = None
    statuses: Counter[int] = field(default_factory=Counter)
    #: --sitemaps: sitemaps fetched and the page URLs they gave
    sitemaps: int = 0
    sitemap_urls: int = 0
    #: with --state: records by change (new, changed, unchanged, gone)
    changes: Counter[str] = field(default_factory=Counter)
    #: with --redis: the crawl and this node, and round trips made to Redis
    crawl_id: str | None = None
    node: str | None = None
    redis_calls: int | None = None

    @property
    def elapsed(self) -> float:
        """Seconds from start to finish (or to now while running)."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.pages / self.elapsed if self.elapsed > 0 else 0.0


class Crawler:
    """A crawl with one config, run over seeds.

    ``on_page(page)`` runs in the main process for every record;
    ``extract(url, soup) -> dict`` runs in the workers on every HTML page and
    must be picklable (a module-level function), its dict merged into the record.

    >>> Crawler(CrawlConfig(depth=1)).config.depth
    1
    """

    def __init__(self, config: CrawlConfig | None = None, on_page: OnPage | None = None,
                 extract: Extract | None = None) -> None:
        self.config = config or CrawlConfig()
        self.on_page = on_page
        self.extract = extract
        self.stats = CrawlStats()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop: str | None = None
        self._out: deque[Page] = deque()
        # What the pool's result thread handed over, in order, for the loop
        # thread to handle: results, and tasks whose response is read (slot free).
        self._results: deque[Result | Task] = deque()
        self._collect = False
        self._writer: Writer | None = None
        self._frontier: Frontier | None = None
        self._scheduler: Scheduler | None = None
        self._dispatched = 0
        self._per_host: Counter[str] = Counter()
        self._cookies = CookieStore()
        self._journal: Journal | None = None
        self._shared: RedisNode | None = None
        self._sitemaps: SitemapDiscovery | None = None
        self._unchanged: set[str] = set()  # sitemap <lastmod> says so: not fetched this run
        self._exhausted = False
        self._selected = tuple(sel.name for sel in self.config.select)

    # -- public ----------------------------------------------------------
    def run(self, seeds: Iterable[str]) -> CrawlStats:
        """Crawl from ``seeds`` (canonical http(s) URLs) until done or stopped."""
        for _ in self._loop(seeds, collect=False):
            pass
        return self.stats

    def iter_pages(self, seeds: Iterable[str]) -> Iterator[Page]:
        """Crawl from ``seeds`` and yield each record as it arrives."""
        return self._loop(seeds, collect=True)

    def queued(self) -> int:
        """URLs waiting: in the frontier plus buffered for dispatch."""
        frontier, sched = self._frontier, self._scheduler
        return (frontier.pending() if frontier else 0) + (sched.buffered if sched else 0)

    def stop(self, reason: str = "stopped") -> None:
        """Ask the crawl to stop soon (safe from signal handlers and other threads)."""
        self._stop = reason
        self._wake.set()

    # -- the loop ------------------------------------------------------------
    def _loop(self, seeds: Iterable[str], collect: bool) -> Iterator[Page]:
        config = self.config
        self._collect = collect
        seeds = list(seeds)
        ctx = multiprocessing.get_context(config.start_method)
        # The state's lock is taken first: a second run on it stops before
        # starting anything.
        store = StateStore(config.state) if config.state else None
        shared = self._join(config, seeds)  # Redis unreachable: UsageError before anything starts
        # Only a crawl that can discover URLs needs the Manager's queue to feed
        # them back: a URL list (--depth 0, no sitemaps) saves its process (~23 MB).
        discovers = config.depth > 0 or config.sitemaps
        manager = start_manager(ctx) if store is None and shared is None and discovers else None
        pool: ThreadedPool | None = None
        failed = False
        try:
            if shared is not None:
                shared.open(seeds, last_fields=self._selected)
                self._frontier = shared.frontier
            elif store is not None:
                store.begin(seeds, config.recrawl_after)
                self._journal = Journal(config, store)
                self._journal.open(last_fields=self._selected)
                self._frontier = store
            else:
                if config.output:
                    self._writer = open_writer(config.output, config.format, last_fields=self._selected)
                self._frontier = ManagerFrontier(manager)
                self._frontier.put([Task(url, 0, None, url) for url in seeds])
            self._scheduler = Scheduler(config.concurrency, config.per_host, config.delay,
                                        config.user_agent, robots=config.robots,
                                        gate=shared.gate if shared is not None else None)
            if config.sitemaps:
                self._sitemaps = SitemapDiscovery(seeds)
                for task in self._sitemaps.initial():
                    self._scheduler.add(task)
            threads = math.ceil(config.concurrency / config.workers)
            # A page may give its request slot back once its response is read
            # (worker.process): spare threads, started once one does, parse meanwhile.
            pool = ThreadedPool(config.workers, threads, entry.init_worker,
                                (config, self.extract), context=ctx, spare=_SPARE_THREADS)
            # With --redis the loop also renews leases: wake often enough for that.
            tick = 0.5 if shared is None else min(0.5, config.lease_timeout / 6)
            while True:
                # Cleared before the step, so a result landing during it
                # wakes the next wait at once instead of being missed.
                self._wake.clear()
                with self._lock:
                    self._drain()
                    finished = self._stop is not None or self._step(pool)
                while self._out:
                    yield self._out.popleft()
                if finished:
                    break
                timeout = self._scheduler.next_wakeup()
                self._wake.wait(tick if timeout is None else min(timeout, tick))
        except BaseException as exc:
            # A consumer leaving iter_pages() early is no failure: what has come in is still recorded.
            failed = not isinstance(exc, GeneratorExit)
            raise
        finally:
            self.stats.finished = time.monotonic()
            self.stats.stopped_by = self._stop
            if pool is not None:
                pool.terminate()
                pool.join()
                if not failed:
                    with self._lock:  # results that came in before the pool stopped: records too
                        self._drain()
            if shared is not None:
                with self._lock:  # the pool is gone: hand back what was not finished
                    shared.close(finished=self._exhausted and self._stop is None)
                self.stats.redis_calls = shared.link.calls
            if self._journal is not None:
                with self._lock:  # the pool is gone; nothing else touches the state now
                    self._journal.close(completed=self._exhausted and self._stop is None)
            if self._frontier is not None:
                self._frontier.close()
            elif store is not None:
                store.close()
            if manager is not None:
                manager.shutdown()
            if self._writer is not None:
                self._writer.close()

    def _join(self, config: CrawlConfig, seeds: list[str]) -> RedisNode | None:
        if not config.redis:
            return None
        from ..cluster.node import RedisNode  # only distributed runs need the redis package

        self._shared = RedisNode(config, seeds)
        self._shared.link.abort = lambda: self._stop is not None
        self.stats.crawl_id, self.stats.node = self._shared.crawl_id, self._shared.name
        return self._shared

    def _step(self, pool: ThreadedPool) -> bool:
        """Refill, dispatch what may go; True when the crawl is complete. Holds the lock."""
        frontier, sched = self._frontier, self._scheduler
        assert frontier is not None
        assert sched is not None
        # With --redis the crawl's --max-pages is counted in Redis, across nodes.
        limit = self.config.max_pages if self._shared is None else None
        want = self._want(sched)
        if want > 0 and frontier.pending():
            # Never take a task the depth gate would hold back: once out of the
            # frontier, a URL keeps its depth even if a shorter path turns up.
            floor = _min(frontier.min_depth(), sched.min_depth())
            for task in frontier.get(want, None if floor is None else floor + 1):
                sched.add(task)
        floor = _min(frontier.min_depth(), sched.min_depth())
        while True:
            if limit is not None and self._dispatched >= limit and sched.inflight == 0:
                return True
            task = sched.next_task(floor)
            if task is None:
                break
            if task.kind == PAGE and task.attempt == 0 and (
                    task.url in self._unchanged or not self._admit(task, limit)):
                sched.done(task)  # never started: give the slot back
                continue
            if self._cookies:
                task.cookies = self._cookies.for_host(host_of(task.url))
            pool.apply_async(entry.process, (task,), callback=self._on_result,
                             error_callback=functools.partial(self._on_error, task),
                             on_release=functools.partial(self._on_release, task))
        self._record_refused(sched)
        if self._journal is not None:
            self._journal.maybe_flush()
        if self._shared is not None:
            self._shared.tick()
        self._exhausted = sched.idle() and frontier.pending() == 0
        return self._exhausted

    def _want(self, sched: Scheduler) -> int:
        """How many tasks to pull from the frontier now."""
        concurrency = self.config.concurrency
        if self._shared is None:
            return max(_BUFFER_MIN, concurrency * _BUFFER_PER_SLOT) - sched.buffered
        high = max(_SHARED_BUFFER_MIN, concurrency * _SHARED_BUFFER_PER_SLOT)
        return high - sched.buffered if sched.buffered <= high // 2 else 0

    def _admit(self, task: Task, limit: int | None) -> bool:
        """Count a first attempt against --max-pages and --max-pages-per-host."""
        if limit is not None and self._dispatched >= limit:
            return False
        cap = self.config.max_pages_per_host if self._shared is None else None  # with --redis: in Redis
        if cap is not None:
            origin = origin_of(task.url)
            if self._per_host[origin] >= cap:
                self.stats.host_capped += 1
                if self._journal is not None:
                    self._journal.store.dropped(task)
                return False
            self._per_host[origin] += 1
        self._dispatched += 1
        return True

    def _record_refused(self, sched: Scheduler) -> None:
        for task, rules in sched.refused:
            if task.kind == SITEMAP:  # bookkeeping: no record, no count
                continue
            if rules.unreachable:  # the host is down: every page of it is an error record
                self._emit(Page(url=task.url, final_url=task.url, depth=task.depth, referrer=task.referrer,
                                error=rules.refusal(), fetched_at=utc_now(), attempts=0), task)
                continue
            self.stats.robots_refused += 1
            if task.depth == 0:  # a seed gets a record; found links are only counted
                self._emit(Page(url=task.url, final_url=task.url, depth=0, error=rules.refusal(),
                                fetched_at=utc_now(), attempts=0), task)
                continue
            if self._journal is not None:
                self._journal.store.dropped(task)
            if self._shared is not None:
                self._shared.drop(task)
            if len(self.stats.refused_urls) < 10_000:
                self.stats.refused_urls.append(task.url)
        sched.refused.clear()

    # -- callbacks (pool's result thread) ---------------------------------------
    def _on_result(self, result: Result) -> None:
        # Only hand the result over: the pool's single result thread must get
        # back to the pipe at once. Handling a page here (under the loop's lock,
        # with a frontier round trip) made it the crawl's bottleneck: at -c 64
        # results waited ~70 ms in the pipe and the workers' fetch threads
        # queued on the pipe's write lock.
        self._results.append(result)
        self._wake.set()

    def _on_release(self, task: Task) -> None:
        # The task's response is read and its slot free; it is still being parsed.
        self._results.append(task)
        self._wake.set()

    def _on_error(self, task: Task, exc: BaseException) -> None:
        # worker.process never raises for a page failure: this is a bug, but
        # one URL's bug must not end the crawl.
        log.error("worker failed on %s: %r", task.url, exc)
        page = Page(url=task.url, final_url=task.url, depth=task.depth, referrer=task.referrer,
                    error=f"internal: {type(exc).__name__}: {exc}"[:200], fetched_at=utc_now(),
                    attempts=task.attempt + 1)
        self._on_result(Result(task=task, page=page))

    def _drain(self) -> None:
        """Handle every result handed over so far; their links go to the frontier in one call."""
        links: list[Task] = []
        results = self._results
        sched = self._scheduler
        assert sched is not None
        while results:
            item = results.popleft()
            if isinstance(item, Task):
                sched.released(item)
            else:
                self._handle(item, links)
        if links:
            assert self._frontier is not None
            self._frontier.put(links)

    def _handle(self, result: Result, new_links: list[Task]) -> None:
        task, page = result.task, result.page
        sched, frontier = self._scheduler, self._frontier
        assert sched is not None
        assert frontier is not None
        sched.done(task)
        if result.cookies:
            self._cookies.add(result.cookies)
        origin = origin_of(task.url)
        if page.status in (429, 503) or (page.error or "").startswith("timeout"):
            sched.throttled(origin)
        elif page.status is not None:
            sched.succeeded(origin)
        if result.retry_after is not None and task.attempt < self.config.retries:
            wait = result.retry_after or BACKOFF_BASE * 2 ** task.attempt * (1 + random.random())
            if wait <= self.config.max_retry_after:
                self.stats.retries += 1
                task.attempt += 1
                sched.retry(task, wait)
                return
            page.error = f"{page.error} (Retry-After {wait:.0f} s exceeds --max-retry-after)"
        if task.kind == ROBOTS:
            rules = RobotsRules.from_fetch(page, result.body)
            sched.set_robots(origin, rules)
            if self._sitemaps is not None:
                for sitemap in self._sitemaps.from_robots(origin, rules.sitemaps()):
                    sched.add(sitemap)
            return
        if task.kind == SITEMAP:
            self._handle_sitemap(task, page, result)
            return
        links = [Task(link, task.depth + 1, page.url, task.seed) for link in result.links] \
            if result.links and not self._stop else []
        if self._shared is not None:
            self._emit(page, task, result, links)  # committed with the record
            return
        self._emit(page, task, result)
        new_links.extend(links)

    def _handle_sitemap(self, task: Task, page: Page, result: Result) -> None:
        discovery, sched, frontier = self._sitemaps, self._scheduler, self._frontier
        assert discovery is not None
        assert sched is not None
        assert frontier is not None
        self.stats.sitemaps += 1
        if page.error is not None or not page.ok:
            if discovery.worth_a_record(task, page):
                self._emit(page, task, result)
            return
        for sitemap in discovery.from_index(task, result.sitemaps or ()):
            sched.add(sitemap)
        links = result.links
        if self._journal is not None and self.config.recrawl_after is not None and result.lastmods:
            # <lastmod> no later than our last fetch: the page has not changed since.
            links, unchanged = self._journal.changed_since_fetch(links, result.lastmods)
            self._unchanged.update(unchanged)
        self.stats.sitemap_urls += len(links)
        if links and not self._stop:
            frontier.put([Task(link, 0, task.url, task.seed) for link in links])

    def _emit(self, page: Page, task: Task, result: Result | None = None, links: list[Task] | None = None) -> None:
        for name in self._selected:
            # Pages the selectors did not run on (not HTML, errors, refusals)
            # carry the fields too, as None: every record has the same keys.
            if name not in page.extra:
                page.extra[name] = None
        if self._shared is not None and not self._shared.record(page, task, links or ()):
            return  # another node reported this URL already
        write = self._journal is None and self._shared is None
        if self._journal is not None:
            # The journal writes the record once the state has committed it.
            self._journal.record(page, task, result)
            self.stats.changes[page.change or ""] += 1
        stats = self.stats
        stats.pages += 1
        if page.status is not None:
            stats.responses += 1
            stats.statuses[page.status] += 1
        if page.error is not None:
            stats.errors += 1
        if write and self._writer is not None:
            self._writer.write(page)
        if self.on_page is not None:
            self.on_page(page)
        if self._collect:
            self._out.append(page)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
