"""What a person watching sees on stderr: a tqdm bar and the closing summary."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from ..engine.crawler import Crawler, CrawlStats
from ..page import Page
from ..policy import LINK_REASONS


class Progress:
    """A progress bar (pages, errors, queued, pages/s) fed by ``on_page``."""

    def __init__(self, crawler: Crawler, stream: TextIO | None = None) -> None:
        self.crawler = crawler
        from tqdm import tqdm  # only runs that show a bar pay for importing it

        stream = stream or sys.stderr
        # Both given: a pseudo-terminal may report a 0x0 size (script -c,
        # some CI runners), and tqdm draws nothing in 0 columns or 0 rows.
        columns, rows = terminal_size(stream)
        self.bar = tqdm(file=stream, unit=" pages", ncols=columns, nrows=rows, mininterval=0.25)
        self._last = 0.0

    def on_page(self, page: Page) -> None:
        """Count one record; refresh the counters at most a few times a second."""
        self.bar.update(1)
        now = time.monotonic()
        if now - self._last > 0.5:
            self._last = now
            stats = self.crawler.stats
            self.bar.set_postfix(errors=stats.errors, queued=self.crawler.queued(), refresh=False)

    def close(self) -> None:
        """Show the final counts and leave the bar."""
        self.bar.set_postfix(errors=self.crawler.stats.errors, queued=self.crawler.queued(), refresh=False)
        self.bar.close()


def terminal_size(stream: TextIO, fallback: tuple[int, int] = (100, 20)) -> tuple[int, int]:
    """Columns and rows of the terminal ``stream`` writes to: ``COLUMNS``/``LINES``,
    else what the terminal says, else ``fallback`` for each that is 0 or unknown."""
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, rows = size.columns, size.lines
    except (AttributeError, ValueError, OSError):  # no descriptor, or not a terminal
        columns = rows = 0
    columns = _env_int("COLUMNS") or columns or fallback[0]
    rows = _env_int("LINES") or rows or fallback[1]
    return columns, rows


def _env_int(name: str) -> int:
    try:
        return max(int(os.environ.get(name, "")), 0)
    except ValueError:
        return 0


def summary(stats: CrawlStats, retries: int | None = None) -> str:
    """The one-line end-of-run summary.

    ``retries``: the retries to show (the CLI passes its `RunSummary`'s, the
    records' ``attempts - 1``, so that line and summary file say one number);
    by default ``stats.retries``, which also counts robots.txt and sitemap retries.
    """
    retries = stats.retries if retries is None else retries
    line = (f"crawler: {_count(stats.pages, 'page')}, {_count(stats.errors, 'error')}, {stats.elapsed:.1f} s, "
            f"{stats.rate:.1f} pages/s")
    if retries:
        line += f", {_count(retries, 'retry', 'retries')}"
    if stats.robots_refused:
        line += f", {stats.robots_refused} refused by robots.txt"
    if stats.changes:
        line += ", " + ", ".join(f"{stats.changes[k]} {k}" for k in ("new", "changed", "unchanged", "gone")
                                 if stats.changes[k])
    if stats.sitemaps:
        line += f", {_count(stats.sitemap_urls, 'URL')} from {_count(stats.sitemaps, 'sitemap')}"
    if stats.host_capped:
        line += f", {stats.host_capped} left out by --max-pages-per-host"
    not_followed = sum(stats.refused[reason] for reason in LINK_REASONS)
    if not_followed:
        reasons = ", ".join(f"{reason} {stats.refused[reason]}" for reason in LINK_REASONS if stats.refused[reason])
        line += f", {_count(not_followed, 'link')} not followed ({reasons})"
    if stats.redis_calls is not None:
        line += f", node {stats.node}, {stats.redis_calls / max(stats.pages, 1):.1f} Redis calls/page"
    if stats.stopped_by:
        line += f" (stopped by {stats.stopped_by})"
    return line


def _count(n: int, one: str, many: str | None = None) -> str:
    """``1 page``, ``2 pages``, ``0 pages``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"
