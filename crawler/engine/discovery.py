"""Sitemap discovery (``--sitemaps``), in the main process: which sitemaps to fetch.

Each seed's origin contributes ``/sitemap.xml`` and the ``Sitemap:`` lines
of its robots.txt; sitemap indexes add more. Every sitemap is fetched once,
and at most `MAX_SITEMAPS` per run, so an index that lists itself or links
an endless chain of indexes ends. Parsing happens in the workers
(`crawler.worker.sitemaps`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..page import SITEMAP, Page, Task
from ..urls import normalize_url, origin_of

MAX_SITEMAPS = 1000


class SitemapDiscovery:
    """The sitemap tasks of one run."""

    def __init__(self, seeds: Iterable[str]) -> None:
        self._seed_of: dict[str, str] = {}
        for seed in seeds:
            self._seed_of.setdefault(origin_of(seed), seed)
        self._seen: set[str] = set()
        self._guessed: set[str] = set()
        self.capped = 0

    def initial(self) -> list[Task]:
        """``/sitemap.xml`` of every seed origin."""
        tasks = []
        for origin, seed in self._seed_of.items():
            url = origin + "/sitemap.xml"
            self._guessed.add(url)
            tasks += self._tasks([url], seed, None)
        return tasks

    def from_robots(self, origin: str, sitemaps: Iterable[str]) -> list[Task]:
        """The ``Sitemap:`` URLs of a seed origin's robots.txt."""
        seed = self._seed_of.get(origin)
        return [] if seed is None else self._tasks(sitemaps, seed, origin + "/robots.txt")

    def from_index(self, task: Task, sitemaps: Iterable[str]) -> list[Task]:
        """The sitemaps a sitemap index lists."""
        return self._tasks(sitemaps, task.seed or task.url, task.url)

    def worth_a_record(self, task: Task, page: Page) -> bool:
        """A failed sitemap is reported, except a guessed ``/sitemap.xml`` that is simply not there."""
        return not (task.url in self._guessed and page.status is not None and 400 <= page.status < 500)

    def _tasks(self, urls: Iterable[str], seed: str, referrer: str | None) -> list[Task]:
        tasks = []
        for url in urls:
            if not url.lower().startswith(("http://", "https://")):
                continue
            try:
                url = normalize_url(url)
            except ValueError:
                continue
            if url in self._seen:
                continue
            if len(self._seen) >= MAX_SITEMAPS:
                self.capped += 1
                continue
            self._seen.add(url)
            tasks.append(Task(url, 0, referrer, seed, kind=SITEMAP))
        return tasks
