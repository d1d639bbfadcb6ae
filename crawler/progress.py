"""What a person watching sees on stderr: a tqdm bar and the closing summary."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from .crawler import Crawler, CrawlStats
from .page import Page


class Progress:
    """A progress bar (pages, errors, queued, pages/s) fed by ``on_page``."""

    def __init__(self, crawler: Crawler, stream: TextIO | None = None) -> None:
        self.crawler = crawler
        self.bar = tqdm(file=stream or sys.stderr, unit="page", dynamic_ncols=True, mininterval=0.25)
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
        """Remove the bar."""
        self.bar.close()


def summary(stats: CrawlStats) -> str:
    """The one-line end-of-run summary."""
    line = (f"crawler: {stats.pages} pages, {stats.errors} errors, {stats.elapsed:.1f} s, "
            f"{stats.rate:.1f} pages/s")
    if stats.retries:
        line += f", {stats.retries} retries"
    if stats.robots_refused:
        line += f", {stats.robots_refused} refused by robots.txt"
    if stats.stopped_by:
        line += f" (stopped by {stats.stopped_by})"
    return line
