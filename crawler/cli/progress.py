"""What a person watching sees on stderr: a tqdm bar and the closing summary."""

from __future__ import annotations

import shutil
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
        # A pseudo-terminal may report 0 columns, where tqdm would draw nothing.
        width = shutil.get_terminal_size((100, 20)).columns
        self.bar = tqdm(file=stream, unit=" pages", ncols=width if width > 0 else 100, mininterval=0.25)
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


def summary(stats: CrawlStats) -> str:
    """The one-line end-of-run summary."""
    line = (f"crawler: {stats.pages} pages, {stats.errors} errors, {stats.elapsed:.1f} s, "
            f"{stats.rate:.1f} pages/s")
    if stats.retries:
        line += f", {stats.retries} retries"
    if stats.robots_refused:
        line += f", {stats.robots_refused} refused by robots.txt"
    if stats.changes:
        line += ", " + ", ".join(f"{stats.changes[k]} {k}" for k in ("new", "changed", "unchanged", "gone")
                                 if stats.changes[k])
    if stats.sitemaps:
        line += f", {stats.sitemap_urls} URLs from {stats.sitemaps} sitemaps"
    if stats.host_capped:
        line += f", {stats.host_capped} left out by --max-pages-per-host"
    not_followed = sum(stats.refused[reason] for reason in LINK_REASONS)
    if not_followed:
        reasons = ", ".join(f"{reason} {stats.refused[reason]}" for reason in LINK_REASONS if stats.refused[reason])
        line += f", {not_followed} links not followed ({reasons})"
    if stats.redis_calls is not None:
        line += f", node {stats.node}, {stats.redis_calls / max(stats.pages, 1):.1f} Redis calls/page"
    if stats.stopped_by:
        line += f" (stopped by {stats.stopped_by})"
    return line
