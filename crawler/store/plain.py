"""The record sink of a plain crawl (no ``--state``, no ``--redis``): write, queue the links.

Each record goes to the output as it comes (JSONL and CSV flushed per
record, JSON kept valid on disk); the page's links are queued in one
frontier call per batch of results, since each call to the Manager's queue
is a round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from .output import Writer, open_writer

if TYPE_CHECKING:
    from ..page import Done, Result, Task


class _Queue(Protocol):
    def put(self, tasks: Sequence[Task]) -> int: ...


class PlainSink:
    """Writes records to ``output`` (none when None) and queues links in ``frontier``."""

    def __init__(self, output: str | None, fmt: str | None, frontier: _Queue,
                 last_fields: tuple[str, ...] = ()) -> None:
        self.output = output
        self.format = fmt
        self.frontier = frontier
        self.last_fields = last_fields
        self.writer: Writer | None = None
        self._links: list[Task] = []

    def open(self) -> None:
        """Create the output file (empty and valid until the first record)."""
        if self.output:
            self.writer = open_writer(self.output, self.format, last_fields=self.last_fields)

    def write(self, done: Done) -> bool:
        """Write the record now; its links go to the frontier at the next `tick`."""
        if self.writer is not None:
            self.writer.write(done.page)
        self._links.extend(done.links)
        return True

    def unrecorded(self, result: Result) -> None:
        """`Sink.unrecorded`: a record sink has nothing to do with a fetch that makes no record."""
        del result

    def tick(self) -> None:
        """Queue the links of the records written since the last tick, in one call."""
        if self._links:
            links, self._links = self._links, []
            self.frontier.put(links)

    def close(self, finished: bool) -> None:
        """Close the output (a JSON array gets its closing bracket)."""
        del finished  # a plain crawl has nothing to remember
        if self.writer is not None:
            self.writer.close()
