"""`Crawler`: the crawl loop, over a frontier, a gate, a scheduler, a pool and sinks.

Data flow (all bookkeeping in the main process)::

    seeds ─► frontier ─► scheduler ─► gate ─► pool.apply_async(worker.process)
                ▲                                          │
                └── links ◄── sinks ◄── _handle ◄── result ◄┘──► on_page

The loop thread pulls tasks from the frontier into the scheduler and
dispatches what the gate allows; the pool's result thread only hands each
result over (`_on_result`), and the loop thread handles it: the record and
its links go to the sinks, which commit and write them. One lock guards the
shared state between the two threads.

What a crawl is made of (its mode: plain, ``--state`` or ``--redis``) is
picked once, before the loop starts (`crawler.engine.backend`): the loop
never asks which mode it is in. Tests give their own backend and pool.
"""

from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from ..config import CrawlConfig
from ..page import (
    CHECK,
    MARKDOWN_FIELDS,
    SEO_FIELDS,
    SITEMAP,
    Done,
    Page,
    PageResult,
    Result,
    RobotsResult,
    SitemapResult,
    Task,
    result_for,
    utc_now,
)
from ..policy import MAX_PAGES, LinkFilter
from ..store.cookiefile import read_cookie_file
from ..store.tables import SeedInputs
from ..urls import host_of, origin_of
from ..worker import entry
from .backend import open_backend
from .checking import CheckTargets
from .cookies import CookieStore
from .discovery import SitemapDiscovery
from .gate import Gate, Refusal
from .pool import ThreadedPool
from .robots import RobotsRules
from .scheduler import Scheduler
from .sink import Backend
from .stats import CrawlStats

if TYPE_CHECKING:
    from ..worker.tasks import Extract

__all__ = ["Crawler", "CrawlStats"]

log = logging.getLogger(__name__)

OnPage = Callable[[Page], None]
BACKOFF_BASE = 0.5  # seconds; doubled per attempt, with jitter
# Threads per worker process beyond its request slots, to parse the pages
# whose slot already fetches again (a hook's tree, a slow server's page). Parsing
# is CPU work under one GIL per process: more parsing threads only queue for
# it. With a --select at -c 64, 16 spare threads made the crawl 5 % slower
# than holding the slot through the parse; 2 made it no slower, and 14 %
# faster at -c 16. A task read while every thread is busy waits for one,
# holding its slot.
_SPARE_THREADS = 2


class TaskPool(Protocol):
    """What the loop needs of its pool (`crawler.engine.pool.ThreadedPool`, or a test's)."""

    def apply_async(self, func: Callable[..., Any], args: Any = (), kwds: Any = None,
                    callback: Callable[[Any], None] | None = None,
                    error_callback: Callable[[BaseException], None] | None = None,
                    on_release: Callable[[], None] | None = None) -> Any:
        """Run ``func(*args)`` in a worker; ``callback(result)`` in the pool's result thread."""

    def terminate(self) -> None:
        """Stop every worker now."""

    def join(self) -> None:
        """Wait for the workers to be gone."""


#: ``(config, extract, multiprocessing context) -> pool``
PoolFactory = Callable[[CrawlConfig, "Extract | None", Any], TaskPool]
#: ``(config, seeds, context, stopping, selected fields) -> backend`` (see `open_backend`)
BackendFactory = Callable[[CrawlConfig, list[str], Any, Callable[[], bool], tuple[str, ...]], Backend]


def threaded_pool(config: CrawlConfig, extract: Extract | None, ctx: Any) -> TaskPool:
    """The crawl's worker processes: ``config.workers`` of them, sharing ``config.concurrency`` slots."""
    threads = math.ceil(config.concurrency / config.workers)
    # A page may give its request slot back once its response is read
    # (worker.process): spare threads, started once one does, parse meanwhile.
    return ThreadedPool(config.workers, threads, entry.init_worker, (config, extract), context=ctx,
                        spare=_SPARE_THREADS)


