"""Errors raised by `crawler`.

Hierarchy::

    CrawlerError              root of everything this package raises
    ├── UsageError            bad command line or option value (exit 2)
    │   └── ConfigError       a CrawlConfig value is invalid
    ├── SeedError             a seed file or seed URL is unusable (exit 2)
    └── FrontierError         the frontier backend failed
        └── RedisLostError    Redis stayed unreachable mid-run (--redis): the node stopped

Page-level failures (DNS, refused, timeout, HTTP 4xx/5xx) are never raised:
they become the ``error`` field of a record. `crawler.worker.fetch.error_kind` turns a
requests exception into the short stable kind used there.
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Root of the exceptions this package raises."""


class UsageError(CrawlerError, ValueError):
    """The command line or an option value is unusable."""


class ConfigError(UsageError):
    """A `CrawlConfig` value is invalid."""


class SeedError(CrawlerError, ValueError):
    """A seed file or seed URL is unusable."""


class FrontierError(CrawlerError):
    """The frontier backend failed."""


class RedisLostError(FrontierError):
    """Redis stayed unreachable for longer than the outage window: the crawl stopped."""
