"""The records of a WARC file, read strictly: where each lies, its fields, the start of its block.

For ``crawler extract``'s index (`crawler.store.warcread`), in the main
process. warcio, which reads each record in the workers, forgives damage: a
gzip member that fails its check is written to stderr and read as empty, a
file cut short ends as if whole. An extract must say where an archive is
damaged instead, after the records before it. This reader stops at the first
record it cannot read whole and raises `ArchiveDamaged` with its offset.

- ``.warc.gz`` (gzip magic at the start): one record per gzip member, as WARC
  1.1 Annex D recommends and every archive tool writes them. Each member is
  inflated by ISA-L to its end (its CRC-32 and length checked); only the
  first `KEPT` bytes of a record are kept, enough for its head and a
  metadata record's fields. A member holding more than one record is an
  archive gzipped whole: no record in it can be read by its offset.
- ``.warc``: each record's head line by line, its block skipped by its
  ``Content-Length``, the two CRLFs after it checked.

Why not warcio here: besides forgiving damage, it took a third of an
extract's CPU in the main process, which indexes every record while the
workers parse (bench fast site: ~1 s of 2.4).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, cast

from isal import isal_zlib

from ..errors import CrawlerError

#: bytes of a record kept (head and the start of its block); the rest is only counted
KEPT = 1 << 20
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.IsalError)  # a class; isal's stubs call it an instance


class ArchiveDamaged(CrawlerError):
    """A record of ``path`` at ``offset`` cannot be read whole; the records before it could."""

    def __init__(self, path: str, offset: int, why: str) -> None:
        super().__init__(f"{path}: damaged at offset {offset}: {why}")
        self.path = path
        self.offset = offset
        self.why = why


@dataclass(slots=True)
class Record:
    """One record: its ``offset`` in the file, its WARC fields (names lower-cased, the first of
    each), and the start of its block (at most `KEPT` bytes with the head)."""

    offset: int
    fields: dict[str, str]
    block: bytes

    @property
    def kind(self) -> str:
        """``WARC-Type``."""
        return self.fields.get("warc-type", "")

    def get(self, name: str) -> str:
        """The field ``name`` (any case), or ``""``."""
        return self.fields.get(name.lower(), "")


def scan(path: str, f: IO[bytes]) -> Iterator[Record]:
    """The records of the open file ``f`` (named ``path`` in errors), in order."""
    start = f.read(2)
    f.seek(0)
    if start == _GZIP_MAGIC:
        for offset, data, size in _members(path, f):
            yield _one_record(path, offset, data, size)
    else:
        yield from _plain(path, f)


def _members(path: str, f: IO[bytes]) -> Iterator[tuple[int, bytes, int]]:
    """(offset, first `KEPT` inflated bytes, inflated size) of each gzip member of ``f``."""
    pending = b""  # read, not yet inflated
    at = 0  # the file offset of pending's first byte
    while True:
        if not pending:
            pending = f.read(_CHUNK)
            if not pending:
                return
        start = at
        if not pending.startswith(_GZIP_MAGIC[: len(pending)]) and _blank_to_end(pending, f):
            return  # padding after the last member (NULs or line ends): nothing more to read
        inflate = isal_zlib.decompressobj(16 + 15)
        kept: list[bytes] = []
        kept_size = size = fed = 0
        data = pending
        while True:
            try:
                out = inflate.decompress(data)
            except _INFLATE_ERROR as exc:
                raise ArchiveDamaged(path, start, f"gzip: {exc}") from None
            fed += len(data)
            size += len(out)
            if kept_size < KEPT:
                kept.append(out[: KEPT - kept_size])
                kept_size += len(kept[-1])
            if inflate.eof:
                pending = inflate.unused_data
                at = start + fed - len(pending)
                yield start, b"".join(kept), size
                break
            data = f.read(_CHUNK)
            if not data:
                raise ArchiveDamaged(path, start, "the file ends inside this gzip member")


def _blank_to_end(pending: bytes, f: IO[bytes]) -> bool:
    """Whether ``pending`` and the rest of ``f`` hold only NULs and line ends (reads it all)."""
    data = pending
    while data:
        if data.strip(b"\0\r\n"):
            return False
        data = f.read(_CHUNK)
    return True


def _one_record(path: str, offset: int, data: bytes, size: int) -> Record:
    fields, head_size = _head(path, offset, data)
    length = _length(path, offset, fields)
    end = head_size + length
    if size < end:
        raise ArchiveDamaged(path, offset, f"the record's block is cut short ({size - head_size} of {length} bytes)")
    if size > end + 4 and data[end + 4:].lstrip(b"\r\n")[:5] == b"WARC/":
        raise ArchiveDamaged(path, offset, "more than one record in a gzip member (an archive gzipped whole: "
                                           "its records cannot be read one by one)")
    return Record(offset, fields, data[head_size:end])


def _head(path: str, offset: int, data: bytes) -> tuple[dict[str, str], int]:
    """The WARC fields at the start of ``data``, and the head's size (to the empty line's end)."""
    end = data.find(b"\r\n\r\n")
    if not data.startswith(b"WARC/") or end < 0:
        raise ArchiveDamaged(path, offset, "no WARC record here")
    fields: dict[str, str] = {}
    name = ""
    for line in data[:end].decode("utf-8", "replace").split("\r\n")[1:]:
        if line[:1] in (" ", "\t") and name:  # a folded line goes on with the field before it
            if fields.get(name) is not None:
                fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ArchiveDamaged(path, offset, f"a WARC field without a colon: {line[:80]!r}")
        name = key.strip().lower()
        fields.setdefault(name, value.strip())
    return fields, end + 4


def _length(path: str, offset: int, fields: dict[str, str]) -> int:
    value = fields.get("content-length", "")
    if not value.isdigit():
        raise ArchiveDamaged(path, offset, f"no valid Content-Length ({value[:40]!r})")
    return int(value)


def _plain(path: str, f: IO[bytes]) -> Iterator[Record]:
    """The records of an uncompressed WARC."""
    total = os.fstat(f.fileno()).st_size
    offset = 0
    while True:
        f.seek(offset)
        line = f.readline()
        while line in (b"\r\n", b"\n"):  # the blank lines after a record's block
            offset += len(line)
            line = f.readline()
        if not line:
            return
        lines = [line]
        while line not in (b"\r\n", b"\n", b""):
            line = f.readline()
            lines.append(line)
        if not line:
            raise ArchiveDamaged(path, offset, "the file ends inside a record's head")
        head_size = sum(map(len, lines))
        fields, _ = _head(path, offset, b"".join(part.rstrip(b"\r\n") + b"\r\n" for part in lines))
        length = _length(path, offset, fields)
        if offset + head_size + length > total:
            raise ArchiveDamaged(path, offset, f"the file ends inside this record's block ({length} bytes)")
        yield Record(offset, fields, f.read(min(length, KEPT)))
        offset += head_size + length
