"""crawler.worker.parse: title, links and encodings of HTML pages."""

from __future__ import annotations

import codecs

import pytest
from bs4 import BeautifulSoup

from crawler.worker.parse import choose_encoding, is_html, parse_html, resolve_link

PAGE = "http://a.test/a/b/page.html"


def links_of(html: str, url: str = PAGE) -> list[str]:
    return parse_html(html.encode("utf-8"), url, charset="utf-8").links


# -- title ---------------------------------------------------------------------------


def test_title_whitespace_collapsed():
    p = parse_html(b"<html><head><title>\n   Hello \t\n  World  \n</title></head></html>", PAGE)
    assert p.title == "Hello World"


def test_title_entities_decoded():
    p = parse_html(b"<title>Tom &amp; Jerry &eacute;t&eacute; &lt;b&gt; &#8364;&#x20AC;</title>", PAGE)
    assert p.title == "Tom & Jerry \u00e9t\u00e9 <b> \u20ac\u20ac"


def test_missing_title_is_none():
    p = parse_html(b"<html><head></head><body><p>no title</p></body></html>", PAGE)
    assert p.title is None


def test_empty_body():
    p = parse_html(b"", PAGE)
    assert p.title is None
    assert p.links == []


def test_title_in_body_without_head():
    assert parse_html(b"<title>Bare</title><p>x", PAGE).title == "Bare"


# -- links ---------------------------------------------------------------------------


@pytest.mark.parametrize(("href", "expected"), [
    ("c.html", "http://a.test/a/b/c.html"),
    ("./c.html", "http://a.test/a/b/c.html"),
    ("../up.html", "http://a.test/a/up.html"),
    ("../../../../top.html", "http://a.test/top.html"),
    ("/root", "http://a.test/root"),
    ("//other.example/x", "http://other.example/x"),
    ("https://abs.example/y", "https://abs.example/y"),
    ("HTTP://Example.COM/Up", "http://example.com/Up"),
    ("HTTPS://Example.COM:443/", "https://example.com/"),
    ("?q=1", "http://a.test/a/b/page.html?q=1"),
    ("/q?b=2&a=1", "http://a.test/q?a=1&b=2"),
    ("  /spaced  ", "http://a.test/spaced"),
    ("http://a.test:80/port", "http://a.test/port"),
])
def test_link_resolution(href, expected):
    assert links_of(f'<a href="{href}">x</a>') == [expected]


def test_protocol_relative_takes_page_scheme():
    assert links_of('<a href="//cdn.example/x">x</a>', "https://a.test/") == ["https://cdn.example/x"]


def test_base_href():
    html = '<html><head><base href="http://base.example/dir/"></head><body><a href="rel">x</a></body></html>'
    assert links_of(html) == ["http://base.example/dir/rel"]


def test_relative_base_href():
    html = '<head><base href="/sub/"></head><a href="x">x</a><a href="../y">y</a>'
    assert links_of(html) == ["http://a.test/sub/x", "http://a.test/y"]


def test_empty_base_href_ignored():
    assert links_of('<base href=""><a href="x">x</a>') == ["http://a.test/a/b/x"]


def test_area_href():
    html = '<map name="m"><area shape="rect" coords="0,0,1,1" href="/area"></map>'
    assert links_of(html) == ["http://a.test/area"]


def test_fragments_dropped():
    html = '<a href="#top">1</a><a href="c.html#frag">2</a><a href="c.html">3</a>'
    assert links_of(html) == ["http://a.test/a/b/page.html", "http://a.test/a/b/c.html"]


def test_duplicates_removed_first_occurrence_order():
    html = ('<a href="/b">1</a><a href="/a">2</a><a href="/b">3</a>'
            '<a href="http://a.test/a">4</a><a href="/c">5</a><a href="/a?">6</a>')
    assert links_of(html) == ["http://a.test/b", "http://a.test/a", "http://a.test/c"]


@pytest.mark.parametrize("href", [
    "javascript:void(0)",
    "JavaScript:alert(1)",
    "mailto:someone@example.com",
    "tel:+15551234",
    "data:text/html,<b>hi</b>",
    "ftp://files.example/x",
    "irc://chat.example/room",
])
def test_non_http_links_skipped(href):
    assert links_of(f'<a href="{href}">x</a><a href="/kept">k</a>') == ["http://a.test/kept"]


def test_tags_without_href_and_non_link_tags_ignored():
    html = '<a name="x">x</a><link rel="stylesheet" href="/css"><img src="/img.png"><script src="/s.js"></script>'
    assert links_of(html) == []


def test_broken_urls_skipped():
    html = '<a href="http://[::1">x</a><a href="http://a.test:99999/">y</a><a href="/ok">ok</a>'
    assert links_of(html) == ["http://a.test/ok"]


def test_query_sorted_canonical():
    assert links_of('<a href="/s?z=3&a=1&m=2">x</a>') == ["http://a.test/s?a=1&m=2&z=3"]


def test_non_ascii_path_percent_encoded_as_utf8():
    assert links_of('<a href="/caf\u00e9">x</a>') == ["http://a.test/caf%C3%A9"]


