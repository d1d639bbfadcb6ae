"""TLS through the real CLI: an HTTPS site on 127.0.0.1 whose certificate a private CA (trustme) signed.

Without options its certificate is refused (a readable ``tls:`` record);
``--ca-bundle`` with the CA, ``SSL_CERT_FILE`` with the CA, or
``--insecure`` (and its one warning line) fetch it.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from crawler.cli.main import INSECURE_WARNING
from tests.conftest import assert_clean_stderr, assert_usage_error, page_handler, parse_jsonl, run_cli

#: The machine's CA variables would otherwise decide what is trusted ("" is unset to requests and to us).
NO_CA_ENV = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "", "SSL_CERT_FILE": "", "SSL_CERT_DIR": ""}


@dataclass
class HttpsSite:
    """The HTTPS site: its base URL, the CA file that signed its certificate, and the paths it was asked."""

    base: str
    ca_file: Path
    hits: list[str]


@pytest.fixture(scope="module")
def https_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsSite]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    hits: list[str] = []
    pages = {"/": b"<title>Secure</title><a href='/b'>b</a>", "/b": b"<title>B</title>",
             "/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain")}

    class Handler(page_handler(pages)):  # type: ignore[misc]
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield HttpsSite(f"https://127.0.0.1:{server.server_address[1]}", ca_file, hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _crawl(site: HttpsSite, *args: object, env: dict[str, str] | None = None) -> tuple[int, list[dict], str]:
    site.hits.clear()
    result = run_cli(f"{site.base}/", "-d", 1, "-w", 1, "--retries", 0, *args, env={**NO_CA_ENV, **(env or {})},
                     timeout=60)
    return result.returncode, parse_jsonl(result.stdout), result.stderr


def test_unknown_ca_is_a_readable_tls_error(https_site: HttpsSite) -> None:
    status, records, stderr = _crawl(https_site)
    assert status == 1, stderr  # nothing could be fetched
    assert_clean_stderr(stderr)
    [record] = records
    assert record["error"].startswith("tls: certificate of 127.0.0.1:"), record
    # Which host, and what OpenSSL found wrong with its certificate, in words.
    assert record["error"].endswith("not accepted: unable to get local issuer certificate"), record
    assert https_site.hits == []


@pytest.mark.parametrize("how", ["--ca-bundle", "SSL_CERT_FILE"])
def test_the_private_ca_is_trusted_when_named(https_site: HttpsSite, how: str) -> None:
    if how == "--ca-bundle":
        status, records, stderr = _crawl(https_site, "--ca-bundle", https_site.ca_file)
    else:
        status, records, stderr = _crawl(https_site, env={"SSL_CERT_FILE": str(https_site.ca_file)})
    assert status == 0, stderr
    assert_clean_stderr(stderr)
    assert {r["title"] for r in records} == {"Secure", "B"}
    assert all(r["ok"] for r in records), records
    assert "/robots.txt" in https_site.hits  # robots.txt checked against the same CA


def test_insecure_fetches_with_one_warning(https_site: HttpsSite) -> None:
    status, records, stderr = _crawl(https_site, "--insecure", "-q")
    assert status == 0, stderr
    assert {r["title"] for r in records} == {"Secure", "B"}
    # One line, even with -q; none of urllib3's per-request InsecureRequestWarning.
    assert stderr.splitlines() == [INSECURE_WARNING]
    assert_clean_stderr(stderr)


def test_missing_ca_bundle_is_exit_2(tmp_path: Path) -> None:
    assert_usage_error(run_cli("https://127.0.0.1:9/", "--ca-bundle", tmp_path / "missing.pem"), "missing.pem")


def test_a_host_name_is_checked_against_the_certificate(https_site: HttpsSite) -> None:
    # The socket goes to the address the policy checked (crawler.worker.addresses);
    # the certificate is still checked against the name.
    by_name = https_site.base.replace("127.0.0.1", "localhost")
    result = run_cli(f"{by_name}/b", "-w", 1, "--ca-bundle", https_site.ca_file, env=NO_CA_ENV)
    assert result.returncode == 0, result.stderr
    [record] = parse_jsonl(result.stdout)
    assert (record["status"], record["title"]) == (200, "B")
