"""The proxy and TLS settings a worker's Sessions get (crawler.worker.network)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from crawler.config import CrawlConfig
from crawler.errors import ConfigError
from crawler.worker.fetch import error_kind, make_session
from crawler.worker.network import proxy_failure, tls_verify

_CA_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in _CA_VARS:
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc


def test_no_proxy_keeps_the_fast_path() -> None:
    session = make_session(CrawlConfig())
    assert session.proxies == {}
    assert session.trust_env is False
    assert session.verify is True


@pytest.mark.parametrize("url", ["http://127.0.0.1:3128", "https://p.test:443", "socks5://u:p@127.0.0.1:1080",
                                 "socks5h://127.0.0.1:1080"])
def test_the_proxy_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    session = make_session(CrawlConfig(proxy=url))
    assert session.proxies == {"http": url, "https": url}
    assert session.trust_env is False  # requests would put the environment's proxy over the Session's


@pytest.mark.parametrize(("url", "fragment"), [
    ("ftp://127.0.0.1:21", "scheme must be one of"),
    ("socks4://127.0.0.1:1080", "scheme must be one of"),
    ("http://", "no host"),
    ("http://u:secret@127.0.0.1:3128/path", "without a path"),
    ("http://127.0.0.1:99999", "not a URL"),
])
def test_bad_proxies_are_config_errors(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as caught:
        CrawlConfig(proxy=url)
    assert "secret" not in str(caught.value)


def test_tls_verify_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert tls_verify(CrawlConfig()) is None
    monkeypatch.setenv("SSL_CERT_FILE", "/missing/ssl.pem")
    assert tls_verify(CrawlConfig()) is None  # passed over, as Python's ssl does
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert tls_verify(CrawlConfig()) == str(bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", "/curl.pem")
    assert tls_verify(CrawlConfig()) == "/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert tls_verify(CrawlConfig()) == "/requests.pem"
    assert tls_verify(CrawlConfig(ca_bundle=str(bundle))) == str(bundle)
    assert tls_verify(CrawlConfig(insecure=True)) is False
    assert make_session(CrawlConfig(insecure=True)).verify is False


def test_ca_bundle_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        CrawlConfig(ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="contradict"):
        CrawlConfig(ca_bundle=str(tmp_path), insecure=True)


def test_proxy_failures_are_proxy_errors_without_the_password() -> None:
    exc = requests.exceptions.ProxyError(
        "HTTPConnectionPool(host='u:secret@127.0.0.1', port=9): Max retries exceeded",
        ConnectionRefusedError(111, "Connection refused"))
    assert error_kind(exc) == "proxy"
    assert proxy_failure(exc, "h.test") == "cannot reach h.test through the proxy: connection refused"
    socks = requests.exceptions.ConnectionError(
        "SOCKSHTTPConnection(host='h.test', port=80): Failed to establish a new connection: "
        "0x02: Connection not allowed by ruleset")
    assert error_kind(socks) == "proxy"
    assert proxy_failure(socks, "h.test").endswith("through the proxy: 0x02: Connection not allowed by ruleset")
    leaky = requests.exceptions.ProxyError("bad proxy http://u:secret@127.0.0.1:9")
    assert "secret" not in proxy_failure(leaky, "h.test")


def test_a_hosts_own_headers_stay_with_that_host() -> None:
    from crawler.worker.fetch import fetch
    from tests.scripted import ScriptedServer

    with ScriptedServer() as server:
        config = CrawlConfig(hosts={"127.0.0.1": {"user_agent": "a-bot", "header": ["X-Key: secret"]}})
        server.add(server.url("/"), status=302, headers={"Location": server.other + "/"})
        server.add(server.other + "/", body=b"ok")
        assert fetch(server.url("/"), config, session=make_session(config)).status == 200
        first, second = (call.headers for call in server.calls)
    assert (first["User-Agent"], first["X-Key"]) == ("a-bot", "secret")
    assert second["User-Agent"].startswith("crawler/")
    assert "X-Key" not in second
