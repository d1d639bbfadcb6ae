"""--sitemaps through the real CLI: robots.txt Sitemap lines, indexes, gzip, bombs, <lastmod>."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import crawl_cli
from tests.site import DEFAULT_ROBOTS, Site
from tests.unit.worker.test_sitemaps import BILLION_LAUGHS

WORKERS = ("-w", "2")


def urlset(site: Site, paths: dict[str, str | None]) -> bytes:
    entries = "".join(f"<url><loc>{site.url(p) if p.startswith('/') else p}</loc>"
                      + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>"
                      for p, lastmod in paths.items())
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


@pytest.fixture
def maps(site: Site) -> Iterator[dict[str, bytes]]:
    site.sitemaps = {
        "/maps/index.xml": ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                            f'<sitemap><loc>{site.url("/maps/a.xml")}</loc></sitemap>'
                            f'<sitemap><loc>{site.url("/maps/b.xml.gz")}</loc></sitemap>'
                            f'<sitemap><loc>{site.url("/maps/index.xml")}</loc></sitemap>'  # itself: fetched once
                            '</sitemapindex>').encode(),
        "/maps/a.xml": urlset(site, {"/graph/1": "2020-01-01", "/graph/2": None, "http://elsewhere.invalid/": None}),
        "/maps/b.xml.gz": gzip.compress(urlset(site, {"/leaf/5": None})),
        "/maps/bomb.xml": BILLION_LAUGHS,
    }
    yield site.sitemaps
    site.sitemaps = {}


def robots_with(*paths: str, site: Site) -> str:
    return DEFAULT_ROBOTS + "".join(f"Sitemap: {site.url(p)}\n" for p in paths)


def test_sitemaps_from_robots_index_and_gzip(site: Site, maps: dict[str, bytes]) -> None:
    run = crawl_cli(site, site.url("/"), "--sitemaps", *WORKERS, robots=robots_with("/maps/index.xml", site=site))
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url(p) for p in ("/", "/graph/1", "/graph/2", "/leaf/5")}
    assert all(run.hits.get(p) == 1 for p in ("/maps/index.xml", "/maps/a.xml", "/maps/b.xml.gz", "/sitemap.xml"))
    assert {r["referrer"] for r in run.records if r["url"] != site.url("/")} == {
        site.url("/maps/a.xml"), site.url("/maps/b.xml.gz")}
    assert all(r["depth"] == 0 for r in run.records)
    assert "3 URLs from 4 sitemaps" in run.result.stderr


def test_without_the_flag_no_sitemap_is_fetched(site: Site, maps: dict[str, bytes]) -> None:
    run = crawl_cli(site, site.url("/"), *WORKERS, robots=robots_with("/maps/index.xml", site=site))
    assert run.urls() == {site.url("/")}
    assert not any(p.startswith(("/maps/", "/sitemap")) for p in run.hits)


def test_xml_bomb_is_an_error_record_not_a_hang(site: Site, maps: dict[str, bytes]) -> None:
    start = time.monotonic()
    run = crawl_cli(site, site.url("/"), "--sitemaps", *WORKERS, robots=robots_with("/maps/bomb.xml", site=site))
    assert time.monotonic() - start < 20
    records = run.by_url()
    assert records[site.url("/maps/bomb.xml")]["error"].startswith("sitemap:")
    assert "Traceback" not in run.result.stderr


def test_a_broken_sitemap_under_state_is_an_error_record(site: Site, maps: dict[str, bytes], tmp_path: Path) -> None:
    # The record of a sitemap has no body hash or validators to keep: the state's journal must not need them.
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    run = crawl_cli(site, site.url("/"), "--sitemaps", "--state", state, *WORKERS, output=out,
                    robots=robots_with("/maps/bomb.xml", site=site))
    assert run.result.returncode == 0, run.result.stderr
    assert run.by_url()[site.url("/maps/bomb.xml")]["error"].startswith("sitemap:")
    assert "internal error" not in run.result.stderr


def test_lastmod_before_the_last_fetch_skips_the_page(site: Site, maps: dict[str, bytes], tmp_path: Path) -> None:
    tomorrow = datetime.fromtimestamp(time.time() + 86400, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    maps["/maps/a.xml"] = urlset(site, {"/graph/1": "2020-01-01", "/graph/2": tomorrow})
    robots = robots_with("/maps/a.xml", site=site)
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    first = crawl_cli(site, site.url("/"), "--sitemaps", "--state", state, *WORKERS, output=out, robots=robots)
    assert first.urls() == {site.url(p) for p in ("/", "/graph/1", "/graph/2")}
    second = crawl_cli(site, site.url("/"), "--sitemaps", "--state", state, "--recrawl-after", "0s", *WORKERS,
                       output=out, robots=robots)
    assert second.result.returncode == 0, second.result.stderr
    # /graph/1 has not changed since 2020: not fetched; /graph/2 changes tomorrow: fetched.
    assert second.urls() == {site.url("/"), site.url("/graph/2")}
    assert "/graph/1" not in second.hits


def test_sitemaps_with_depth_still_finish(site: Site, maps: dict[str, bytes]) -> None:
    run = crawl_cli(site, site.url("/"), "--sitemaps", "-d", 2, *WORKERS, robots=robots_with("/maps/a.xml", site=site),
                    timeout=60)
    assert run.result.returncode == 0, run.result.stderr
    # Sitemap URLs are depth 0, so their links are followed too.
    assert {site.url("/graph/1"), site.url("/graph/2"), site.url("/graph/3"), site.url("/a1")} <= run.urls()
    assert max(run.hits.values()) == 1
