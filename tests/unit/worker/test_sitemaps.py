from __future__ import annotations

import gzip
import time

import pytest

from crawler.worker.sitemaps import SitemapError, parse_lastmod, parse_sitemap

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS}>
  <url><loc> http://a.test/one </loc><lastmod>2024-05-01</lastmod></url>
  <url><loc>http://a.test/two?x=1&amp;y=2</loc><lastmod>2024-05-01T10:00:00+02:00</lastmod></url>
  <url><lastmod>2024-05-01</lastmod></url>
  <!-- a comment -->
  <url><loc>http://a.test/three</loc></url>
</urlset>""".encode()

INDEX = f"""<?xml version="1.0"?><sitemapindex {NS}>
<sitemap><loc>http://a.test/s1.xml</loc></sitemap><sitemap><loc>http://a.test/s2.xml.gz</loc></sitemap>
</sitemapindex>""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://a.test/&lol9;</loc></url></urlset>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://a.test/&x;</loc></url></urlset>"""


def test_urlset():
    sitemap = parse_sitemap(URLSET)
    assert sitemap.urls == ["http://a.test/one", "http://a.test/two?x=1&y=2", "http://a.test/three"]
    assert sitemap.lastmods[0] == parse_lastmod("2024-05-01T00:00:00Z")
    assert sitemap.lastmods[1] == parse_lastmod("2024-05-01T08:00:00Z")
    assert sitemap.lastmods[2] is None
    assert sitemap.sitemaps == []


def test_index():
    sitemap = parse_sitemap(INDEX)
    assert sitemap.sitemaps == ["http://a.test/s1.xml", "http://a.test/s2.xml.gz"]
    assert sitemap.urls == []


def test_gzipped():
    assert parse_sitemap(gzip.compress(URLSET)).urls == parse_sitemap(URLSET).urls


def test_gzip_bomb_is_cut():
    bomb = gzip.compress(b"<" + b" " * 20_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(SitemapError, match="decompressed"):
        parse_sitemap(bomb, max_bytes=1_000_000)


def test_plain_text_sitemap():
    sitemap = parse_sitemap(b"http://a.test/1\n\nnot a url\nhttps://a.test/2\r\n")
    assert sitemap.urls == ["http://a.test/1", "https://a.test/2"]


def test_billion_laughs_is_refused_fast():
    start = time.monotonic()
    with pytest.raises(SitemapError):
        parse_sitemap(BILLION_LAUGHS)
    assert time.monotonic() - start < 1


def test_external_entity_is_never_read():
    with pytest.raises(SitemapError):
        parse_sitemap(XXE)


@pytest.mark.parametrize("body", [b"<urlset><url><loc>http://a.test/</loc>", b"<html><body>hi</body></html>",
                                  b"\x1f\x8bnot gzip"])
def test_malformed(body):
    with pytest.raises(SitemapError):
        parse_sitemap(body)


def test_too_large():
    with pytest.raises(SitemapError, match="larger"):
        parse_sitemap(b"<urlset>" + b" " * 2000 + b"</urlset>", max_bytes=1000)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01", 1714521600.0),
    ("2024-05-01T00:00:00Z", 1714521600.0),
    ("2024-05-01T02:00:00+02:00", 1714521600.0),
    ("yesterday", None),
    (None, None),
])
def test_lastmod(text, expected):
    assert parse_lastmod(text) == expected
