"""Pages out of WARC files, for ``crawler extract``: ours, wget's ``--warc-file``, anyone's.

`read_archives` yields, in archive order, one (`Task`, `Archived`) per page a
record is due for; the workers parse them (`crawler.worker.tasks.process_archived`).

- An archive this crawler wrote (its ``warcinfo`` names ``crawler/``): one page
  per ``metadata`` record, which is one per record of the live run. The
  metadata gives the referrer (``via``), the depth (the ``L`` hops of
  ``hopsFromSeed``) and the crawl's own error; ``WARC-Concurrent-To`` names
  the response that made the record (its target is the ``final_url``). A
  ``revisit`` takes its payload from the copy it refers to, when that copy is
  in one of the files given.
- Any other archive: one page per ``response`` record of an http(s) URL;
  a redirect is followed to its target's response when the archive has one.

Two passes: the first indexes responses and revisits (file and offset: a few
dozen bytes each), the second reads each page's response where it lies, so
memory does not grow with the payloads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

from ..errors import UsageError
from ..page import Archived, Task
from .warc import IDENTICAL, NOT_MODIFIED

#: Redirects followed between the responses of a foreign archive at most.
MAX_REDIRECTS = 10


@dataclass(slots=True)
class _Index:
    by_id: dict[str, tuple[int, int]]
    #: (URI, WARC-Date) of each response: where a revisit's stored copy is
    copies: dict[tuple[str, str], tuple[int, int]]
    #: the last response of each URI (a foreign archive's redirect targets)
    latest: dict[str, tuple[int, int]]
    ours: list[bool]


def read_archives(paths: Sequence[str]) -> Iterator[tuple[Task, Archived]]:
    """Every page of the WARC files at ``paths``, in order (raises `UsageError` for a file
    that cannot be read or is not a WARC)."""
    index = _index(paths)
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(_open(path)) for path in paths]
        reader = _Reader(files, index)
        for number, path in enumerate(paths):
            with _open(path) as f:
                records = ArchiveIterator(f, check_digests=False)
                for record in records:
                    if index.ours[number]:
                        if record.rec_type == "metadata" and _is_page(record):
                            yield reader.ours(record)
                    elif record.rec_type == "response":
                        uri = _target(record)
                        if uri.startswith(("http://", "https://")):
                            offset = records.get_record_offset()
                            yield reader.foreign(uri, (number, offset))


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise UsageError(f"cannot read archive {path!r}: {exc.strerror or exc}") from None


def _index(paths: Sequence[str]) -> _Index:
    index = _Index({}, {}, {}, [])
    for number, path in enumerate(paths):
        ours = False
        with _open(path) as f:
            records = ArchiveIterator(f, check_digests=False)
            try:
                for record in records:
                    kind = record.rec_type
                    if kind == "warcinfo":
                        info = record.content_stream().read(4096)
                        ours = ours or b"software: crawler/" in info
                    elif kind in ("response", "revisit"):
                        where = (number, records.get_record_offset())
                        index.by_id[str(record.rec_headers.get_header("WARC-Record-ID"))] = where
                        if kind == "response":
                            uri = _target(record)
                            index.copies[(uri, _date(record))] = where
                            index.latest[uri] = where
            except Exception as exc:  # noqa: BLE001 - warcio reports a bad file in many ways
                raise UsageError(f"{path}: not a readable WARC file ({type(exc).__name__}: {exc})") from None
        index.ours.append(ours)
    return index


class _Reader:
    """Reads the response a page is made of, by file and offset."""

    def __init__(self, files: list[IO[bytes]], index: _Index) -> None:
        self.files = files
        self.index = index

    def ours(self, metadata: Any) -> tuple[Task, Archived]:
        body = metadata.content_stream().read()
        fields = _fields(body)
        redirects = tuple(line.partition(":")[2].strip() for line in body.decode("utf-8", "replace").splitlines()
                          if line.startswith("redirect:"))
        url = _target(metadata)
        referrer = fields.get("via")
        depth = fields.get("hopsFromSeed", "").count("L")
        elapsed = float(fields.get("fetchTimeMs") or 0)
        error = fields.get("error")
        date = _date(metadata)
        task = Task(url, depth, referrer, url)
        concurrent = metadata.rec_headers.get_header("WARC-Concurrent-To")
        where = self.index.by_id.get(str(concurrent)) if concurrent else None
        if where is None:
            return task, Archived(url, fields.get("finalUrl", url), date, elapsed_ms=elapsed, error=error,
                                  redirects=redirects)
        archived = self._response(where, url, date)
        return task, _replace(archived, elapsed_ms=elapsed, error=error, redirects=redirects)

    def foreign(self, uri: str, where: tuple[int, int]) -> tuple[Task, Archived]:
        archived = self._response(where, uri, None)
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS):
            location = _header(archived.headers, "Location")
            if archived.status is None or not 300 <= archived.status < 400 or not location:
                break
            target = self.index.latest.get(urljoin(archived.final_url, location))
            if target is None:
                break
            hops.append(f"{archived.status} {archived.final_url}")
            archived = _replace(self._response(target, uri, None), url=uri, redirects=tuple(hops))
        return Task(uri, 0, None, uri), archived

    def _response(self, where: tuple[int, int], url: str, date: str | None) -> Archived:
        record, body = self._read(where)
        final = _target(record)
        status, reason, headers = _http(record)
        truncated = bool(record.rec_headers.get_header("WARC-Truncated"))
        not_modified = False
        if record.rec_type == "revisit":
            profile = str(record.rec_headers.get_header("WARC-Profile") or "")
            refers = (str(record.rec_headers.get_header("WARC-Refers-To-Target-URI") or ""),
                      str(record.rec_headers.get_header("WARC-Refers-To-Date") or ""))
            stored = self.index.copies.get(refers)
            body = b""
            if stored is not None:
                copy, body = self._read(stored)
                truncated = bool(copy.rec_headers.get_header("WARC-Truncated"))
                if profile == IDENTICAL:  # the stored copy's head with this date
                    _, _, headers = _http(copy)
            not_modified = profile == NOT_MODIFIED
        return Archived(url, final, date or _date(record), status, reason, headers, body, truncated, not_modified)

    def _read(self, where: tuple[int, int]) -> tuple[Any, bytes]:
        number, offset = where
        f = self.files[number]
        f.seek(offset)
        record = next(iter(ArchiveIterator(f, check_digests=False)))
        stream: Any = record.raw_stream
        if record.http_headers is not None and "chunked" in (record.http_headers.get_header("Transfer-Encoding")
                                                             or "").lower():
            stream = ChunkedDataReader(stream)  # framing only: the Content-Encoding stays for the worker
        return record, stream.read()


def _is_page(record: Any) -> bool:
    return str(record.rec_headers.get_header("Content-Type") or "").startswith("application/warc-fields")


def _fields(body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name not in fields:
            fields[name.strip()] = value.strip()
    return fields


def _target(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")


def _date(record: Any) -> str:
    return str(record.rec_headers.get_header("WARC-Date") or "")


def _http(record: Any) -> tuple[int | None, str, tuple[tuple[str, str], ...]]:
    head = record.http_headers
    if head is None:
        return None, "", ()
    code = head.get_statuscode()
    reason = head.statusline.partition(" ")[2]
    headers = tuple((str(name), str(value)) for name, value in head.headers
                    if not (name.lower() == "transfer-encoding" and "chunked" in value.lower()))
    return (int(code) if code and code.isdigit() else None), reason, headers


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)


def _replace(archived: Archived, **changes: Any) -> Archived:
    import dataclasses

    return dataclasses.replace(archived, **changes)
