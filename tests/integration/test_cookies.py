"""Cookies: a host's cookies go back to that host, from every worker, and nowhere else."""

from __future__ import annotations

from tests.conftest import crawl_cli
from tests.site import Site


def test_cookies_go_back_to_their_host_only(site: Site, peer: Site) -> None:
    # 20 pages fetched by 8 threads in 2 processes all carry the cookie that
    # one response set; the other host never sees it.
    run = crawl_cli(site, site.url("/cookie/set"), "-d", 1, "--scope", "any", "-w", 2, "-c", 8, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    titles = {r["url"]: r["title"] for r in run.records}
    checks = {url: title for url, title in titles.items() if url.startswith(site.url("/cookie/check"))}
    assert len(checks) == 20
    assert set(checks.values()) == {"Cookie session=abc"}
    assert titles[peer.url("/cookie/check")] == "Cookie -"
