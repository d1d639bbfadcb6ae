"""What a ``--state`` file knows about one URL, for ``crawler explain``.

Read-only: the state is opened with SQLite's ``mode=ro`` and without its
lock, so a crawl may be running on it meanwhile. The anchor text comes from
the link graph's side file (``STATE.links``) when the crawl kept one
(``crawler check``, ``--links``, ``--report``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UsageError
from ..page import decode_edges
from ..urls import fingerprint

_SIGNED = 1 << 63


@dataclass(slots=True)
class Known:
    """One URL as the state knows it (None fields: not known)."""

    url: str
    depth: int | None = None
    referrer: str | None = None
    seed: str | None = None
    status: int | None = None
    title: str | None = None
    fetched_at: float | None = None
    queued: bool = False
    generation: int | None = None
    reason: str | None = None
    detail: str | None = None
    refused_from: str | None = None
    refused_depth: int | None = None
    anchor: str | None = None
    error: str | None = None
    crawl_finished: bool = False

    @property
    def known(self) -> bool:
        """True when the state has met the URL (fetched, queued or refused)."""
        return self.depth is not None or self.reason is not None


def lookup(state: str, url: str) -> Known:
    """What ``state`` knows about ``url`` (canonical); raises `UsageError` for a file that is not a state."""
    if not os.path.isfile(state):
        raise UsageError(f"no state file {state!r}")
    try:
        db = sqlite3.connect(Path(os.path.abspath(state)).as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read state file {state!r}: {exc}") from None
    try:
        return _lookup(db, state, url)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{state!r} is not a crawler state file: {exc}") from None
    finally:
        db.close()


def _lookup(db: sqlite3.Connection, state: str, url: str) -> Known:
    fp = fingerprint(url)
    fp = fp - (1 << 64) if fp >= _SIGNED else fp
    known = Known(url)
    status_row = db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()
    known.crawl_finished = status_row is not None and status_row[0] == "finished"
    row = db.execute("SELECT depth, referrer, seed, status, title, fetched_at, queued, gen FROM url WHERE fp = ?",
                     (fp,)).fetchone()
    if row is not None:
        (known.depth, known.referrer, known.seed, known.status, known.title, known.fetched_at, queued,
         known.generation) = row
        known.queued = queued != 0
    has_refusals = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'refusal'").fetchone() is not None
    if has_refusals:
        refusal = db.execute("SELECT reason, detail, referrer, depth FROM refusal WHERE fp = ?", (fp,)).fetchone()
        if refusal is not None:
            known.reason, known.detail, known.refused_from, known.refused_depth = refusal
    _from_outputs(known, state)
    return known


def _from_outputs(known: Known, state: str) -> None:
    # The anchor text (and the error of a failed fetch) live in the link graph's side file, when kept.
    links = state + ".links"
    if not os.path.isfile(links):
        return
    shown = known.refused_from if known.fetched_at is None and known.reason else known.referrer
    try:
        db = sqlite3.connect(Path(os.path.abspath(links)).as_uri() + "?mode=ro", uri=True)
        try:
            # The first link from the page shown to the URL (its links are JSON text in its row).
            row = db.execute("SELECT links FROM page_links WHERE url = ?", (shown,)).fetchone()
            edges = decode_edges(row[0]) if row is not None and row[0] else []
            known.anchor = next((text for target, _, text, *_ in edges if target == known.url and text), None)
            page = db.execute("SELECT error FROM page WHERE url = ?", (known.url,)).fetchone()
            if page is not None:
                known.error = page[0]
        finally:
            db.close()
    except (sqlite3.Error, ValueError):
        return  # an unreadable side file only costs the anchor text


def explain(known: Known) -> str:
    """One paragraph: whether the URL was fetched and with what result, or why not."""
    url = known.url
    if not known.known:
        return (f"{url} is not known to this state: no crawled page linked to it, and it is no seed "
                "(never linked).")
    found = _found(known)
    if known.fetched_at is not None:
        when = datetime.fromtimestamp(known.fetched_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        result = f"HTTP {known.status}" if known.status is not None else "no response"
        if known.error:
            result += f" ({known.error})"
        title = f', title "{known.title}"' if known.title else ""
        return f"{url} was fetched{found}: {result}{title}, at {when}."
    if known.reason is not None:
        where = _found(known, refused=True)
        detail = f" ({known.detail})" if known.detail and known.detail != known.reason else ""
        return f"{url} was not fetched{where}: {_REASONS.get(known.reason, known.reason)}{detail}."
    if known.queued:
        state = "the crawl stopped before it" if not known.crawl_finished else "not fetched yet"
        return f"{url} is queued{found}: {state} (resume the crawl with the same --state)."
    return f"{url} was found{found} but not fetched (a stopped run left it out)."


def _found(known: Known, refused: bool = False) -> str:
    referrer = known.refused_from if refused and known.refused_from else known.referrer
    depth = known.refused_depth if refused and known.refused_depth is not None else known.depth
    if depth == 0 and referrer is None:
        return " as a seed (depth 0)"
    text = f' (anchor text "{known.anchor}")' if known.anchor else ""
    origin = f" from {referrer}{text}" if referrer else ""
    return f" at depth {depth}{origin}"


_REASONS = {
    "robots": "robots.txt disallows it",
    "scope": "it is outside the crawl's --scope",
    "allow": "it matches no --allow pattern",
    "deny": "it matches a --deny pattern",
    "depth": "it was found on a page at the --depth limit",
    "length": "the URL is too long (--max-url-length)",
    "nofollow": "it was linked only as nofollow",
    "max-pages": "--max-pages was reached before it",
    "host-cap": "--max-pages-per-host was reached for its host",
    "unchanged": "its sitemap <lastmod> is not after the last fetch",
}
