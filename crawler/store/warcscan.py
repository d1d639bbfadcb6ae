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
- With ``skim`` (kinds of record whose block the caller does not need), a
  member with an ``sl`` field (`crawler.warcmember`: this crawler's, wget's)
  of such a kind is inflated only as far as its head, and skipped by the
  field: its `Record` is not ``checked``, and whoever reads it must check it
  (`crawler.warcmember.check_members`). The field is trusted only when the
  record's head agrees with it (head, block and end add up to the inflated
  size it gives); any other member is inflated whole.
- ``.warc``: each record's head line by line, its block skipped by its
  ``Content-Length``, the two CRLFs after it checked.

Why not warcio here: besides forgiving damage, it took a third of an
extract's CPU in the main process, which indexes every record while the
workers parse (bench fast site: ~1 s of 2.4).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from isal import isal_zlib

from ..warcmember import GZIP_MAGIC, ArchiveDamaged, block_length, decompress, file_size, head, skip_length

__all__ = ["KEPT", "ArchiveDamaged", "Record", "scan"]

#: bytes of a record kept (head and the start of its block); the rest is only counted
KEPT = 1 << 20
_CHUNK = 1 << 20
#: bytes of a member fed at a time: each member ends inside a piece, and what follows is copied
_PIECE = 1 << 16
#: bytes inflated to find a skimmed record's head (ours are ~500 bytes; a longer one is read whole)
_PEEK = 1024


@dataclass(slots=True)
class Record:
    """One record: its ``offset`` in the file, its WARC fields (names lower-cased, the first of
    each), and the start of its block (at most `KEPT` bytes with the head; empty when skimmed).
    ``checked``: the record was read whole (False for a skimmed one)."""

    offset: int
    fields: dict[str, str]
    block: bytes
    checked: bool = True

    @property
    def kind(self) -> str:
        """``WARC-Type``."""
        return self.fields.get("warc-type", "")

    def get(self, name: str) -> str:
        """The field ``name`` (any case), or ``""``."""
        return self.fields.get(name.lower(), "")


def scan(path: str, f: IO[bytes], skim: frozenset[str] = frozenset()) -> Iterator[Record]:
    """The records of the open file ``f`` (named ``path`` in errors), in order; of the kinds in
    ``skim``, the heads only where a member's ``sl`` field allows."""
    start = f.read(2)
    f.seek(0)
    if start == GZIP_MAGIC:
        yield from _members(path, f, skim)
    else:
        yield from _plain(path, f)


class _Window:
    """Forward reads of a file, a megabyte at a time: the bytes at an offset, without a read per record."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.data = b""
        self.at = 0  # the file offset of data's first byte

    def get(self, offset: int, size: int) -> memoryview:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        rel = offset - self.at
        if rel < 0 or rel + size > len(self.data):
            keep = self.data[rel:] if 0 <= rel < len(self.data) else b""
            self.f.seek(offset + len(keep))
            self.data = keep + self.f.read(max(size, _CHUNK) - len(keep))
            self.at, rel = offset, 0
        return memoryview(self.data)[rel:rel + size]


def _members(path: str, f: IO[bytes], skim: frozenset[str]) -> Iterator[Record]:
    """The record of each gzip member of ``f``."""
    window = _Window(f)
    total = file_size(f)
    offset = 0
    skimmed = -1  # the member just stepped over by its sl field
    while offset < total:
        start = window.get(offset, 64)
        if not start.tobytes().startswith(GZIP_MAGIC[: len(start)]):
            if _blank_to_end(window, offset, total):
                return  # padding after the last member (NULs or line ends): nothing more to read
            if skimmed >= 0:  # no member where the one before said it ended: its field, or it, is damaged
                raise ArchiveDamaged(path, skimmed, "the gzip member does not end where its sl field says")
        skimmed = -1
        sl = skip_length(start) if skim else None
        if sl is not None:
            if offset + sl[0] > total:
                raise ArchiveDamaged(path, offset, "the file ends inside this gzip member")
            record = _skimmed(path, offset, window.get(offset, min(sl[0], _PEEK)), sl[1], skim)
            if record is not None:
                yield record
                skimmed = offset
                offset += sl[0]
                continue
        data, size, used = _inflated(path, offset, window)
        yield _one_record(path, offset, data, size)
        offset += used


def _skimmed(path: str, offset: int, start: memoryview, size: int, skim: frozenset[str]) -> Record | None:
    """The record of a member whose ``sl`` field says it inflates to ``size`` bytes, from its head
    alone, if it is of a kind in ``skim`` and its head agrees with the field (else None: inflate it whole)."""
    data = decompress(path, offset, isal_zlib.decompressobj(16 + 15), start, _PEEK)
    end = data.find(b"\r\n\r\n")
    # The kind before the whole head: a record of another kind is read whole, its head parsed then.
    at = data.find(b"\r\nWARC-Type: ", 0, end)
    if end < 0 or (at >= 0 and data[at + 13:data.find(b"\r\n", at + 13)].decode("latin-1") not in skim):
        return None
    fields, head_size = head(path, offset, data)
    if fields.get("warc-type") not in skim or head_size + block_length(path, offset, fields) + 4 != size:
        return None
    return Record(offset, fields, b"", checked=False)


def _inflated(path: str, offset: int, window: _Window) -> tuple[bytes, int, int]:
    """(the first `KEPT` inflated bytes, the inflated size, the member's size) of the member at ``offset``."""
    inflate = isal_zlib.decompressobj(16 + 15)
    kept: list[bytes] = []
    kept_size = size = 0
    at = offset
    while True:
        piece = window.get(at, _PIECE)
        if not piece:
            raise ArchiveDamaged(path, offset, "the file ends inside this gzip member")
        out = decompress(path, offset, inflate, piece)
        size += len(out)
        if kept_size < KEPT:
            kept.append(out[: KEPT - kept_size])
            kept_size += len(kept[-1])
        if inflate.eof:
            return b"".join(kept), size, at + len(piece) - len(inflate.unused_data) - offset
        at += len(piece)


def _blank_to_end(window: _Window, offset: int, total: int) -> bool:
    """Whether the file from ``offset`` to its end holds only NULs and line ends (reads it all)."""
    while offset < total:
        data = window.get(offset, _CHUNK)
        if data.tobytes().strip(b"\0\r\n"):
            return False
        offset += len(data)
    return True


def _one_record(path: str, offset: int, data: bytes, size: int) -> Record:
    fields, head_size = head(path, offset, data)
    length = block_length(path, offset, fields)
    end = head_size + length
    if size < end:
        raise ArchiveDamaged(path, offset, f"the record's block is cut short ({size - head_size} of {length} bytes)")
    if size > end + 4 and data[end + 4:].lstrip(b"\r\n")[:5] == b"WARC/":
        raise ArchiveDamaged(path, offset, "more than one record in a gzip member (an archive gzipped whole: "
                                           "its records cannot be read one by one)")
    return Record(offset, fields, data[head_size:end])


def _plain(path: str, f: IO[bytes]) -> Iterator[Record]:
    """The records of an uncompressed WARC."""
    total = file_size(f)
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
        fields, _ = head(path, offset, b"".join(part.rstrip(b"\r\n") + b"\r\n" for part in lines))
        length = block_length(path, offset, fields)
        if offset + head_size + length > total:
            raise ArchiveDamaged(path, offset, f"the file ends inside this record's block ({length} bytes)")
        yield Record(offset, fields, f.read(min(length, KEPT)))
        offset += head_size + length
