"""A byte flipped anywhere in an archive: extract's index and its workers name the damage or read
through it, and never fail any other way (the CLI turns ArchiveDamaged and UsageError into one line)."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.config import CrawlConfig
from crawler.errors import UsageError
from crawler.page import PageResult
from crawler.store.warcread import read_archives
from crawler.warcmember import ArchiveDamaged
from crawler.worker import archived as reader
from crawler.worker import entry, tasks

from .test_warcscan import archive

FLIPS = 40  # positions tried, seeded: the same ones every run


@pytest.fixture(autouse=True)
def _worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The worker's own set-up, without the pool process's (signals, the collector).
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    tasks.init_worker(CrawlConfig())
    yield
    for f in reader._files.values():
        f.close()
    reader._files.clear()


def extract(path: Path) -> tuple[list[str], ArchiveDamaged | UsageError | None]:
    """The URLs of the records extract writes, and the damage it reports, as `crawler.cli.extract` does."""
    urls: list[str] = []
    try:
        for item in read_archives([str(path)]):
            result = entry.process_archived(item)
            if isinstance(result, ArchiveDamaged):
                return urls, result
            assert isinstance(result, PageResult)
            urls.append(result.page.url)
    except (ArchiveDamaged, UsageError) as exc:
        return urls, exc
    finally:
        for f in reader._files.values():  # the file changes under the worker's cache between tries
            f.close()
        reader._files.clear()
    return urls, None


def test_a_byte_flipped_anywhere_is_named_or_harmless(tmp_path: Path) -> None:
    path = tmp_path / "a.warc.gz"
    archive(path, pages=6)
    whole = path.read_bytes()
    urls, damage = extract(path)
    assert damage is None
    assert len(urls) == 6
    picks = random.Random(20261205)
    named = 0
    for at in sorted(picks.sample(range(len(whole)), FLIPS)):
        data = bytearray(whole)
        data[at] ^= 1 << picks.randrange(8)
        path.write_bytes(bytes(data))
        got, damage = extract(path)
        if damage is None:  # a flip gzip does not check (its header's time or OS byte): every record intact
            assert got == urls, at
            continue
        named += 1
        if isinstance(damage, ArchiveDamaged):
            assert damage.offset <= at, at  # named at the member it is in, or at one the index stepped past
            assert got == urls[: len(got)], at  # the records before it, in order
        else:  # the first record unreadable: no WARC at all
            assert not got
    assert named > FLIPS // 2  # most flips land in deflate data, which every reader checks


@pytest.mark.parametrize("delta", [-7, 9])
def test_a_member_whose_sl_field_lies_is_named_not_where_the_index_landed(tmp_path: Path, delta: int) -> None:
    from crawler.store.warcscan import scan

    path = tmp_path / "a.warc.gz"
    archive(path, pages=6)
    with open(path, "rb") as f:
        response = [r for r in scan(str(path), f) if r.kind == "response"][3]
    data = bytearray(path.read_bytes())
    at = response.offset + 16  # the member's size, first of the field's two numbers
    size = int.from_bytes(data[at:at + 4], "little")
    data[at:at + 4] = (size + delta).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    got, damage = extract(path)
    assert isinstance(damage, ArchiveDamaged)
    assert damage.offset == response.offset
    assert got == [f"http://127.0.0.1:8000/p{n}" for n in range(3)]
