"""crawler.worker.transport: the lean GET, against scripted servers on loopback.

Where requests' path is the reference, a test runs the same fetch both ways
(`_both_ways`: ``fetch.pool_for`` patched to send every hop through requests)
and compares what the server received, or the records.
"""

from __future__ import annotations

import gzip
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
import trustme
import urllib3

from crawler import _internals
from crawler.config import CrawlConfig
from crawler.worker import addresses, transport
from crawler.worker import fetch as fetch_module
from crawler.worker.capture import Capture
from crawler.worker.fetch import Fetched, fetch, make_session
from tests.rawserver import RawServer
from tests.scripted import FakeResolver, ScriptedServer, refused_url

HTML = b"<html><head><title>t</title></head><body>hi</body></html>"

pytestmark = pytest.mark.skipif(_internals.STOCK, reason="CRAWLER_STOCK: every hop goes through requests")


def lean_count(session: requests.Session) -> int:
    """Idle connections the session's lean pool keeps."""
    adapter = session.get_adapter("http://x/")
    return sum(len(idle) for idle in adapter.lean._idle.values())  # type: ignore[attr-defined]


# -- when it is used ---------------------------------------------------------------------


def test_a_plain_session_takes_the_lean_path() -> None:
    session = make_session(CrawlConfig())
    assert transport.pool_for(session, "http://127.0.0.1/") is session.get_adapter("http://127.0.0.1/")
    assert transport.pool_for(session, "https://127.0.0.1/") is not None


