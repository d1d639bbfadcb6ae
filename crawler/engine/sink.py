"""Where finished pages go: the `Sink` protocol, and `Backend`, what one mode of crawl is made of.

A crawl has one *record sink*, picked once at start by the mode
(`crawler.engine.backend.open_backend`):

* plain: `crawler.store.plain.PlainSink` writes each record to the output and
  queues the page's links;
* ``--state``: `crawler.store.journal.Journal` commits record, done-mark and
  links to the SQLite state in one transaction, then writes the record;
* ``--redis``: `crawler.cluster.node.RedisNode` commits them in Redis in one
  script, then writes the record to this node's file.

More sinks may follow it (an archive, a report): they see every record the
record sink reported. `crawler.engine.crawler.Crawler` calls them and never
asks which mode it is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..page import Done, Result, Task

if TYPE_CHECKING:
    from ..config import HostSettings
    from .frontier import Frontier
    from .scheduler import HostGate


class Sink(Protocol):
    """Where finished pages go. Called from the crawl loop's thread only, under its lock."""

    def open(self) -> None:
        """Get ready before the first record: open or reopen the output."""

    def write(self, done: Done) -> bool:
        """Take one finished page; False when it is not to be reported (another node did already)."""

    def unrecorded(self, result: Result) -> None:
        """A fetch that makes no record: a try to be retried, robots.txt, a sitemap (an archive
        keeps their exchanges). Only the sinks after the record sink are given these."""

    def tick(self) -> None:
        """Called after every batch of results and on every loop turn: commit, flush, renew leases."""

    def close(self, finished: bool) -> None:
        """The crawl ended, ``finished`` (every URL done) or not (stopped, killed, failed)."""


@dataclass
class Backend:
    """What one mode of crawl is made of: its frontier, sinks and shared host gate.

    ``want(concurrency, buffered)`` says how many tasks to take from the
    frontier now; ``tick`` is how often (seconds) the loop must turn even
    when nothing happens (the Redis leases need renewing), ``idle_poll`` how
    often when no request of this run is in flight but the frontier is not
    empty (other nodes hold its tasks: ``--redis``); ``closers`` run
    last, after the sinks and the frontier (a Manager process to stop).
    ``history`` and ``local_caps`` configure the gate: the state's memory of
    past fetches, and whether the caps are counted here (not in Redis).
    """

    frontier: Frontier
    sinks: list[Sink]
    want: Callable[[int, int], int]
    host_gate: HostGate | None = None
    tick: float = 0.5
    idle_poll: float | None = None
    local_caps: bool = True
    history: Callable[[str], float | None] | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: the crawl's per-host settings when they are not this run's own (``--redis``: the first node's)
    hosts: tuple[tuple[str, HostSettings], ...] | None = None
    #: ``refused(task, reason, detail)``: remembers why a URL was not fetched (``--state``, for ``crawler explain``)
    refused: Callable[[Task, str, str], None] | None = None
    #: facts for the run summary (crawl id, node, Redis calls), filled in at close
    describe: Callable[[], dict[str, object]] | None = None
    #: ``check`` going on after an interrupted run: the URLs it recorded (pages and targets checked),
    #: and the targets its pages named that no record answers for yet (from the link graph's side file)
    checked: Iterable[str] = ()
    pending_checks: list[Task] = field(default_factory=list)
    #: run before the record sink commits (``--state``), for sinks that must not lag its records
    before_commit: list[Callable[[], None]] = field(default_factory=list)
    #: the record sink's `Sink.write` for several pages at once (one flag each), when one
    #: commit for them all is cheaper (``--redis``: one round trip): the loop then hands
    #: over the pages of each batch of results together
    write_many: Callable[[list[Done]], list[bool]] | None = None

    def close(self, finished: bool) -> None:
        """Close the sinks (record sink last), then the frontier, then the rest; every step runs."""
        try:
            for sink in reversed(self.sinks):
                sink.close(finished)
        finally:
            try:
                self.frontier.close()
            finally:
                for close in self.closers:
                    close()


#: Tasks kept buffered in the scheduler. The frontier is FIFO, so a page's
#: links arrive together and are mostly of one host: a buffer of a few slots'
#: worth leaves the other hosts idle under --per-host. A few thousand small
#: tasks keep every host fed and cost well under a megabyte.
BUFFER_MIN = 2000
BUFFER_PER_SLOT = 16


def local_want(concurrency: int, buffered: int) -> int:
    """How many tasks to take from a frontier of this machine: keep the buffer full."""
    return max(BUFFER_MIN, concurrency * BUFFER_PER_SLOT) - buffered
