"""Pages out of WARC files, for ``crawler extract``: ours, wget's ``--warc-file``, anyone's.

`read_archives` yields, in archive order, one (`Task`, `ArchiveRef`) per page
a record is due for: where its response lies. The workers read and parse it
(`crawler.worker.archived`, `crawler.worker.tasks.process_archived`); the main
process only indexes, so reading and decompressing the payloads, the bulk of
the work, runs on the pool. In a ``.warc.gz`` of ours it reads only the heads
of the request, response and revisit records (`crawler.store.warcscan`'s
skim, by each member's ``sl`` field); each page hands its worker the span of
members it skipped since the page before, to check as it reads
(`ArchiveRef.span`), so damage there is found and located all the same.

- An archive this crawler wrote (its ``warcinfo`` names ``crawler/``): one page
  per ``metadata`` record, which is one per record of the live run. The
  metadata gives the referrer (``via``), the depth (the ``L`` hops of
  ``hopsFromSeed``), the redirects followed and the crawl's own error;
  ``WARC-Concurrent-To`` names the response that made the record. A
  ``revisit`` is read with the copy it refers to, when that copy is in one of
  the files given (earlier in the list, or earlier in its file).
- Any other archive: one page per ``response`` record of an http(s) URL; a
  redirect is followed to its target's response when the archive has one
  (the whole list of files is indexed first for that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any
from urllib.parse import urljoin

from ..errors import UsageError
from ..page import ArchiveRef, Task
from ..warcmember import check_members, file_size
from .warcscan import ArchiveDamaged, Record, scan

__all__ = ["MAX_REDIRECTS", "ArchiveDamaged", "read_archives"]

#: Redirects followed between the responses of a foreign archive at most.
MAX_REDIRECTS = 10


@dataclass(slots=True)
class _Response:
    """A foreign archive's response, as far as redirects need it."""

    path: str
    offset: int
    status: int | None
    location: str | None


@dataclass(slots=True)
class _Index:
    #: WARC-Record-ID of each response and revisit of our archives -> (path, offset)
    by_id: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: (URI, WARC-Date) of each response: where a revisit's stored copy is
    copies: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    #: (URI, WARC-Date) a revisit refers to, by its record ID
    refers: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: foreign archives: the last response of each URI
    latest: dict[str, _Response] = field(default_factory=dict)


def read_archives(paths: Sequence[str]) -> Iterator[tuple[Task, ArchiveRef]]:
    """Every page of the WARC files at ``paths``, in order.

    Raises `UsageError` for a file that cannot be read or is not a WARC (its
    first record cannot be read), and `ArchiveDamaged` where a later record
    cannot be read whole, after the pages before it. (A foreign archive is
    indexed whole before any page, for the redirects: its damage is kept
    until its pages before the damage are out.)
    """
    index = _Index()
    ours = [_is_ours(path) for path in paths]
    foreign = [path for path, mine in zip(paths, ours, strict=True) if not mine]
    pages = {path: _index_foreign(path, index) for path in foreign}
    for path, mine in zip(paths, ours, strict=True):
        if mine:
            yield from _ours(path, index)
        else:
            found, damage = pages[path]
            for uri, response in found:
                yield _foreign(uri, response, index)
            if damage is not None:
                raise damage


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read archive {path!r}: {exc.strerror or exc}") from None


def _records(path: str, skim: frozenset[str] = frozenset()) -> Iterator[Record]:
    """The records of ``path`` (`crawler.store.warcscan`): damage in its first record is no WARC."""
    with _open(path) as f:
        try:
            yield from scan(path, f, skim)
        except ArchiveDamaged as exc:
            if exc.offset == 0:
                raise UsageError(f"{path}: not a readable WARC file ({exc.why})") from None
            raise


def _is_ours(path: str) -> bool:
    for record in _records(path):
        return record.kind == "warcinfo" and b"software: crawler/" in record.block[:4096]
    return False


#: our records whose blocks the index does not read: the workers check them as they read (see ArchiveRef.span)
_SKIM = frozenset({"request", "response", "revisit"})


