"""robots.txt rules per origin, parsed with Protego.

robots.txt is fetched by the workers like any page (same Session, retries,
timeouts); this module only turns the outcome into rules, following
RFC 9309: a 4xx (no robots.txt) allows everything; a 5xx or an unreachable
server, after the usual retries, disallows the whole origin for this run.
"""

from __future__ import annotations

from protego import Protego

from ..page import Page


class RobotsRules:
    """What one origin's robots.txt allows our user agent."""

    def __init__(self, parser: Protego | None = None, deny_reason: str | None = None) -> None:
        self._parser = parser
        self.deny_reason = deny_reason

    @classmethod
    def from_fetch(cls, page: Page, body: str | None) -> RobotsRules:
        """Rules from the record of a robots.txt fetch and its text."""
        status = page.status
        if status is not None and 200 <= status < 300:
            return cls(Protego.parse(body or ""))
        if status is not None and 400 <= status < 500:
            return cls()  # no robots.txt: everything allowed
        if status is None:
            # Unreachable: every page of the origin would fail the same way,
            # so its records carry the connection error itself.
            return cls(deny_reason=page.error or "connection: no response")
        return cls(deny_reason=f"robots: robots.txt answered HTTP {status}, origin skipped (RFC 9309)")

    def sitemaps(self) -> list[str]:
        """The ``Sitemap:`` URLs robots.txt lists."""
        return list(self._parser.sitemaps) if self._parser is not None else []

    def allowed(self, url: str, user_agent: str) -> bool:
        """True when ``url`` may be fetched."""
        if self.deny_reason is not None:
            return False
        return self._parser is None or bool(self._parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float:
        """The Crawl-delay for our agent in seconds (0 when none)."""
        if self._parser is None:
            return 0.0
        delay = self._parser.crawl_delay(user_agent)
        return float(delay) if delay else 0.0

    def refusal(self) -> str:
        """The ``error`` text for a seed these rules refuse."""
        return self.deny_reason or "robots: disallowed"

    @property
    def unreachable(self) -> bool:
        """True when the origin gave no response at all (not a robots.txt refusal)."""
        return self.deny_reason is not None and not self.deny_reason.startswith("robots:")
