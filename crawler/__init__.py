"""crawler: a parallel URL fetcher and crawler.

Usage::

    from crawler import crawl, Crawler, CrawlConfig

    for page in crawl(["https://example.com"], depth=1):
        print(page.url, page.status, page.title)

    Crawler(CrawlConfig(depth=2, scope="domain"), on_page=print).run(seeds)
"""

import logging

from .api import crawl
from .config import CrawlConfig, __version__
from .engine.crawler import Crawler, CrawlStats
from .errors import ConfigError, CrawlerError, FrontierError, SeedError, UsageError
from .page import FIELDS, RECORD_FIELDS, Page
from .store.seeds import read_seeds

__all__ = [
    "FIELDS",
    "ConfigError",
    "CrawlConfig",
    "CrawlStats",
    "Crawler",
    "CrawlerError",
    "FrontierError",
    "Page",
    "RECORD_FIELDS",
    "SeedError",
    "UsageError",
    "__version__",
    "crawl",
    "read_seeds",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
