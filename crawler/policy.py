"""Which discovered links are followed: scope and ``--allow``/``--deny`` rules.

`LinkFilter` is built once per worker process and applied to every link of a
page there, so the main process only sees links it may have to queue.
"""

from __future__ import annotations

import re

from .config import CrawlConfig
from .urls import host_of, registered_domain


class LinkFilter:
    """Decides whether a link found on a page descending from ``seed`` is followed."""

    def __init__(self, scope: str, allow: tuple[str, ...] = (), deny: tuple[str, ...] = (),
                 max_length: int | None = None) -> None:
        self.scope = scope
        self.max_length = max_length
        self.allow = [re.compile(p) for p in allow]
        self.deny = [re.compile(p) for p in deny]
        self._seed_keys: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: CrawlConfig) -> LinkFilter:
        """The filter a crawl with ``config`` uses."""
        return cls(config.scope, config.allow, config.deny, config.max_url_length)

    def reason(self, link: str, seed: str) -> str | None:
        """None when ``link`` is followed, else the refusal reason (``length``, ``scope``, ``allow``, ``deny``)."""
        # Over-long URLs are the usual sign of an infinite URL space
        # (session ids or paths that grow on every hop).
        if self.max_length is not None and len(link) > self.max_length:
            return "length"
        if not self.in_scope(link, seed):
            return "scope"
        if self.allow and not any(p.search(link) for p in self.allow):
            return "allow"
        if any(p.search(link) for p in self.deny):
            return "deny"
        return None

    def in_scope(self, url: str, seed: str) -> bool:
        """True when ``url`` is within ``--scope`` of ``seed`` (``allow``/``deny`` aside)."""
        return self.scope == "any" or self._key(url) == self._seed_key(seed)

    def _seed_key(self, seed: str) -> str:
        key = self._seed_keys.get(seed)
        if key is None:
            key = self._seed_keys[seed] = self._key(seed)
        return key

    def _key(self, url: str) -> str:
        host = host_of(url)
        return host if self.scope == "host" else registered_domain(host)
