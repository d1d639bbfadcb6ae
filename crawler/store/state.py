"""Persistent crawl state in one SQLite file (``--state PATH``).

The file holds, per URL: whether it is queued, its depth and referrer, and
what the last fetch learnt (status, ETag, Last-Modified, body hash, title,
link count, time). It also holds an *outbox* of records not yet known to be
in the output file. Together they make a run that is killed at any moment
resumable with nothing lost and nothing reported twice:

* A page's record, its done-mark and the links it found are committed in one
  transaction; only then is the record written to the output file.
* The file size after the last record known to be written is committed with
  the next batch. On resume, the outbox records after that point are compared
  with the bytes the file really has: those present are kept, a torn last
  line is cut, and the missing ones are written (`reconcile`).
* Tasks handed to the pool are marked taken; a restart puts them back.

A run over a state whose last run *finished* starts a new generation: every
known URL is queued again (unless fetched within ``--recrawl-after``) and
revalidated with conditional requests; records then say how each page
changed. One process at a time: an exclusive ``flock`` on ``PATH.lock``,
which the kernel releases even after SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TextIO

from ..errors import UsageError
from ..page import Task
from ..urls import fingerprint

SCHEMA_VERSION = "1"
#: Values of ``url.queued``: done (or never queued this generation), waiting, handed to the pool.
DONE, QUEUED, TAKEN = 0, 1, 2
_SIGNED = 1 << 63

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS url (
    seq INTEGER PRIMARY KEY,
    fp INTEGER NOT NULL UNIQUE,
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    referrer TEXT,
    seed TEXT,
    queued INTEGER NOT NULL,
    gen INTEGER NOT NULL,
    status INTEGER,
    etag TEXT,
    last_modified TEXT,
    hash TEXT,
    fetched_at REAL,
    title TEXT,
    links INTEGER
);
CREATE INDEX IF NOT EXISTS url_queue ON url (queued, depth, seq);
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refusal (fp INTEGER PRIMARY KEY, url TEXT NOT NULL, reason TEXT NOT NULL,
                                    detail TEXT, referrer TEXT, depth INTEGER, gen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS warc_copy (fp INTEGER PRIMARY KEY, uri TEXT NOT NULL, date TEXT NOT NULL,
                                      digest TEXT NOT NULL);
"""
# refusal: why each URL the crawl found was not fetched, its first reason per
# generation (`crawler explain`). Like warc_copy, a table of its own, created
# when missing: an older state file opens as it is (its refusals unknown).
# warc_copy (--warc): the archived copy of each URI's last response, which a
# later run's revisit records point at. A table of its own, created when
# missing, so state files of earlier versions open as they are.


class StateLockedError(UsageError):
    """Another run holds the state file."""


@dataclass(slots=True)
class Previous:
    """What the state knew about a URL before this fetch."""

    status: int | None
    hash: str | None
    fetched: bool
    title: str | None
    links: int | None
    fetched_at: float | None = None


def _fp(url: str) -> int:
    # SQLite integers are signed 64-bit.
    value = fingerprint(url)
    return value - (1 << 64) if value >= _SIGNED else value


