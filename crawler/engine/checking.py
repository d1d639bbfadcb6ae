"""``crawler check`` in the main process: the link targets checked but not crawled, each once.

A page's worker names the targets it links to that the crawl does not
follow (out of scope, past ``--depth``, denied, nofollow, assets); each is
fetched once (a `crawler.page.CHECK` task: HEAD, then GET, never parsed),
through the scheduler like any page, so robots.txt, per-host slots and
``--delay`` apply. They skip the frontier: the frontier queues pages to
crawl, and its seen set would make a target checked here never crawled
when a later page links to it in scope.

A target the crawl may still fetch as a page (it is within ``--scope`` of
one of the seeds: a link from one seed's site to another's, a page past
the depth limit) waits until the crawl has nothing else to do, and is
checked then only if no page record answers for it. Checked at once, 671
of the 787 targets of the bench's four-site crawl were fetched again as
pages, each with two records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..page import CHECK, Task

#: Targets remembered to be checked once; past this, a repeat may be checked again (bounded memory).
MAX_REMEMBERED = 1_000_000


class CheckTargets:
    """Turns the targets pages name into check tasks, each target once, and none the crawl fetches as a page.

    ``may_crawl(url)`` tells a target the crawl may still fetch as a page:
    those wait for `later`.

    >>> targets = CheckTargets(lambda url: url.startswith("http://a.test/"))
    >>> [t.url for t in targets.new(["http://x.test/", "http://a.test/deep"], "http://a.test/", 1, "http://a.test/")]
    ['http://x.test/']
    >>> targets.new(["http://x.test/"], "http://a.test/b", 2, "http://a.test/")
    []
    >>> targets.note(["http://a.test/deep"])  # crawled after all: its record answers for it
    >>> targets.later()
    []

    Going on after an interrupted run:

    >>> again = CheckTargets(lambda url: url.startswith("http://a.test/"))
    >>> left = [Task("http://x.test/", 1, "http://a.test/", kind=CHECK), Task("http://y.test/", 1, "http://a.test/")]
    >>> [t.url for t in again.resume(["http://x.test/"], left)]
    ['http://y.test/']
    """

    def __init__(self, may_crawl: Callable[[str], bool] = lambda url: False) -> None:
        self._seen: set[str] = set()
        self._may_crawl = may_crawl
        #: targets held back, url -> task: dropped when the crawl fetches them as pages
        self._held: dict[str, Task] = {}
        self.count = 0

    def note(self, pages: Iterable[str]) -> None:
        """URLs the crawl fetches as pages (seeds, followed links): their records answer for them."""
        held = self._held
        for url in pages:
            if held:
                held.pop(url, None)
            if len(self._seen) >= MAX_REMEMBERED:
                continue
            self._seen.add(url)

    def new(self, targets: Iterable[str], referrer: str, depth: int, seed: str) -> list[Task]:
        """Check tasks for the ``targets`` not seen before (found on ``referrer`` at ``depth`` - 1);
        those the crawl may still fetch as pages are held for `later`."""
        tasks = []
        seen = self._seen
        # Most targets were seen on an earlier page (menus, pagers): skipped by one comprehension.
        for url in [url for url in targets if url not in seen]:
            if url in seen:  # twice in ``targets``
                continue
            if len(seen) < MAX_REMEMBERED:
                seen.add(url)
            task = Task(url, depth, referrer, seed, kind=CHECK)
            if self._may_crawl(url):
                self._held[url] = task
            else:
                tasks.append(task)
                self.count += 1
        return tasks

    def resume(self, checked: Iterable[str], pending: Iterable[Task]) -> list[Task]:
        """An interrupted crawl goes on: the targets it ``checked`` (and pages it recorded) are not
        checked again, and its ``pending`` targets are, as `new` would take them; returns those to check now."""
        self.note(checked)
        tasks = []
        for task in pending:
            tasks += self.new([task.url], task.referrer or "", task.depth, task.seed)
        return tasks

    def later(self) -> list[Task]:
        """The held targets no page record answers for: to check once the crawl has nothing else to do."""
        tasks, self._held = list(self._held.values()), {}
        self.count += len(tasks)
        return tasks
