"""The crawl's link graph on disk: a SQLite side file of pages, edges and fragment names.

``crawler check``, ``--links`` and ``--report`` read the crawl from here, not
from memory: a 100,000-page crawl with 5 million links is a few hundred MB
of disk and a few MB of RAM. `LinkSink` fills it as records come (one of the
crawl's sinks, after the record sink); `LinkDB` answers the questions the
links table, the reports and the exit status of ``check`` ask.

Tables: ``page`` (one row per URL recorded: the record's facts), ``edge``
(one row per link occurrence), ``name`` (each page's ids and ``<a name>``s),
``meta`` (the seeds and whether the crawl finished).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import CrawlConfig
from ..errors import UsageError
from ..page import CHECK, Done, PageResult, Result
from ..urls import host_of

SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS page (
    url TEXT PRIMARY KEY, final_url TEXT, host TEXT, kind TEXT, status INTEGER, ok INTEGER, error TEXT,
    content_type TEXT, bytes INTEGER, elapsed_ms REAL, depth INTEGER, referrer TEXT, title TEXT,
    parsed INTEGER, soft404 INTEGER, content_hash TEXT, redirects TEXT, fetched_at TEXT
);
CREATE TABLE IF NOT EXISTS edge (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, fragment TEXT, text TEXT,
    tag TEXT, nofollow INTEGER
);
CREATE TABLE IF NOT EXISTS name (url TEXT, name TEXT, PRIMARY KEY (url, name)) WITHOUT ROWID;
"""
# The edge indexes are made when the crawl ends (one sort, not a b-tree insert per
# link): `LinkSink.close`; a resumed crawl, which replaces the links of pages
# fetched again, makes them at once.
_INDEXES = """
CREATE INDEX IF NOT EXISTS edge_source ON edge (source);
CREATE INDEX IF NOT EXISTS edge_target ON edge (target);
"""
#: Rows buffered before a commit (or `COMMIT_SECONDS`, whichever comes first).
COMMIT_ROWS = 20_000
COMMIT_SECONDS = 1.0

#: The links table's fields, in SPEC order.
LINK_FIELDS = ("source", "target", "fragment", "text", "tag", "nofollow", "status", "ok", "error")


@dataclass(frozen=True, slots=True)
class Verdict:
    """How the check rules judge the targets (``--accept``, ``--ignore``)."""

    accept: frozenset[int] = frozenset()
    ignore: tuple[Any, ...] = ()

    @classmethod
    def from_config(cls, config: CrawlConfig) -> Verdict:
        """The rules ``config`` sets."""
        import re

        return cls(frozenset(config.accept), tuple(re.compile(p) for p in config.ignore))


