"""Records under ``--state``: how each page changed, and output that survives SIGKILL.

`Journal` sits between the crawler and the output writer when a state file
is used. For every record it

1. compares the fetch with what the state knew (the ``change`` field),
2. stores the record in the state's outbox, in the same transaction as the
   page's done-mark and the links it found (`StateStore`),
3. writes it to the output only after that transaction committed.

A run killed anywhere therefore leaves every record either committed (and
written now or by the next run's `reconcile`) or not committed at all (and
the page is fetched again). JSONL and CSV are appended to; JSON is rewritten
whole from the outbox when the run ends.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..page import STATE_FIELDS, Done, Page, PageResult, Result, Task
from .output import Writer, format_for, open_writer

if TYPE_CHECKING:
    from ..config import CrawlConfig
    from .state import StateStore

#: Commit (and write out) at least this often, or every COMMIT_RECORDS records.
COMMIT_SECONDS = 0.25
COMMIT_RECORDS = 500

CHANGES = ("new", "changed", "unchanged", "gone")


def change_of(page: Page, digest: str | None, prev_status: int | None, prev_hash: str | None,
              prev_fetched: bool) -> str:
    """``new``, ``changed``, ``unchanged`` or ``gone`` for a fetch against the state's memory."""
    if page.status == 304:
        return "unchanged"
    if not prev_fetched:
        return "new"
    if page.status in (404, 410) and prev_status is not None and 200 <= prev_status < 300:
        return "gone"
    if page.status == prev_status and digest == prev_hash:
        return "unchanged"
    return "changed"


