"""Redirects through the real CLI: the hop limit, loops, other schemes, leaving the scope."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from crawler.urls import normalize_url
from tests.conftest import CrawlRun, assert_clean_stderr, crawl_cli
from tests.site import Site

WORKERS = ("-w", "1")
REFUSED = ["ftp://example.com/file", "javascript:alert(1)", "file:///etc/passwd"]


def redirect_to(site: Site, target: str) -> str:
    return site.url("/redirect?to=" + quote(target, safe=""))


@pytest.fixture(scope="module")
def run(site: Site) -> CrawlRun:
    """One crawl (default --retries 2) of every redirect that must end in an error, and one that must not."""
    seeds = [site.url("/hops/10"), site.url("/hops/11"), site.url("/loop/a"),
             *(redirect_to(site, target) for target in REFUSED)]
    return crawl_cli(site, *seeds, *WORKERS, timeout=60)


def record(run: CrawlRun, url: str) -> dict:
    return run.by_url()[normalize_url(url)]


def test_every_redirect_gets_one_record(run: CrawlRun) -> None:
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert len(run.records) == 3 + len(REFUSED)


def test_ten_hops_are_followed(run: CrawlRun, site: Site) -> None:
    landed = record(run, site.url("/hops/10"))
    assert landed["ok"] is True, landed
    assert landed["final_url"] == site.url("/hops/0")
    assert landed["title"] == "Last hop"


def test_eleven_hops_are_an_error(run: CrawlRun, site: Site) -> None:
    failed = record(run, site.url("/hops/11"))
    assert failed["error"].startswith("redirects:"), failed
    assert failed["ok"] is False
    assert failed["attempts"] == 1, "a redirect error is not retried"
    assert run.hits["/hops/11"] == 1
    assert run.hits["/hops/1"] == 2  # once from /hops/10's chain, once from /hops/11's
    assert run.hits.get("/hops/0", 0) == 1, "the 11th hop is never requested"


def test_a_loop_is_caught_at_its_first_repeat(run: CrawlRun, site: Site) -> None:
    looped = record(run, site.url("/loop/a"))
    assert looped["error"].startswith("redirects: redirect loop"), looped
    assert looped["attempts"] == 1
    assert run.hits["/loop/a"] == 1
    assert run.hits["/loop/b"] == 1


@pytest.mark.parametrize("target", REFUSED)
def test_redirect_to_another_scheme_is_refused(run: CrawlRun, site: Site, target: str) -> None:
    refused = record(run, redirect_to(site, target))
    assert refused["error"].startswith("redirects: refused redirect to"), refused
    assert refused["status"] is None
    assert refused["attempts"] == 1


def test_redirect_out_of_scope_is_recorded_but_not_followed(site: Site) -> None:
    # The seed (127.0.0.1) redirects to localhost, a page linking back to
    # 127.0.0.1/b (in the seed's scope) and to localhost/a: neither is followed.
    landing = f"http://localhost:{site.port}/links?to={quote(site.url('/b'), safe='')}&to=/a"
    seed = redirect_to(site, landing)
    control = site.url("/links?to=/a1")  # an in-scope page's links are followed
    run = crawl_cli(site, seed, control, "-d", 1, "--scope", "host", *WORKERS, timeout=60)
    assert run.result.returncode == 0, run.result.stderr
    moved = record(run, seed)
    assert moved["ok"] is True, moved
    assert moved["final_url"] == landing
    assert moved["links"] == 2
    assert "/b" not in run.hits
    assert site.url("/b") not in run.urls()
    assert site.url("/a1") in run.urls()
