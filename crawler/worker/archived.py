"""Reading one archived response in a worker (``crawler extract``): an `ArchiveRef` to an `Archived`.

The main process indexes the archives (`crawler.store.warcread`) and hands
out where each page's response lies; reading it here (decompressing its
record, parsing its HTTP head, undoing chunked framing) runs on the pool.
Each worker keeps its archive files open for the whole extract.
"""

from __future__ import annotations

from typing import IO, Any

from ..page import Archived, ArchiveRef
from ..warcrecord import IDENTICAL, NOT_MODIFIED

_files: dict[str, IO[bytes]] = {}


def read(ref: ArchiveRef) -> Archived:
    """The page ``ref`` points at, as the archive holds it."""
    if ref.path is None:  # no final response: what the crawl noted is all there is
        return Archived(ref.url, ref.final_url or ref.url, ref.date or "", elapsed_ms=ref.elapsed_ms, error=ref.error,
                        redirects=ref.redirects)
    record, body = _read(ref.path, ref.offset)
    status, reason, headers = _http(record)
    truncated = bool(record.rec_headers.get_header("WARC-Truncated"))
    not_modified = False
    copy_headers: tuple[tuple[str, str], ...] = ()
    if record.rec_type == "revisit":
        profile = str(record.rec_headers.get_header("WARC-Profile") or "")
        not_modified = profile == NOT_MODIFIED
        body = b""
        if ref.copy_path is not None:
            copy, body = _read(ref.copy_path, ref.copy_offset)
            truncated = bool(copy.rec_headers.get_header("WARC-Truncated"))
            if profile == IDENTICAL:  # the stored copy's head; the revisit keeps only its own date
                _, _, headers = _http(copy)
            elif not_modified:  # the 304's own head, and the copy's to read the copy's body by
                _, _, copy_headers = _http(copy)
    final = str(record.rec_headers.get_header("WARC-Target-URI") or "").strip("<>")
    date = ref.date or str(record.rec_headers.get_header("WARC-Date") or "")
    return Archived(ref.url, final, date, status, reason, headers, body, truncated, not_modified, ref.elapsed_ms,
                    ref.error, ref.redirects, copy_headers)


def _read(path: str, offset: int) -> tuple[Any, bytes]:
    # warcio imported here, by the extract's workers only: a crawl's workers never read an archive (~5 ms a start).
    from warcio.archiveiterator import ArchiveIterator
    from warcio.bufferedreaders import ChunkedDataReader

    f = _files.get(path)
    if f is None:
        f = _files[path] = open(path, "rb")  # noqa: SIM115 - kept open for the worker's life
    f.seek(offset)
    record = next(iter(ArchiveIterator(f, check_digests=False)))
    stream: Any = record.raw_stream
    head = record.http_headers
    if head is not None and "chunked" in (head.get_header("Transfer-Encoding") or "").lower():
        stream = ChunkedDataReader(stream)  # framing only: the Content-Encoding stays, for from_archive
    return record, stream.read()


def _http(record: Any) -> tuple[int | None, str, tuple[tuple[str, str], ...]]:
    head = record.http_headers
    if head is None:
        return None, "", ()
    code = head.get_statuscode()
    reason = head.statusline.partition(" ")[2]
    headers = tuple((str(name), str(value)) for name, value in head.headers
                    if not (name.lower() == "transfer-encoding" and "chunked" in value.lower()))
    return (int(code) if code and code.isdigit() else None), reason, headers