class LinkDB:
    """One side file, opened for writing or reading."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            self.db.executescript(_SCHEMA)
            version = self.meta("schema")
            if version is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif version != SCHEMA_VERSION:
                raise UsageError(f"{path!r} is a links file of another version ({version}): delete it or "
                                 "name another")
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"cannot use links file {path!r}: {exc}") from None

    def meta(self, key: str) -> str | None:
        """A value of the meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table (committed with the next batch)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    # -- reading ------------------------------------------------------------------------
    def link_rows(self, verdict: Verdict) -> Iterator[dict[str, Any]]:
        """The links table: one row per link occurrence, in the order they were found."""
        query = """
            SELECT e.source, e.target, e.fragment, e.text, e.tag, e.nofollow,
                   p.status, p.ok, p.error, p.soft404, p.parsed,
                   e.fragment IS NOT NULL AND EXISTS (SELECT 1 FROM name n WHERE n.url = e.target
                                                      AND n.name = e.fragment)
            FROM edge e LEFT JOIN page p ON p.url = e.target ORDER BY e.id"""
        for row in self.db.execute(query):
            source, target, fragment, text, tag, nofollow, status, ok, error, soft404, parsed, named = row
            ok, error = judge(verdict, target, status, ok, error, soft404, parsed, fragment, named)
            yield {"source": source, "target": target, "fragment": fragment, "text": text, "tag": tag,
                   "nofollow": bool(nofollow), "status": status, "ok": ok, "error": error}

    def broken(self, verdict: Verdict) -> Iterator[tuple[str, str | None, int | None, str]]:
        """Each broken (target, fragment, status, error), once, in the order first linked.

        By SQL over the pages that failed and the fragments no page has (with
        the edge indexes), not over every link: a crawl's broken targets are few.
        """
        found: list[tuple[int, str, str | None, int | None, str]] = []
        failed = self.db.execute("""
            SELECT (SELECT MIN(e.id) FROM edge e WHERE e.target = p.url) AS first, p.url, p.status, p.ok,
                   p.error, p.soft404
            FROM page p WHERE (p.ok = 0 OR p.soft404 = 1 OR p.error IS NOT NULL) AND first IS NOT NULL""")
        for first, url, status, ok, error, soft404 in failed:
            good, message = judge(verdict, url, status, ok, error, soft404, 0, None, 0)
            if not good:
                found.append((first, url, None, status, message or ""))
        for first, url, fragment, status in self.missing_fragments(verdict):
            found.append((first, url, fragment, status, f"fragment: #{fragment} not found"))
        found.sort(key=lambda item: item[0])
        for _, target, name, code, error in found:
            yield target, name, code, error

    def missing_fragments(self, verdict: Verdict) -> Iterator[tuple[int, str, str, int | None]]:
        """Each (first link id, target, fragment, status) linked where the crawled target has no such id or name."""
        # NOT INDEXED: one pass over the links in table order (only those with a fragment go on)
        # beats visiting every link in target order through the index.
        rows = self.db.execute("""
            SELECT MIN(e.id), e.target, e.fragment, p.status FROM edge e NOT INDEXED JOIN page p ON p.url = e.target
            WHERE e.fragment IS NOT NULL AND p.parsed = 1 AND p.ok = 1 AND p.soft404 = 0 AND NOT EXISTS
                  (SELECT 1 FROM name n WHERE n.url = e.target AND n.name = e.fragment)
            GROUP BY e.target, e.fragment""")
        for first, url, fragment, status in rows:
            if not judge(verdict, url, status, 1, None, 0, 1, fragment, 0)[0]:
                yield first, url, fragment, status

    def referrers(self, target: str, fragment: str | None = None, limit: int = 1000) -> list[tuple[str, str]]:
        """Each (source, anchor text) linking to ``target`` (to its ``#fragment`` when given), once."""
        where = "target = ?" + (" AND fragment = ?" if fragment is not None else "")
        args: tuple[Any, ...] = (target, fragment) if fragment is not None else (target,)
        rows = self.db.execute(f"SELECT source, text, MIN(id) FROM edge WHERE {where} GROUP BY source, text "
                               "ORDER BY MIN(id) LIMIT ?", (*args, limit))
        return [(str(source), str(text or "")) for source, text, _ in rows]

    def failed_seeds(self) -> list[str]:
        """The seeds whose page is not ok (unreachable, an error status)."""
        seeds = json.loads(self.meta("seeds") or "[]")
        failed = []
        for seed in seeds:
            row = self.db.execute("SELECT ok, error FROM page WHERE url = ?", (seed,)).fetchone()
            if row is not None and not row[0]:
                failed.append(seed)
        return failed


def judge(verdict: Verdict, target: str, status: int | None, ok: int | None, error: str | None,
          soft404: int | None, parsed: int | None, fragment: str | None, named: int | None) -> tuple[bool, str | None]:
    """(ok, error) of one link occurrence under the check rules.

    A target never fetched (ignored, beyond a cap, refused by robots.txt) is
    not broken: it was not checked, and the error says why when known.
    """
    if any(p.search(target) for p in verdict.ignore):
        return True, "not checked: --ignore"
    if ok is None and status is None and error is None:
        return True, None  # not fetched (yet): a cap, a stopped crawl
    if error is not None and error.startswith("robots"):
        return True, f"not checked: {error}"
    if status is not None and status in verdict.accept:
        return True, None
    if soft404:
        return False, "soft404: answers like a page that does not exist"
    if not ok:
        return False, error or f"http: {status}"
    if fragment is not None and parsed and not named:
        return False, f"fragment: #{fragment} not found"
    return True, None


