"""Links resolved as browsers resolve them (the WHATWG URL standard, http(s) pages): issue 16, defect 16.

Each case gives what a browser makes of an href on the page ``BASE`` (the
URL standard's parser, by hand: ``new URL(href, BASE).href``); the crawler
must give the canonical form of that URL (`normalize_url`), or None where
the browser's URL is not http(s) or fails to parse.
"""

from __future__ import annotations

import pytest

from crawler.urls import normalize_url, whatwg_href
from crawler.worker.parse import parse_html, resolve_link, resolve_links

BASE = "http://h.test/dir/page.html"

CASES = [
    # "\" is "/" in an http(s) URL, up to its query: urljoin percent-encoded it into the path.
    ("\\a\\b", "http://h.test/a/b"),
    ("a\\b", "http://h.test/dir/a/b"),
    ("..\\up", "http://h.test/up"),
    ("\\\\other.test\\x", "http://other.test/x"),
    ("http:\\\\other.test\\x", "http://other.test/x"),
    ("/a\\b?x\\y", "http://h.test/a/b?x\\y"),  # the query keeps its backslash
    ("/a#f\\g", "http://h.test/a#f\\g"),
    # Tabs and newlines anywhere are removed.
    ("/a\n/b", "http://h.test/a/b"),
    ("ht\ttp://other.test/x", "http://other.test/x"),
    ("java\nscript:alert(1)", None),
    ("/p\r\nq", "http://h.test/pq"),
    # Leading and trailing C0 controls and spaces are stripped (and only those).
    (" \t\x00/a\x1f \x01", "http://h.test/a"),
    ("\x0c x.html", "http://h.test/dir/x.html"),
    ("\xa0x.html", "http://h.test/dir/%C2%A0x.html"),  # a no-break space is part of the link
    ("/a\u3000", "http://h.test/a%E3%80%80"),
    # A scheme without slashes: relative on a page of that scheme, else the host follows.
    ("http:x.html", "http://h.test/dir/x.html"),
    ("http:/x.html", "http://h.test/x.html"),
    ("https:other.test/x", "https://other.test/x"),
    ("https:///other.test/x", "https://other.test/x"),
    ("http:///other.test/x", "http://other.test/x"),
    ("///other.test/x", "http://other.test/x"),
    # Unchanged cases, for the fast paths.
    ("/plain", "http://h.test/plain"),
    ("plain", "http://h.test/dir/plain"),
    ("https://other.test/", "https://other.test/"),
    ("//other.test/x", "http://other.test/x"),
    ("#top", "http://h.test/dir/page.html"),
    ("", "http://h.test/dir/page.html"),
    ("mailto:a@b.test", None),
]


@pytest.mark.parametrize(("href", "browser"), CASES)
def test_resolve_link_matches_the_url_standard(href: str, browser: str | None) -> None:
    expected = None if browser is None else normalize_url(browser)
    assert resolve_link(BASE, href) == expected


@pytest.mark.parametrize("full", [False, True])
def test_both_parsers_resolve_hrefs_and_base_as_browsers(full: bool) -> None:
    html = (b"<base href=' \\sub\\\t'><a href='\\a\\b'>1</a><a href='x\\y'>2</a>"
            b"<a href=' java\nscript:x '>3</a><a href='\\\\other.test\\z'>4</a>")
    parsed = parse_html(html, BASE, full=full)
    assert parsed.links == ["http://h.test/a/b", "http://h.test/sub/x/y", "http://other.test/z"]


def test_resolve_links_keeps_first_occurrence_order_with_cleaned_duplicates() -> None:
    assert resolve_links(["/a", " /a ", "\\a", "/b"], BASE) == ["http://h.test/a", "http://h.test/b"]


def test_whatwg_href() -> None:
    assert whatwg_href("") == ""
    assert whatwg_href(" \x00 ") == ""
    assert whatwg_href("a\\b?c\\d#e\\f") == "a/b?c\\d#e\\f"
    assert whatwg_href("a\\b#c?d\\e") == "a/b#c?d\\e"
