"""``--proxy``: every request of a crawl (robots.txt too) goes through a real proxy on loopback.

The proxy is ``pproxy`` (from the test extra), run as a subprocess with an
HTTP listener and a SOCKS5 listener that asks for a user name and password.
Its verbose log has one line per connection it opens to a target, which is
how the tests see that the crawl went through it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler import crawl
from tests.conftest import assert_clean_stderr, crawl_cli
from tests.site import Site

WORKERS = ("-w", "2")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proxy:
    """A running pproxy: its HTTP and SOCKS5 (user ``u``, password ``p``) ports and log file."""

    http: int
    socks: int
    log_path: Path

    def log(self) -> str:
        """What the proxy logged so far."""
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    http_port, socks_port = _free_port(), _free_port()
    log_path = tmp_path_factory.mktemp("proxy") / "pproxy.log"
    command = shutil.which("pproxy") or ""
    args = [command] if command else [sys.executable, "-m", "pproxy"]
    # --auth 0: ask every connection for the password (pproxy otherwise trusts an address that gave it once).
    args += ["-l", f"http://127.0.0.1:{http_port}", "-l", f"socks5://127.0.0.1:{socks_port}#u:p",
             "-v", "--auth", "0"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        for port in (http_port, socks_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail(f"pproxy did not start: {log_path.read_text()}")
                    time.sleep(0.05)
        yield Proxy(http_port, socks_port, log_path)
    finally:
        proc.terminate()
        proc.wait(10)


def _through(proxy: Proxy, site: Site) -> int:
    """How many connections the proxy has opened to ``site``."""
    return proxy.log().count(f"-> 127.0.0.1:{site.port}")


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h"])
def test_every_request_goes_through_the_proxy(proxy: Proxy, site: Site, scheme: str) -> None:
    url = f"http://127.0.0.1:{proxy.http}" if scheme == "http" else f"{scheme}://u:p@127.0.0.1:{proxy.socks}"
    before = _through(proxy, site)
    # An environment proxy that leads nowhere: --proxy must win over it.
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"}
    run = crawl_cli(site, site.url("/"), "-d", 1, *WORKERS, "--proxy", url, env=env)
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert {r["url"] for r in run.records} == {site.url("/"), site.url("/a"), site.url("/b")}
    assert all(r["ok"] for r in run.records), run.records
    assert run.hits["/robots.txt"] == 1
    # Each proxied connection is one line; keep-alive may carry several requests on one.
    assert _through(proxy, site) > before


def test_socks_proxy_without_the_password_gives_error_records(proxy: Proxy, site: Site) -> None:
    for url in (f"socks5://127.0.0.1:{proxy.socks}", f"socks5://u:wrong@127.0.0.1:{proxy.socks}"):
        run = crawl_cli(site, site.url("/a"), *WORKERS, "--retries", 0, "--proxy", url)
        assert run.result.returncode == 1, run.result.stderr  # nothing could be fetched
        assert_clean_stderr(run.result.stderr)
        [record] = run.records
        assert record["error"].startswith("proxy: "), record
        assert "wrong" not in record["error"]
        assert run.hits == {}


def test_a_proxy_that_is_down_gives_error_records(site: Site) -> None:
    port = _free_port()
    run = crawl_cli(site, site.url("/a"), site.url("/b"), *WORKERS, "--retries", 0,
                    "--proxy", f"http://user:secret@127.0.0.1:{port}")
    assert run.result.returncode == 1, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert len(run.records) == 2
    for record in run.records:
        assert record["error"].startswith("proxy: "), record
        assert "secret" not in record["error"]
    assert run.hits == {}


def test_library_takes_the_proxy(proxy: Proxy, site: Site) -> None:
    site.reset()
    before = _through(proxy, site)
    pages = list(crawl([site.url("/a")], workers=1, robots=False, proxy=f"http://127.0.0.1:{proxy.http}"))
    assert [p.status for p in pages] == [200]
    assert _through(proxy, site) > before


def test_no_proxy_hosts_are_reached_directly_as_curl_does(site: Site) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    run = crawl_cli(site, site.url("/a"), *WORKERS, "--retries", 0, "--proxy", dead,
                    env={"NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"})
    assert run.result.returncode == 0, run.result.stderr
    assert [r["status"] for r in run.records] == [200]
