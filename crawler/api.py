"""`crawl()`: the one-call facade over `Crawler`, as ``requests.get`` is over a Session."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .config import CrawlConfig
from .engine.crawler import Crawler
from .page import Page
from .store.seeds import parse_seed

if TYPE_CHECKING:
    from .worker.tasks import Extract


def crawl(seeds: Iterable[str] | str, extract: Extract | None = None, **options: Any) -> Iterator[Page]:
    """Crawl from ``seeds`` and yield a `Page` per URL as it arrives.

    ``options`` are `CrawlConfig` fields (``depth=1``, ``scope="domain"``…).
    Leaving the loop early stops the crawl and its worker processes.

    Usage::

        for page in crawl(["https://example.com"], depth=1):
            print(page.url, page.status, page.title)
    """
    if isinstance(seeds, str):
        seeds = [seeds]
    urls = [parse_seed(s, "seed") for s in seeds]
    config = CrawlConfig(**options)
    yield from Crawler(config, extract=extract).iter_pages(urls)
