"""`CrawlStats`: the counts of a run, for the end summary and the exit status."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from ..policy import HOST_CAP, ROBOTS


@dataclass
class CrawlStats:
    """Counts of a run, for the end summary and the exit status."""

    pages: int = 0
    errors: int = 0
    responses: int = 0
    retries: int = 0
    #: what the gate refused, by reason (`crawler.policy`): links per occurrence, URLs once
    refused: Counter[str] = field(default_factory=Counter)
    #: URLs robots.txt refused (found links only: a refused seed gets a record)
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
    def robots_refused(self) -> int:
        """Pages robots.txt refused (seeds and found links)."""
        return self.refused[ROBOTS]

    @property
    def host_capped(self) -> int:
        """URLs left out by ``--max-pages-per-host``."""
        return self.refused[HOST_CAP]

    @property
    def elapsed(self) -> float:
        """Seconds from start to finish (or to now while running)."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.pages / self.elapsed if self.elapsed > 0 else 0.0
