"""WARC files (``--warc PATH``), written with warcio: records, rotation, and repair after a kill.

`WarcFiles` appends records to ``NAME.warc.gz`` (one gzip member per record)
or ``NAME.warc`` (plain), flushed per record; once a file passes
``max_size`` the next record starts ``NAME-00001.warc.gz``, then
``NAME-00002…``. Every file starts with a ``warcinfo`` record. A run killed
mid-write leaves a torn last record: reopened with ``resume``, the last file
is cut back to its last whole record (`repair`) and appended to.

The ``request``, ``response``, ``metadata`` and ``revisit`` records come
encoded (`crawler.warcrecord`: the first three mostly from the workers, the
revisits from `crawler.store.archive`); the ``warcinfo`` opening each file is
built here with warcio.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from io import BytesIO
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from ..errors import UsageError
from ..warcrecord import IDENTICAL, NOT_MODIFIED, WARC_VERSION, digest, gzip_member

__all__ = ["IDENTICAL", "NOT_MODIFIED", "WarcFiles", "digest", "encode", "repair"]


class WarcFiles:
    """The WARC files of one run: append, flush, rotate; reopen after a kill.

    ``info`` goes into each file's ``warcinfo`` record (software, options).
    """

    def __init__(self, path: str, max_size: int, info: Mapping[str, str], resume: bool = False,
                 at: tuple[int, int] | None = None) -> None:
        if not path.endswith((".warc", ".warc.gz")):
            raise UsageError(f"--warc {path!r}: the name must end in .warc.gz (gzip per record) or .warc")
        self.path = path
        self.max_size = max_size
        self.info = dict(info)
        self.gzip = path.endswith(".gz")
        self._stem = path[: -len(".warc.gz")] if self.gzip else path[: -len(".warc")]
        self._index = self._last_index() if resume else 0
        if resume and at is not None:
            self._cut_back(*at)
        self._file: Any = None
        self._writer: WARCWriter | None = None
        self._open(resume)

    # -- names --------------------------------------------------------------------------------
    def name(self, index: int) -> str:
        """The path of file number ``index`` (0: ``NAME.warc.gz``, then ``NAME-00001.warc.gz``…)."""
        suffix = ".warc.gz" if self.gzip else ".warc"
        return f"{self._stem}{suffix}" if index == 0 else f"{self._stem}-{index:05d}{suffix}"

    def names(self) -> list[str]:
        """Every file of the run so far, in order."""
        return [self.name(i) for i in range(self._index + 1) if os.path.exists(self.name(i))]

    def position(self) -> tuple[int, int]:
        """(file number, bytes written to it): where the next record goes."""
        return self._index, self._file.tell()

    def _cut_back(self, index: int, offset: int) -> None:
        # What was written after the last commit belongs to records that were
        # never reported: the resumed run fetches those pages again.
        for later in range(index + 1, self._index + 1):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name(later))
        self._index = index
        path = self.name(index)
        if os.path.exists(path) and os.path.getsize(path) > offset:
            os.truncate(path, offset)

    def _last_index(self) -> int:
        index = 0
        while os.path.exists(self.name(index + 1)):
            index += 1
        return index

    # -- writing --------------------------------------------------------------------------------
    @property
    def writer(self) -> WARCWriter:
        """The warcio writer of the current file (for building records)."""
        assert self._writer is not None
        return self._writer

    def write(self, records: Iterable[ArcWarcRecord]) -> None:
        """Append ``records`` (one gzip member each) and flush; rotate once past ``max_size``."""
        self.write_encoded(encode(records, self.gzip))

    def write_encoded(self, data: bytes) -> None:
        """Append records already encoded (`crawler.warcrecord`, `encode`) and flush; rotate once past
        ``max_size``."""
        self._file.write(data)
        self._file.flush()
        if self._file.tell() >= self.max_size:
            self._index += 1
            self._close_file()
            self._open(resume=False)

    def close(self) -> None:
        """Flush and close the current file."""
        self._close_file()

    def _open(self, resume: bool) -> None:
        path = self.name(self._index)
        try:
            if resume and os.path.exists(path):
                repair(path)
                self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
                fresh = os.path.getsize(path) == 0
            else:
                self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
                fresh = True
        except OSError as exc:
            raise UsageError(f"cannot write WARC {path!r}: {exc.strerror or exc}") from None
        self._writer = WARCWriter(self._file, gzip=self.gzip, warc_version=WARC_VERSION)
        if fresh:
            self.write([self._writer.create_warcinfo_record(os.path.basename(path), self.info)])

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None


def repair(path: str) -> int:
    """Cut a torn last record off the WARC at ``path``; returns the bytes cut (0 if it was whole)."""
    size = os.path.getsize(path)
    end = 0
    with open(path, "rb") as f:
        records = ArchiveIterator(f, check_digests=False)
        try:
            for record in records:
                record.content_stream().read()
                end = records.get_record_offset() + records.get_record_length()
        except Exception:  # noqa: BLE001 - warcio fails a torn record in many ways (even AttributeError)
            pass  # the damage starts after the last whole record
        f.seek(end)
        # A plain WARC's record ends with two CRLFs that its length leaves out.
        tail = f.read(4)
        end += len(tail) - len(tail.lstrip(b"\r\n"))
    if end < size:
        os.truncate(path, end)
    return size - end


# -- records -----------------------------------------------------------------------------------------

def encode(records: Iterable[ArcWarcRecord], gzip: bool) -> bytes:
    """warcio's ``records`` as they go in a file: serialised, each its own gzip member when ``gzip``."""
    parts = []
    for record in records:
        buffer = BytesIO()
        WARCWriter(buffer, gzip=False, warc_version=WARC_VERSION).write_record(record)
        parts.append(gzip_member(buffer.getvalue()) if gzip else buffer.getvalue())
    return b"".join(parts)
