"""Dispatch order and politeness gates, kept in the main process.

Tasks pulled from the frontier wait here, one queue per origin, until they
may go: the global concurrency cap, the per-host cap, the per-host delay
(``--delay`` or robots.txt's Crawl-delay, whichever is larger), robots.txt
(fetched first for each origin) and the breadth-first depth gate. Hosts take
turns, so one slow host never stalls the others. A host that keeps answering
429/503 or timing out gets half its slots (down to one), and slowly gets them
back as it recovers.

With ``--redis`` a `HostGate` makes the per-host cap and pacing global: a
request starts only once the gate (shared by every node) grants its host a
slot, and the slot is given back when the request ends.

The depth gate: a task at depth d goes only while nothing shallower than
d - 1 is still queued or in flight. Only an unfinished page at depth <= d - 2
could reveal a shorter path to a depth-d URL; with the gate, a URL is never
fetched before its shortest depth is known, and two levels still overlap.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Protocol

from ..config import HostSettings
from ..page import ROBOTS, SITEMAP, Task
from ..urls import host_of, origin_of
from .gate import Gate, Refusal
from .robots import RobotsRules

#: Successes in a row before a throttled host gets one slot back (slow growth).
GROW_AFTER = 20


class HostGate(Protocol):
    """Per-host slots and pacing shared beyond this process (see `crawler.cluster.frontier`)."""

    def acquire(self, origin: str, task: Task, limit: int, delay: float) -> float:
        """Take a slot of ``origin`` for ``task``: 0 when granted, else seconds to wait first.

        Negative: every slot is taken; ask again after that many seconds, or
        as soon as one of this scheduler's own requests to the host ends.
        """

    def release(self, origin: str, task: Task) -> None:
        """The request for ``task`` ended: give its slot back (or keep it for the host's next one)."""

    def settle(self) -> None:
        """The scheduler has started every request it could for now: slots kept for reuse
        and not reused go back."""

    def spare(self) -> list[str]:
        """Origins with a slot kept for reuse: their next request needs no round trip."""


class Host:
    """The queue and gates of one origin (``scheme://host:port``)."""

    __slots__ = ("origin", "tasks", "fetching", "next_at", "robots", "robots_pending", "delay",
                 "in_ring", "limit", "streak", "sitemaps", "full", "own_delay", "cap", "user_agent")

    def __init__(self, origin: str, delay: float, cap: int = 1, user_agent: str = "") -> None:
        self.origin = origin
        self.tasks: deque[Task] = deque()
        self.fetching = 0  # requests in flight: dispatched tasks holding a slot (see Scheduler.released)
        self.next_at = 0.0
        self.robots: RobotsRules | None = None
        self.robots_pending = False
        self.delay = delay
        self.in_ring = False
        self.limit = 0  # requests allowed in flight; set by the scheduler, lowered when the host struggles
        self.streak = 0  # > 0: consecutive throttling signals; < 0: consecutive successes
        self.sitemaps = 0  # sitemap tasks buffered or in flight: the host's pages wait for them
        self.full = False  # the gate said every slot of the host is taken
        # The host's own settings (the crawl's, or its [hosts] entry): the
        # delay before robots.txt's Crawl-delay, the most slots, the robots.txt agent.
        self.own_delay = delay
        self.cap = cap
        self.user_agent = user_agent


class Scheduler:
    """Holds buffered tasks and hands out the next one allowed to go."""

    def __init__(self, concurrency: int, per_host: int, delay: float, user_agent: str,
                 robots: bool = True, clock: Callable[[], float] = time.monotonic,
                 gate: HostGate | None = None,
                 check: Callable[[Task, RobotsRules], Refusal | None] | None = None,
                 hosts: Mapping[str, HostSettings] | None = None) -> None:
        self.concurrency = concurrency
        #: per-host settings by host name (config file ``[hosts.NAME]``)
        self.settings = hosts or None
        self.per_host = per_host
        self.delay = delay
        self.user_agent = user_agent
        self.use_robots = robots
        self.clock = clock
        self.gate = gate
        # What robots.txt says of a task whose host's rules are known: the crawl's `Gate` decides.
        self.check = check or Gate(user_agent).robots
        self.hosts: dict[str, Host] = {}
        self._ring: deque[Host] = deque()  # hosts that have queued tasks
        self._depths: Counter[int] = Counter()  # page tasks buffered or in flight, by depth
        self.buffered = 0
        self.inflight = 0  # dispatched, not yet done
        self.fetching = 0  # of those, still holding a request slot
        # In-flight tasks that gave their slot back, as (kind, url): the result
        # brings back a copy of its task, and a URL is in flight once at a time.
        self._released: set[tuple[str, str]] = set()

    # -- filling --------------------------------------------------------
    def add(self, task: Task) -> None:
        """Buffer a page or sitemap task until its host may take it.

        Sitemaps go first, and the host's pages wait until they are read:
        what a sitemap says (new URLs, ``<lastmod>``) then counts for them.
        """
        host = self._host(origin_of(task.url))
        self._enring(host)
        if task.kind == SITEMAP:
            host.sitemaps += 1
            host.tasks.appendleft(task)
        else:
            host.tasks.append(task)
        self.buffered += 1
        self._depths[task.depth] += 1

    def retry(self, task: Task, delay: float) -> None:
        """Put a failed task back first in its host's queue and pause the host for ``delay``."""
        host = self._host(origin_of(task.url))
        self._enring(host)
        host.tasks.appendleft(task)
        host.next_at = max(host.next_at, self.clock() + delay)
        self.buffered += 1
        if task.kind != ROBOTS:
            self._depths[task.depth] += 1
        if task.kind == SITEMAP:
            host.sitemaps += 1

    def _enring(self, host: Host) -> None:
        if not host.in_ring:
            host.in_ring = True
            self._ring.append(host)

    def _host(self, origin: str) -> Host:
        host = self.hosts.get(origin)
        if host is None:
            own = self.settings.get(host_of(origin)) if self.settings else None
            if own is None:
                host = Host(origin, self.delay, self.per_host, self.user_agent)
            else:
                host = Host(origin, self.delay if own.delay is None else own.delay,
                            self.per_host if own.per_host is None else own.per_host,
                            self.user_agent if own.user_agent is None else own.user_agent)
            self.hosts[origin] = host
            host.limit = host.cap
            if not self.use_robots:
                host.robots = RobotsRules()
        return host

    # -- dispatching ------------------------------------------------------
    def min_depth(self) -> int | None:
        """Lowest depth of a page (or sitemap) task buffered or in flight."""
        live = [d for d, n in self._depths.items() if n > 0]
        return min(live) if live else None

    def next_task(self, depth_floor: int | None) -> Task | Refusal | None:
        """The next task allowed to start now, a task robots.txt refused (done with; the
        caller records or counts it), or None when nothing may go now.

        ``depth_floor`` is the lowest depth still unfinished anywhere
        (frontier included); tasks deeper than it + 1 wait.
        """
        if self.fetching < self.concurrency:
            now = self.clock()
            if self.gate is not None:
                # Hosts whose slot the gate kept go first: that request costs no round trip.
                for origin in self.gate.spare():
                    host = self.hosts.get(origin)
                    task = self._take(host, now, depth_floor) if host is not None else None
                    if task is not None:
                        return task
            for _ in range(len(self._ring)):
                host = self._ring.popleft()
                task = self._take(host, now, depth_floor)
                if host.tasks:
                    self._ring.append(host)  # round robin: the host goes to the back
                else:
                    host.in_ring = False
                if task is not None:
                    return task
        if self.gate is not None:
            self.gate.settle()  # nothing more may go now: slots kept for reuse go back
        return None

    def _take(self, host: Host, now: float, depth_floor: int | None) -> Task | Refusal | None:
        while host.tasks:
            if host.fetching >= host.limit or host.next_at > now:
                return None
            head = host.tasks[0]
            if head.kind == ROBOTS:  # a robots.txt fetch being retried
                if not self._granted(host, head, now):
                    return None
                host.tasks.popleft()
                self.buffered -= 1
                return self._start(host, head, now)
            if host.robots is None:
                if host.robots_pending:
                    return None
                # With the referrer of the page that asks for it: the address
                # policy judges robots.txt as that page (crawler.worker.addresses).
                robots = Task(host.origin + "/robots.txt", referrer=head.referrer, kind=ROBOTS)
                if not self._granted(host, robots, now):
                    return None
                host.robots_pending = True
                return self._start(host, robots, now)
            if depth_floor is not None and head.depth > depth_floor + 1:
                return None
            if host.sitemaps and head.kind != SITEMAP:
                return None
            host.tasks.popleft()
            self.buffered -= 1
            refusal = self.check(head, host.robots)
            if refusal is not None:
                self._depths[head.depth] -= 1
                if head.kind == SITEMAP:
                    host.sitemaps -= 1
                return refusal
            if not self._granted(host, head, now):
                host.tasks.appendleft(head)
                self.buffered += 1
                return None
            return self._start(host, head, now)
        return None

    def _granted(self, host: Host, task: Task, now: float) -> bool:
        """True when the gate (if any) lets ``task`` start; else the host waits as long as it says."""
        if self.gate is None:
            return True
        wait = self.gate.acquire(host.origin, task, host.limit, host.delay)
        if wait == 0:
            return True
        host.next_at = now + abs(wait)
        host.full = wait < 0
        return False

    def _start(self, host: Host, task: Task, now: float) -> Task:
        self.inflight += 1
        host.fetching += 1
        self.fetching += 1
        if host.delay > 0:
            host.next_at = now + host.delay
        return task

    def next_wakeup(self) -> float | None:
        """Seconds until a delayed host may go again (None if no host is waiting on time)."""
        now = self.clock()
        waits = [h.next_at - now for h in self._ring if h.next_at > now and h.fetching < h.limit]
        return max(0.0, min(waits)) if waits else None

    # -- completion ---------------------------------------------------------
    def released(self, task: Task) -> None:
        """An in-flight task's response is read: its request slot (global, per host and the
        gate's) is free, though the task is not done until `done`."""
        key = (task.kind, task.url)
        if key in self._released:
            return
        self._released.add(key)
        self._free_slot(self.hosts[origin_of(task.url)], task)

    def _free_slot(self, host: Host, task: Task) -> None:
        host.fetching -= 1
        self.fetching -= 1
        if self.gate is not None:
            self.gate.release(host.origin, task)
            if host.full:  # the slot just freed is one this host was waiting for: try again now
                host.full = False
                host.next_at = 0.0

    def done(self, task: Task) -> None:
        """A task finished (recorded, refused or about to be retried)."""
        host = self.hosts[origin_of(task.url)]
        self.inflight -= 1
        key = (task.kind, task.url)
        if key in self._released:
            self._released.discard(key)
        else:
            self._free_slot(host, task)
        if task.kind != ROBOTS:
            self._depths[task.depth] -= 1
        if task.kind == SITEMAP:
            host.sitemaps -= 1

    def throttled(self, origin: str) -> None:
        """The host answered 429/503 or timed out. From the second such answer
        in a row, its concurrency halves (down to 1)."""
        host = self._host(origin)
        host.streak = max(host.streak, 0) + 1
        if host.streak >= 2:
            host.limit = max(1, host.limit // 2)

    def succeeded(self, origin: str) -> None:
        """The host answered normally: after GROW_AFTER successes in a row, one more slot."""
        host = self._host(origin)
        host.streak = min(host.streak, 0) - 1
        if host.limit < host.cap and -host.streak >= GROW_AFTER:
            host.limit += 1
            host.streak = 0

    def set_robots(self, origin: str, rules: RobotsRules) -> None:
        """robots.txt of ``origin`` is known: its pages may go."""
        host = self._host(origin)
        host.robots = rules
        host.robots_pending = False
        host.delay = max(host.own_delay, rules.crawl_delay(host.user_agent))

    def idle(self) -> bool:
        """Nothing buffered and nothing in flight."""
        return self.buffered == 0 and self.inflight == 0
