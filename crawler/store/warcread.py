"""Pages out of WARC files, for ``crawler extract``: ours, wget's ``--warc-file``, anyone's.

`read_archives` yields, in archive order, one (`Task`, `ArchiveRef`) per page
a record is due for: where its response lies. The workers read and parse it
(`crawler.worker.archived`, `crawler.worker.tasks.process_archived`); the main
process only indexes, so reading and decompressing the payloads, the bulk of
the work, runs on the pool.

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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator

from ..errors import UsageError
from ..page import ArchiveRef, Task

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
    """Every page of the WARC files at ``paths``, in order (raises `UsageError` for a file
    that cannot be read or is not a WARC)."""
    index = _Index()
    ours = [_is_ours(path) for path in paths]
    foreign = [path for path, mine in zip(paths, ours, strict=True) if not mine]
    pages: dict[str, list[Any]] = {path: _index_foreign(path, index) for path in foreign}
    for path, mine in zip(paths, ours, strict=True):
        if mine:
            yield from _ours(path, index)
        else:
            for uri, response in pages[path]:
                yield _foreign(uri, response, index)


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read archive {path!r}: {exc.strerror or exc}") from None


def _records(path: str, parse: bool) -> Iterator[tuple[Any, Callable[[], int]]]:
    """The records of ``path``, each with a function that gives its offset (HTTP headers
    parsed only if ``parse``). Asked for its offset, warcio reads the record to its end:
    read what is wanted of it first."""
    with _open(path) as f:
        records = ArchiveIterator(f, no_record_parse=not parse, check_digests=False)
        try:
            for record in records:
                yield record, records.get_record_offset
        except Exception as exc:  # noqa: BLE001 - warcio reports a bad file in many ways
            raise UsageError(f"{path}: not a readable WARC file ({type(exc).__name__}: {exc})") from None


def _is_ours(path: str) -> bool:
    for record, _ in _records(path, parse=False):
        return record.rec_type == "warcinfo" and b"software: crawler/" in record.raw_stream.read(4096)
    return False


def _ours(path: str, index: _Index) -> Iterator[tuple[Task, ArchiveRef]]:
    # A page's responses come before its metadata record, and a revisit's
    # stored copy before the revisit: one pass indexes what the pages need.
    for record, offset_of in _records(path, parse=False):
        kind = record.rec_type
        if kind in ("response", "revisit"):
            record_id = _header(record, "WARC-Record-ID")
            offset = offset_of()
            index.by_id[record_id] = (path, offset)
            if kind == "response":
                index.copies[(_target(record), _header(record, "WARC-Date"))] = (path, offset)
            else:
                index.refers[record_id] = (_header(record, "WARC-Refers-To-Target-URI"),
                                           _header(record, "WARC-Refers-To-Date"))
        elif kind == "metadata" and _header(record, "Content-Type").startswith("application/warc-fields"):
            yield _page(record, index)


def _page(metadata: Any, index: _Index) -> tuple[Task, ArchiveRef]:
    body = metadata.raw_stream.read().decode("utf-8", "replace")
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
    common: dict[str, Any] = {"date": _header(metadata, "WARC-Date"), "error": fields.get("error"),
                              "elapsed_ms": float(fields.get("fetchTimeMs") or 0), "redirects": tuple(redirects)}
    concurrent = _header(metadata, "WARC-Concurrent-To")
    where = index.by_id.get(concurrent) if concurrent else None
    if where is None:
        return task, ArchiveRef(url, final_url=fields.get("finalUrl", url), **common)
    copy = index.copies.get(index.refers[concurrent]) if concurrent in index.refers else None
    return task, ArchiveRef(url, where[0], where[1], copy[0] if copy else None, copy[1] if copy else 0, **common)


def _index_foreign(path: str, index: _Index) -> list[tuple[str, _Response]]:
    pages = []
    for record, offset_of in _records(path, parse=True):
        if record.rec_type != "response":
            continue
        uri = _target(record)
        head = record.http_headers
        code = head.get_statuscode() if head is not None else None
        status = int(code) if code and code.isdigit() else None
        response = _Response(path, offset_of(), status, head.get_header("Location") if head is not None else None)
        index.latest[uri] = response
        if uri.startswith(("http://", "https://")):
            pages.append((uri, response))
    return pages


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


def _target(record: Any) -> str:
    return _header(record, "WARC-Target-URI").strip("<>")


def _header(record: Any, name: str) -> str:
    return str(record.rec_headers.get_header(name) or "")
