"""`crawl()`: the one-call facade over `Crawler`, as ``requests.get`` is over a Session."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Union

from .config import CrawlConfig
from .engine.crawler import Crawler
from .errors import SeedError
from .page import Page
from .store.seeds import read_seeds
from .store.tables import SeedInputs

if TYPE_CHECKING:
    from .worker.tasks import Extract

#: What ``crawl()`` takes as seeds: one, or an iterable of them.
Seed = Union[str, "os.PathLike[str]"]


def crawl(seeds: Iterable[Seed] | Seed, extract: Extract | None = None, **options: Any) -> Iterator[Page]:
    """Crawl from ``seeds`` and yield a `Page` per URL as it arrives.

    ``seeds`` mean what SEED means on the command line: a ``pathlib.Path`` is
    always a seed file; a string with ``://`` is a URL; any other string is a
    seed file if one exists by that name, an error if it is named like one
    (``urls.txt``, ``.csv``…) but missing, and a host name otherwise
    (``example.com`` → ``http://example.com/``); ``-`` is standard input.
    Pass a ``Path`` or a full URL to leave no doubt.

    ``options`` are `CrawlConfig` fields (``depth=1``, ``scope="domain"``…),
    or the command line's long options for the few named differently
    (``no_robots=True``, ``header={"X-Key": "v"}``, ``select_all=...``).
    Leaving the loop early stops the crawl and its worker processes.

    Usage::

        for page in crawl(["https://example.com"], depth=1):
            print(page.url, page.status, page.title)
    """
    config = CrawlConfig(**options)
    if config.insecure:  # never silent (the command line prints its own line)
        logging.getLogger("crawler").warning("insecure=True: TLS certificates are not checked")
    sources = _sources(seeds)
    inputs = SeedInputs()
    urls = read_seeds(sources, max_url_length=config.max_url_length, url_column=config.url_column,
                      keep_columns=config.keep_columns, inputs=inputs) if sources else []
    yield from Crawler(config, extract=extract, inputs=inputs).iter_pages(urls)


def _sources(seeds: Iterable[Seed] | Seed) -> list[str]:
    """The seeds as `read_seeds` sources (a path that is not a file is an error, never a host)."""
    items: Iterable[Seed] = [seeds] if isinstance(seeds, (str, os.PathLike)) else seeds
    sources = []
    for item in items:
        if isinstance(item, os.PathLike):
            path = os.fspath(item)
            if not os.path.exists(path):
                raise SeedError(f"{path}: no such seed file")
            sources.append(path if "://" not in path and path != "-" else os.path.join(".", path))
        elif isinstance(item, str):
            sources.append(item)
        else:
            raise SeedError(f"a seed must be a URL string or a path, got {type(item).__name__}: {item!r}")
    return sources
