"""crawler.cli.progress: the bar on odd terminals, and the summary line's wording."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import sys
import termios
import time

import pytest

from crawler.cli.progress import Progress, summary, terminal_size
from crawler.engine.crawler import CrawlStats


class _Crawler:
    def __init__(self) -> None:
        self.stats = CrawlStats()

    def queued(self) -> int:
        return 0


def _pty(rows: int, columns: int):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return master, os.fdopen(slave, "w", encoding="utf-8")


def _read_all(fd: int) -> str:
    data = b""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        data += chunk
        if b"3 pages" in data:
            break
    return data.decode("utf-8", "replace")


@pytest.mark.parametrize(("rows", "columns"), [(0, 0), (24, 80)], ids=["0x0", "24x80"])
def test_bar_drawn_on_a_terminal_of_any_reported_size(rows: int, columns: int, monkeypatch) -> None:
    # script -qec '…' /dev/null gives a pseudo-terminal that reports 0x0: tqdm drew nothing (issue 16, defect 8)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    master, stream = _pty(rows, columns)
    monkeypatch.setattr(sys, "stderr", stream)  # tqdm asks the size of sys.stderr only
    try:
        bar = Progress(_Crawler())  # type: ignore[arg-type]
        for _ in range(3):
            bar.on_page(None)  # type: ignore[arg-type]
        bar.close()
        stream.flush()
        assert "3 pages" in _read_all(master)
    finally:
        stream.close()
        os.close(master)


def test_terminal_size_falls_back_per_dimension(monkeypatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
    master, stream = _pty(0, 0)
    try:
        assert terminal_size(stream) == (100, 20)
        monkeypatch.setenv("COLUMNS", "60")
        assert terminal_size(stream) == (60, 20)
    finally:
        stream.close()
        os.close(master)


def test_summary_singulars_and_plurals() -> None:
    stats = CrawlStats()
    stats.pages, stats.errors, stats.retries = 1, 1, 5
    line = summary(stats, retries=1)
    assert line.startswith("crawler: 1 page, 1 error, ")
    assert ", 1 retry" in line
    assert "5" not in line.split("pages/s")[1]
    stats.pages, stats.errors = 2, 0
    assert summary(stats, retries=0).startswith("crawler: 2 pages, 0 errors, ")
    assert "retr" not in summary(stats, retries=0)
