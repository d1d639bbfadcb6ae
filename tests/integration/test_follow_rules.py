"""rel=nofollow, <meta name="robots" content="nofollow"> and meta refresh, through the CLI."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from tests.conftest import parse_jsonl, run_cli, serving

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
HEADERS = {"/header-noindex": "noindex, nofollow", "/other-bot-noindex": "otherbot: noindex"}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = PAGES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body or b"")))
        if self.path in HEADERS:
            self.send_header("X-Robots-Tag", HEADERS[self.path])
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_Handler) as url:
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
