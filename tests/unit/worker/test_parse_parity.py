"""parse_html's two paths (lxml alone, and the full BeautifulSoup tree) give the same title and links."""

from __future__ import annotations

import pytest

from crawler.worker import parse as parse_mod
from crawler.worker.parse import parse_html

URL = "http://a.test/dir/page.html"

CORPUS: dict[str, tuple[bytes, str | None]] = {
    "plain": (b"<html><head><title>T</title></head><body><a href='/x'>x</a><a href='y'>y</a></body></html>", None),
    "no_title": (b"<p><a href='/only'>o</a></p>", None),
    "empty": (b"", None),
    "whitespace_only": (b"   \n\t ", None),
    "text_only": (b"just text, no tags", None),
    "title_whitespace": (b"<title>\n  a \t b \n</title>", None),
    "title_entities": (b"<title>&amp;&lt;&gt;&quot;&#39;&eacute;&#x20AC;</title>", None),
    "title_with_markup": (b"<title>a <b>bold</b> c</title>", None),
    "two_titles": (b"<title>first</title><title>second</title>", None),
    "svg_title_first": (b"<body><svg><title>icon</title></svg><title>late</title></body>", None),
    "empty_title": (b"<title></title>", None),
    "base": (b"<head><base href='http://b.test/base/'></head><a href='r'>r</a><a href='/abs'>a</a>", None),
    "relative_base": (b"<base href='../other/'><a href='r'>r</a>", None),
    "base_without_href": (b"<base target='_blank'><a href='r'>r</a>", None),
    "two_bases": (b"<base href='http://b.test/'><base href='http://c.test/'><a href='r'>r</a>", None),
    "empty_base_then_base": (b"<base href=''><base href='http://c.test/'><a href='r'>r</a>", None),
    "area": (b"<map><area href='/area1'><area nohref></map>", None),
    "uppercase_tags": (b"<HTML><TITLE>Up</TITLE><A HREF='/UP'>u</A><AREA HREF='/ar'></HTML>", None),
    "fragments_and_dupes": (b"<a href='#a'>1</a><a href='#b'>2</a><a href='x#c'>3</a><a href='x'>4</a>", None),
    "schemes": (b"<a href='mailto:a@b'>m</a><a href='javascript:x()'>j</a><a href='tel:1'>t</a>"
                b"<a href='data:,x'>d</a><a href='ftp://h/'>f</a><a href='HTTPS://H.test/'>h</a>", None),
    "protocol_relative": (b"<a href='//cdn.test/lib'>c</a>", None),
    "queries": (b"<a href='?b=1&a=2'>q</a><a href='/p?z&y=&x=1'>p</a>", None),
    "entity_in_href": (b"<a href='/a?x=1&amp;y=2'>e</a><a href='/caf&eacute;'>c</a>", None),
    "spaces_in_href": (b"<a href='  /trim  '>t</a><a href='/with space'>s</a><a href=''>empty</a>", None),
    "broken": (b"<a href='http://[::1'>b</a><a href='http://a.test:99999/'>p</a><a href='/ok'>ok</a>", None),
    "unclosed": (b"<title>Unclosed<a href='/u'>u", None),
    "nested_in_table": (b"<table><tr><td><a href='/t1'>1</a></td></tr></table><form><a href='/f'>f</a></form>",
                        None),
    "comments_and_scripts": (b"<!-- <a href='/commented'>c</a> --><script>var s = \"<a href='/js'>\";</script>"
                             b"<a href='/real'>r</a>", None),
    "noscript": (b"<noscript><a href='/ns'>n</a></noscript>", None),
    "xml_declaration": (b"<?xml version='1.0' encoding='utf-8'?><html><title>x</title><a href='/x'>x</a></html>",
                        None),
    "xhtml": (b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><head><title>X</title></head>"
              b"<body><a href='/xh'>x</a></body></html>", None),
    "nul_bytes": (b"<title>a\x00b</title><a href='/n\x00'>n</a>", None),
    "shift_jis_meta": ('<meta charset="shift_jis"><title>\u65e5\u672c\u8a9e</title><a href="/\u65e5">x</a>'
                       .encode("shift_jis"), None),
    "cp1252_meta": ('<meta http-equiv="content-type" content="text/html; charset=windows-1252">'
                    "<title>\u201cq\u201d \u20ac</title>".encode("cp1252"), None),
    "utf8_bom": (b"\xef\xbb\xbf<title>\xc3\xa9t\xc3\xa9</title>", "iso-8859-1"),
    "utf16_bom": ("\ufeff<title>sixteen \u00e9</title><a href='/s'>s</a>".encode("utf-16-le"), None),
    "header_koi8r": ("<title>\u041f\u0440\u0438\u0432\u0435\u0442</title>".encode("koi8-r"), "koi8-r"),
    "header_cp1251": ("<title>\u041f\u0440\u0438\u0432\u0435\u0442</title>".encode("cp1251"), "windows-1251"),
    "header_euc_jp": ("<title>\u65e5\u672c\u8a9e</title>".encode("euc-jp"), "euc-jp"),
    "header_euc_kr": ("<title>\ud55c\uad6d\uc5b4</title>".encode("euc-kr"), "euc-kr"),
    "header_gbk": ("<title>\u4e2d\u6587</title>".encode("gbk"), "gbk"),
    "header_big5": ("<title>\u4e2d\u6587</title>".encode("big5"), "big5"),
    "header_latin9": ("<title>\u20ac</title>".encode("iso-8859-15"), "iso-8859-15"),
    "header_mac_roman": ("<title>caf\u00e9</title>".encode("mac_roman"), "mac_roman"),
    "header_unknown_codec": (b"<title>caf\xc3\xa9</title>", "x-unknown-codec"),
    "undeclared_utf8": ("<title>\u00e9\u00e8 \u65e5</title>".encode(), None),
    "undeclared_legacy": ("<title>caf\u00e9</title>".encode("cp1252"), None),
    "invalid_utf8_declared": (b"<meta charset='utf-8'><title>bad \xff\xfe byte</title>", None),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_lxml_and_soup_paths_agree(name):
    body, charset = CORPUS[name]
    fast = parse_html(body, URL, charset=charset)
    full = parse_html(body, URL, charset=charset, full=True)
    assert fast.soup is None
    assert full.soup is not None
    assert (fast.title, fast.links) == (full.title, full.links)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_tree_and_event_readings_agree(name):
    # The event reading is the fallback for pages nested too deep for libxml2's tree.
    body, charset = CORPUS[name]
    encoding = parse_mod.choose_encoding(body, charset)
    utf8 = parse_mod._as_utf8(body, encoding)
    tree = parse_mod._parse_lxml(utf8, URL, encoding)
    events = parse_mod._parse_events(utf8, URL, encoding)
    fields = ("title", "links", "nofollow", "meta_nofollow", "noindex")
    assert [getattr(tree, f) for f in fields] == [getattr(events, f) for f in fields]


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deep_nesting_keeps_the_rest_of_the_page(depth):
    # libxml2's tree stops at 256 levels and drops everything after: the links
    # below (and after) a pile of unclosed tags must still be found.
    body = (b"<html><head><title>Deep</title><base href='/b/'></head><body><a href='/top'>t</a>"
            + b"<div><font>" * (depth // 2) + b"<a href='low' rel='nofollow'>l</a>"
            + b"</font></div>" * (depth // 2) + b"<a href='/after'>a</a>")
    fast = parse_html(body, URL)
    assert fast.title == "Deep"
    assert fast.links == ["http://a.test/top", "http://a.test/b/low", "http://a.test/after"]
    assert fast.nofollow == ["http://a.test/b/low"]
    if depth < 1000:  # BeautifulSoup takes seconds on the deep one
        full = parse_html(body, URL, full=True)
        assert (full.title, full.links) == (fast.title, fast.links)
