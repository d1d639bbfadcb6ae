"""One record of a WARC file, read strictly: its gzip member (with an ``sl`` field) and its head.

Each member this crawler writes carries the member's size and its inflated
size in a gzip extra field ``sl`` (RFC 1952 2.3.1.1), as wget's
``--warc-file`` does (the WARC 0.9 draft's recommendation): two unsigned
32-bit little-endian numbers, the whole member's bytes then the record's.
Any gzip reader skips the field; `crawler extract`'s index reads it to step
from one record's head to the next without inflating the blocks between
(the bulk of the file: ~0.3 s of the main process's CPU on the bench's fast
site), and the workers check those members as they read them
(`check_members`), so damage anywhere is still found and located.

`head` reads a record's WARC fields, for the index (`crawler.store.warcscan`)
and the workers alike.

A shared leaf: the workers (``--warc``, ``extract``) and the main process
import it; it imports isal and `crawler.errors` only.
"""

from __future__ import annotations

import os
import struct
from typing import IO, Any, cast

from isal import isal_zlib

from .errors import CrawlerError

GZIP_MAGIC = b"\x1f\x8b"
#: a member's header: deflate, FLG.FEXTRA, no time, no extra flags, OS unknown; XLEN 12; subfield "sl", 8 bytes
_SL_HEADER = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x0c\x00sl\x08\x00"
#: a member's header as ISA-L writes it (deflate, no flags, no time, OS unknown)
_PLAIN_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_PLAIN_HEADER_SIZE = len(_PLAIN_HEADER)
_SL_EXTRA = len(_SL_HEADER) + 8 - _PLAIN_HEADER_SIZE
_LIMIT = 0xFFFFFFFF
_FEXTRA = 4
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.IsalError)  # a class; isal's stubs call it an instance
#: bytes read at a time for a member without an ``sl`` field (what follows it is read for nothing)
_PIECE = 1 << 16


class ArchiveDamaged(CrawlerError):
    """A record of ``path`` at ``offset`` cannot be read whole; the records before it could."""

    def __init__(self, path: str, offset: int, why: str) -> None:
        super().__init__(f"{path}: damaged at offset {offset}: {why}")
        self.path = path
        self.offset = offset
        self.why = why

    def __reduce__(self) -> tuple[type[ArchiveDamaged], tuple[str, int, str]]:
        # An extract worker returns it through the pool's pipe (the default would rebuild it from the message).
        return type(self), (self.path, self.offset, self.why)


def with_skip_length(member: bytes, size: int) -> bytes:
    """``member`` (ISA-L's gzip member of ``size`` bytes, a 10-byte header) with the ``sl`` field."""
    total = len(member) + _SL_EXTRA
    if total > _LIMIT or size > _LIMIT or member[3] != 0:
        return member  # no room in the field (a record over 4 GiB): readers inflate it to find its end
    return b"".join((_SL_HEADER, struct.pack("<II", total, size), memoryview(member)[_PLAIN_HEADER_SIZE:]))


def sl_header(total: int, size: int) -> bytes:
    """The header of a member of ``total`` bytes holding ``size`` (for members built piece by piece;
    ``total`` counts `SL_HEADER_SIZE` for it): a plain one, without the field, when either does not fit."""
    if total > _LIMIT or size > _LIMIT:
        return _PLAIN_HEADER
    return _SL_HEADER + struct.pack("<II", total, size)


#: the bytes `sl_header` adds to the deflate stream and trailer
SL_HEADER_SIZE = len(_SL_HEADER) + 8


def skip_length(head: bytes | memoryview) -> tuple[int, int] | None:
    """(member size, inflated size) from the ``sl`` field of the gzip header at the start of ``head``, or None."""
    if len(head) < 12 or head[0] != 0x1F or head[1] != 0x8B or head[2] != 8 or not head[3] & _FEXTRA:
        return None
    xlen = head[10] | head[11] << 8
    at, end = 12, min(12 + xlen, len(head))
    while at + 4 <= end:
        length = head[at + 2] | head[at + 3] << 8
        if head[at] == 0x73 and head[at + 1] == 0x6C and length == 8 and at + 12 <= end:  # "sl"
            total, size = struct.unpack_from("<II", head, at + 4)
            return (total, size) if total > 12 + xlen else None
        at += 4 + length
    return None


