from __future__ import annotations

import pickle

import requests

from crawler.engine.cookies import MAX_PER_DOMAIN, CookieStore


def cookie(name: str, value: str, domain: str, path: str = "/"):
    return requests.cookies.create_cookie(name, value, domain=domain, path=path)


def test_empty_store_gives_none():
    store = CookieStore()
    assert not store
    assert store.for_host("a.test") is None


def test_host_only_cookie_goes_to_its_host_only():
    store = CookieStore()
    store.add([cookie("s", "1", "a.test")])
    assert [c.value for c in store.for_host("a.test")] == ["1"]
    assert store.for_host("b.test") is None
    assert store.for_host("sub.a.test") is None
    assert store.for_host("xa.test") is None


def test_domain_cookie_goes_to_subdomains():
    store = CookieStore()
    store.add([cookie("s", "1", ".a.test")])
    assert store.for_host("a.test")
    assert store.for_host("www.a.test")
    assert store.for_host("evila.test") is None


def test_newest_value_wins_and_cache_is_refreshed():
    store = CookieStore()
    store.add([cookie("s", "1", "a.test")])
    assert [c.value for c in store.for_host("a.test")] == ["1"]
    store.add([cookie("s", "2", "a.test"), cookie("t", "3", "a.test", path="/x")])
    assert sorted(c.value for c in store.for_host("a.test")) == ["2", "3"]


def test_cookies_per_domain_are_capped():
    store = CookieStore()
    store.add([cookie(f"c{i}", "v", "a.test") for i in range(MAX_PER_DOMAIN + 10)])
    assert len(store.for_host("a.test")) == MAX_PER_DOMAIN


def test_cookies_pickle_for_the_pool():
    (back,) = pickle.loads(pickle.dumps((cookie("s", "1", "a.test"),)))
    assert (back.name, back.value, back.domain) == ("s", "1", "a.test")
