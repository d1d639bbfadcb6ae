"""The frontier: URLs waiting to be crawled, and the set of URLs ever seen.

`Frontier` is the small interface every backend serves (the default
`ManagerFrontier` here; SQLite and Redis backends later). Tasks go in and
come out in batches so that a remote queue costs one round trip per page,
not one per link.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections import Counter
from collections.abc import Sequence
from multiprocessing.managers import SyncManager
from typing import Any, Protocol

from ..page import Task
from ..urls import fingerprint
from .seen import FingerprintSet


class Frontier(Protocol):
    """What the crawl loop needs from a frontier backend."""

    def put(self, tasks: Sequence[Task]) -> int:
        """Queue the tasks whose URL was never seen; return how many were queued.

        A URL still queued at a greater depth takes the shorter depth (and
        that path's referrer), so breadth-first depth limits hold under
        concurrency.
        """

    def get(self, limit: int, max_depth: int | None = None) -> list[Task]:
        """Up to about ``limit`` queued tasks, lowest depth first, none deeper than ``max_depth``; never blocks.

        The crawl loop passes one more than the lowest depth queued or in
        flight: a task taken out of the queue can no longer be reached by a
        shorter path, so it must not be taken before every such path is known.
        """

    def pending(self) -> int:
        """How many tasks are queued."""

    def min_depth(self) -> int | None:
        """The lowest depth among queued tasks, None when empty."""

    def drop(self, task: Task) -> None:
        """``task`` (taken out by `get`) will not be fetched this run: robots.txt or a cap refused it."""

    def close(self) -> None:
        """Release the backend."""


BATCH = 500


def _ignore_sigint() -> None:
    # The manager process shares the terminal's process group: Ctrl-C must
    # not kill it before the main process has finished its clean stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_manager(ctx: Any) -> SyncManager:
    """A started `SyncManager` that ignores Ctrl-C."""
    manager = SyncManager(ctx=ctx)
    manager.start(_ignore_sigint)
    return manager


class ManagerFrontier:
    """The single-machine frontier: a ``multiprocessing.Manager().Queue()``.

    The queue carries batches of tasks; the seen set (64-bit fingerprints)
    and the bookkeeping that lets a queued URL take a shorter depth stay in
    this process. Given no manager (a crawl that cannot discover links), the
    queue is a local one. Thread-safe.
    """

    def __init__(self, manager: SyncManager | None) -> None:
        # One queue per depth, so that get() can leave the deeper ones alone.
        # No manager: a crawl that finds no links (a URL list) keeps its seeds here.
        self._manager = manager
        self._queues: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._seen = FingerprintSet()
        self._queued: dict[int, int] = {}  # fingerprint -> best depth while queued
        self._better: dict[int, Task] = {}  # queued URLs since reached by a shorter path
        self._depths: Counter[int] = Counter()
        self._batches: Counter[int] = Counter()  # depth -> batches in its queue
        self._pending = 0

    def put(self, tasks: Sequence[Task]) -> int:
        fresh: list[Task] = []
        with self._lock:
            for task in tasks:
                fp = fingerprint(task.url)
                if fp not in self._seen:
                    self._seen.add(fp)
                    self._queued[fp] = task.depth
                    self._depths[task.depth] += 1
                    fresh.append(task)
                    continue
                best = self._queued.get(fp)
                if best is not None and task.depth < best:
                    self._queued[fp] = task.depth
                    self._better[fp] = task
                    self._depths[best] -= 1
                    self._depths[task.depth] += 1
            self._pending += len(fresh)
        by_depth: dict[int, list[Task]] = {}
        for task in fresh:
            by_depth.setdefault(task.depth, []).append(task)
        for depth, tasks_at in by_depth.items():
            # Batches bound what one get() pulls into the main process (a seed
            # list of a million URLs must not arrive as one item).
            for start in range(0, len(tasks_at), BATCH):
                self._queue(depth).put(tasks_at[start : start + BATCH])
                with self._lock:
                    self._batches[depth] += 1
        return len(fresh)

    def _queue(self, depth: int) -> Any:
        with self._lock:  # two threads putting the first tasks of a depth must share one queue
            if depth not in self._queues:
                self._queues[depth] = self._manager.Queue() if self._manager is not None else queue.SimpleQueue()
            return self._queues[depth]

    def get(self, limit: int, max_depth: int | None = None) -> list[Task]:
        out: list[Task] = []
        while len(out) < limit:
            with self._lock:
                ready = [d for d, n in self._batches.items() if n > 0 and (max_depth is None or d <= max_depth)]
                if not ready:
                    break
                level = min(ready)
                self._batches[level] -= 1
            batch = self._queue(level).get()
            with self._lock:
                for task in batch:
                    fp = fingerprint(task.url)
                    depth = self._queued.pop(fp)
                    self._depths[depth] -= 1
                    out.append(self._better.pop(fp, task))
                self._pending -= len(batch)
        out.sort(key=lambda t: t.depth)
        return out

    def pending(self) -> int:
        return self._pending

    def min_depth(self) -> int | None:
        with self._lock:
            live = [d for d, n in self._depths.items() if n > 0]
        return min(live) if live else None

    def drop(self, task: Task) -> None:
        """Nothing to remember: a URL refused in a run without state is simply not fetched."""

    def seen_count(self) -> int:
        """How many distinct URLs were ever queued."""
        return len(self._seen)

    def close(self) -> None:
        self._seen.clear()
        self._queued.clear()
        self._better.clear()