def check_members(path: str, f: IO[bytes], start: int, end: int, keep: int) -> bytes | None:
    """Inflate every gzip member of ``f`` from ``start`` to ``end``, checking each whole; the record
    of the member at ``keep`` (None if no member starts there).

    Raises `ArchiveDamaged` at the first member that does not inflate to its
    end, whose CRC-32 or length fails, whose ``sl`` field does not match it,
    or that runs past ``end``.
    """
    if end <= start:
        return None
    f.seek(start)
    data = memoryview(f.read(end - start))
    kept = None
    at = 0
    while at < len(data):
        sl = skip_length(data[at:at + 64])
        # Fed its own bytes only, when the field says how many: what is left over is copied.
        out, used = _inflate(path, start + at, data[at:at + sl[0]] if sl is not None else data[at:])
        if used is None:
            why = ("the file ends inside this gzip member" if start + len(data) >= file_size(f)
                   else "the gzip member runs past where the index found its end")
            raise ArchiveDamaged(path, start + at, why)
        if sl is not None and (sl[0] != used or sl[1] != len(out)):
            raise ArchiveDamaged(path, start + at, f"the gzip member's sl field says {sl[0]} bytes "
                                                   f"({sl[1]} inflated), it has {used} ({len(out)})")
        if start + at == keep:
            kept = out
        at += used
    return kept


def read_member(path: str, f: IO[bytes], offset: int) -> bytes:
    """The inflated record of the gzip member at ``offset`` of ``f``, checked whole."""
    f.seek(offset)
    head = f.read(64)
    sl = skip_length(head)
    if sl is not None:
        data = head[: sl[0]] if sl[0] <= len(head) else head + f.read(sl[0] - len(head))
        out, used = _inflate(path, offset, memoryview(data))
        if used == sl[0]:
            return out
        # Not this member's size: damage, or another archiver's idea of the field. The member
        # is read to its end instead, its CRC-32 checked as ever (a foreign archive's index
        # inflated it whole, without the field, and found it sound).
        f.seek(offset)
        head = f.read(64)
    inflate = isal_zlib.decompressobj(16 + 15)
    parts = [decompress(path, offset, inflate, head)]
    while not inflate.eof:
        chunk = f.read(_PIECE)
        if not chunk:
            raise ArchiveDamaged(path, offset, "the file ends inside this gzip member")
        parts.append(decompress(path, offset, inflate, chunk))
    return b"".join(parts)


def _inflate(path: str, offset: int, data: memoryview) -> tuple[bytes, int | None]:
    """The record of the member at the start of ``data``, and the member's size (None: it runs past ``data``)."""
    inflate = isal_zlib.decompressobj(16 + 15)
    out = decompress(path, offset, inflate, data)
    if not inflate.eof:
        return out, None
    return out, len(data) - len(inflate.unused_data)


def decompress(path: str, offset: int, inflate: Any, data: bytes | memoryview, max_length: int = 0) -> bytes:
    """What ``inflate`` (an ISA-L decompress object) makes of ``data`` (at most ``max_length``
    bytes; 0: all); an inflate error is damage to the member at ``offset`` of ``path``."""
    try:
        return cast(bytes, inflate.decompress(data, max_length))
    except _INFLATE_ERROR as exc:
        raise ArchiveDamaged(path, offset, f"gzip: {exc}") from None


def file_size(f: IO[bytes]) -> int:
    """The size of the open file ``f``."""
    return os.fstat(f.fileno()).st_size


def head(path: str, offset: int, data: bytes) -> tuple[dict[str, str], int]:
    """The WARC fields at the start of ``data`` (names lower-cased, the first of each), and the
    head's size (to the end of the empty line)."""
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


def block_length(path: str, offset: int, fields: dict[str, str]) -> int:
    """The record's ``Content-Length``."""
    value = fields.get("content-length", "")
    if not value.isdigit():
        raise ArchiveDamaged(path, offset, f"no valid Content-Length ({value[:40]!r})")
    return int(value)