def _ours(path: str, index: _Index) -> Iterator[tuple[Task, ArchiveRef]]:
    # A page's responses come before its metadata record, and a revisit's
    # stored copy before the revisit: one pass indexes what the pages need.
    unchecked = -1  # the first record since the last page that the index skimmed
    for record in _records(path, _SKIM):  # (a .warc has nothing to skim)
        kind = record.kind
        if not record.checked and unchecked < 0:
            unchecked = record.offset
        if kind in ("response", "revisit"):
            record_id = record.get("WARC-Record-ID")
            index.by_id[record_id] = (path, record.offset)
            if kind == "response":
                index.copies[(_target(record), record.get("WARC-Date"))] = (path, record.offset)
            else:
                index.refers[record_id] = (record.get("WARC-Refers-To-Target-URI"),
                                           record.get("WARC-Refers-To-Date"))
        elif kind == "metadata" and record.get("Content-Type").startswith("application/warc-fields"):
            span = (unchecked, record.offset) if unchecked >= 0 else None
            unchecked = -1
            task, ref = _page(record, index, span)
            if span is not None and ref.path != path:  # no response of this file to read: checked here
                _check(path, span[0], span[1])
                ref = replace(ref, span=None)
            yield task, ref
    if unchecked >= 0:  # records after the last page (a run cut short): no worker reads them
        _check(path, unchecked, None)


def _check(path: str, start: int, end: int | None) -> None:
    """Check the gzip members of ``path`` from ``start`` to ``end`` (None: the end of the file)."""
    with _open(path) as f:
        check_members(path, f, start, file_size(f) if end is None else end, -1)


def _page(metadata: Record, index: _Index, span: tuple[int, int] | None) -> tuple[Task, ArchiveRef]:
    body = metadata.block.decode("utf-8", "replace")
    fields: dict[str, str] = {}
    redirects = []
    for line in body.splitlines():
        name, sep, value = line.partition(":")
        if not sep:
            continue
        if name == "redirect":
            redirects.append(value.strip())
        else:
            fields.setdefault(name.strip(), value.strip())
    url = _target(metadata)
    task = Task(url, fields.get("hopsFromSeed", "").count("L"), fields.get("via"), url)
    common: dict[str, Any] = {"date": metadata.get("WARC-Date"), "error": fields.get("error"),
                              "elapsed_ms": float(fields.get("fetchTimeMs") or 0), "redirects": tuple(redirects),
                              "span": span}
    concurrent = metadata.get("WARC-Concurrent-To")
    where = index.by_id.get(concurrent) if concurrent else None
    if where is None:
        return task, ArchiveRef(url, final_url=fields.get("finalUrl", url), **common)
    copy = index.copies.get(index.refers[concurrent]) if concurrent in index.refers else None
    return task, ArchiveRef(url, where[0], where[1], copy[0] if copy else None, copy[1] if copy else 0, **common)


def _index_foreign(path: str, index: _Index) -> tuple[list[tuple[str, _Response]], ArchiveDamaged | None]:
    """The pages of a foreign archive (its http(s) responses), and its damage if it has one."""
    pages = []
    try:
        for record in _records(path):
            if record.kind != "response":
                continue
            uri = _target(record)
            status, location = _status_and_location(record.block)
            response = _Response(path, record.offset, status, location)
            index.latest[uri] = response
            if uri.startswith(("http://", "https://")):
                pages.append((uri, response))
    except ArchiveDamaged as exc:
        return pages, exc
    return pages, None


def _status_and_location(block: bytes) -> tuple[int | None, str | None]:
    """The status code and ``Location`` of the HTTP response at the start of ``block``."""
    end = block.find(b"\r\n\r\n")
    lines = block[: end if end >= 0 else len(block)].decode("latin-1").splitlines()
    if not lines or not lines[0].startswith("HTTP/"):
        return None, None
    parts = lines[0].split(None, 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "location":
            return status, value.strip()
    return status, None


def _foreign(uri: str, response: _Response, index: _Index) -> tuple[Task, ArchiveRef]:
    hops: list[str] = []
    at, final = response, uri
    for _ in range(MAX_REDIRECTS):
        if at.status is None or not 300 <= at.status < 400 or not at.location:
            break
        target = urljoin(final, at.location)
        following = index.latest.get(target)
        if following is None:
            break
        hops.append(f"{at.status} {final}")
        at, final = following, target
    return Task(uri, 0, None, uri), ArchiveRef(uri, at.path, at.offset, redirects=tuple(hops))


def _target(record: Record) -> str:
    return record.get("WARC-Target-URI").strip("<>")
