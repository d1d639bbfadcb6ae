"""The address policy (crawler.worker.addresses) with a fake resolver: no test here connects anywhere
but 127.0.0.1, and the refusals are shown to happen before any connection is attempted."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from crawler.config import CrawlConfig
from crawler.worker import addresses
from crawler.worker.fetch import fetch, make_session
from tests.conftest import page_handler, serving

#: host name → the addresses the fake resolver gives
NAMES = {
    "public.test": ["93.184.216.34"],
    "internal.test": ["10.0.0.5"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["10.0.0.5", "93.184.216.34"],
    "local.test": ["127.0.0.1"],
}


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fake DNS for NAMES, and every connect recorded: only 127.0.0.1 is really connected to."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    tried: list[Any] = []

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, *args: Any) -> Any:  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name in NAMES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0)) for ip in NAMES[name]]
        if name.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, port, family, type, *args)

    def connect(sock: socket.socket, address: Any) -> None:
        tried.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(111, "Connection refused (fake: never leaves loopback)")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    addresses.host_is_public.cache_clear()
    yield tried
    addresses.host_is_public.cache_clear()


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700::1111", True),
    ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False), ("127.0.0.1", False), ("::1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("::ffff:10.0.0.1", False), ("::ffff:93.184.216.34", True), ("fd00::1", False), ("224.0.0.1", False),
])
def test_public_addresses(address: str, public: bool) -> None:
    assert addresses.is_public(address) is public


def _get(url: str, referrer: str | None = None, **options: Any) -> str | None:
    config = CrawlConfig(retries=0, timeout=5, **options)
    with addresses.policy(referrer, config.no_private):
        return fetch(url, config, session=make_session(config)).error


def test_a_link_from_a_public_page_is_refused_before_connecting(attempts: list[Any]) -> None:
    error = _get("http://internal.test/admin", referrer="http://public.test/page")
    assert error == ("blocked: internal.test (10.0.0.5) is a private address, "
                     "not fetched for a link on a page of public.test, a public address")
    assert attempts == []


def test_no_private_refuses_a_seed(attempts: list[Any]) -> None:
    error = _get("http://metadata.test/latest/meta-data/", no_private=True)
    assert error == "blocked: metadata.test (169.254.169.254) is a link-local address, not fetched for --no-private"
    assert attempts == []


def test_a_seed_may_be_private(attempts: list[Any]) -> None:
    error = _get("http://internal.test/")
    assert error is not None
    assert error.startswith("refused:")  # the fake connect's answer: the policy let it try
    assert attempts == [("10.0.0.5", 80)]


def test_a_host_with_both_kinds_is_reached_on_its_public_address(attempts: list[Any]) -> None:
    _get("http://mixed.test/", referrer="http://public.test/")
    assert attempts == [("93.184.216.34", 80)]


def test_a_redirect_from_a_public_address_is_refused(attempts: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # The loopback server plays a public site; its redirect points into the (fake) private network.
    monkeypatch.setattr(addresses, "_PLAYED_PUBLIC", (ipaddress.ip_network("127.0.0.1/32"),))

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", "http://internal.test/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Redirect) as base:
        error = _get(f"{base}/go")
    assert error == ("blocked: internal.test (10.0.0.5) is a private address, "
                     "not fetched for a redirect from a public address")
    assert [address[0] for address in attempts] == ["127.0.0.1"]


def test_a_kept_alive_local_connection_is_checked_again(attempts: list[Any]) -> None:
    config = CrawlConfig(retries=0, timeout=5)
    session = make_session(config)
    class KeepAlive(page_handler({"/": b"<title>x</title>"})):  # type: ignore[misc]
        protocol_version = "HTTP/1.1"

    with serving(KeepAlive) as base:
        local = base.replace("127.0.0.1", "local.test")
        with addresses.policy(None, False):  # a seed: the connection opens and is kept alive
            assert fetch(local + "/", config, session=session).status == 200
        with addresses.policy("http://public.test/", False):  # linked from a public page: not reused
            error = fetch(local + "/", config, session=session).error
    assert error is not None
    assert error.startswith("blocked: 127.0.0.1 is a loopback address")
    assert len(attempts) == 1


def test_a_kept_alive_connection_asks_its_peer_once_and_is_judged_for_each_fetch(attempts: list[Any]) -> None:
    # The peer of a socket never changes: check_reused asks getpeername() once per
    # socket (it lets go of the GIL), and judges every fetch by its own policy.
    class Sock:
        asked = 0

        def getpeername(self) -> tuple[str, int]:
            Sock.asked += 1
            return ("127.0.0.1", 80)

    class Conn:
        proxy = None
        sock: Any = Sock()

    conn = Conn()
    with addresses.policy(None, False):  # a seed: a local peer is fine
        addresses.check_reused(conn)  # type: ignore[arg-type]
        addresses.check_reused(conn)  # type: ignore[arg-type]
    with addresses.policy("http://public.test/", False), pytest.raises(addresses.BlockedAddress):
        addresses.check_reused(conn)  # type: ignore[arg-type]  # linked from a public page
    assert Sock.asked == 1
    conn.sock = Sock()  # a new socket (the connection made anew) is asked again
    with addresses.policy(None, False):
        addresses.check_reused(conn)  # type: ignore[arg-type]
    assert Sock.asked == 2
    assert attempts == []  # nothing connected: the names came from the fake resolver
