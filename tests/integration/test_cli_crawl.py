"""Crawling through the real CLI: depth, limits, scope, filters, redirects, robots.txt.

Every test here runs ``python -m crawler`` as a subprocess (real process
pool, real Manager queue) against the site of tests/site.py. One crawl per
module-scoped fixture, several assertions on it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import RECORD_FIELDS, CrawlRun, assert_clean_stderr, crawl_cli
from tests.site import CHAIN_MAX, EDGES, PDF_BODY, TITLES, Site, expected_crawl, parents_of, write_seeds

WORKERS = ("-w", "2")


# -- depth ----------------------------------------------------------------------
@pytest.fixture(scope="module", params=[0, 1, 2, 4], ids=lambda d: f"depth{d}")
def depth_run(request: pytest.FixtureRequest, site: Site) -> tuple[int, CrawlRun]:
    depth = request.param
    return depth, crawl_cli(site, site.url("/"), "-d", depth, *WORKERS, "--retries", "0")


def test_depth_gives_exactly_the_expected_urls(depth_run: tuple[int, CrawlRun], site: Site) -> None:
    depth, run = depth_run
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert run.urls() == {site.url(p) for p in expected_crawl(depth)}
    assert len(run.records) == len(expected_crawl(depth)), "one record per URL"


def test_each_url_fetched_exactly_once(depth_run: tuple[int, CrawlRun]) -> None:
    depth, run = depth_run
    expected = {path: 1 for path in expected_crawl(depth)}
    expected["/robots.txt"] = 1  # fetched once per origin, not a record
    assert run.hits == expected


def test_robots_disallowed_link_never_requested(depth_run: tuple[int, CrawlRun]) -> None:
    _, run = depth_run
    assert run.hits.get("/private/x", 0) == 0
    assert not any("/private/" in r["url"] for r in run.records)
    assert not any(r["url"].endswith("/robots.txt") for r in run.records), "robots.txt is bookkeeping"


def test_depth_and_referrer_fields(depth_run: tuple[int, CrawlRun], site: Site) -> None:
    depth, run = depth_run
    expected = expected_crawl(depth)
    for record in run.records:
        path = site.path_of(record["url"])
        assert record["depth"] == expected[path], record
        if record["depth"] == 0:
            assert record["referrer"] is None
        else:
            # the referrer is a page one hop shallower that links here
            referrer = site.path_of(record["referrer"])
            assert referrer in parents_of(path), record
            assert expected[referrer] == record["depth"] - 1, record


def test_records_are_canonical_and_complete(depth_run: tuple[int, CrawlRun], site: Site) -> None:
    _, run = depth_run
    for record in run.records:
        assert tuple(record) == RECORD_FIELDS
        path = site.path_of(record["url"])
        assert "#" not in record["url"]
        assert record["final_url"] == record["url"]
        assert record["status"] == 200
        assert record["error"] is None
        assert record["title"] == TITLES[path]
        assert record["links"] == len(EDGES.get(path, [])), record


@pytest.mark.parametrize("depth_run", [4], indirect=True, ids=["depth4"])
def test_deep_crawl_resolves_base_area_and_dot_segments(depth_run: tuple[int, CrawlRun], site: Site) -> None:
    _, run = depth_run
    urls = run.urls()
    # <base href="/base/"> + <a href="c">, <area href>, ../ and ./ links
    for path in ("/base/c", "/area-target", "/dir/other", "/dir/sub/same"):
        assert site.url(path) in urls
    # /b1?x=2&a=1 and /b1?a=1&x=2#f are one canonical URL, fetched once
    assert run.hits["/b1?a=1&x=2"] == 1
    records = run.by_url()
    assert records[site.url("/b1")]["title"] == "Café B1"  # charset from the Content-Type header


# -- --max-pages ----------------------------------------------------------------------
def test_max_pages_on_a_chain(site: Site) -> None:
    run = crawl_cli(site, site.url("/graph/0"), "-d", CHAIN_MAX, "--max-pages", 5, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url(f"/graph/{i}") for i in range(5)}
    assert len(run.records) == 5
    assert {k: v for k, v in run.hits.items() if k != "/robots.txt"} == {f"/graph/{i}": 1 for i in range(5)}


def test_max_pages_with_many_links_in_flight(site: Site) -> None:
    # 40 leaves found at once, 16 slots: still exactly N records and N page fetches.
    run = crawl_cli(site, site.url("/fan/40"), "-d", 1, "--max-pages", 7, "-c", 16, "--per-host", 16, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert len(run.records) == 7
    assert len(run.urls()) == 7
    page_hits = {k: v for k, v in run.hits.items() if k != "/robots.txt"}
    assert sum(page_hits.values()) == 7, page_hits


# -- scope ---------------------------------------------------------------------------
@pytest.mark.parametrize("scope", ["host", "domain", "any"])
def test_scope(scope: str, site: Site, peer: Site) -> None:
    # /off links /a (same host), 127.0.0.2 (other host) and localhost (same
    # server under another name). IP addresses and "localhost" have no
    # registered domain, so each is its own domain: domain behaves like host.
    run = crawl_cli(site, site.url("/off"), "-d", 1, "--scope", scope, *WORKERS, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    local = {site.url("/off"), site.url("/a")}
    if scope == "any":
        assert run.urls() == local | {peer.url("/peer"), f"http://localhost:{site.port}/via-localhost"}
        assert run.peer_hits == {"/robots.txt": 1, "/peer": 1}
        assert run.hits["/via-localhost"] == 1
    else:
        assert run.urls() == local
        assert run.peer_hits == {}, "no request at all (not even robots.txt) to an out-of-scope host"
        assert "/via-localhost" not in run.hits


def test_host_scope_is_judged_per_seed(site: Site, peer: Site) -> None:
    # Two seeds on two hosts: each seed's links stay on that seed's host.
    run = crawl_cli(site, site.url("/off"), peer.url("/peer"), "-d", 1, "--scope", "host", *WORKERS, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url("/off"), site.url("/a"), peer.url("/peer"), peer.url("/peer2")}
    assert run.peer_hits == {"/robots.txt": 1, "/peer": 1, "/peer2": 1}


def test_domain_scope_follows_subdomains(site: Site) -> None:
    # Real host names without DNS: the site is the HTTP proxy and answers
    # www.example.com, docs.example.com and www.example.org itself.
    env = {"HTTP_PROXY": site.base, "http_proxy": site.base}
    run = crawl_cli(site, "http://www.example.com/", "-d", 1, "--scope", "domain", *WORKERS, env=env)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {"http://www.example.com/", "http://www.example.com/w1", "http://docs.example.com/"}
    assert all(r["status"] == 200 for r in run.records), run.records
    assert run.hits.get("http://www.example.org/", 0) == 0
    assert run.hits["http://docs.example.com/"] == 1


# -- --allow / --deny ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # seeds are never filtered; "/" itself matches neither allow pattern
        (["--allow", "/a$", "--allow", "/b"], {"/", "/a", "/b", "/b1"}),
        (["--deny", "a2|pdf", "--deny", "/b$"], {"/", "/a", "/a1"}),
        (["--allow", "/[ab]", "--deny", "1$"], {"/", "/a", "/b", "/a2"}),
    ],
    ids=["allow", "deny", "allow+deny"],
)
def test_allow_deny(filters: list[str], expected: set[str], site: Site) -> None:
    run = crawl_cli(site, site.url("/"), "-d", 2, *filters, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url(p) for p in expected}
    assert set(run.hits) - {"/robots.txt"} == expected, "filtered links are never requested"


# -- redirects and non-HTML ------------------------------------------------------------------
def test_redirects(site: Site) -> None:
    run = crawl_cli(site, site.url("/redirect?to=/a"), site.url("/redirect?code=301&to=/b"), *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    records = run.by_url()
    found = records[site.url("/redirect?to=%2Fa")]
    assert found["final_url"] == site.url("/a")
    assert found["status"] == 200
    assert found["ok"] is True
    assert found["title"] == "Page A"
    moved = records[site.url("/redirect?code=301&to=%2Fb")]
    assert moved["final_url"] == site.url("/b")
    assert moved["status"] == 200
    assert run.hits["/redirect?to=%2Fa"] == 1
    assert run.hits["/a"] == 1


def test_redirect_links_resolve_against_the_final_url(site: Site) -> None:
    # /redirect?to=/dir/sub/page: its "../other" is /dir/other, not /other.
    run = crawl_cli(site, site.url("/redirect?to=/dir/sub/page"), "-d", 1, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert site.url("/dir/other") in run.urls()
    assert site.url("/dir/sub/same") in run.urls()
    assert "/other" not in run.hits


def test_non_html_is_recorded_but_not_parsed(site: Site) -> None:
    run = crawl_cli(site, site.url("/file.pdf"), "-d", 2, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert len(run.records) == 1
    (record,) = run.records
    assert record["content_type"] == "application/pdf"
    assert record["title"] is None
    assert record["links"] == 0
    assert record["status"] == 200
    assert record["bytes"] == len(PDF_BODY)
    assert run.hits.get("/from-pdf", 0) == 0


def test_max_bytes_cuts_and_flags(site: Site) -> None:
    run = crawl_cli(site, site.url("/file.pdf"), "--max-bytes", 10, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    (record,) = run.records
    assert record["bytes"] == 10
    assert record["status"] == 200
    assert record["error"], "a cut body is flagged"


def test_content_type_without_parameters(site: Site) -> None:
    run = crawl_cli(site, site.url("/b1"), site.url("/"), *WORKERS)
    assert {r["content_type"] for r in run.records} == {"text/html"}  # "; charset=..." stripped


# -- robots.txt ----------------------------------------------------------------------------
def test_robots_disallowed_seed_gets_a_record(site: Site) -> None:
    run = crawl_cli(site, site.url("/private/x"), site.url("/a"), *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    records = run.by_url()
    refused = records[site.url("/private/x")]
    assert refused["error"] == "robots: disallowed"
    assert refused["status"] is None
    assert refused["ok"] is False
    assert refused["depth"] == 0
    assert tuple(refused) == RECORD_FIELDS
    assert run.hits.get("/private/x", 0) == 0
    assert records[site.url("/a")]["ok"] is True


def test_no_robots_fetches_disallowed_pages(site: Site) -> None:
    run = crawl_cli(site, site.url("/private/x"), "-d", 1, "--no-robots", *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url("/private/x"), site.url("/private/y")}
    assert all(r["status"] == 200 and r["error"] is None for r in run.records)
    assert run.hits == {"/private/x": 1, "/private/y": 1}, "--no-robots does not even fetch robots.txt"


def test_robots_group_for_our_user_agent(site: Site) -> None:
    robots = "User-agent: testbot\nDisallow: /a\n\nUser-agent: *\nDisallow: /\n"
    run = crawl_cli(site, site.url("/"), "-d", 1, "--user-agent", "testbot/1.0", "-H", "X-Test: yes",
                    *WORKERS, robots=robots)
    assert run.result.returncode == 0, run.result.stderr
    # only the testbot group applies: /a refused, /b and /private/x allowed
    assert run.urls() == {site.url("/"), site.url("/b"), site.url("/private/x")}
    assert "/a" not in run.hits


def test_user_agent_and_headers_are_sent(site: Site) -> None:
    run = crawl_cli(site, site.url("/graph/1"), "--user-agent", "testbot/1.0", "-H", "X-Test: yes", *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.hits == {"/robots.txt": 1, "/graph/1": 1}
    for target in ("/robots.txt", "/graph/1"):
        assert run.headers[target]["user-agent"] == "testbot/1.0"
    assert run.headers["/graph/1"]["x-test"] == "yes"


def test_default_user_agent(site: Site) -> None:
    run = crawl_cli(site, site.url("/graph/1"), *WORKERS)
    assert run.headers["/graph/1"]["user-agent"].startswith("crawler/")


def test_robots_missing_allows_everything(site: Site) -> None:
    run = crawl_cli(site, site.url("/"), "-d", 1, *WORKERS, robots=None)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url(p) for p in ("/", "/a", "/b", "/private/x")}


def test_robots_unavailable_skips_the_origin(site: Site) -> None:
    # RFC 9309: robots.txt answering 5xx means "disallow everything".
    run = crawl_cli(site, site.url("/"), "--retries", "0", *WORKERS, robots=503)
    assert len(run.records) == 1
    (record,) = run.records
    assert record["status"] is None
    assert record["error"].startswith("robots:")
    assert run.hits == {"/robots.txt": 1}
    assert run.result.returncode == 1, "nothing could be fetched"


# -- politeness ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "robots"),
    [(("--delay", "0.3"), False), ((), "User-agent: *\nCrawl-delay: 0.3\n")],
    ids=["--delay", "Crawl-delay"],
)
def test_delay_between_requests_to_one_host(options: tuple[str, ...], robots: str | bool, site: Site) -> None:
    seeds = [site.url(f"/graph/{i}") for i in range(1, 5)]
    run = crawl_cli(site, *seeds, *options, "-c", 8, "--per-host", 4, *WORKERS, robots=robots)
    assert run.result.returncode == 0, run.result.stderr
    times = [t for t, target in run.log if target.startswith("/graph/")]
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.25, gaps


# -- concurrency ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "low", "high"),
    [
        (("-c", 8, "--per-host", 8), 3, 8),  # beyond the 2 processes
        (("-c", 8, "--per-host", 2), 2, 2),
        (("-c", 3, "--per-host", 8), 2, 3),
    ],
    ids=["c8-per-host8", "per-host2", "c3"],
)
def test_requests_in_flight(options: tuple[object, ...], low: int, high: int, site: Site, tmp_path: Path) -> None:
    count = 16 if high == 8 else 8
    seeds = write_seeds(tmp_path, [site.url(f"/slow?s=0.4&i={i}") for i in range(count)])
    started = time.monotonic()
    run = crawl_cli(site, seeds, *options, *WORKERS, "--retries", "0")
    elapsed = time.monotonic() - started
    assert run.result.returncode == 0, run.result.stderr
    assert len(run.records) == count
    assert all(r["ok"] and r["elapsed_ms"] >= 400 for r in run.records), run.records
    assert low <= run.max_inflight <= high
    if high == 8:
        assert elapsed < 4.5, f"16 x 0.4 s with 8 in flight took {elapsed:.1f} s"