def test_links_in_full_and_strained_mode_agree():
    html = b"""<html><head><title>T</title><base href="http://b.test/"></head>
    <body><div><p><a href="/1">1</a></p><table><tr><td><a href="2">2</a></td></tr></table>
    <map><area href="/3"></map></div></body></html>"""
    strained = parse_html(html, PAGE)
    full = parse_html(html, PAGE, full=True)
    assert strained.links == full.links == ["http://b.test/1", "http://b.test/2", "http://b.test/3"]
    assert strained.title == full.title == "T"


def test_resolve_link():
    assert resolve_link("http://a.test/x/", "y") == "http://a.test/x/y"
    assert resolve_link("http://a.test/x/", "mailto:a@b") is None
    assert resolve_link("http://a.test/x/", "ftp://h/") is None


# -- soup ------------------------------------------------------------------------------


def test_full_returns_soup():
    p = parse_html(b"<html><body><h1 class='x'>Head</h1><p>para</p></body></html>", PAGE, full=True)
    assert isinstance(p.soup, BeautifulSoup)
    assert p.soup.select_one("h1.x").get_text() == "Head"
    assert p.soup.find("p").get_text() == "para"


def test_default_mode_has_no_soup():
    p = parse_html(b"<html><body><h1>Head</h1></body></html>", PAGE)
    assert p.soup is None


# -- encodings ---------------------------------------------------------------------------


def test_shift_jis_declared_in_meta_only():
    html = ('<html><head><meta charset="Shift_JIS"><title>\u65e5\u672c\u8a9e\u306e\u30bf\u30a4\u30c8\u30eb</title>'
            '</head><body><a href="/\u65e5\u672c">x</a></body></html>')
    p = parse_html(html.encode("shift_jis"), "http://a.test/", charset=None)
    assert p.title == "\u65e5\u672c\u8a9e\u306e\u30bf\u30a4\u30c8\u30eb"
    assert p.links == ["http://a.test/%E6%97%A5%E6%9C%AC"]


def test_windows_1252_declared_in_meta():
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
            '<title>Caf\u00e9 \u2013 \u201cquoted\u201d \u20ac</title></head></html>')
    p = parse_html(html.encode("cp1252"), "http://a.test/")
    assert p.title == "Caf\u00e9 \u2013 \u201cquoted\u201d \u20ac"


def test_utf8_with_bom():
    body = b"\xef\xbb\xbf" + "<html><head><title>\u00dcn\u00efc\u00f6d\u00e9 \u2713</title></head></html>".encode()
    assert parse_html(body, "http://a.test/").title == "\u00dcn\u00efc\u00f6d\u00e9 \u2713"


def test_bom_wins_over_header_charset():
    body = b"\xef\xbb\xbf" + "<title>\u00dcn\u00efc\u00f6d\u00e9</title>".encode()
    assert parse_html(body, "http://a.test/", charset="iso-8859-1").title == "\u00dcn\u00efc\u00f6d\u00e9"


def test_header_charset_used_when_no_meta():
    body = "<html><head><title>\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440</title></head></html>"
    p = parse_html(body.encode("koi8-r"), "http://a.test/", charset="koi8-r")
    assert p.title == "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440"


@pytest.mark.parametrize("full", [False, True], ids=["lxml", "soup"])
@pytest.mark.parametrize(("charset", "text"), [
    pytest.param("euc-jp", "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8", id="euc-jp"),
    pytest.param("euc-kr", "\ud55c\uad6d\uc5b4 \ud398\uc774\uc9c0", id="euc-kr"),
    pytest.param("shift_jis", "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8", id="shift_jis"),
    pytest.param("gbk", "\u4e2d\u6587\u9875\u9762", id="gbk"),
    pytest.param("big5", "\u4e2d\u6587\u9801\u9762", id="big5"),
    pytest.param("windows-1251", "\u041f\u0440\u0438\u0432\u0435\u0442", id="windows-1251"),
    pytest.param("macintosh", "caf\u00e9 cr\u00e8me", id="macintosh"),
])
def test_header_charset_in_both_modes(charset, text, full):
    # The header is the only declaration: the full (BeautifulSoup) path, used
    # for extract hooks and --select, must decode like the lxml path.
    body = f"<html><head><title>{text}</title></head><body><p>{text}</p></body></html>".encode(charset)
    p = parse_html(body, "http://a.test/", charset=charset, full=full)
    assert p.title == text


@pytest.mark.parametrize("full", [False, True], ids=["lxml", "soup"])
@pytest.mark.parametrize("where", ["meta", "header"])
def test_latin1_label_decodes_as_windows_1252(where, full):
    # WHATWG Encoding (every browser) and Scrapy/w3lib treat the labels
    # iso-8859-1 / latin1 / us-ascii as windows-1252: bytes 0x80-0x9F are
    # curly quotes, dashes and the euro sign, not C1 control characters.
    text = "\u201cquoted\u201d \u2013 caf\u00e9 \u20ac"
    meta = '<meta charset="iso-8859-1">' if where == "meta" else ""
    body = f"<html><head>{meta}<title>{text}</title></head></html>".encode("cp1252")
    p = parse_html(body, "http://a.test/", charset="ISO-8859-1" if where == "header" else None, full=full)
    assert p.title == text


