"""rel=nofollow, <meta name="robots" content="nofollow"> and meta refresh, through the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import page_handler, parse_jsonl, run_cli, serving

PAGES = {
    "/": b'<title>home</title><a href="/plain">p</a><a href="/nf" rel="nofollow">n</a>'
         b'<a href="/closed">c</a><a href="/refresh">r</a>',
    "/plain": b"<title>plain</title>",
    "/nf": b"<title>nofollow target</title>",
    "/closed": b'<meta name="robots" content="nofollow"><title>closed</title><a href="/behind">b</a>',
    "/behind": b"<title>behind</title>",
    "/refresh": b'<meta http-equiv="refresh" content="0; url=/landed"><title>moving</title>',
    "/landed": b"<title>landed</title>",
    # Not linked from "/": seeded directly by the noindex test.
    "/meta-noindex": b'<meta name="robots" content="noindex"><title>hidden</title>',
    "/header-noindex": b"<title>hidden by header</title>",
    "/other-bot-noindex": b"<title>hidden from another bot</title>",
}
HEADERS = {"/header-noindex": {"X-Robots-Tag": "noindex, nofollow"},
           "/other-bot-noindex": {"X-Robots-Tag": "otherbot: noindex"}}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(page_handler(PAGES, headers=HEADERS)) as url:
        yield url


def _crawl(base: str, *extra: str) -> set[str]:
    result = run_cli(base + "/", "-d", "2", "-w", "1", *extra, timeout=60)
    assert result.returncode == 0, result.stderr
    return {r["url"][len(base):] for r in parse_jsonl(result.stdout)}


def test_nofollow_not_followed_and_refresh_followed(base: str) -> None:
    assert _crawl(base) == {"/", "/plain", "/closed", "/refresh", "/landed"}


def test_follow_nofollow_flag(base: str) -> None:
    linked = {path for path in PAGES if "noindex" not in path}
    assert _crawl(base, "--follow-nofollow") == linked


def test_noindex_is_recorded(base: str) -> None:
    paths = ["/plain", "/meta-noindex", "/header-noindex", "/other-bot-noindex"]
    result = run_cli(*(base + p for p in paths), "-w", "1", timeout=60)
    assert result.returncode == 0, result.stderr
    noindex = {r["url"][len(base):]: r["noindex"] for r in parse_jsonl(result.stdout)}
    assert noindex == {"/plain": False, "/meta-noindex": True, "/header-noindex": True,
                       "/other-bot-noindex": False}