class LinkSink:
    """A crawl sink that keeps every record's facts and links in a `LinkDB` (see `crawler.engine.sink`)."""

    def __init__(self, path: str, seeds: Sequence[str] = ()) -> None:
        self.path = path
        self.seeds = list(seeds)
        self.db: LinkDB | None = None
        self._pages: list[tuple[Any, ...]] = []
        self._edges: list[tuple[Any, ...]] = []
        self._names: list[tuple[str, str]] = []
        self._replaced: list[str] = []
        self._last = time.monotonic()
        self._fresh = True

    def open(self) -> None:
        """Open (or reopen, for a resumed crawl) the side file."""
        self.db = LinkDB(self.path)
        # A side file with pages already (a resumed or repeated crawl): a page fetched
        # again replaces its links, which needs the indexes now.
        self._fresh = self.db.db.execute("SELECT 1 FROM page LIMIT 1").fetchone() is None
        #: the side file is an interrupted crawl's (not a finished one's, which a new run crawls afresh)
        self.interrupted = not self._fresh and self.db.meta("finished") == "0"
        if not self._fresh:
            self.db.db.executescript(_INDEXES)
        known = json.loads(self.db.meta("seeds") or "[]")
        self.db.set_meta("seeds", json.dumps(known + [s for s in self.seeds if s not in known]))
        self.db.set_meta("finished", "0")

    def recorded(self) -> Iterator[str]:
        """Every URL the side file holds a record of (pages and targets checked), as it was opened."""
        assert self.db is not None
        return (str(url) for (url,) in self.db.db.execute("SELECT url FROM page"))

    def unanswered(self) -> list[tuple[str, str, int]]:
        """Each link target no record answers for, once, in the order first linked: (target, the
        first page linking to it, that page's depth + 1). As the file was opened."""
        assert self.db is not None
        rows = self.db.db.execute("""
            SELECT e.target, e.source, s.depth + 1, MIN(e.id) AS first FROM edge e JOIN page s ON s.url = e.source
            WHERE NOT EXISTS (SELECT 1 FROM page p WHERE p.url = e.target) GROUP BY e.target ORDER BY first""")
        return [(str(target), str(source), int(depth)) for target, source, depth, _ in rows]

    def write(self, done: Done) -> bool:
        """Buffer the record's facts and its page's links."""
        page, result = done.page, done.result
        extra = page.extra
        graph = result if isinstance(result, PageResult) else None
        redirects = extra.get("redirects") or (list(graph.hops) if graph is not None else None)
        self._pages.append((
            page.url, page.final_url, host_of(page.url), done.task.kind if done.task.kind == CHECK else "page",
            page.status, int(page.ok), page.error, page.content_type, page.bytes, page.elapsed_ms, page.depth,
            page.referrer, page.title, int(graph is not None and graph.ids is not None),
            int(bool(extra.get("soft404"))), extra.get("content_hash") or (graph.text_hash if graph else None),
            json.dumps(redirects) if redirects else None, page.fetched_at))
        if graph is not None and graph.edges is not None:
            if not self._fresh:
                self._replaced.append(page.url)
            self._edges.extend((page.url, *edge) for edge in graph.edges)
            self._names.extend((page.url, name) for name in graph.ids or ())
        if len(self._edges) + len(self._pages) >= COMMIT_ROWS:
            self.flush()
        return True

    def unrecorded(self, result: Result) -> None:
        """`Sink.unrecorded`: a fetch that makes no record adds nothing to the link graph."""

    def tick(self) -> None:
        """Commit what is buffered, at most once a second."""
        if time.monotonic() - self._last >= COMMIT_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit what is buffered."""
        self._last = time.monotonic()
        if self.db is None or not (self._pages or self._edges):
            return
        db = self.db.db
        db.execute("BEGIN")
        if self._replaced:
            # A page fetched again (a resumed or repeated crawl) replaces its links, not adds to them.
            db.executemany("DELETE FROM edge WHERE source = ?", ((url,) for url in self._replaced))
            db.executemany("DELETE FROM name WHERE url = ?", ((url,) for url in self._replaced))
        db.executemany("INSERT OR REPLACE INTO page VALUES (" + ",".join("?" * 18) + ")", self._pages)
        db.executemany("INSERT INTO edge (source, target, fragment, text, tag, nofollow) VALUES (?,?,?,?,?,?)",
                       self._edges)
        db.executemany("INSERT OR IGNORE INTO name VALUES (?, ?)", self._names)
        db.execute("COMMIT")
        self._pages, self._edges, self._names, self._replaced = [], [], [], []

    def close(self, finished: bool) -> None:
        """Commit the rest and note whether the crawl finished."""
        if self.db is None:
            return
        self.db.set_meta("finished", "1" if finished else "0")
        self.flush()
        self.db.db.executescript(_INDEXES)
        self.db.close()
        self.db = None