@pytest.mark.parametrize("change", ["proxies", "trust_env", "auth", "hook", "verify_none", "stock", "adapter"])
def test_what_requests_path_must_handle_is_left_to_it(monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    session = make_session(CrawlConfig())
    if change == "proxies":
        session.proxies = {"http": "http://127.0.0.1:9"}
    elif change == "trust_env":
        session.trust_env = True
    elif change == "auth":
        session.auth = ("u", "p")
    elif change == "hook":
        session.hooks["response"].append(lambda r, **kw: r)
    elif change == "verify_none":
        session.verify = None  # type: ignore[assignment]
    elif change == "stock":
        monkeypatch.setattr(_internals, "STOCK", True)
    else:
        session.mount("http://", requests.adapters.HTTPAdapter())
    assert transport.pool_for(session, "http://127.0.0.1/") is None
    assert transport.pool_for(session, "ftp://127.0.0.1/") is None  # no adapter: requests says so


def test_a_proxy_crawl_goes_through_requests() -> None:
    session = make_session(CrawlConfig(proxy="http://127.0.0.1:9"))
    assert transport.pool_for(session, "http://127.0.0.1/") is None


# -- what goes on the wire ----------------------------------------------------------------


def test_it_sends_what_session_get_sends(srv: ScriptedServer) -> None:
    srv.add(srv.url("/p"), body=HTML)
    config = CrawlConfig(headers=(("X-Extra", "1"), ("Accept-Language", "fr")),
                         hosts={"127.0.0.1": {"user_agent": "own-bot", "header": ["X-Key: k"]}})
    session = make_session(config)
    session.cookies.set("sid", "abc", domain="127.0.0.1", path="/")
    session.cookies.set("other", "x", domain="127.0.0.2", path="/")
    asked = {"If-None-Match": '"v1"', "Accept-Language": None}
    adapter = transport.pool_for(session, srv.url("/p"))
    assert adapter is not None
    transport.get(session, adapter, srv.url("/p"), 5, asked).close()
    session.get(srv.url("/p"), stream=True, timeout=5, allow_redirects=False, headers=asked).close()
    lean, full = srv.calls
    assert lean.fields == full.fields
    assert lean.headers["Cookie"] == "sid=abc"
    assert (lean.headers["User-Agent"], lean.headers["X-Key"]) == ("own-bot", "k")
    assert "Accept-Language" not in lean.headers
    assert lean.path == full.path == "/p"


def test_a_redirect_to_another_host_carries_neither_authorization_nor_the_hosts_own_headers(
        srv: ScriptedServer) -> None:
    srv.add(srv.url("/"), status=302, headers={"Location": srv.other + "/"})
    srv.add(srv.other + "/", body=b"b")
    config = CrawlConfig(headers=[("Authorization", "Bearer s")], hosts={"127.0.0.1": {"header": ["X-Key: k"]}})
    f = fetch(srv.url("/"), config, session=make_session(config))
    assert f.status == 200
    first, second = srv.calls
    assert (first.headers["Authorization"], first.headers["X-Key"]) == ("Bearer s", "k")
    assert "Authorization" not in second.headers
    assert "X-Key" not in second.headers


def test_cookies_set_go_to_the_jar_the_result_and_the_next_request(srv: ScriptedServer) -> None:
    srv.add(srv.url("/set"), status=302, headers=[("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                                                   ("Location", "/next")])
    srv.add(srv.url("/next"), body=b"x")
    session = make_session(CrawlConfig())
    f = fetch(srv.url("/set"), CrawlConfig(), session=session)
    assert f.error is None
    assert sorted((c.name, c.value) for c in f.cookies or []) == [("a", "1"), ("b", "2")]
    assert session.cookies.get("a") == "1"
    assert srv.calls[1].headers["Cookie"] in ("a=1; b=2", "b=2; a=1")


# -- keep-alive -------------------------------------------------------------------------------


def test_a_connection_is_kept_alive_per_host(srv: ScriptedServer) -> None:
    srv.add(srv.url("/a"), body=HTML)
    srv.add(srv.other + "/a", body=HTML)
    session = make_session(CrawlConfig())
    for url in (srv.url("/a"), srv.url("/a"), srv.other + "/a", srv.url("/a")):
        assert fetch(url, CrawlConfig(), session=session).error is None
    ports = [call.client_port for call in srv.calls]
    assert ports[0] == ports[1] == ports[3] != ports[2]
    assert lean_count(session) == 2
    session.close()
    assert lean_count(session) == 0


@pytest.mark.parametrize(("headers", "body", "why"), [
    ({"Connection": "close"}, HTML, "the response says close"),
    ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], b"3\r\nabc\r\n0\r\n\r\n", "framed twice"),
    ({}, b"x" * 5000, "the body was not read to its end"),
])
def test_a_connection_is_not_kept_when(srv: ScriptedServer, headers: dict[str, str], body: bytes, why: str) -> None:
    srv.add(srv.url("/once"), body=body, headers=headers)
    srv.add(srv.url("/next"), body=HTML)
    session = make_session(CrawlConfig())
    first = fetch(srv.url("/once"), CrawlConfig(max_bytes=1000), session=session)
    assert first.status == 200, first.error
    assert lean_count(session) == 0, why
    assert fetch(srv.url("/next"), CrawlConfig(), session=session).error is None
    assert srv.calls[0].client_port != srv.calls[1].client_port, why


def test_an_unrequested_101_closes_the_connection() -> None:
    with RawServer() as raw:
        session = make_session(CrawlConfig())
        f = fetch(raw.url("/switch"), CrawlConfig(), session=session)
        assert f.status == 101
        assert f.error == "http: 101 Switching Protocols (not a final response)"
        assert lean_count(session) == 0
        hinted = fetch(raw.url("/hints"), CrawlConfig(), session=session)  # interim responses skipped
        assert (hinted.status, hinted.body) == (200, b"<html><head><title>hinted</title></head><body>the real "
                                                     b"page</body></html>")


def test_a_kept_connection_with_bytes_waiting_is_not_reused(srv: ScriptedServer) -> None:
    srv.add(srv.url("/stray"), body=HTML, action="stray")
    srv.add(srv.url("/next"), body=b"next")
    session = make_session(CrawlConfig())
    assert fetch(srv.url("/stray"), CrawlConfig(), session=session).body == HTML
    assert lean_count(session) == 1
    time.sleep(0.3)  # the stray bytes arrive on the idle connection
    assert fetch(srv.url("/next"), CrawlConfig(), session=session).body == b"next"
    assert srv.calls[0].client_port != srv.calls[1].client_port


def test_a_reused_connection_is_checked_by_the_address_policy_again(srv: ScriptedServer) -> None:
    srv.add(srv.url("/"), body=HTML)
    session = make_session(CrawlConfig())
    assert fetch(srv.url("/"), CrawlConfig(), session=session).error is None
    with addresses.policy(None, no_private=True):
        f = fetch(srv.url("/"), CrawlConfig(), session=session)
    assert f.error == "blocked: 127.0.0.1 is a loopback address, not fetched for --no-private"
    assert len(srv.calls) == 1  # nothing sent on it
    assert lean_count(session) == 0


# -- failures read as on requests' path -------------------------------------------------------


def _both_ways(monkeypatch: pytest.MonkeyPatch, url: str, **options: object) -> tuple[Fetched, Fetched]:
    config = CrawlConfig(**options)  # type: ignore[arg-type]
    lean = fetch(url, config, session=make_session(config))
    with monkeypatch.context() as patched:
        patched.setattr(fetch_module, "pool_for", lambda session, url: None)
        full = fetch(url, config, session=make_session(config))
    return lean, full


@pytest.mark.parametrize("case", ["reset", "close", "silent", "short", "badgzip", "bomb", "refused", "dns",
                                  "two_lengths", "same_lengths"])
def test_failures_and_limits_make_the_same_record(monkeypatch: pytest.MonkeyPatch, srv: ScriptedServer,
                                                  case: str) -> None:
    url, options = srv.url("/"), {"timeout": 0.4, "max_bytes": 5000}
    if case in ("reset", "close", "silent"):
        srv.add(url, action=case)
    elif case == "short":
        srv.add(url, body=b"x" * 10, headers={"Content-Length": "100", "Connection": "close"})
    elif case == "badgzip":
        srv.add(url, body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    elif case == "bomb":
        srv.add(url, body=gzip.compress(b"a" * 5_000_000), headers={"Content-Encoding": "gzip"})
    elif case == "two_lengths":
        srv.add(url, body=b"x" * 5, headers=[("Content-Length", "5"), ("Content-Length", "6")])
    elif case == "same_lengths":
        srv.add(url, body=b"x" * 5, headers=[("Content-Length", "5, 5"), ("Connection", "close")])
    elif case == "refused":
        url = refused_url("/")
    else:
        FakeResolver().install(monkeypatch)
        url = "http://nowhere.test/"
    lean, full = _both_ways(monkeypatch, url, **options)
    assert (lean.status, lean.error, lean.retryable, lean.truncated) == (full.status, full.error, full.retryable,
                                                                         full.truncated)
    assert lean.body == full.body


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScriptedServer, str]]:
    """An HTTPS server for 127.0.0.1 and the file of the CA that signed its certificate."""
    authority = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = str(tmp_path_factory.mktemp("ca") / "ca.pem")
    authority.cert_pem.write_to_path(ca_file)
    with ScriptedServer(tls=context) as started:
        started.add(started.url("/"), body=HTML)
        yield started, ca_file


def test_https_with_a_ca_bundle_is_verified_and_kept_alive(tls: tuple[ScriptedServer, str]) -> None:
    server, ca_file = tls
    config = CrawlConfig(ca_bundle=ca_file)
    session = make_session(config)
    before = len(server.calls)
    assert [fetch(server.url("/"), config, session=session).body for _ in range(2)] == [HTML, HTML]
    first, second = server.calls[before:]
    assert first.client_port == second.client_port
    assert lean_count(session) == 1


def test_https_refused_certificate_reads_as_on_requests_path(monkeypatch: pytest.MonkeyPatch,
                                                             tls: tuple[ScriptedServer, str]) -> None:
    server, _ = tls
    lean, full = _both_ways(monkeypatch, server.url("/"))
    assert lean.error == full.error
    assert lean.error is not None
    assert lean.error.startswith(f"tls: certificate of 127.0.0.1:{server.port} not accepted: "), lean.error


def test_https_without_checks_warns_as_urllib3_does(tls: tuple[ScriptedServer, str]) -> None:
    server, _ = tls
    config = CrawlConfig(insecure=True)
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert fetch(server.url("/"), config, session=make_session(config)).body == HTML


def test_a_missing_ca_bundle_fails_as_on_requests_path(monkeypatch: pytest.MonkeyPatch,
                                                       tls: tuple[ScriptedServer, str], tmp_path) -> None:
    server, _ = tls
    config = CrawlConfig()
    missing = str(tmp_path / "none.pem")  # gone since the crawl started
    lean_session, full_session = make_session(config), make_session(config)
    lean_session.verify = full_session.verify = missing
    lean = fetch(server.url("/"), config, session=lean_session)
    with monkeypatch.context() as patched:
        patched.setattr(fetch_module, "pool_for", lambda session, url: None)
        full = fetch(server.url("/"), config, session=full_session)
    assert lean.error == full.error
    assert lean.error is not None
    assert "Could not find a suitable TLS CA certificate bundle" in lean.error


# -- --warc ----------------------------------------------------------------------------------------


def test_the_capture_is_what_requests_path_captures(srv: ScriptedServer) -> None:
    srv.add(srv.url("/w"), body=gzip.compress(HTML), headers=[("Content-Encoding", "gzip"), ("X-A", "1"),
                                                               ("X-A", "2")])
    session = make_session(CrawlConfig(headers=[("X-Extra", "1")]))
    adapter = transport.pool_for(session, srv.url("/w"))
    assert adapter is not None
    with transport.get(session, adapter, srv.url("/w"), 5, None, peer=True) as lean:
        lean_capture = Capture.of(lean, "d")
        lean_capture.feed(lean.raw.read(1 << 20))
        lean_exchange = lean_capture.done()
    with _internals.send_get(session, srv.url("/w"), 5, None) as full:
        full_capture = Capture.of(full, "d")
        full_capture.feed(full.raw.read(1 << 20, decode_content=False))
        full_exchange = full_capture.done()
    # Each capture has a record ID of its own from the start; everything else is the same.
    assert lean_exchange.record_id
    assert full_exchange.record_id
    assert replace(lean_exchange, record_id=full_exchange.record_id) == full_exchange
    assert lean_exchange.ip == "127.0.0.1"
    assert lean_exchange.body == gzip.compress(HTML)
