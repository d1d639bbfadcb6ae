"""Meta refresh, rel=nofollow and <meta name="robots">, identical in both parse paths."""

from __future__ import annotations

import pytest

from crawler.worker.parse import parse_html, refresh_url

BASE = "http://h.test/dir/page"


@pytest.fixture(params=[False, True], ids=["lxml", "soup"])
def full(request: pytest.FixtureRequest) -> bool:
    return request.param


def test_meta_refresh_is_a_link(full: bool) -> None:
    p = parse_html(b'<meta http-equiv="REFRESH" content="0; URL=\'next.html\'"><a href="/a">a</a>', BASE, full=full)
    assert p.links == ["http://h.test/a", "http://h.test/dir/next.html"]
    assert p.nofollow == []


def test_rel_nofollow_only_links_are_marked(full: bool) -> None:
    body = (b'<a href="/x" rel="nofollow noopener">x</a><a href="/y">y</a>'
            b'<a href="/z" rel="NoFollow">z</a><a href="/z">z again, followable</a>')
    p = parse_html(body, BASE, full=full)
    assert p.links == ["http://h.test/x", "http://h.test/y", "http://h.test/z"]
    assert p.nofollow == ["http://h.test/x"]
    assert (p.meta_nofollow, p.noindex) == (False, False)


@pytest.mark.parametrize(("content", "nofollow", "noindex"), [
    ("noindex, nofollow", True, True), ("NOFOLLOW", True, False), ("noindex", False, True),
    ("none", True, True), ("index, follow", False, False),
])
def test_meta_robots(content: str, nofollow: bool, noindex: bool, full: bool) -> None:
    body = f'<meta name="robots" content="{content}"><a href="/a">a</a>'.encode()
    p = parse_html(body, BASE, full=full)
    assert (p.meta_nofollow, p.noindex) == (nofollow, noindex)
    assert p.links == ["http://h.test/a"]


@pytest.mark.parametrize(("content", "url"), [
    ("0; url=/a", "/a"), ("0;URL='/b'", "/b"), ('5; url="c d"', "c d"), ("3", None), ("0; url=", None),
    ("0, url=/e", "/e"), ("0; urlx=/f", None),
])
def test_refresh_url(content: str, url: str | None) -> None:
    assert refresh_url(content) == url
