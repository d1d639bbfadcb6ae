"""The crawl's link graph on disk: a SQLite side file of pages, edges and fragment names.

``crawler check``, ``--links`` and ``--report`` read the crawl from here, not
from memory: a 100,000-page crawl with 5 million links is a few hundred MB
of disk and a few MB of RAM. `LinkSink` fills it as records come (one of the
crawl's sinks, after the record sink); `LinkDB` answers the questions the
links table, the reports and the exit status of ``check`` ask.

Tables: ``page`` (one row per URL recorded: the record's facts),
``page_links`` (one row per URL recorded: the page's links and fragment
names as JSON text, as the worker encoded them; apart from ``page``, whose
narrow rows the reports scan), ``meta`` (the seeds, whether the crawl
finished, whether the edge table is built). ``edge`` (one row per link
occurrence) and ``name`` (each page's ids and ``<a name>``s) are built
from the pages' JSON only when the links table or a report needs them
(`LinkDB.build_edges`): a row per link during the crawl cost the main
process about 2.4 µs a link in SQLite alone (most of what made ``check``
slower than a plain crawl), and ``check``'s verdict needs one pass over the
pages' links, not an index of them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from ..config import CrawlConfig
from ..errors import UsageError
from ..page import CHECK, Done, PageResult, Result, decode_edges, encode_edges
from ..urls import host_of

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS page (
    url TEXT PRIMARY KEY, final_url TEXT, host TEXT, kind TEXT, status INTEGER, ok INTEGER, error TEXT,
    content_type TEXT, bytes INTEGER, elapsed_ms REAL, depth INTEGER, referrer TEXT, title TEXT,
    parsed INTEGER, soft404 INTEGER, content_hash TEXT, redirects TEXT, fetched_at TEXT
);
CREATE TABLE IF NOT EXISTS page_links (url TEXT PRIMARY KEY, links TEXT, names TEXT);
CREATE TABLE IF NOT EXISTS edge (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, fragment TEXT, text TEXT,
    tag TEXT, nofollow INTEGER
);
CREATE TABLE IF NOT EXISTS name (url TEXT, name TEXT, PRIMARY KEY (url, name)) WITHOUT ROWID;
"""
# Made after the edge table is filled (one sort, not a b-tree insert per link).
_INDEXES = ("CREATE INDEX IF NOT EXISTS edge_source ON edge (source)",
            "CREATE INDEX IF NOT EXISTS edge_target ON edge (target)")
