"""The rules of what is fetched, and the reasons a URL is not: shared by both processes.

`crawler.engine.gate.Gate` answers "fetch this or not, and why not" in the
main process; the workers pre-filter each page's links with the same
`LinkFilter` (scope, ``--allow``/``--deny``, URL length) and the same depth
rule (`follows_links`), so the main process only sees links it may have to
queue and the two sides can never disagree. Every refusal is one of the
reasons below: stable strings, counted in the run summary and printed by
``crawler explain``.
"""

from __future__ import annotations

import re

from .config import CrawlConfig
from .urls import host_of, registered_domain

#: Why a URL is not fetched. Link reasons are counted per link found on a page (workers):
LENGTH = "length"  #: longer than --max-url-length
SCOPE = "scope"  #: outside --scope of its seed
ALLOW = "allow"  #: matches no --allow pattern
DENY = "deny"  #: matches a --deny pattern
DEPTH = "depth"  #: found on a page at the --depth limit
NOFOLLOW = "nofollow"  #: rel="nofollow", or the page's <meta name="robots"> says nofollow
#: ... and URL reasons per URL (main process):
SEEN = "seen"  #: queued or fetched already in this run
ROBOTS = "robots"  #: robots.txt disallows it (or its origin's robots.txt failed)
MAX_PAGES = "max-pages"  #: --max-pages reached
HOST_CAP = "host-cap"  #: --max-pages-per-host reached for its origin
UNCHANGED = "unchanged"  #: its sitemap <lastmod> is not after our last fetch (--state --recrawl-after)
BLOCKED = "blocked"  #: on a page reached through a public address, to a host with no public one

#: The reasons a found link is not followed (counted by the workers, per link).
LINK_REASONS: tuple[str, ...] = (DEPTH, SCOPE, ALLOW, DENY, LENGTH, NOFOLLOW)
#: Every reason, in the order summaries list them.
REASONS: tuple[str, ...] = (SEEN, DEPTH, SCOPE, ALLOW, DENY, LENGTH, NOFOLLOW, ROBOTS, MAX_PAGES, HOST_CAP,
                            UNCHANGED, BLOCKED)


def follows_links(depth: int, max_depth: int) -> bool:
    """True when the links of a page at ``depth`` are followed under ``--depth max_depth``."""
    return depth < max_depth


def link_refusal(rules: LinkFilter, link: str, seed: str, parent_depth: int, max_depth: int) -> str | None:
    """Why a ``link`` found on a page at ``parent_depth`` (descending from ``seed``) is not
    followed, or None when it is: the depth limit first, then `LinkFilter.reason`.

    The one rule both sides apply: the workers to every link of a page (with the
    depth check hoisted out of the loop), the gate when asked about one URL.
    """
    if not follows_links(parent_depth, max_depth):
        return DEPTH
    return rules.reason(link, seed)


class LinkFilter:
    """Decides whether a link found on a page descending from ``seed`` is followed."""

    def __init__(self, scope: str, allow: tuple[str, ...] = (), deny: tuple[str, ...] = (),
                 max_length: int | None = None) -> None:
        self.scope = scope
        self.max_length = max_length
        self.allow = [re.compile(p) for p in allow]
        self.deny = [re.compile(p) for p in deny]
        self._seed_keys: dict[str, str] = {}
        self._keys: dict[str, str] = {}  # scheme://authority -> key

    @classmethod
    def from_config(cls, config: CrawlConfig) -> LinkFilter:
        """The filter a crawl with ``config`` uses."""
        return cls(config.scope, config.allow, config.deny, config.max_url_length)

    def reason(self, link: str, seed: str) -> str | None:
        """None when ``link`` is followed, else the refusal reason (``length``, ``scope``, ``allow``, ``deny``)."""
        # Over-long URLs are the usual sign of an infinite URL space
        # (session ids or paths that grow on every hop).
        if self.max_length is not None and len(link) > self.max_length:
            return LENGTH
        if not self.in_scope(link, seed):
            return SCOPE
        if self.allow and not any(p.search(link) for p in self.allow):
            return ALLOW
        if any(p.search(link) for p in self.deny):
            return DENY
        return None

    def in_scope(self, url: str, seed: str) -> bool:
        """True when ``url`` is within ``--scope`` of ``seed`` (``allow``/``deny`` aside)."""
        return self.scope == "any" or self._key(url) == self._seed_key(seed)

    def scope_key(self, url: str) -> str | None:
        """What ``--scope`` compares: ``url``'s host or registered domain (None for ``--scope any``).

        A URL is within the scope of a seed whose key is the same."""
        return None if self.scope == "any" else self._key(url)

    def _seed_key(self, seed: str) -> str:
        key = self._seed_keys.get(seed)
        if key is None:
            key = self._seed_keys[seed] = self._key(seed)
        return key

    def _key(self, url: str) -> str:
        # The key is the host's, so it is kept per scheme and authority, which
        # a page's links mostly share: urlsplit on each link was ~40 % of
        # the time a worker spent deciding which links to follow.
        origin = url[:_authority_end(url)]
        key = self._keys.get(origin)
        if key is None:
            if len(self._keys) >= _MAX_KEYS:
                self._keys.clear()
            host = host_of(origin)  # urlsplit stops the host at the same place
            key = self._keys[origin] = host if self.scope == "host" else registered_domain(host)
        return key


#: Authorities whose scope key `LinkFilter` keeps (a broad crawl's hosts beyond it are looked up again).
_MAX_KEYS = 10_000


def _authority_end(url: str) -> int:
    """Where ``url``'s authority ends (``/``, ``?`` or ``#`` after ``://``, as urlsplit cuts it)."""
    start = url.find("://")
    if start < 0:
        return len(url)
    start += 3
    end = url.find("/", start)
    if end < 0:
        end = len(url)
    query = url.find("?", start, end)
    if query >= 0:
        end = query
    fragment = url.find("#", start, end)
    return end if fragment < 0 else fragment
