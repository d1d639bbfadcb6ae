"""Politeness through the real CLI: robots.txt first, and a struggling host gets fewer slots."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import crawl_cli
from tests.site import Site, write_seeds

WORKERS = ("-w", "2")


def test_robots_txt_is_fetched_before_any_page_of_its_host(site: Site, peer: Site, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path, [s.url(f"/graph/{i}") for i in range(1, 9) for s in (site, peer)])
    run = crawl_cli(site, seeds, "-c", 16, "--per-host", 8, *WORKERS, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    assert len(run.records) == 16
    assert run.log[0][1] == "/robots.txt"
    assert [target for _, target in run.log].count("/robots.txt") == 1
    assert run.peer_hits["/robots.txt"] == 1


def _slow_pages_in_flight(site: Site, tmp_path: Path, failing: int) -> int:
    # The host first answers `failing` pages with 503, then serves slow pages:
    # how many of those does the crawler keep in flight at once?
    # Slow requests of an earlier test's killed crawl may still be sleeping in
    # the shared site: they would count as in flight here.
    deadline = time.monotonic() + 10
    while site.inflight and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [site.url(f"/status/503?retry_after=0&i={i}") for i in range(failing)]
    lines += [site.url(f"/slow?s=0.3&i={i}") for i in range(6)]
    seeds = write_seeds(tmp_path, lines)
    run = crawl_cli(site, seeds, "-c", 8, "--per-host", 4, "--retries", 0, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert len(run.records) == failing + 6
    return run.max_inflight


def test_repeated_503s_halve_the_hosts_concurrency(site: Site, tmp_path: Path) -> None:
    assert _slow_pages_in_flight(site, tmp_path, failing=0) == 4
    # From the second 503 in a row the host's 4 slots halve: 2, then 1 (the floor); it grows
    # back only after 20 successes, so the slow pages go one at a time.
    assert _slow_pages_in_flight(site, tmp_path, failing=4) == 1