#: Pages buffered before a commit (or `COMMIT_SECONDS`, whichever comes first).
COMMIT_PAGES = 2_000
COMMIT_SECONDS = 1.0
#: Each page's fragment names kept decoded while the links are judged (a small cache)...
_NAMES_CACHED = 512
#: ... or all of them, up to this many pages (a few MB).
_NAMES_LOADED = 20_000

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
            elif version == "1":
                _upgrade_v1(self.db)
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

    # -- the edge table -----------------------------------------------------------------
    def build_edges(self) -> None:
        """Fill the ``edge`` and ``name`` tables from the pages' JSON, and index them, unless they are current.

        The links table, the reports and `referrers` read them. A crawl that
        writes to the file marks them stale; the next call rebuilds them whole.
        """
        if self.meta("edges") == "1":
            return
        db = self.db
        db.execute("BEGIN")
        try:
            for index in ("edge_source", "edge_target"):
                db.execute(f"DROP INDEX IF EXISTS {index}")
            db.execute("DELETE FROM edge")
            db.execute("DELETE FROM name")
            # Page by page in the order they were recorded: the edge ids keep the order links were found.
            pages = self._page_links()
            db.executemany("INSERT INTO edge (source, target, fragment, text, tag, nofollow) VALUES (?,?,?,?,?,?)",
                           ((url, *edge) for url, links in pages for edge in decode_edges(links)))
            names = self.db.execute("SELECT url, names FROM page_links WHERE names IS NOT NULL ORDER BY rowid")
            db.executemany("INSERT OR IGNORE INTO name VALUES (?, ?)",
                           ((url, name) for url, text in names for name in decode_edges(text)))
            for statement in _INDEXES:
                db.execute(statement)
            self.set_meta("edges", "1")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def links_of(self, url: str) -> list[Any]:
        """The link occurrences of the page ``url`` as recorded (each ``[target, fragment, text, tag, nofollow]``)."""
        row = self.db.execute("SELECT links FROM page_links WHERE url = ?", (url,)).fetchone()
        return decode_edges(row[0]) if row is not None and row[0] is not None else []

    def _page_links(self) -> sqlite3.Cursor:
        # (url, links JSON) of each page with links, in the order recorded: the order links were found.
        return self.db.execute("SELECT url, links FROM page_links WHERE links IS NOT NULL ORDER BY rowid")

    # -- reading ------------------------------------------------------------------------
    def link_rows(self, verdict: Verdict) -> Iterator[dict[str, Any]]:
        """The links table: one row per link occurrence, in the order they were found."""
        self.build_edges()
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

    def broken(self, verdict: Verdict, referrers: int = 0) -> list[Broken]:
        """Each broken target (a failed page, or a fragment its page lacks), once, in the order first linked,
        with up to ``referrers`` of the (source, anchor text) pairs linking to it.

        With the edge table built, by SQL over the pages that failed and the
        fragments no page has (a crawl's broken targets are few); without it
        (``check`` alone), by one pass over the pages' links, judging only the
        links to a page that failed or with a fragment.
        """
        if self.meta("edges") == "1":
            return self._broken_by_sql(verdict, referrers)
        bad: dict[str, tuple[int | None, str]] = {}
        for url, status, ok, error, soft404 in self.db.execute(
                "SELECT url, status, ok, error, soft404 FROM page WHERE ok = 0 OR soft404 = 1 OR error IS NOT NULL"):
            good, message = judge(verdict, url, status, ok, error, soft404, 0, None, 0)
            if not good:
                bad[url] = (status, message or "")
        fragments = _Fragments(self.db, verdict)
        found: dict[tuple[str, str | None], Broken] = {}
        fine: set[tuple[str, str]] = set()
        for source, links in self._page_links():
            for target, fragment, text, _, _ in decode_edges(links):
                if fragment is None and target not in bad:
                    continue  # most links: to a page that answered, no fragment
                if target in bad:
                    key: tuple[str, str | None] = (target, None)
                    entry = found.get(key)
                    if entry is None:
                        status, message = bad[target]
                        entry = found[key] = Broken(target, None, status, message)
                elif (target, fragment) in fine:
                    continue
                else:
                    key = (target, fragment)
                    entry = found.get(key)
                    if entry is None:
                        missing, status = fragments.missing(target, fragment)
                        if not missing:
                            fine.add((target, fragment))
                            continue
                        entry = found[key] = Broken(target, fragment, status, f"fragment: #{fragment} not found")
                if len(entry.referrers) < referrers:
                    entry.referrers.setdefault((source, text or ""), None)
        return list(found.values())

    def _broken_by_sql(self, verdict: Verdict, referrers: int) -> list[Broken]:
        found: list[tuple[int, Broken]] = []
        failed = self.db.execute("""
            SELECT (SELECT MIN(e.id) FROM edge e WHERE e.target = p.url) AS first, p.url, p.status, p.ok,
                   p.error, p.soft404
            FROM page p WHERE (p.ok = 0 OR p.soft404 = 1 OR p.error IS NOT NULL) AND first IS NOT NULL""")
        for first, url, status, ok, error, soft404 in failed:
            good, message = judge(verdict, url, status, ok, error, soft404, 0, None, 0)
            if not good:
                found.append((first, Broken(url, None, status, message or "")))
        # NOT INDEXED: one pass over the links in table order (only those with a fragment go on)
        # beats visiting every link in target order through the index.
        missing = self.db.execute("""
            SELECT MIN(e.id), e.target, e.fragment, p.status FROM edge e NOT INDEXED JOIN page p ON p.url = e.target
            WHERE e.fragment IS NOT NULL AND p.parsed = 1 AND p.ok = 1 AND p.soft404 = 0 AND NOT EXISTS
                  (SELECT 1 FROM name n WHERE n.url = e.target AND n.name = e.fragment)
            GROUP BY e.target, e.fragment""")
        for first, url, fragment, status in missing:
            if not judge(verdict, url, status, 1, None, 0, 1, fragment, 0)[0]:
                found.append((first, Broken(url, fragment, status, f"fragment: #{fragment} not found")))
        found.sort(key=lambda item: item[0])
        if referrers:
            for _, entry in found:
                entry.referrers = dict.fromkeys(self.referrers(entry.target, entry.fragment, referrers))
        return [entry for _, entry in found]

    def missing_fragments(self, verdict: Verdict) -> list[Broken]:
        """The broken targets that are a fragment the crawled target lacks (`broken`'s, without referrers)."""
        return [entry for entry in self.broken(verdict) if entry.fragment is not None]

    def referrers(self, target: str, fragment: str | None = None, limit: int = 1000) -> list[tuple[str, str]]:
        """Each (source, anchor text) linking to ``target`` (to its ``#fragment`` when given), once."""
        self.build_edges()
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


