"""crawler.warcmember: members with wget's ``sl`` field, read back by any gzip reader; damage named where it is."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zlib
from pathlib import Path

import pytest

from crawler.page import Exchange
from crawler.warcmember import ArchiveDamaged, check_members, read_member, skip_length, with_skip_length
from crawler.warcrecord import archived, gzip_member

RECORD = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n"


def members(data: bytes) -> list[tuple[int, bytes]]:
    """(size, inflated bytes) of each gzip member of ``data``, as zlib reads them."""
    out = []
    while data:
        inflate = zlib.decompressobj(16 + 15)
        record = inflate.decompress(data)
        assert inflate.eof
        out.append((len(data) - len(inflate.unused_data), record))
        data = inflate.unused_data
    return out


def test_a_member_carries_its_size_and_its_records_as_wget_writes_them() -> None:
    member = gzip_member(RECORD)
    assert member[3] & 4  # FLG.FEXTRA
    assert member[12:16] == b"sl\x08\x00"  # subfield "sl", 8 bytes
    assert skip_length(member) == (len(member), len(RECORD))
    assert gzip.decompress(member) == RECORD


@pytest.mark.parametrize("size", [100, 70_000, 200_000])
def test_a_coded_body_stored_in_its_member_has_the_field_too(size: int) -> None:
    body = gzip.compress(bytes(range(256)) * (size // 256), mtime=0)  # stored blocks: 64 KiB at most each
    exchange = archived(Exchange("http://127.0.0.1:1/a", "2026-12-03T10:00:00Z", b"GET /a HTTP/1.1\r\n\r\n", HEAD,
                                 body, ip="127.0.0.1"), True)
    found = members(exchange.encoded)
    assert [kind for _, record in found for kind in (record.split(b"\r\n")[1],)] == \
        [b"WARC-Type: request", b"WARC-Type: response"]
    at = 0
    for size_read, record in found:
        assert skip_length(exchange.encoded[at:at + 64]) == (size_read, len(record))
        at += size_read
    assert found[1][1].endswith(HEAD + body + b"\r\n\r\n")


def test_members_without_the_field_or_with_others_are_read_too() -> None:
    plain = gzip.compress(RECORD, mtime=0)
    assert skip_length(plain) is None
    # An extra field with another subfield before "sl": found all the same.
    other = b"XY\x02\x00ab"
    body = zlib.compressobj(1, zlib.DEFLATED, -15)
    deflated = body.compress(RECORD) + body.flush()
    total = 10 + 2 + len(other) + 12 + len(deflated) + 8
    member = (b"\x1f\x8b\x08\x04\0\0\0\0\0\xff" + struct.pack("<H", len(other) + 12) + other + b"sl\x08\x00"
              + struct.pack("<II", total, len(RECORD)) + deflated + struct.pack("<II", zlib.crc32(RECORD), len(RECORD)))
    assert gzip.decompress(member) == RECORD
    assert skip_length(member) == (total, len(RECORD))
    assert with_skip_length(b"\x1f\x8b\x08\x08" + plain[4:], len(RECORD))[3] == 8  # flags already set: left alone


def write(path: Path, data: bytes) -> io.BufferedReader:
    path.write_bytes(data)
    return open(path, "rb")  # noqa: SIM115 - closed by the test


def test_check_members_keeps_the_one_asked_for_and_reads_every_other(tmp_path: Path) -> None:
    first, second, third = gzip_member(RECORD), gzip_member(RECORD.replace(b"hello", b"world")), gzip.compress(RECORD)
    data = first + second + third
    with write(tmp_path / "a.warc.gz", data) as f:
        assert check_members("a", f, 0, len(data), len(first)) == RECORD.replace(b"hello", b"world")
        assert check_members("a", f, 0, len(data), 1) is None
        assert check_members("a", f, 5, 5, 5) is None  # an empty span
        assert read_member("a", f, len(first)) == RECORD.replace(b"hello", b"world")
        assert read_member("a", f, len(first) + len(second)) == RECORD  # no sl field: read to its end


def test_damage_in_a_span_is_named_at_its_member(tmp_path: Path) -> None:
    first, second = gzip_member(RECORD * 50), gzip_member(RECORD * 50)
    data = bytearray(first + second)
    data[len(first) + 40] ^= 0xFF  # inside the second member's deflate stream
    with write(tmp_path / "a.warc.gz", bytes(data)) as f, pytest.raises(ArchiveDamaged) as damage:
        check_members("a", f, 0, len(data), 0)
    assert damage.value.offset == len(first)
    # The sl field wrong by a byte: the index stepped to a wrong place; the span does not add up.
    data = bytearray(first + second)
    data[16] += 1
    with write(tmp_path / "b.warc.gz", bytes(data)) as f, pytest.raises(ArchiveDamaged, match="sl field") as damage:
        check_members("b", f, 0, len(data), 0)
    assert damage.value.offset == 0
    # Cut short: the file ends inside the member.
    with write(tmp_path / "c.warc.gz", first + second[:50]) as f, \
            pytest.raises(ArchiveDamaged, match="the file ends inside") as damage:
        check_members("c", f, 0, len(first) + 50, -1)
    assert damage.value.offset == len(first)
    with write(tmp_path / "d.warc.gz", first + second[:50]) as f, pytest.raises(ArchiveDamaged) as damage:
        read_member("d", f, len(first))
    assert damage.value.offset == len(first)


def test_the_damage_crosses_a_pipe_whole() -> None:
    damage = pickle.loads(pickle.dumps(ArchiveDamaged("a.warc.gz", 1234, "gzip: bad")))
    assert (damage.path, damage.offset, damage.why) == ("a.warc.gz", 1234, "gzip: bad")
    assert str(damage) == "a.warc.gz: damaged at offset 1234: gzip: bad"


def test_a_member_whose_sl_field_is_wrong_is_still_read_whole_by_itself(tmp_path: Path) -> None:
    # Another archiver's idea of the field, or damage there: read_member (foreign archives, revisit
    # copies) reads the member to its end; only a span check (our own archives) holds the field to it.
    member = bytearray(gzip_member(RECORD * 20))
    following = gzip_member(RECORD)
    for wrong in (len(member) - 9, len(member) + 5, 30):
        member[16:20] = wrong.to_bytes(4, "little")
        with write(tmp_path / f"w{wrong}.warc.gz", bytes(member) + following) as f:
            assert read_member("w", f, 0) == RECORD * 20
            assert read_member("w", f, len(member)) == RECORD