class Journal:
    """The record sink of a crawl with a state file (see `crawler.engine.sink.Sink`).

    ``last_fields`` name the ``--select`` fields, the last CSV columns.
    """

    def __init__(self, config: CrawlConfig, store: StateStore, last_fields: tuple[str, ...] = ()) -> None:
        self.config = config
        self.store = store
        self.last_fields = last_fields
        self.writer: Writer | None = None
        self._format = format_for(config.output, config.format) if config.output else None
        self._unwritten: list[tuple[int, Page]] = []
        self._last_commit = time.monotonic()
        #: run before each commit: sinks whose files must hold every page the state records
        #: (the link graph: a run going on from a killed one trusts it for what is left to check)
        self.before_commit: list[Callable[[], None]] = []

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        """Open the output: append after a resumed run's records, else start it afresh."""
        path = self.config.output
        previous = self.store.output_path(path)
        if not path:
            return
        fields, last_fields = STATE_FIELDS, self.last_fields
        if self._format == "json" and path != "-":
            if not (self.store.resumed and os.path.exists(path)):
                open_writer(path, "json").close()  # the file exists (valid, empty) from the start
            return
        same_file = path != "-" and previous == os.path.abspath(path) and os.path.exists(path)
        if self.store.resumed and same_file:
            self._reconcile(path, fields, last_fields)
            return
        self.writer = open_writer(path, self._format, extra_fields=fields, last_fields=last_fields)
        if self.store.resumed:  # another output than last time: what it never got goes here
            self._write_pending(self.store.written_mark()[0])

    def close(self, finished: bool) -> None:
        """Commit and write out everything; once the crawl finished, mark the state so."""
        self.flush()
        if finished:
            self.store.finish()
        if self._format == "json" and self.config.output and self.config.output != "-":
            self._rewrite_json(self.config.output)
        if self.writer is not None:
            self.writer.close()

    # -- records -------------------------------------------------------------------
    def write(self, done: Done) -> bool:
        """Note the page (and queue its links) in the state; written out once committed."""
        self.record(done.page, done.task, done.result)
        if done.links:
            self.store.put(done.links)
        result = done.result
        if isinstance(result, PageResult) and result.refused_links:
            self.store.refuse(result.refused_links, done.page.url, done.task.depth + 1)
        return True

    def unrecorded(self, result: Result) -> None:
        """`Sink.unrecorded`: a record sink has nothing to do with a fetch that makes no record."""
        del result

    def tick(self) -> None:
        """Commit and write out when enough time or records have gone by."""
        self.maybe_flush()

    def record(self, page: Page, task: Task, result: Result | None) -> bool:
        """Note the page in the state; returns False when ``--changed-only`` leaves it out."""
        store = self.store
        prev = store.previous(task.url)
        # Only a page's fetch keeps a body hash and validators (a failed sitemap's record does not).
        fetch = result if isinstance(result, PageResult) else None
        digest = fetch.digest if fetch is not None else None
        if page.status is None:
            # No response: remember the kind of failure, so the same failure
            # next time counts as unchanged.
            digest = "error:" + (page.error or "").split(":", 1)[0]
        if page.status == 304:
            page.ok = page.error is None
            page.title = prev.title
            page.links = prev.links or 0
        page.change = change_of(page, digest, prev.status, prev.hash, prev.fetched)
        ok_response = page.status is not None and 200 <= page.status < 300
        etag, modified = fetch.validators if fetch is not None and fetch.validators and ok_response \
            else (None, None)
        store.done(task, page.status, digest, etag, modified, page.title, page.links)
        if self.config.changed_only and page.change == "unchanged":
            return False
        seq = store.add_record(page.to_dict())
        self._unwritten.append((seq, page))
        return True

    def maybe_flush(self) -> None:
        """Commit and write out when enough time or records have gone by."""
        if len(self._unwritten) >= COMMIT_RECORDS or time.monotonic() - self._last_commit >= COMMIT_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the state, then write the committed records to the output."""
        for persist in self.before_commit:
            persist()
        self.store.commit()
        self._last_commit = time.monotonic()
        if not self._unwritten:
            return
        last_seq = self._unwritten[-1][0]
        if self.writer is not None:
            for _, page in self._unwritten:
                self.writer.write(page)
            self.store.written(last_seq, self.writer.size())
        elif self._format == "json":
            self.store.written(last_seq, 0, keep=True)  # rewritten whole at the end
        self._unwritten.clear()

    # -- resume ----------------------------------------------------------------------
    def _reconcile(self, path: str, fields: tuple[str, ...], last_fields: tuple[str, ...]) -> None:
        """Make the output hold each committed record exactly once after a kill."""
        seq, offset = self.store.written_mark()
        pending = list(self.store.records(after=seq))
        if offset == 0:
            # Nothing was known to be written, not even a CSV header: the
            # pending records are the whole file. Write it again, identically.
            os.truncate(path, 0)
        self.writer = open_writer(path, self._format, extra_fields=fields, last_fields=last_fields, append=True)
        with open(path, "rb") as f:
            f.seek(offset)
            tail = f.read()
        # Records after the mark were being written when the run died: the
        # file holds a prefix of them, maybe with a torn last line.
        kept = 0
        position = 0
        for _, record in pending:
            encoded = self.writer.encode(record).encode("utf-8")
            if tail[position:position + len(encoded)] != encoded:
                break
            position += len(encoded)
            kept += 1
        if position < len(tail):
            os.truncate(path, offset + position)  # the writer appends (O_APPEND) after the cut
        for _, record in pending[kept:]:
            self.writer.write_record(record)
        if pending:
            self.store.written(pending[-1][0], self.writer.size())
        self.store.commit()

    def _write_pending(self, after: int) -> None:
        assert self.writer is not None
        last = None
        for seq, record in self.store.records(after=after):
            self.writer.write_record(record)
            last = seq
        if last is not None:
            self.store.written(last, self.writer.size())
        self.store.commit()

    def _rewrite_json(self, path: str) -> None:
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("[")
            for i, (_, record) in enumerate(self.store.records()):
                f.write(",\n" if i else "\n")
                f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            f.write("\n]\n")
        os.replace(tmp, path)
