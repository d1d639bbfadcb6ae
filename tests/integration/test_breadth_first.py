"""Depth is the shortest distance from a seed even when a longer path is found first, through the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import page_handler, parse_jsonl, run_cli, serving

# "/" -> /slow (depth 1, answers late) -> /u  : /u is at depth 2
# "/" -> /fast -> /c -> /u                     : the longer path, found first
PAGES = {
    "/": b'<title>home</title><a href="/slow">s</a><a href="/fast">f</a>',
    "/slow": b'<title>slow</title><a href="/u">u</a>',
    "/fast": b'<title>fast</title><a href="/c">c</a>',
    "/c": b'<title>c</title><a href="/u">u</a>',
    "/u": b'<title>u</title><a href="/v">v</a>',
    "/v": b"<title>v</title>",
}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(page_handler(PAGES, delays={"/slow": 0.8})) as url:
        yield url


def test_a_url_found_first_by_a_longer_path_keeps_its_shortest_depth(base: str) -> None:
    # While /slow is in flight, /c (depth 2) finds /u at depth 3. The crawl must
    # not take /u out of its queue then: /slow links it at depth 2, and only at
    # depth 2 are its links (/v, depth 3) within --depth 3.
    result = run_cli(base + "/", "-d", "3", "-w", "1", "-c", "4", timeout=60)
    assert result.returncode == 0, result.stderr
    records = {r["url"][len(base):]: r for r in parse_jsonl(result.stdout)}
    assert set(records) == set(PAGES)
    assert (records["/u"]["depth"], records["/u"]["referrer"]) == (2, base + "/slow")
    assert records["/v"]["depth"] == 3
