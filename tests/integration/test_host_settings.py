"""Per-host settings of a config file (``[hosts."NAME"]``), on two loopback hosts.

127.0.0.2 (the peer) gets a delay (0.4 s), its own user agent and header, and a
page cap; 127.0.0.1 (the site) one request at a time. Each server sees what
it was promised, and nothing of the other's settings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_clean_stderr, crawl_cli
from tests.site import Site

CONFIG = """\
per_host = 4

[hosts."127.0.0.2"]
delay = 0.4
user_agent = "peer-bot/1"
header = ["X-Peer: yes"]
max_pages = 2

[hosts."127.0.0.1"]
per_host = 1
"""


@pytest.mark.parametrize("mode", ["plain", "state", "redis"])
def test_each_host_gets_its_own_settings(site: Site, peer: Site, tmp_path: Path, mode: str,
                                         request: pytest.FixtureRequest) -> None:
    config = tmp_path / "crawl.toml"
    config.write_text(CONFIG)
    extra: list[object] = []
    if mode == "state":
        extra = ["--state", tmp_path / "crawl.db"]
    elif mode == "redis":
        extra = ["--redis", request.getfixturevalue("redis_url")]
    slow = [site.url(f"/slow?s=0.2&n={i}") for i in range(3)]
    peers = [peer.url(path) for path in ("/", "/a", "/b", "/a1")]
    run = crawl_cli(site, *slow, *peers, "--config", config, "-w", 1, "-c", 8, *extra, peer=peer,
                    output=tmp_path / "out.jsonl")
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    # 127.0.0.1: one request at a time (the crawl's --per-host is 4), the crawl's identity.
    assert run.max_inflight == 1
    site_headers = run.headers[next(path for path in run.headers if path.startswith("/slow"))]
    assert site_headers["user-agent"].startswith("crawler/")
    assert "x-peer" not in site_headers
    # 127.0.0.2: two pages of four (max_pages), its own agent and header, 0.4 s apart.
    assert sum(1 for r in run.records if r["url"] in peers and r["status"] == 200) == 2
    assert sorted(peer.page_hits().values()) == [1, 1]
    for headers in peer.headers().values():  # robots.txt too: the host's agent asks for it
        assert (headers["user-agent"], headers["x-peer"]) == ("peer-bot/1", "yes")
    # Between the two pages (robots.txt's arrival can lag behind its dispatch in a busy new worker).
    [first, second] = [at for at, target in peer.log() if target != "/robots.txt"]
    assert second - first >= 0.3


def test_bad_host_settings_are_usage_errors(tmp_path: Path) -> None:
    from tests.conftest import assert_usage_error, run_cli

    config = tmp_path / "crawl.toml"
    for text, fragment in [('[hosts."a.test"]\ndelai = 1\n', "unknown key 'delai'"),
                           ('[hosts."a.test"]\nper_host = 0\n', "per_host"),
                           ('[hosts."a.test:80"]\ndelay = 1\n', "not a host name"),
                           ('hosts = 3\n', "expected tables")]:
        config.write_text(text)
        assert_usage_error(run_cli("--config", config, "http://127.0.0.1:9/"), str(config), fragment)