def test_header_latin1_when_no_meta():
    body = "<title>Gr\u00fc\u00dfe aus K\u00f6ln</title>".encode("iso-8859-1")
    assert parse_html(body, "http://a.test/", charset="iso-8859-1").title == "Gr\u00fc\u00dfe aus K\u00f6ln"


def test_unknown_declared_encoding_skipped():
    body = '<meta charset="x-no-such-codec"><title>caf\u00e9</title>'.encode()
    assert choose_encoding(body, "utf-8") == "utf-8"
    assert parse_html(body, "http://a.test/", charset="utf-8").title == "caf\u00e9"


def test_choose_encoding_order():
    assert codecs.lookup(choose_encoding(b"\xef\xbb\xbf<p>", "latin-1")).name == "utf-8"
    # WHATWG maps the Shift_JIS label to its superset windows-31j (cp932), as browsers do.
    assert codecs.lookup(choose_encoding(b'<meta charset="shift_jis">', "utf-8")).name == "cp932"
    assert codecs.lookup(choose_encoding(b"<p>plain</p>", "koi8-r")).name == "koi8-r"


def test_undeclared_utf8_detected():
    body = "<title>\u65e5\u672c caf\u00e9</title>".encode()
    assert parse_html(body, "http://a.test/").title == "\u65e5\u672c caf\u00e9"


def test_undeclared_legacy_bytes_still_decode():
    # not UTF-8, nothing declared: detection or a windows-1252 fallback, never a crash
    body = "<title>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e</title><a href='/x'>x</a>".encode("cp1252")
    p = parse_html(body, "http://a.test/")
    assert isinstance(p.title, str)
    assert p.title.startswith("Caf")
    assert p.links == ["http://a.test/x"]


def test_query_encoded_with_page_encoding():
    # Browsers (WHATWG URL parsing) and Scrapy's link extractor percent-encode a
    # link's query in the document's encoding; the path is always UTF-8.
    html = '<meta charset="windows-1252"><a href="/s?q=caf\u00e9">x</a>'
    assert parse_html(html.encode("cp1252"), "http://a.test/").links == ["http://a.test/s?q=caf%E9"]


# -- is_html ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "expected"), [
    ("text/html", True),
    ("application/xhtml+xml", True),
    ("text/plain", False),
    ("application/pdf", False),
    ("application/json", False),
    ("image/png", False),
    ("", False),
    (None, False),
])
def test_is_html(content_type, expected):
    assert is_html(content_type) is expected


def test_plain_relative_join_matches_urljoin():
    """The fast join of ``./`` / ``../`` links gives exactly what urljoin gives, or leaves it to urljoin."""
    import itertools
    from urllib.parse import urljoin

    from crawler.worker.parse import _join_plain

    dirs = ["http://h/", "http://h/a/b/", "http://h:8080/a/b/c/", "http://h/a//b/", "http://h/a/./", "http://u:p@h/a/"]
    parts = ["", "x.html", "./", "../", "../../../../", "a/", ".", "..", "a/./b", "a/../b", "a/..", ".a", "..a",
             "é", "a b", "~u", "a;b", "./../", "a//b", "/", "a\\b"]
    fast = 0
    for directory in dirs:
        for combo in itertools.product(parts, repeat=3):
            href = "".join(combo)
            if not href or href.startswith("/"):
                continue
            got = _join_plain(directory, href)
            if got is not None:
                fast += 1
                assert got == urljoin(directory, href), (directory, href)
    assert fast > 1000


def test_resolve_link_shortcuts_match_urljoin_then_normalize():
    """Every shortcut of resolve_link (absolute, protocol- and root-relative, fragment-only,
    per-directory joins) gives what urljoin and normalize_url give."""
    from urllib.parse import urljoin

    from crawler.urls import normalize_url
    from crawler.worker.parse import resolve_link

    bases = ["http://h/", "http://h/a/b.html", "https://h:8443/a/b/?q=1", "http://h/a/b#frag", "http://h",
             "http://h/a;p/b", "http://u:p@h/a/", "http://h/%7Eu/x?"]
    hrefs = ["#", "#main", "#a#b", "//127.0.0.2:8401/s01/", "//h2/x?y#z", "//h2", "/", "/x/../y", "/a:b", "/?q",
             "http://h3:81/a", "HTTP://H3/", "https://h3", "mailto:a@b", "javascript:void(0)", "tel:1", "x.html",
             "./x", "../x", "../../../x", "?q=2", "?", "", "a:b/c", "./a:b", "x#f", " spaced.html ", "é.html"]
    for base in bases:
        for href in hrefs:
            try:
                expected: str | None = normalize_url(urljoin(base, href))
            except ValueError:
                expected = None
            if not urljoin(base, href).lower().startswith(("http://", "https://")):
                expected = None
            assert resolve_link(base, href) == expected, (base, href)
