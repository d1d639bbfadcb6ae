"""crawler.worker.adapter: the trimmed adapter sends the same request and builds the same response
as requests' own, against a real server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter

from crawler._internals import pool_kwargs
from crawler.config import CrawlConfig
from crawler.worker.adapter import CrawlAdapter
from crawler.worker.fetch import make_session

RESPONSES = {
    b"/plain": b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=latin-1\r\nContent-Length: 2\r\n\r\nok",
    b"/cookie": b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
}


@pytest.fixture
def server() -> Iterator[tuple[str, list[bytes]]]:
    """A raw HTTP/1.1 server: records every request's bytes, answers from RESPONSES."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def answer(conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while data := conn.recv(65536):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    seen.append(head)
                    path = head.split(b" ")[1].split(b"?")[0]
                    conn.sendall(RESPONSES.get(path, b"HTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n"))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    listener.close()


def session_with(adapter: HTTPAdapter) -> requests.Session:
    session = make_session(CrawlConfig())
    session.trust_env = False
    session.mount("http://", adapter)
    return session


@pytest.mark.parametrize("path", ["/plain", "/cookie", "//double/slash?q=a%20b", "/missing"])
def test_same_request_and_response_as_requests_adapter(server: tuple[str, list[bytes]], path: str) -> None:
    base, seen = server
    results = []
    for adapter in (HTTPAdapter(), CrawlAdapter()):
        session = session_with(adapter)
        response = session.get(base + path, allow_redirects=False, timeout=10)
        results.append((response.status_code, dict(response.headers), response.encoding, response.reason,
                        response.url, response.content, sorted(response.cookies.items()),
                        sorted(session.cookies.items())))
        session.close()
    assert results[0] == results[1]
    assert seen[0] == seen[1]  # byte for byte: request line and headers


def test_cookies_set_by_a_response_are_sent_on_the_next_request(server: tuple[str, list[bytes]]) -> None:
    base, seen = server
    session = session_with(CrawlAdapter())
    assert dict(session.get(base + "/cookie").cookies) == {"sid": "1", "b": "2"}
    session.get(base + "/plain")
    assert b"Cookie: " in seen[-1]
    assert b"sid=1" in seen[-1]


@pytest.mark.parametrize("verify", [True, False, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs"])
@pytest.mark.parametrize("cert", [None, "/c.pem", ("/c.pem", "/k.pem")])
def test_pool_settings_are_requests_own(verify: object, cert: object) -> None:
    request = requests.Request("GET", "https://h.test:8443/x").prepare()
    _, expected = HTTPAdapter().build_connection_pool_key_attributes(request, verify, cert)
    assert pool_kwargs(verify, cert) == expected


def test_a_proxy_takes_requests_own_path() -> None:
    request = requests.Request("GET", "http://h.test/x").prepare()
    proxies = {"http": "http://proxy.test:3128"}
    assert CrawlAdapter().request_url(request, proxies) == "http://h.test/x"
    assert CrawlAdapter().request_url(request, {}) == "/x"