class Crawler:
    """A crawl with one config, run over seeds.

    ``on_page(page)`` runs in the main process for every record;
    ``extract(url, soup) -> dict`` runs in the workers on every HTML page and
    must be picklable (a module-level function), its dict merged into the record.
    ``backend`` and ``pool`` replace how the crawl's frontier and sinks, and
    its worker pool, are made (tests run the loop without processes).

    >>> Crawler(CrawlConfig(depth=1)).config.depth
    1
    """

    def __init__(self, config: CrawlConfig | None = None, on_page: OnPage | None = None,
                 extract: Extract | None = None, *, backend: BackendFactory | None = None,
                 pool: PoolFactory | None = None, inputs: SeedInputs | None = None) -> None:
        self.config = config or CrawlConfig()
        #: the input columns kept for seeds (``--keep-columns``), None without
        self.inputs = inputs if inputs is not None and inputs.fields else None
        self.on_page = on_page
        self.extract = extract
        self.stats = CrawlStats()
        self._open_backend: BackendFactory = backend or open_backend
        self._make_pool: PoolFactory = pool or threaded_pool
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop: str | None = None
        self._out: deque[Page] = deque()
        # What the pool's result thread handed over, in order, for the loop
        # thread to handle: results, and tasks whose response is read (slot free).
        self._results: deque[Result | Task] = deque()
        self._collect = False
        # Records handled in the current batch of results, to commit together (None: one by one).
        self._batch: list[Done] | None = None
        self._backend: Backend | None = None
        self._scheduler: Scheduler | None = None
        self._gate = Gate()
        self._cookies = CookieStore()
        self._sitemaps: SitemapDiscovery | None = None
        self._exhausted = False
        self._selected = tuple(sel.name for sel in self.config.select)
        # The Markdown fields lead the extra fields (before hook and selector fields), in every record.
        self._leading = tuple(name for name, on in zip(MARKDOWN_FIELDS, (self.config.markdown,
                                                                          bool(self.config.markdown_dir)),
                                                       strict=True) if on)
        # Fields every record carries, in order, None when the worker did not fill them in.
        self._filled = (SEO_FIELDS if self.config.seo else ()) + (("soft404",) if self.config.check else ()) \
            + self._selected
        self._checks = CheckTargets() if self.config.check else None
        self._seo_front = (SEO_FIELDS if self.config.seo else ()) + (("soft404",) if self.config.check else ())
        self._front = self._seo_front + self._leading

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
        backend, sched = self._backend, self._scheduler
        return (backend.frontier.pending() if backend else 0) + (sched.buffered if sched else 0)

    def stop(self, reason: str = "stopped") -> None:
        """Ask the crawl to stop soon (safe from signal handlers and other threads)."""
        self._stop = reason
        self._wake.set()

    # -- the loop ------------------------------------------------------------
    def _loop(self, seeds: Iterable[str], collect: bool) -> Iterator[Page]:
        config = self.config
        self._collect = collect
        seeds = list(seeds)
        if self._checks is not None:
            self._checks = _check_targets(config, seeds)
            self._checks.note(seeds)
        if config.cookies:  # a malformed file is a UsageError, before anything is opened
            self._cookies.add(read_cookie_file(config.cookies))
        ctx = multiprocessing.get_context(config.start_method)
        # A state in use, an unreachable Redis, an output that cannot be
        # written: UsageError here, before anything starts.
        backend = self._backend = self._open_backend(config, seeds, ctx, self._stopping, self._selected)
        pool: TaskPool | None = None
        failed = False
        try:
            if backend.hosts is not None and backend.hosts != config.hosts:
                # A shared crawl's per-host settings are the first node's (crawler.cluster.node).
                config = self.config = replace(config, hosts=backend.hosts)
            hosts = dict(config.hosts)
            caps = config.max_pages, config.max_pages_per_host
            host_caps = {name: s.max_pages for name, s in hosts.items() if s.max_pages is not None}
            gate = self._gate = Gate(config.user_agent, *(caps if backend.local_caps else (None, None)),
                                     history=backend.history, recrawl_after=config.recrawl_after,
                                     links=LinkFilter.from_config(config), max_depth=config.depth,
                                     host_caps=host_caps if backend.local_caps else None,
                                     agents={name: s.user_agent for name, s in hosts.items() if s.user_agent})
            self.stats.refused, self.stats.refused_urls = gate.refused, gate.refused_urls
            sched = self._scheduler = Scheduler(config.concurrency, config.per_host, config.delay, config.user_agent,
                                                robots=config.robots, gate=backend.host_gate, check=gate.robots,
                                                hosts=hosts)
            if self._checks is not None and (backend.pending_checks or backend.checked):
                for check in self._checks.resume(backend.checked, backend.pending_checks):
                    sched.add(check)
            if config.sitemaps:
                self._sitemaps = SitemapDiscovery(seeds)
                for task in self._sitemaps.initial():
                    sched.add(task)
            entry.preload(ctx)
            pool = self._make_pool(config, self.extract, ctx)
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
                timeout = sched.next_wakeup()
                wait = backend.tick if timeout is None else min(timeout, backend.tick)
                if backend.idle_poll is not None and sched.inflight == 0:
                    # Nothing of ours in flight, so no result of ours will wake the loop:
                    # what the other nodes queue or finish is only seen by asking.
                    wait = min(wait, backend.idle_poll)
                self._wake.wait(wait)
        except BaseException as exc:
            # A consumer leaving iter_pages() early is no failure: what has come in is still recorded.
            failed = not isinstance(exc, GeneratorExit)
            raise
        finally:
            self._finish(backend, pool, failed)

    def _stopping(self) -> bool:
        return self._stop is not None

    def _finish(self, backend: Backend, pool: TaskPool | None, failed: bool) -> None:
        self.stats.finished = time.monotonic()
        self.stats.stopped_by = self._stop
        try:
            if pool is not None:
                pool.terminate()
                pool.join()
                if not failed:
                    with self._lock:  # results that came in before the pool stopped: records too
                        self._drain()
        finally:
            with self._lock:  # the pool is gone; nothing else touches the sinks now
                backend.close(finished=self._exhausted and self._stop is None)
            if backend.describe is not None:
                for name, value in backend.describe().items():
                    setattr(self.stats, name, value)

    def _step(self, pool: TaskPool) -> bool:
        """Refill, dispatch what may go; True when the crawl is complete. Holds the lock."""
        backend, sched, gate = self._backend, self._scheduler, self._gate
        assert backend is not None
        assert sched is not None
        frontier = backend.frontier
        want = backend.want(self.config.concurrency, sched.buffered)
        if want > 0 and frontier.pending():
            # Never take a task the depth gate would hold back: once out of the
            # frontier, a URL keeps its depth even if a shorter path turns up.
            floor = _min(frontier.min_depth(), sched.min_depth())
            for task in frontier.get(want, None if floor is None else floor + 1):
                sched.add(task)
        floor = _min(frontier.min_depth(), sched.min_depth())
        while True:
            if gate.exhausted() and sched.inflight == 0:
                return True  # --max-pages: what is left stays queued for a resumed run
            item = sched.next_task(floor)
            if item is None:
                break
            if isinstance(item, Refusal):
                self._refused(item)
                continue
            refusal = gate.admit(item)
            if refusal is not None:
                sched.done(item)  # never started: give the slot back
                if backend.refused is not None:
                    backend.refused(item, refusal.reason, refusal.error)
                if refusal.reason != MAX_PAGES:  # left out for good, not just for this run's cap
                    frontier.drop(item)
                continue
            self._dispatch(pool, item)
        self._exhausted = sched.idle() and frontier.pending() == 0
        if self._exhausted and self._checks is not None and self._stop is None:
            # The pages are all done: the targets held back that none of them answered for.
            later = self._checks.later()
            if later:
                for check in later:
                    sched.add(check)
                return self._step(pool)
        return self._exhausted

    def _dispatch(self, pool: TaskPool, task: Task) -> None:
        if self._cookies:
            task = replace(task, cookies=self._cookies.for_host(host_of(task.url)))
        pool.apply_async(entry.process, (task,), callback=self._on_result,
                         error_callback=functools.partial(self._on_error, task),
                         on_release=functools.partial(self._on_release, task))

    def _refused(self, refusal: Refusal) -> None:
        """A task robots.txt refused: a record for a seed or an unreachable origin, else left out."""
        task = refusal.task
        if task.kind == SITEMAP:  # bookkeeping: no record
            return
        if refusal.unreachable or task.depth == 0 or task.kind == CHECK:
            # The host is down (every page of it is an error record), or a seed was refused,
            # or a checked target (the links table says why it was not checked).
            referrer = task.referrer if refusal.unreachable or task.kind == CHECK else None
            self._emit(Done(Page(url=task.url, final_url=task.url, depth=task.depth, referrer=referrer,
                                 error=refusal.error, fetched_at=utc_now(), attempts=0), task))
            return
        assert self._backend is not None
        if self._backend.refused is not None:
            self._backend.refused(task, refusal.reason, refusal.error)
        self._backend.frontier.drop(task)

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
        self._on_result(result_for(task, page))

    def _drain(self) -> None:
        """Handle every result handed over so far, then let the sinks commit (links queued in one call)."""
        results = self._results
        sched = self._scheduler
        assert sched is not None
        assert self._backend is not None
        if self._backend.write_many is not None and results:
            # Records of this batch are committed together after it (one Redis round trip).
            self._batch = []
        try:
            while results:
                item = results.popleft()
                if isinstance(item, Task):
                    sched.released(item)
                else:
                    self._handle(item)
        finally:
            batch, self._batch = self._batch, None
            if batch:
                self._write(batch)
        for sink in self._backend.sinks:
            sink.tick()

    def _handle(self, result: Result) -> None:
        task, page = result.task, result.page
        sched = self._scheduler
        assert sched is not None
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
                sched.retry(replace(task, attempt=task.attempt + 1), wait)
                self._unrecorded(result)
                return
            page.error = f"{page.error} (Retry-After {wait:.0f} s exceeds --max-retry-after)"
        if isinstance(result, RobotsResult):
            self._unrecorded(result)
            self._handle_robots(origin, result)
        elif isinstance(result, SitemapResult):
            self._handle_sitemap(task, page, result)
        else:
            assert isinstance(result, PageResult)
            self._gate.count_links(result.refused)
            links = [Task(link, task.depth + 1, page.url, task.seed) for link in result.links] \
                if result.links and not self._stop else []
            self._emit(Done(page, task, result, links))
            if self._checks is not None:
                # Before the checks: a page crawled is not checked again. The page
                # itself too: a resumed crawl fetches pages queued by the killed
                # one, whose links none of this run's pages may name.
                self._checks.note([task.url, *result.links])
            if result.checks and self._checks is not None and not self._stop:
                for check in self._checks.new(result.checks, page.url, task.depth + 1, task.seed):
                    sched.add(check)

    def _handle_robots(self, origin: str, result: RobotsResult) -> None:
        sched = self._scheduler
        assert sched is not None
        rules = RobotsRules.from_fetch(result.page, result.body)
        sched.set_robots(origin, rules)
        if self._sitemaps is not None:
            for sitemap in self._sitemaps.from_robots(origin, rules.sitemaps()):
                sched.add(sitemap)

    def _handle_sitemap(self, task: Task, page: Page, result: SitemapResult) -> None:
        discovery, sched, backend = self._sitemaps, self._scheduler, self._backend
        assert discovery is not None
        assert sched is not None
        assert backend is not None
        self.stats.sitemaps += 1
        if page.error is not None or not page.ok:
            if discovery.worth_a_record(task, page):
                self._emit(Done(page, task, result))
            else:
                self._unrecorded(result)
            return
        self._unrecorded(result)
        for sitemap in discovery.from_index(task, result.sitemaps or ()):
            sched.add(sitemap)
        links = list(result.links)
        if result.lastmods:
            # <lastmod> no later than our last fetch: the page has not changed since.
            links, unchanged = self._gate.changed(links, list(result.lastmods))
            for link in unchanged:
                backend.frontier.drop(Task(link))
        self.stats.sitemap_urls += len(links)
        if links and not self._stop:
            backend.frontier.put([Task(link, 0, task.url, task.seed) for link in links])

    def _unrecorded(self, result: Result) -> None:
        assert self._backend is not None
        for sink in self._backend.sinks[1:]:
            sink.unrecorded(result)

    def _emit(self, done: Done) -> None:
        page = done.page
        for name in self._filled:
            # Pages the selectors (or --seo) did not run on (not HTML, errors,
            # refusals) carry the fields too, as None: every record has the same keys.
            if name not in page.extra:
                page.extra[name] = [] if name == "redirects" else None
        if self._front or self.inputs is not None:
            # Field order (SPEC): after the feature fields, the SEO fields (and
            # check's soft404), the seed's input_*, the Markdown fields; then a
            # hook's and the selectors'. Every record has them all.
            extra = page.extra
            front = {name: extra.get(name) for name in self._seo_front}
            if self.inputs is not None:
                front.update(self.inputs.for_url(page.url))
            front.update((name, extra.get(name)) for name in self._leading)
            page.extra = {**front, **{k: v for k, v in extra.items() if k not in front}}
        if self._batch is not None:
            self._batch.append(done)
            return
        assert self._backend is not None
        if not self._backend.sinks[0].write(done):
            return  # another node reported this URL already
        self._written(done)

    def _write(self, batch: list[Done]) -> None:
        """Commit a batch of records at once (`Backend.write_many`), then report those accepted."""
        assert self._backend is not None
        assert self._backend.write_many is not None
        for done, accepted in zip(batch, self._backend.write_many(batch), strict=True):
            if accepted:  # else another node reported this URL already
                self._written(done)

    def _written(self, done: Done) -> None:
        """The record sink took ``done``: the other sinks, the counts and the caller get it."""
        assert self._backend is not None
        for sink in self._backend.sinks[1:]:
            sink.write(done)
        page = done.page
        stats = self.stats
        stats.pages += 1
        if page.change is not None:
            stats.changes[page.change] += 1
        if page.status is not None:
            stats.responses += 1
            stats.statuses[page.status] += 1
        if page.error is not None:
            stats.errors += 1
        if self.on_page is not None:
            self.on_page(page)
        if self._collect:
            self._out.append(page)


def _check_targets(config: CrawlConfig, seeds: Sequence[str]) -> CheckTargets:
    """``check``'s targets; those within the scope of a seed wait (the crawl may fetch them as pages)."""
    links = LinkFilter.from_config(config)
    keys = {links.scope_key(seed) for seed in seeds}
    return CheckTargets(lambda url: links.scope_key(url) in keys)


def _min(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