def _upgrade_v1(db: sqlite3.Connection) -> None:
    """A side file of version 1 (a row per link) gets each page's links and names in one row of ``page_links``.

    So that a ``check --state`` interrupted before an upgrade goes on after it.
    """
    db.execute("BEGIN")
    try:
        # A page parsed with no links (or no names) had no rows: it has an empty list, as one crawled now.
        db.execute("INSERT INTO page_links SELECT url, CASE parsed WHEN 1 THEN '[]' END, CASE parsed WHEN 1 THEN '[]' "
                   "END FROM page ORDER BY rowid")
        rows = db.execute("SELECT source, target, fragment, text, tag, nofollow FROM edge ORDER BY source, id")
        db.executemany("UPDATE page_links SET links = ? WHERE url = ?", (
            (encode_edges([(target, fragment, text, tag, bool(nofollow))
                           for _, target, fragment, text, tag, nofollow in group]), source)
            for source, group in groupby(rows, key=itemgetter(0))))
        names = db.execute("SELECT url, name FROM name ORDER BY url")
        db.executemany("UPDATE page_links SET names = ? WHERE url = ?", (
            (encode_edges([name for _, name in group]), url) for url, group in groupby(names, key=itemgetter(0))))
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('edges', '0')")  # rebuilt, with its indexes, when read
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@dataclass(slots=True)
class Broken:
    """A broken link target: the URL, the fragment its page lacks (None for a failed page), the status,
    why it is broken, and some of the (source, anchor text) pairs linking to it, in the order found."""

    target: str
    fragment: str | None
    status: int | None
    error: str
    referrers: dict[tuple[str, str], None] = field(default_factory=dict)


class _Fragments:
    """Whether a page that was crawled lacks a fragment, from its row (names decoded for a few pages at a time)."""

    def __init__(self, db: sqlite3.Connection, verdict: Verdict) -> None:
        self.db, self.verdict = db, verdict
        self.names: OrderedDict[str, tuple[int | None, frozenset[str]] | None] = OrderedDict()
        #: every page's names at once, for a crawl small enough (one query, not one per target page)
        self.all: dict[str, tuple[int | None, frozenset[str]]] | None = None
        if db.execute(f"SELECT COUNT(*) <= {_NAMES_LOADED} FROM page_links").fetchone()[0]:
            self.all = {url: _named(status, names) for url, status, names in db.execute(_NAMED_PAGES)}

    def missing(self, url: str, fragment: str) -> tuple[bool, int | None]:
        """(whether ``url#fragment`` is broken, the page's status)."""
        if self.all is not None:
            known = self.all.get(url)
        elif url in self.names:
            self.names.move_to_end(url)
            known = self.names[url]
        else:
            row = self.db.execute(_NAMED_PAGES + " AND p.url = ?", (url,)).fetchone()
            known = None if row is None else _named(row[1], row[2])
            self.names[url] = known
            if len(self.names) > _NAMES_CACHED:
                self.names.popitem(last=False)
        if known is None:  # not crawled, failed, or not parsed: the fragment is not known to be missing
            return False, None
        status, names = known
        if fragment in names:
            return False, status
        return not judge(self.verdict, url, status, 1, None, 0, 1, fragment, 0)[0], status


