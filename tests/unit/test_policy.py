"""crawler.policy: LinkFilter scope and --allow/--deny rules."""

from __future__ import annotations

import pytest

from crawler.config import CrawlConfig
from crawler.policy import LinkFilter

SEED = "http://www.example.com/"


@pytest.mark.parametrize(("link", "expected"), [
    ("http://www.example.com/page", None),
    ("https://www.example.com/secure", None),  # scheme does not change the host
    ("http://www.example.com:8080/alt", None),  # nor does the port
    ("http://WWW.EXAMPLE.COM/upper", None),
    ("http://example.com/", "scope"),
    ("http://blog.example.com/", "scope"),
    ("http://other.org/", "scope"),
    ("http://www.example.com.evil.org/", "scope"),
])
def test_scope_host(link, expected):
    assert LinkFilter("host").reason(link, SEED) == expected


@pytest.mark.parametrize(("link", "expected"), [
    ("http://www.example.com/page", None),
    ("http://example.com/", None),
    ("https://blog.example.com/post", None),
    ("http://a.b.c.example.com/", None),
    ("http://example.org/", "scope"),
    ("http://notexample.com/", "scope"),
    ("http://www.example.com.evil.org/", "scope"),
])
def test_scope_domain(link, expected):
    assert LinkFilter("domain").reason(link, SEED) == expected


def test_scope_domain_multi_label_suffix():
    f = LinkFilter("domain")
    seed = "http://www.shop.co.uk/"
    assert f.reason("http://img.shop.co.uk/x", seed) is None
    assert f.reason("http://other.co.uk/", seed) == "scope"


def test_scope_domain_ip_seed():
    f = LinkFilter("domain")
    assert f.reason("http://127.0.0.1:8001/x", "http://127.0.0.1:8000/") is None
    assert f.reason("http://127.0.0.2/x", "http://127.0.0.1/") == "scope"


@pytest.mark.parametrize("link", ["http://www.example.com/", "http://other.org/", "https://x.y.z.test:8443/"])
def test_scope_any(link):
    assert LinkFilter("any").reason(link, SEED) is None


def test_scope_judged_against_each_seed():
    f = LinkFilter("host")
    assert f.reason("http://a.test/x", "http://a.test/") is None
    assert f.reason("http://a.test/x", "http://b.test/") == "scope"
    assert f.reason("http://b.test/x", "http://b.test/") is None


def test_allow_only_matching():
    f = LinkFilter("any", allow=("/blog/", r"\?page=\d+$"))
    assert f.reason("http://a.test/blog/post", SEED) is None
    assert f.reason("http://a.test/list?page=2", SEED) is None
    assert f.reason("http://a.test/about", SEED) == "allow"


def test_allow_is_a_search_not_a_full_match():
    f = LinkFilter("any", allow=("blog",))
    assert f.reason("http://a.test/x/blog/y", SEED) is None


def test_deny_matching():
    f = LinkFilter("any", deny=(r"\.pdf$", "/private/"))
    assert f.reason("http://a.test/doc.pdf", SEED) == "deny"
    assert f.reason("http://a.test/private/x", SEED) == "deny"
    assert f.reason("http://a.test/doc.html", SEED) is None


def test_deny_wins_over_allow():
    f = LinkFilter("any", allow=("/blog/",), deny=("draft",))
    assert f.reason("http://a.test/blog/post", SEED) is None
    assert f.reason("http://a.test/blog/draft-1", SEED) == "deny"


def test_scope_checked_before_patterns():
    f = LinkFilter("host", allow=("x",), deny=("y",))
    assert f.reason("http://elsewhere.test/y", SEED) == "scope"


def test_from_config():
    f = LinkFilter.from_config(CrawlConfig(scope="domain", allow=["/a"], deny=["/a/b"]))
    assert f.reason("http://shop.example.com/a/1", SEED) is None
    assert f.reason("http://shop.example.com/a/b/1", SEED) == "deny"
    assert f.reason("http://shop.example.com/c", SEED) == "allow"
    assert f.reason("http://other.test/a/1", SEED) == "scope"


def test_over_long_links_are_not_followed():
    links = LinkFilter("any", max_length=30)
    assert links.reason("http://a.test/" + "x" * 16, "http://a.test/") is None
    assert links.reason("http://a.test/" + "x" * 17, "http://a.test/") == "length"


@pytest.mark.parametrize(("scope", "url", "expected"), [
    ("host", "http://www.example.com:81/x", True),
    ("host", "http://example.com/", False),
    ("domain", "http://blog.example.com/", True),
    ("domain", "http://other.org/", False),
    ("any", "http://other.org/", True),
])
def test_in_scope_ignores_allow_and_deny(scope, url, expected):
    assert LinkFilter(scope, allow=("nothing-matches",), deny=(".",)).in_scope(url, SEED) is expected


@pytest.mark.parametrize("scope", ["host", "domain"])
def test_the_scope_key_kept_per_authority_is_the_urls_own(scope: str) -> None:
    from crawler.urls import host_of, registered_domain

    urls = ["http://Example.COM:80/x", "https://a.b.example.co.uk/p?q", "http://[::1]:8080/a",
            "http://user:pw@Host.test/a", "http://h.test?x=1", "http://h.test#f", "http://h\t.test/a",
            "http://h.test\\x/y", "HTTP://H.TEST/", "http://h.test:badport/", "mailto:x@y", "no scheme",
            "http://xn--bcher-kva.example/", "http://127.0.0.2:8401/s01/", "http://a.example.co.uk/other"]
    rules = LinkFilter(scope)
    for url in urls * 2:  # the second time from what is kept
        host = host_of(url)
        assert rules.scope_key(url) == (host if scope == "host" else registered_domain(host)), url
