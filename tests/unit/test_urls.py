"""crawler.urls: canonical URLs, origin/host keys, registered domains, fingerprints."""

from __future__ import annotations

import socket

import pytest

from crawler import urls
from crawler.urls import fingerprint, host_of, normalize_url, origin_of, registered_domain


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTP://Example.COM/Path", "http://example.com/Path"),
    ("https://WWW.Example.com/", "https://www.example.com/"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com:80/a", "https://example.com:80/a"),
    ("http://example.com:443/a", "http://example.com:443/a"),
    ("http://example.com/a#frag", "http://example.com/a"),
    ("http://example.com/#", "http://example.com/"),
    ("http://example.com/s?z=1&a=2&m=3", "http://example.com/s?a=2&m=3&z=1"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com?q=1", "http://example.com/?q=1"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("  http://example.com/trim  ", "http://example.com/trim"),
    ("http://example.com/a b", "http://example.com/a%20b"),
    ("http://example.com/%7euser", "http://example.com/~user"),
    ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/x"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ("http://[::1]:80/x", "http://[::1]/x"),
])
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected


def test_normalize_is_idempotent():
    for raw in ("HTTP://Example.COM:80/b?z=1&a=2#top", "http://b\u00fccher.example/caf\u00e9?q=\u00e9"):
        once = normalize_url(raw)
        assert normalize_url(once) == once


def test_idn_host_punycoded():
    assert normalize_url("http://b\u00fccher.example/") == "http://xn--bcher-kva.example/"
    assert normalize_url("http://B\u00dcCHER.example/x") == "http://xn--bcher-kva.example/x"


def test_non_ascii_path_percent_encoded():
    assert normalize_url("http://example.com/caf\u00e9") == "http://example.com/caf%C3%A9"


@pytest.mark.parametrize("raw", [
    "ftp://example.com/file",
    "mailto:someone@example.com",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "example.com/no-scheme",
    "/relative/path",
    "",
    "http://",
    "http:///path-only",
])
def test_normalize_rejects_non_http(raw):
    with pytest.raises(ValueError):  # noqa: PT011 - the contract is "a ValueError"
        normalize_url(raw)


@pytest.mark.parametrize("raw", ["http://example.com:abc/", "http://example.com:99999/", "http://example.com:-1/"])
def test_normalize_rejects_bad_port(raw):
    with pytest.raises(ValueError):  # noqa: PT011
        normalize_url(raw)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://example.com/a/b?q=1", "http://example.com"),
    ("https://example.com:8443/", "https://example.com:8443"),
    ("http://example.com", "http://example.com"),
    ("http://[::1]:8080/x", "http://[::1]:8080"),
])
def test_origin_of(url, expected):
    assert origin_of(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("http://Example.COM/a", "example.com"),
    ("http://user:pw@www.example.com:8080/x", "www.example.com"),
    ("https://127.0.0.1:8443/", "127.0.0.1"),
    ("http://[::1]:8080/", "::1"),
    ("not a url", ""),
])
def test_host_of(url, expected):
    assert host_of(url) == expected


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    registered_domain.cache_clear()
    yield
    registered_domain.cache_clear()


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize(("host", "expected"), [
    ("a.b.example.co.uk", "example.co.uk"),
    ("example.co.uk", "example.co.uk"),
    ("www.example.com", "example.com"),
    ("deep.sub.example.com", "example.com"),
    ("example.com", "example.com"),
    ("www.example.com.au", "example.com.au"),
    ("192.168.1.10", "192.168.1.10"),
    ("127.0.0.1", "127.0.0.1"),
    ("localhost", "localhost"),
])
def test_registered_domain(host, expected):
    assert registered_domain(host) == expected


def test_registered_domain_uses_bundled_list_only():
    # the extractor must never be configured to download a suffix list
    assert not urls._extractor().suffix_list_urls


def test_fingerprint_stable_and_64_bit():
    url = "http://example.com/"
    fp = fingerprint(url)
    assert isinstance(fp, int)
    assert 0 <= fp < 2**64
    assert fingerprint(url) == fp
    # stable across runs and processes (not Python's salted hash): state files store these
    assert fp == 0xFB2241160C9DAD06


def test_fingerprint_distinguishes_urls():
    fps = {fingerprint(f"http://example.com/page/{i}") for i in range(2000)}
    assert len(fps) == 2000
    assert fingerprint("http://example.com/a") != fingerprint("http://example.com/A")


def test_fingerprint_handles_surrogates():
    assert 0 <= fingerprint("http://example.com/\udcff") < 2**64


def _pieces():
    schemes = ["http", "https", "HTTP", "ftp"]
    hosts = ["a.com", "127.0.0.2", "ex-ample.org", "xn--bcher-kva.de", "a..b", "-a.com", "a-.com", "x" * 63 + ".com",
             "x" * 64 + ".com", "UPPER.com", "a.com.", "münchen.de", "[::1]", "u:p@a.com", "a_b.com"]
    ports = ["", ":", ":80", ":443", ":8080", ":0", ":00080", ":65535", ":65536", ":99999", ":x"]
    paths = ["", "/", "/a", "/a/", "/a/./b", "/a/../b", "/.", "/..", "/a/.", "/a/..", "/.a", "/..a/", "/a//b", "/~u",
             "/a-b_c.d", "/%7E", "/%41", "/%7e", "/a b", "/é", "/a;b", "/a:b", "/a@b", "/a+b", "/a'b", "/a(b)",
             "/a*b", "/a,b", "/a=b", "/a!b", "/a$b", "/a&b", "/a\\b", "/a|b", "/a^b", "/a`b", "/a{b", "/A.HTML"]
    queries = ["", "?", "?b=1&a=2", "?a"]
    fragments = ["", "#", "#x", "#a/../b", "#x y", "#\n"]
    return schemes, hosts, ports, paths, queries, fragments


def test_fast_path_matches_full_canonicalisation():
    """A URL the regex fast path answers gets exactly what w3lib's full path gives."""
    import random

    rng = random.Random(5)
    pieces = _pieces()
    answered = 0
    for _ in range(30_000):
        scheme, host, port, path, query, fragment = (rng.choice(p) for p in pieces)
        url = f"{scheme}://{host}{port}{path}{query}{fragment}"
        fast = urls._plain(url)
        if fast is None:
            continue
        answered += 1
        assert fast == urls._canonical(url, "utf-8"), url
    assert answered > 100  # the fast path is really taken


@pytest.mark.parametrize("url", ["http://a.com/a/../b", "http://a.com/%7e", "http://a.com/a b",
                                 "http://a.com/b?x=1", "HTTP://a.com/", "http://a.com/a//b"])
def test_fast_path_leaves_the_hard_cases_to_w3lib(url):
    assert urls._plain(url) is None


@pytest.mark.parametrize("url", ["http://user:secret@a.test/x", "http://user@a.test/x", "http://:pw@A.test:80/x",
                                 "http://u%40x:p@a.test/x"])
def test_user_info_is_dropped(url):
    # Issue 16, defect 4: credentials never reach a record, nor make a URL distinct.
    assert normalize_url(url) == "http://a.test/x"


def test_only_c0_and_space_are_stripped():
    assert normalize_url(" \t\x00http://a.test/x?q=1\x1f ") == "http://a.test/x?q=1"
    assert normalize_url("http://a.test/x\u3000") == "http://a.test/x%E3%80%80"
