"""``--cookies FILE``: a Netscape cookies.txt sent from the first request on, to its own hosts only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import assert_clean_stderr, assert_usage_error, crawl_cli, run_cli
from tests.site import Site


def _cookie_file(tmp_path: Path) -> Path:
    later = int(time.time()) + 3600
    lines = [
        "# Netscape HTTP Cookie File",
        "",
        "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tfromfile",  # a session cookie of the site
        f"#HttpOnly_127.0.0.1\tFALSE\t/cookie\tFALSE\t{later}\ttok\tx",  # curl's HttpOnly mark
        "127.0.0.1\tFALSE\t/\tFALSE\t1000\told\texpired",  # expired: never sent
        f"127.0.0.1\tFALSE\t/\tTRUE\t{later}\tsec\thttps-only",  # secure: not over http
        f"127.0.0.2\tFALSE\t/\tFALSE\t{later}\tpeer\tp",  # the peer's
    ]
    path = tmp_path / "cookies.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("mode", ["plain", "state", "redis"])
def test_cookies_go_to_their_hosts_from_the_first_request(site: Site, peer: Site, tmp_path: Path,
                                                          request: pytest.FixtureRequest, mode: str) -> None:
    extra: list[object] = []
    if mode == "state":
        extra = ["--state", tmp_path / "crawl.db"]
    elif mode == "redis":
        extra = ["--redis", request.getfixturevalue("redis_url")]
    run = crawl_cli(site, site.url("/cookie/check"), peer.url("/cookie/check"), "-w", 1,
                    "--cookies", _cookie_file(tmp_path), *extra, peer=peer, output=tmp_path / "out.jsonl")
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    titles = {r["url"]: r["title"] for r in run.records}
    assert set(titles[site.url("/cookie/check")].removeprefix("Cookie ").split("; ")) == {"sid=fromfile", "tok=x"}
    assert titles[peer.url("/cookie/check")] == "Cookie peer=p"


def test_malformed_cookie_file_is_exit_2_with_the_line(tmp_path: Path, site: Site) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tok\t1\n127.0.0.1 FALSE / x\n")
    site.reset()
    assert_usage_error(run_cli(site.url("/a"), "--cookies", path), f"{path}:3", "7 tab-separated fields")
    assert site.hits() == {}
    assert_usage_error(run_cli(site.url("/a"), "--cookies", tmp_path / "none.txt"), "none.txt")
