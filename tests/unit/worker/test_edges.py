"""crawler.worker.edges: every link occurrence of a page, and its fragment names."""

from __future__ import annotations

import pytest
from lxml import etree

from crawler.worker import edges as edges_module
from crawler.worker.edges import fragment_names, page_edges
from crawler.worker.parse import parse_html

URL = "http://a.test/dir/page"


def edges_of(html: str, assets: bool = False):
    parsed = parse_html(html.encode("utf-8"), URL, keep_root=True)
    return page_edges(parsed.root, parsed.base, assets=assets)


def test_every_occurrence_in_order_with_text_fragment_and_nofollow():
    edges, names = edges_of('<a href="x">One</a><a href="x#s%20t" rel="nofollow ugc"> Two\n <i>words</i></a>'
                            '<a href="mailto:a@b">mail</a><map><area href="/y" alt="area"></map>'
                            '<h2 id="top">t</h2><a name="old">anchor</a><img src="i.png" alt="pic">')
    assert edges == [("http://a.test/dir/x", None, "One", "a", False),
                     ("http://a.test/dir/x", "s t", "Two words", "a", True),
                     ("http://a.test/y", None, "", "area", False)]
    assert names == ["old", "top"]


def test_assets_only_when_asked():
    html = ('<img src="/i.png" alt="A"><script src="/s.js"></script><link rel="stylesheet" href="/c.css">'
            '<link rel="alternate" href="/feed"><iframe src="/f"></iframe>')
    assert edges_of(html)[0] == []
    assert [(t, tag, text) for t, _, text, tag, _ in edges_of(html, assets=True)[0]] == [
        ("http://a.test/i.png", "img", "A"), ("http://a.test/s.js", "script", ""),
        ("http://a.test/c.css", "link", ""), ("http://a.test/f", "iframe", "")]


def test_long_anchor_text_is_cut():
    (edge,), _ = edges_of(f'<a href="/x">{"word " * 100}</a>')
    assert len(edge[2]) == 200
    assert edge[2].endswith("\u2026")


def test_edges_resolve_as_the_parse_does_in_the_pages_encoding_and_base():
    # The link graph and the crawl must agree on a link's URL: a Cyrillic query is
    # percent-encoded in the page's own encoding, against its <base>.
    html = ('<html><head><meta charset="windows-1251"><base href="http://b.test/root/"></head>'
            '<body><a href="q?s=\u0434\u0430">da</a><a href="../up">up</a></body></html>')
    body = html.encode("windows-1251")
    parsed = parse_html(body, URL, charset="windows-1251", keep_root=True)
    reused = page_edges(parsed.root, parsed.base, parsed.encoding, resolved=dict(parsed.resolved))[0]
    fresh = page_edges(parsed.root, parsed.base, parsed.encoding)[0]
    assert reused == fresh
    assert [target for target, *_ in fresh] == parsed.links == ["http://b.test/root/q?s=%E4%E0", "http://b.test/up"]


def test_without_texts_every_link_is_kept_with_an_empty_text():
    parsed = parse_html(b'<a href="x#s">One</a><img src="i.png" alt="pic"><a name="n">', URL, keep_root=True)
    edges, names = page_edges(parsed.root, parsed.base, assets=True, texts=False)
    assert edges == [("http://a.test/dir/x", "s", "", "a", False), ("http://a.test/dir/i.png", None, "", "img", False)]
    assert names == ["n"]


TRICKY_IDS = ('<p ID=Up>x</p><p id="a&amp;b">e</p><p id="x y">s</p><p id="">e</p><a NAME="N1">n</a>'
              '<area name=no><map name=m><area id=aid></map><svg><g id=svgid></g></svg>'
              '<template><div id=tpl></div></template><p id="caf&eacute;">c</p><p id="&#x263A;">u</p>'
              '<p id=" sp ">sp</p><table id=t1><tr id=r1><td id=c1>x</td></tr></table><p id=dup>1</p>'
              '<p id=dup>2</p><font id="a&b">raw</font><p id="&lt;x&gt;">lt</p><b name=notanchor>b</b>')


@pytest.mark.parametrize("table", [True, False], ids=["libxml2-id-table", "xpath"])
def test_fragment_names_are_ids_and_a_names_whichever_way_they_are_read(table: bool, monkeypatch) -> None:
    # lxml's view of libxml2's ID table is not documented API: the XPath stands
    # in without it, and both must give the same names.
    if not table:
        monkeypatch.setattr(edges_module, "_ID_DICT", None)
    root = etree.fromstring(TRICKY_IDS.encode(), etree.HTMLParser(encoding="utf-8"))
    assert fragment_names(root) == sorted(["Up", "a&b", "x y", "N1", "aid", "svgid", "tpl", "caf\u00e9", "\u263a",
                                           " sp ", "t1", "r1", "c1", "dup", "<x>"])


@pytest.mark.parametrize("html", [
    '<a href="x">One</a><a href="x#s%20t" rel="Nofollow ugc">Two</a><a href="#">top</a><a href="#%41">A</a>'
    '<a href="mailto:a@b">m</a><a>none</a><a href="">self</a><a href=" y#z " rel="">y</a><a name=n id=i>',
    '<a href="/a">a</a><map><area href="/b#c" rel=nofollow></map><a href="/c">c</a>',
], ids=["a-only", "with-area"])
def test_the_parses_hrefs_give_the_edges_the_elements_give(html: str) -> None:
    # Without texts, a page of <a>s only is read from the parse's (href, rel) pairs, not its elements.
    parsed = parse_html(html.encode(), URL, keep_root=True)
    assert parsed.hrefs is not None
    fast = page_edges(parsed.root, parsed.base, parsed.encoding, resolved=dict(parsed.resolved),
                      anchors=parsed.anchors, texts=False, hrefs=parsed.hrefs)
    walked = page_edges(parsed.root, parsed.base, parsed.encoding, texts=False)
    assert fast == walked
    assert fast[0]