#: (url, status, names JSON) of the pages whose fragments can be judged: crawled, parsed, ok, no soft 404.
_NAMED_PAGES = ("SELECT p.url, p.status, l.names FROM page p JOIN page_links l ON l.url = p.url "
                "WHERE p.parsed = 1 AND p.ok = 1 AND p.soft404 = 0")


def _named(status: int | None, names: str | None) -> tuple[int | None, frozenset[str]]:
    return status, frozenset(decode_edges(names or "[]"))


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
    """A crawl sink that keeps every record's facts and links in a `LinkDB` (see `crawler.engine.sink`).

    Two rows per record, its facts and its page's links and fragment names
    (the JSON text the worker made, not decoded). A page fetched again (a
    resumed or repeated crawl) replaces both, links and all.
    """

    def __init__(self, path: str, seeds: Sequence[str] = ()) -> None:
        self.path = path
        self.seeds = list(seeds)
        self.db: LinkDB | None = None
        self._pages: list[tuple[Any, ...]] = []
        self._links: list[tuple[str, str | None, str | None]] = []
        self._last = time.monotonic()

    def open(self) -> None:
        """Open (or reopen, for a resumed crawl) the side file."""
        self.db = LinkDB(self.path)
        fresh = self.db.db.execute("SELECT 1 FROM page LIMIT 1").fetchone() is None
        #: the side file is an interrupted crawl's (not a finished one's, which a new run crawls afresh)
        self.interrupted = not fresh and self.db.meta("finished") == "0"
        known = json.loads(self.db.meta("seeds") or "[]")
        self.db.set_meta("seeds", json.dumps(known + [s for s in self.seeds if s not in known]))
        self.db.set_meta("finished", "0")
        self.db.set_meta("edges", "0")  # the pages change: the edge table, if built, no longer matches

    def recorded(self) -> Iterator[str]:
        """Every URL the side file holds a record of (pages and targets checked), as it was opened."""
        assert self.db is not None
        return (str(url) for (url,) in self.db.db.execute("SELECT url FROM page"))

    def unanswered(self) -> list[tuple[str, str, int]]:
        """Each link target no record answers for, once, in the order first linked: (target, the
        first page linking to it, that page's depth + 1). As the file was opened."""
        assert self.db is not None
        recorded = set(self.recorded())
        found: dict[str, tuple[str, str, int]] = {}
        for source, depth, links in self.db.db.execute(
                "SELECT l.url, p.depth, l.links FROM page_links l JOIN page p ON p.url = l.url "
                "WHERE l.links IS NOT NULL ORDER BY l.rowid"):
            for target, *_ in decode_edges(links):
                if target not in recorded and target not in found:
                    found[target] = (str(target), str(source), int(depth or 0) + 1)
        return list(found.values())

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
        self._links.append((page.url, graph.edges if graph is not None else None,
                            graph.ids if graph is not None else None))
        if len(self._pages) >= COMMIT_PAGES:
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
        if self.db is None or not self._pages:
            return
        db = self.db.db
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO page VALUES (" + ",".join("?" * 18) + ")", self._pages)
        db.executemany("INSERT OR REPLACE INTO page_links VALUES (?, ?, ?)", self._links)
        db.execute("COMMIT")
        self._pages, self._links = [], []

    def close(self, finished: bool) -> None:
        """Commit the rest and note whether the crawl finished."""
        if self.db is None:
            return
        self.db.set_meta("finished", "1" if finished else "0")
        self.flush()
        self.db.close()
        self.db = None
