"""Bounds on what a crawl takes in: bad seed lines, over-long URLs, per-host caps."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_usage_error, crawl_cli
from tests.site import Site, write_seeds

WORKERS = ("-w", "2")


def test_bad_seed_lines_are_skipped_with_a_warning(site: Site, tmp_path: Path) -> None:
    long_url = site.url("/a?" + "x" * 3000)
    seeds = write_seeds(tmp_path, [
        site.url("/a"),
        "ftp://example.com/file.txt",     # line 2: unsupported scheme
        "http://exa mple.com/",           # line 3: white space
        long_url,                         # line 4: longer than --max-url-length
        site.url("/a"),                   # line 5: duplicate, fetched once
        site.url("/b"),
    ])
    run = crawl_cli(site, seeds, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url("/a"), site.url("/b")}
    warnings = [line for line in run.result.stderr.splitlines() if line.startswith("crawler: warning:")]
    assert [w.split(": ")[2] for w in warnings] == [f"{seeds}:2", f"{seeds}:3", f"{seeds}:4"]
    assert "ftp" in warnings[0]
    assert "white space" in warnings[1]
    assert "longer than 2048" in warnings[2]
    assert "Traceback" not in run.result.stderr
    assert run.hits.get("/a") == 1


def test_strict_stops_on_the_first_bad_line_before_any_fetch(site: Site, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path, [site.url("/a"), "ftp://example.com/file.txt"])
    run = crawl_cli(site, seeds, "--strict", *WORKERS)
    assert_usage_error(run.result, f"{seeds}:2", "ftp")
    assert run.hits == {}


def test_idn_seed_is_punycoded(site: Site, tmp_path: Path) -> None:
    # The host cannot resolve here; what matters is the canonical URL in the record.
    seeds = write_seeds(tmp_path, ["http://bücher.invalid/straße"])
    run = crawl_cli(site, seeds, "--retries", 0, "--timeout", 2, *WORKERS)
    (record,) = run.records
    assert record["url"] == "http://xn--bcher-kva.invalid/stra%C3%9Fe"
    assert record["error"] is not None


def test_max_url_length_bounds_an_infinite_url_space(site: Site) -> None:
    # /grow/X links /grow/Xab forever; only --max-url-length ends it before --depth.
    seed = site.url("/grow/")
    limit = len(seed) + 20
    run = crawl_cli(site, seed, "-d", 40, "--max-url-length", limit, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    lengths = sorted(len(url) for url in run.urls())
    assert lengths == list(range(len(seed), limit + 1, 2))
    assert max(run.hits.values()) == 1


def test_max_pages_per_host_caps_each_host(site: Site, peer: Site) -> None:
    run = crawl_cli(site, site.url("/fan/30"), peer.url("/fan/30"), "-d", 1, "--max-pages-per-host", 5,
                    *WORKERS, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    by_host: dict[str, int] = {}
    for url in run.urls():
        host = url.split("/")[2]
        by_host[host] = by_host.get(host, 0) + 1
    assert sorted(by_host.values()) == [5, 5]
    assert sum(n for path, n in run.hits.items() if path != "/robots.txt") == 5
    assert "left out by --max-pages-per-host" in run.result.stderr
