"""`ArchiveSink`: the crawl's WARC archive (``--warc PATH``), a sink after the record sink.

For every HTTP exchange the workers captured it writes a ``request`` and a
``response`` record (`crawler.store.warc`): each redirect hop, each try
that got an answer, robots.txt and sitemaps included; then, per page
record, a ``metadata`` record with what a replay or ``crawler extract``
needs beyond the responses (referrer, hops from the seed, outlinks, and the
error of a fetch that got no response).

With ``--state`` (an `ArchiveMemory`: `crawler.store.state.StateStore`):

- a response whose payload is the archived copy's (same URI, same SHA-1)
  becomes a ``revisit`` record of profile ``identical-payload-digest``, and
  a 304 one of profile ``server-not-modified``, each pointing at the stored
  copy (URI and date): an incremental run archives only what changed;
- exactly once: the archive's end is noted in the state in the same
  transaction as the records whose responses precede it (the record sink,
  `crawler.store.journal.Journal`, commits that transaction after this sink
  wrote). A run killed before the commit leaves responses of pages that
  were never reported: the resumed run cuts the archive back to the noted
  end (a torn last record with it) and fetches those pages again.

With ``--redis`` each node writes its own files: the node's name goes into
the file name (``NAME-NODE.warc.gz``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from ..page import PAGE, Done, Exchange, Result
from ..warcrecord import archived, page_metadata, revisit
from .warc import IDENTICAL, NOT_MODIFIED, WarcFiles, digest


class ArchiveMemory(Protocol):
    """What the archive keeps in the state between runs (see `crawler.store.state.StateStore`)."""

    resumed: bool

    def stored_copy(self, uri: str) -> tuple[str, str, str] | None:
        """(URI, WARC-Date, payload digest) of the archived copy of ``uri``, or None."""

    def keep_copy(self, uri: str, date: str, digest: str) -> None:
        """Remember the archived copy of ``uri``'s response."""

    def archive_position(self) -> tuple[str, int, int] | None:
        """(path, file number, bytes) of the archive at the last commit."""

    def set_archive_position(self, path: str, index: int, offset: int) -> None:
        """Note the archive's end, in the transaction the next commit makes."""


def node_path(path: str, node: str) -> str:
    """``crawl.warc.gz`` of node ``n1`` is ``crawl-n1.warc.gz``: each node its own files."""
    suffix = ".warc.gz" if path.endswith(".warc.gz") else ".warc"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node)
    return f"{path[: -len(suffix)]}-{safe}{suffix}"


class ArchiveSink:
    """Writes the WARC archive of a crawl (see the module's docstring)."""

    def __init__(self, path: str, max_size: int, info: Mapping[str, str],
                 memory: ArchiveMemory | None = None, append: bool = False) -> None:
        self.path = path
        self.max_size = max_size
        self.info = dict(info)
        self.memory = memory
        #: reopen an existing archive and go on after its last whole record (a Redis node's restart)
        self.append = append
        self.files: WarcFiles | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Open the archive: afresh, or (a resumed or later ``--state`` run) after what it holds."""
        memory = self.memory
        if memory is None:
            self.files = WarcFiles(self.path, self.max_size, self.info, resume=self.append)
            return
        noted = memory.archive_position()
        same = noted is not None and noted[0] == os.path.abspath(self.path)
        at = (noted[1], noted[2]) if noted is not None and same and memory.resumed else None
        # A later run with the same name goes on after the copies its revisits point at.
        self.files = WarcFiles(self.path, self.max_size, self.info, resume=same, at=at)
        self._note()

    def close(self, finished: bool) -> None:
        """Flush and close the current file."""
        del finished  # the files hold whole records either way
        if self.files is not None:
            self.files.close()

    def tick(self) -> None:
        """Nothing to do: every record is flushed as it is written."""

    # -- records ---------------------------------------------------------------------------
    def write(self, done: Done) -> bool:
        """Archive a reported page: its exchanges, then its ``metadata`` record, in one write."""
        assert self.files is not None
        result = done.result
        exchanges = result.exchanges if result is not None else []
        parts = [self._bytes(exchange) for exchange in exchanges]
        if done.task.kind == PAGE or result is None:
            if result is not None and result.metadata:  # the worker built it
                parts.append(result.metadata)
            else:  # a record made here (a page robots.txt refused), or an exchange captured here
                parts.append(page_metadata(done.page, done.task.depth, exchanges,
                                           [link.url for link in done.links], self.files.gzip))
        if parts:
            self.files.write_encoded(b"".join(parts))
            self._note()
        return True

    def unrecorded(self, result: Result) -> None:
        """Archive the exchanges of a fetch that made no record (a retried try, robots.txt, a sitemap)."""
        if result.exchanges:
            assert self.files is not None
            self.files.write_encoded(b"".join(map(self._bytes, result.exchanges)))
            self._note()

    def _bytes(self, exchange: Exchange) -> bytes:
        """The encoded records of ``exchange``: a revisit, or its request and response."""
        revisit = self._revisit(exchange)
        if revisit is not None:
            return revisit
        # Workers encode what they capture; an exchange that comes whole (or a 304 the worker
        # left for a revisit) is encoded here, keeping the record ID a metadata record names.
        assert self.files is not None
        return exchange.encoded or archived(exchange, self.files.gzip).encoded

    def _revisit(self, exchange: Exchange) -> bytes | None:
        """A ``revisit`` record (encoded) for ``exchange`` when the archive has its payload already,
        else None (and then, with a memory, the exchange becomes its URL's stored copy)."""
        memory = self.memory
        if memory is None:
            return None
        assert self.files is not None
        status = exchange.status
        if status == 304:
            # Never archived before (the state is older than --warc): a revisit that names no copy.
            uri, date, payload = memory.stored_copy(exchange.url) or (None, None, None)
            return revisit(exchange, NOT_MODIFIED, uri, date, payload, self.files.gzip)
        if status is None or not 200 <= status < 300 or exchange.truncated:
            return None
        payload = exchange.payload_digest or digest(exchange.body)
        stored = memory.stored_copy(exchange.url)
        if stored is not None and stored[2] == payload:
            return revisit(exchange, IDENTICAL, *stored, gzip=self.files.gzip)
        memory.keep_copy(exchange.url, exchange.date, payload)
        return None

    def _note(self) -> None:
        if self.memory is not None and self.files is not None:
            self.memory.set_archive_position(self.path, *self.files.position())
