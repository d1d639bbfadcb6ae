"""``crawler check`` in the main process: the link targets checked but not crawled, each once.

A page's worker names the targets it links to that the crawl does not
follow (out of scope, past ``--depth``, denied, nofollow, assets); each is
fetched once (a `crawler.page.CHECK` task: HEAD, then GET, never parsed),
through the scheduler like any page, so robots.txt, per-host slots and
``--delay`` apply. They skip the frontier: the frontier queues pages to
crawl, and its seen set would make a target checked here never crawled
when a later page links to it in scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..page import CHECK, Task

#: Targets remembered to be checked once; past this, a repeat may be checked again (bounded memory).
MAX_REMEMBERED = 1_000_000


class CheckTargets:
    """Turns the targets pages name into check tasks, each target once, and none the crawl fetches as a page.

    >>> targets = CheckTargets()
    >>> [t.url for t in targets.new(["http://x.test/"], "http://a.test/", 1, "http://a.test/")]
    ['http://x.test/']
    >>> targets.new(["http://x.test/"], "http://a.test/b", 2, "http://a.test/")
    []
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.count = 0

    def note(self, pages: Iterable[str]) -> None:
        """URLs the crawl fetches as pages (seeds, followed links): their records answer for them."""
        for url in pages:
            if len(self._seen) >= MAX_REMEMBERED:
                return
            self._seen.add(url)

    def new(self, targets: Iterable[str], referrer: str, depth: int, seed: str) -> list[Task]:
        """Check tasks for the ``targets`` not seen before (found on ``referrer`` at ``depth`` - 1)."""
        tasks = []
        for url in targets:
            if url in self._seen:
                continue
            if len(self._seen) < MAX_REMEMBERED:
                self._seen.add(url)
            tasks.append(Task(url, depth, referrer, seed, kind=CHECK))
        self.count += len(tasks)
        return tasks
