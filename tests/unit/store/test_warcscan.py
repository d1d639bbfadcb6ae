"""crawler.store.warcscan: the records warcio finds, at its offsets; damage named where it starts."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.page import Exchange, Page
from crawler.store.warc import WarcFiles
from crawler.store.warcread import read_archives
from crawler.store.warcscan import ArchiveDamaged, Record, scan
from crawler.warcrecord import archived, page_metadata

REQUEST = b"GET /p HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"


def archive(path: Path, pages: int = 6, software: str = "crawler/test") -> None:
    """An archive as a crawl writes it: per page a request, a response and a metadata record."""
    files = WarcFiles(str(path), 10**9, {"software": software})
    for n in range(pages):
        url = f"http://127.0.0.1:8000/p{n}"
        body = b"<html><title>%d</title>" % n + b"<p>words and more words</p>" * (40 * n + 1) + b"</html>"
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
        if n % 2:  # a body with a Content-Encoding: stored in its member, not deflated again
            body = gzip.compress(body, mtime=0)
            head = head.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")
        sent = archived(Exchange(url, "2026-12-03T10:00:00Z", REQUEST, head, body, ip="127.0.0.1"), files.gzip)
        page = Page(url=url, final_url=url, status=200, fetched_at="2026-12-03T10:00:00Z", elapsed_ms=1.0)
        files.write_encoded(sent.encoded + page_metadata(page, 1, [sent], [f"{url}/next"], files.gzip))
    files.close()


def scanned(path: Path) -> list[Record]:
    with open(path, "rb") as f:
        return list(scan(str(path), f))


def warcio_records(path: Path) -> list[tuple[int, str, str, bytes]]:
    """(offset, type, WARC-Record-ID, block) of each record, as warcio reads them."""
    out = []
    with open(path, "rb") as f:
        records = ArchiveIterator(f, no_record_parse=True)
        for record in records:
            block = record.raw_stream.read()
            out.append((records.get_record_offset(), record.rec_type,
                        str(record.rec_headers.get_header("WARC-Record-ID")), block))
    return out


@pytest.mark.parametrize("name", ["a.warc.gz", "a.warc"])
def test_the_records_are_warcios_at_warcios_offsets(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    archive(path)
    ours = scanned(path)
    theirs = warcio_records(path)
    assert [(r.offset, r.kind, r.get("WARC-Record-ID"), r.block) for r in ours] == theirs
    assert [r.kind for r in ours[:4]] == ["warcinfo", "request", "response", "metadata"]
    assert ours[3].get("content-type") == ours[3].fields["content-type"] == "application/warc-fields"


@pytest.mark.parametrize("name", ["a.warc.gz", "a.warc"])
def test_a_file_cut_short_is_damaged_at_its_last_record(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    archive(path)
    whole = scanned(path)
    last = whole[-2]  # a response: cut in its block
    data = path.read_bytes()
    path.write_bytes(data[: last.offset + 200])
    with pytest.raises(ArchiveDamaged) as damage:
        scanned(path)
    assert damage.value.offset == last.offset
    assert str(damage.value).startswith(f"{path}: damaged at offset {last.offset}: ")


def test_a_member_that_fails_its_check_is_damaged_there(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    archive(path)
    records = scanned(path)
    bad = records[5]
    data = bytearray(path.read_bytes())
    end = records[6].offset
    data[end - 6] ^= 0xFF  # the member's CRC-32
    path.write_bytes(bytes(data))
    got = []
    with pytest.raises(ArchiveDamaged) as damage, open(path, "rb") as f:
        got.extend(scan(str(path), f))
    assert damage.value.offset == bad.offset
    assert [r.offset for r in got] == [r.offset for r in records[:5]]  # the records before it, every one


def test_an_archive_gzipped_whole_is_no_archive_of_records(tmp_path: Path) -> None:
    plain = tmp_path / "a.warc"
    archive(plain)
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(ArchiveDamaged, match="more than one record in a gzip member") as damage:
        scanned(whole)
    assert damage.value.offset == 0


def test_what_is_no_warc_is_damaged_at_its_start(tmp_path: Path) -> None:
    junk = tmp_path / "junk.warc"
    junk.write_bytes(b"this is no archive\r\n\r\n")
    with pytest.raises(ArchiveDamaged, match="no WARC record here") as damage:
        scanned(junk)
    assert damage.value.offset == 0


def test_padding_after_the_last_member_is_no_damage_but_other_bytes_are(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    archive(path, pages=2)
    records = scanned(path)
    data = path.read_bytes()
    path.write_bytes(data + b"\0" * 512 + b"\r\n")
    assert [r.offset for r in scanned(path)] == [r.offset for r in records]
    path.write_bytes(data + b"\0\0junk")
    with pytest.raises(ArchiveDamaged, match="gzip") as damage:
        scanned(path)
    assert damage.value.offset == len(data)


@pytest.mark.parametrize("software", ["crawler/test", "other-archiver/1.0"])
def test_the_pages_before_the_damage_come_out_then_the_damage(tmp_path: Path, software: str) -> None:
    # Ours: a page per metadata record. Anyone else's ("other-archiver"): a page per
    # response, indexed whole before its first page (for redirects), the damage kept till after them.
    path = tmp_path / "a.warc.gz"
    archive(path, software=software)
    records = scanned(path)
    cut = records[-5]  # the fifth page's response: pages 0 to 3 are whole before it
    path.write_bytes(path.read_bytes()[: cut.offset + 10])
    pages = []
    with pytest.raises(ArchiveDamaged) as damage:
        pages.extend(task.url for task, _ in read_archives([str(path)]))
    assert damage.value.offset == cut.offset
    assert pages == [f"http://127.0.0.1:8000/p{n}" for n in range(4)]
