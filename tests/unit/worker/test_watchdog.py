"""crawler.worker.watchdog through fetch(): --timeout bounds the header phase too.

These run fetch() in-process against tests/rawserver.py on 127.0.0.1 (real
sockets: the point is what urllib3 does with a server that drips).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from crawler.config import CrawlConfig
from crawler.worker.fetch import Fetched, fetch, make_session
from tests.rawserver import DRIP_FOR, DRIP_INTERVAL, RawServer

TIMEOUT = 0.6
SLACK = 0.8  # the watchdog wakes on time; this is for a loaded machine


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def timed_fetch(url: str, session=None, timeout: float = TIMEOUT) -> tuple[Fetched, float]:
    config = CrawlConfig(timeout=timeout)
    start = time.monotonic()
    result = fetch(url, config, session=session or make_session(config))
    return result, time.monotonic() - start


@pytest.mark.timeout(10)
@pytest.mark.parametrize("path", ["/drip-status", "/drip-headers", "/silent"])
def test_header_phase_is_cut_at_the_timeout(raw: RawServer, path: str) -> None:
    result, took = timed_fetch(raw.url(path))
    assert result.error is not None
    assert result.error.startswith("timeout:"), result.error
    assert result.status is None, "headers that never ended are no response"
    assert result.retryable is True
    assert TIMEOUT <= took < TIMEOUT + SLACK, took


@pytest.mark.timeout(10)
def test_reused_keep_alive_connection_is_cut_too(raw: RawServer) -> None:
    session = make_session(CrawlConfig(timeout=TIMEOUT))
    before = raw.connections
    assert timed_fetch(raw.url("/keepalive"), session)[0].error is None
    result, took = timed_fetch(raw.url("/drip-headers"), session)
    assert raw.connections == before + 1, "the second request reused the first one's connection"
    assert result.error is not None
    assert result.error.startswith("timeout:"), result.error
    assert took < TIMEOUT + SLACK, took


@pytest.mark.timeout(10)
def test_a_finished_fetch_is_never_cut_later(raw: RawServer) -> None:
    # Its connection goes back to the pool; the watchdog must forget it, or
    # the next request on that connection would be cut at the old deadline.
    session = make_session(CrawlConfig(timeout=0.3))
    before = raw.connections
    for _ in range(3):
        result, _ = timed_fetch(raw.url("/keepalive"), session, timeout=0.3)
        assert result.error is None, result.error
        time.sleep(0.4)  # past the deadline of the fetch just done
    assert raw.connections == before + 1, "one keep-alive connection served all three"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key_file, "-out", cert_file], check=True, capture_output=True, timeout=30)
    return cert_file, key_file


@contextlib.contextmanager
def tls_server(cert: tuple[str, str] | None) -> Iterator[int]:
    """A one-connection server's port. With ``cert``: TLS, then the headers a byte
    at a time. Without: the TLS handshake itself a byte at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def drip(conn: socket.socket, data: bytes) -> None:
        give_up = time.monotonic() + DRIP_FOR
        for byte in data:
            if done.is_set() or time.monotonic() > give_up:
                return
            conn.sendall(bytes([byte]))
            time.sleep(DRIP_INTERVAL)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            if cert is None:
                with conn:
                    conn.recv(4096)  # the ClientHello
                    conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record, 16 KiB long
                    drip(conn, b"\x02" * 16384)
                return
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*cert)
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)  # the request
                tls.sendall(b"HTTP/1.1 200 OK\r\n")
                drip(tls, b"Content-Type: text/html\r\nX-Padding: " + b"p" * 100 + b"\r\n\r\n")
        except OSError:  # the client hung up
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()
        thread.join(5)


@pytest.mark.timeout(10)
def test_header_drip_over_tls_is_cut(cert: tuple[str, str]) -> None:
    session = make_session(CrawlConfig(timeout=TIMEOUT))
    session.verify = cert[0]
    with tls_server(cert) as port:
        result, took = timed_fetch(f"https://127.0.0.1:{port}/", session)
    assert result.error is not None
    assert result.error.startswith("timeout:"), result.error
    assert took < TIMEOUT + SLACK, took


@pytest.mark.timeout(10)
def test_tls_handshake_drip_is_bounded() -> None:
    # Not the watchdog's doing: CPython bounds a whole handshake by the socket timeout.
    with tls_server(None) as port:
        result, took = timed_fetch(f"https://127.0.0.1:{port}/")
    assert result.error is not None
    assert result.error.startswith("timeout:"), result.error
    assert took < TIMEOUT + SLACK, took