class StateStore:
    """The SQLite state of one crawl; also its `Frontier` (see `crawler.engine.frontier`).

    Not thread-safe by itself: the crawler calls it under its own lock.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock_file, created = _lock(path)
        try:
            self._open(path)
        except BaseException:
            # Not usable: nothing of ours stays behind (a DIR.lock beside a directory).
            db = getattr(self, "db", None)
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(self._lock_file.name)  # still held: no other run can have it
            self._lock_file.close()
            raise
        self.generation = int(self._meta("generation") or 0)
        # Discovery order: the queue is FIFO within a depth, like the default frontier.
        self._seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM url").fetchone()[0]
        self.resumed = False
        self._pending = 0

    def _open(self, path: str) -> None:
        if os.path.isdir(path):
            raise UsageError(f"state file {path!r} is a directory")
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a committed transaction survives a killed process (the
            # OS has it); only a power cut can lose the last few.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-16000")  # 16 MB, whatever the frontier's size
            self.db.executescript(_SCHEMA)
            version = self._meta("schema")
            if version is None:
                self._set_meta("schema", SCHEMA_VERSION)
            elif version != SCHEMA_VERSION:
                raise UsageError(f"state file {path!r} has schema {version}, this crawler reads {SCHEMA_VERSION}")
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"state file {path!r} is not usable: {exc}") from None
        self._min_depth: int | None = None
        self._min_dirty = True

    # -- run lifecycle -------------------------------------------------------
    def begin(self, seeds: Sequence[str], recrawl_after: float | None = None) -> None:
        """Start a run: resume an unfinished one, or open a new generation."""
        db = self.db
        status = self._meta("status")
        if status == "running":
            self.resumed = True
            db.execute("UPDATE url SET queued = ? WHERE queued = ?", (QUEUED, TAKEN))
        else:
            self.generation += 1
            self._set_meta("generation", str(self.generation))
            if status == "finished":
                # Revalidate every known URL, except those fetched recently enough.
                cutoff = time.time() - recrawl_after if recrawl_after else None
                if cutoff is None:
                    db.execute("UPDATE url SET queued = ?", (QUEUED,))
                else:
                    db.execute("UPDATE url SET queued = ? WHERE fetched_at IS NULL OR fetched_at < ?",
                               (QUEUED, cutoff))
            db.execute("DELETE FROM outbox")
            self._set_meta("written_seq", "0")
            self._set_meta("written_offset", "0")
        self._set_meta("status", "running")
        self._pending = 0
        self.put([Task(url, 0, None, url) for url in seeds])
        db.commit()
        self._pending = db.execute("SELECT COUNT(*) FROM url WHERE queued = ?", (QUEUED,)).fetchone()[0]
        self._min_dirty = True

    def finish(self) -> None:
        """The crawl completed: the next run starts a new generation."""
        self._set_meta("status", "finished")
        self.db.commit()

    def commit(self) -> None:
        """Make everything since the last commit durable, atomically."""
        self.db.commit()

    # -- Frontier --------------------------------------------------------------
    def put(self, tasks: Sequence[Task]) -> int:
        """Queue tasks whose URL this generation has not seen; a queued URL takes a shorter depth."""
        db = self.db
        seq = self._seq
        rows = [(_fp(t.url), seq + i, t.url, t.depth, t.referrer, t.seed or t.url, QUEUED, self.generation)
                for i, t in enumerate(tasks, 1)]
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO url (fp, seq, url, depth, referrer, seed, queued, gen) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._seq += len(rows)
        fresh = db.total_changes - before
        if fresh < len(rows):
            before = db.total_changes
            db.executemany("UPDATE url SET depth = ?, referrer = ?, seed = ? "
                           "WHERE fp = ? AND queued = 1 AND depth > ?",
                           [(depth, ref, seed, fp, depth) for fp, _, _, depth, ref, seed, _, _ in rows])
            if db.total_changes != before:
                self._min_dirty = True
        if fresh:
            self._pending += fresh
            self._min_dirty = True
        return fresh

    def get(self, limit: int, max_depth: int | None = None) -> list[Task]:
        """Up to ``limit`` queued tasks, lowest depth first, none deeper than ``max_depth``, marked taken."""
        rows = self.db.execute(
            "SELECT seq, url, depth, referrer, seed, etag, last_modified, status, hash FROM url "
            "WHERE queued = ? AND depth <= ? ORDER BY depth, seq LIMIT ?",
            (QUEUED, 2**62 if max_depth is None else max_depth, limit)).fetchall()
        if not rows:
            return []
        self.db.executemany("UPDATE url SET queued = ? WHERE seq = ?", [(TAKEN, row[0]) for row in rows])
        self._pending -= len(rows)
        self._min_dirty = True
        return [Task(url, depth, referrer, seed or url,
                     validators=(etag, modified) if etag or modified else None,
                     digest=digest if status is not None and 200 <= status < 300 else None)
                for _, url, depth, referrer, seed, etag, modified, status, digest in rows]

    def pending(self) -> int:
        """Queued tasks not yet taken."""
        return self._pending

    def min_depth(self) -> int | None:
        """Lowest depth among queued tasks."""
        if self._min_dirty:
            self._min_depth = self.db.execute(
                "SELECT MIN(depth) FROM url WHERE queued = ?", (QUEUED,)).fetchone()[0]
            self._min_dirty = False
        return self._min_depth

    def close(self) -> None:
        """Commit and release the file and its lock."""
        try:
            self.db.commit()
            self.db.close()
        finally:
            self._lock_file.close()

    # -- per-URL knowledge -----------------------------------------------------
    def previous(self, url: str) -> Previous:
        """What the last fetch of ``url`` learnt (all None for a URL never fetched)."""
        row = self.db.execute("SELECT status, hash, fetched_at, title, links FROM url WHERE fp = ?",
                              (_fp(url),)).fetchone()
        if row is None:
            return Previous(None, None, False, None, None)
        status, digest, fetched_at, title, links = row
        return Previous(status, digest, fetched_at is not None, title, links, fetched_at)

    def done(self, task: Task, status: int | None, digest: str | None, etag: str | None,
             last_modified: str | None, title: str | None, links: int | None) -> None:
        """Mark ``task`` reported this generation, remembering what its fetch learnt."""
        if status == 304:  # nothing new: keep what the 200 taught us
            self.db.execute("UPDATE url SET queued = ?, gen = ?, fetched_at = ? WHERE fp = ?",
                            (DONE, self.generation, time.time(), _fp(task.url)))
            return
        self.db.execute(
            "UPDATE url SET queued = ?, gen = ?, status = ?, hash = ?, etag = ?, last_modified = ?, "
            "fetched_at = ?, title = ?, links = ? WHERE fp = ?",
            (DONE, self.generation, status, digest, etag, last_modified, time.time(), title, links,
             _fp(task.url)))

    def drop(self, task: Task) -> None:
        """`Frontier.drop`: ``task`` will not be fetched this generation (see `dropped`)."""
        self.dropped(task)

    def dropped(self, task: Task) -> None:
        """``task`` will not be fetched this generation (robots.txt, a cap): not queued any more."""
        self.db.execute("UPDATE url SET queued = ?, gen = ? WHERE fp = ?", (DONE, self.generation, _fp(task.url)))

    # -- refusals (crawler explain) ---------------------------------------------------
    def refuse(self, rows: Sequence[tuple[str, str, str]], referrer: str | None, depth: int) -> None:
        """Remember why each (url, reason, detail) found at ``depth`` was not fetched (first reason kept)."""
        self.db.executemany(
            "INSERT INTO refusal (fp, url, reason, detail, referrer, depth, gen) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (fp) DO UPDATE SET url = excluded.url, reason = excluded.reason, detail = excluded.detail, "
            "referrer = excluded.referrer, depth = excluded.depth, gen = excluded.gen "
            "WHERE refusal.gen < excluded.gen",
            [(_fp(url), url, reason, detail, referrer, depth, self.generation) for url, reason, detail in rows])

    def refuse_task(self, task: Task, reason: str, detail: str) -> None:
        """Remember why ``task`` (robots.txt, a cap) was not fetched."""
        self.refuse([(task.url, reason, detail)], task.referrer, task.depth)

    # -- the outbox --------------------------------------------------------------
    def add_record(self, record: dict[str, object]) -> int:
        """Keep a record until it is known to be in the output; returns its sequence number."""
        cur = self.db.execute("INSERT INTO outbox (record) VALUES (?)",
                              (json.dumps(record, ensure_ascii=False, separators=(",", ":")),))
        return int(cur.lastrowid or 0)

    def written(self, seq: int, offset: int, keep: bool = False) -> None:
        """Records up to ``seq`` are in the output, which is ``offset`` bytes long.

        Takes effect with the next commit; ``keep`` leaves them in the outbox
        (JSON output is rewritten whole from it at the end).
        """
        self._set_meta("written_seq", str(seq))
        self._set_meta("written_offset", str(offset))
        if not keep:
            self.db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))

    def written_mark(self) -> tuple[int, int]:
        """(seq, offset) of the last record known to be written."""
        return int(self._meta("written_seq") or 0), int(self._meta("written_offset") or 0)

    def records(self, after: int = 0) -> Iterator[tuple[int, dict[str, object]]]:
        """Outbox records with a sequence number above ``after``, in order."""
        cur = self.db.execute("SELECT seq, record FROM outbox WHERE seq > ? ORDER BY seq", (after,))
        for seq, text in cur:
            yield seq, json.loads(text)

    def output_path(self, path: str | None) -> str | None:
        """Remember this run's output path; returns the previous run's."""
        before = self._meta("output")
        self._set_meta("output", os.path.abspath(path) if path and path != "-" else "-")
        return before

    # -- the archive (--warc) ------------------------------------------------------
    def stored_copy(self, uri: str) -> tuple[str, str, str] | None:
        """(URI, WARC-Date, payload digest) of the archived copy of ``uri``'s response, or None."""
        row = self.db.execute("SELECT uri, date, digest FROM warc_copy WHERE fp = ?", (_fp(uri),)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def keep_copy(self, uri: str, date: str, digest: str) -> None:
        """Remember the archived copy of ``uri``'s response (takes effect with the next commit)."""
        self.db.execute("INSERT INTO warc_copy (fp, uri, date, digest) VALUES (?, ?, ?, ?) ON CONFLICT (fp) "
                        "DO UPDATE SET uri = excluded.uri, date = excluded.date, digest = excluded.digest",
                        (_fp(uri), uri, date, digest))

    def archive_position(self) -> tuple[str, int, int] | None:
        """(path, file number, bytes) the archive had when the last commit was made, or None."""
        text = self._meta("warc_position")
        if text is None:
            return None
        path, index, offset = json.loads(text)
        return str(path), int(index), int(offset)

    def set_archive_position(self, path: str, index: int, offset: int) -> None:
        """The archive's end now; in the same transaction as the records it holds the responses of."""
        self._set_meta("warc_position", json.dumps([os.path.abspath(path), index, offset]))

    # -- meta --------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def _lock(path: str) -> tuple[TextIO, bool]:
    """The held lock of ``path`` and whether this call created its file."""
    lock_path = path + ".lock"
    created = not os.path.lexists(lock_path)
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole run
    except OSError as exc:
        raise UsageError(f"cannot open state lock {lock_path!r}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise StateLockedError(f"state file {path!r} is in use by another run (pid {holder})") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle, created
