"""The gate: one answer, in the main process, to "fetch this task or not, and why not".

Every rule that keeps a URL from being fetched lives behind `Gate` or shares
its rule objects (`crawler.policy`):

* scope, ``--allow``/``--deny``, URL length, ``--depth`` and nofollow are
  applied to a page's links in the worker that parsed it, with the same
  `crawler.policy.LinkFilter` and `crawler.policy.follows_links` the gate is
  built from; the worker sends back how many links each rule refused
  (`Gate.count_links`);
* seen: the frontier queues a URL once;
* robots.txt: the scheduler asks `Gate.robots` before a host's task may go;
* ``--max-pages``, ``--max-pages-per-host`` and sitemap ``<lastmod>`` under
  ``--recrawl-after``: `Gate.admit`, at dispatch.

A refusal is a value (`Refusal`) with a stable reason from `crawler.policy`;
`Gate.refused` counts them by reason for the run summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..page import PAGE, Task
from ..policy import HOST_CAP, MAX_PAGES, ROBOTS, UNCHANGED, LinkFilter, link_refusal
from ..urls import host_of, origin_of
from .robots import RobotsRules

#: URLs refused by robots.txt kept for ``-v`` (the count goes on past it).
MAX_REFUSED_URLS = 10_000

#: ``history(url)``: Unix time of the URL's last fetch in an earlier run, None if never.
History = Callable[[str], "float | None"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A task the gate refused: the reason (`crawler.policy`), and the error text a record of it shows."""

    task: Task
    reason: str
    error: str
    #: the origin gave no response at all (robots.txt unreachable): its pages are error records
    unreachable: bool = False


class Gate:
    """Decides which tasks are fetched, and counts what it refused by reason.

    ``max_pages`` and ``max_per_host`` are None where something else counts
    them (with ``--redis``, the crawl's Redis counts for every node).

    >>> gate = Gate(max_pages=1)
    >>> gate.admit(Task("http://a.test/")) is None, gate.admit(Task("http://a.test/x")).reason
    (True, 'max-pages')
    """

    def __init__(self, user_agent: str = "", max_pages: int | None = None, max_per_host: int | None = None,
                 history: History | None = None, recrawl_after: float | None = None,
                 links: LinkFilter | None = None, max_depth: int = 0,
                 host_caps: Mapping[str, int] | None = None, agents: Mapping[str, str] | None = None) -> None:
        self.user_agent = user_agent
        #: per-host settings (config file ``[hosts.NAME]``): page caps and user agents by host name
        self.host_caps = host_caps or None
        self.agents = agents or None
        self.links = links or LinkFilter("any")
        self.max_depth = max_depth
        self.max_pages = max_pages
        self.max_per_host = max_per_host
        self.history = history if recrawl_after is not None else None
        self.refused: Counter[str] = Counter()
        #: URLs robots.txt refused (up to MAX_REFUSED_URLS), for ``-v``
        self.refused_urls: list[str] = []
        self.admitted = 0
        self._per_host: Counter[str] = Counter()
        self._unchanged: set[str] = set()

    # -- a found link -------------------------------------------------------------------
    def link(self, url: str, seed: str, parent_depth: int) -> str | None:
        """Why a link found on a page at ``parent_depth`` is not followed (None: it is).

        The workers apply the same rule (`crawler.policy.link_refusal`) to every
        link of every page they parse and send back only what it lets through,
        with counts of the rest (`count_links`); this answers for one URL.
        """
        return link_refusal(self.links, url, seed, parent_depth, self.max_depth)

    # -- at dispatch -----------------------------------------------------------------
    def robots(self, task: Task, rules: RobotsRules) -> Refusal | None:
        """None when robots.txt lets ``task`` go, else the refusal."""
        agent = self.agents.get(host_of(task.url), self.user_agent) if self.agents else self.user_agent
        if rules.allowed(task.url, agent):
            return None
        if task.kind == PAGE and not rules.unreachable:  # a sitemap is bookkeeping; a dead host, errors
            self.refused[ROBOTS] += 1
            if task.depth > 0 and len(self.refused_urls) < MAX_REFUSED_URLS:  # a seed gets a record
                self.refused_urls.append(task.url)
        return Refusal(task, ROBOTS, rules.refusal(), unreachable=rules.unreachable)

    def admit(self, task: Task) -> Refusal | None:
        """None when ``task`` may start now (and it is counted against the caps), else the refusal.

        Only a page's first attempt counts: retries and bookkeeping fetches
        (robots.txt, sitemaps) always pass.
        """
        if task.kind != PAGE or task.attempt:
            return None
        if task.url in self._unchanged:
            return self._refuse(task, UNCHANGED, "unchanged: sitemap <lastmod> not after the last fetch")
        if self.max_pages is not None and self.admitted >= self.max_pages:
            return self._refuse(task, MAX_PAGES, "max-pages: --max-pages reached")
        cap = self.max_per_host
        if self.host_caps:
            cap = self.host_caps.get(host_of(task.url), cap)
        if cap is not None:
            origin = origin_of(task.url)
            if self._per_host[origin] >= cap:
                return self._refuse(task, HOST_CAP, "host-cap: --max-pages-per-host reached"
                                    if cap == self.max_per_host else "host-cap: the host's max_pages reached")
            self._per_host[origin] += 1
        self.admitted += 1
        return None

    def exhausted(self) -> bool:
        """True once ``--max-pages`` tasks were admitted: nothing more may start."""
        return self.max_pages is not None and self.admitted >= self.max_pages

    # -- before queueing ---------------------------------------------------------------
    def changed(self, links: list[str], lastmods: list[float | None]) -> tuple[list[str], list[str]]:
        """Split sitemap links into those that may have changed since their last fetch and the others.

        A link whose ``<lastmod>`` is no later than its last fetch is left out
        (under ``--recrawl-after``, with the state's history); without a
        history every link may have changed.
        """
        if self.history is None:
            return links, []
        keep: list[str] = []
        skip: list[str] = []
        for link, lastmod in zip(links, lastmods, strict=True):
            fetched_at = self.history(link)
            if lastmod is not None and fetched_at is not None and lastmod <= fetched_at:
                skip.append(link)
            else:
                keep.append(link)
        self._unchanged.update(skip)
        self.refused[UNCHANGED] += len(skip)
        return keep, skip

    # -- counting what was refused elsewhere with the same rules ---------------------------
    def count_links(self, refused: Mapping[str, int] | None) -> None:
        """Add a worker's per-reason counts of the links it did not follow."""
        if refused:
            self.refused.update(refused)

    def _refuse(self, task: Task, reason: str, error: str) -> Refusal:
        self.refused[reason] += 1
        return Refusal(task, reason, error)
