"""crawler.worker.fetch: one GET with redirects, limits, errors and Retry-After, against a scripted
server on loopback (tests/scripted.py), so that what is pinned is what goes over the wire."""

from __future__ import annotations

import email.utils
import gzip
import os
import re
from datetime import datetime, timedelta, timezone

import pytest

from crawler import _internals
from crawler.config import CrawlConfig
from crawler.worker import fetch as fetch_module
from crawler.worker.fetch import Fetched, borrow_session, fetch, make_session, parse_retry_after, return_session
from tests.scripted import FakeResolver, refused_url

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HTML = b"<html><head><title>Hi</title></head><body><a href='/a'>a</a></body></html>"


def get(url: str, **options) -> Fetched:
    config = CrawlConfig(**options)
    return fetch(url, config, session=make_session(config))


# -- success ------------------------------------------------------------------------


def test_200_html(srv):
    srv.add(srv.url("/page"), body=HTML, status=200, headers={"Content-Type": "text/html; charset=utf-8"})
    f = get(srv.url("/page"))
    assert f.url == srv.url("/page")
    assert f.final_url == srv.url("/page")
    assert f.status == 200
    assert f.content_type == "text/html"
    assert f.charset == "utf-8"
    assert f.body == HTML
    assert f.truncated is False
    assert f.error is None
    assert f.retryable is False
    assert f.retry_after is None
    assert isinstance(f.elapsed_ms, float)
    assert f.elapsed_ms >= 0
    assert ISO_UTC.match(f.fetched_at), f.fetched_at
    # parseable and close to now
    when = datetime.fromisoformat(f.fetched_at.replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 60


def test_content_type_is_lower_cased_and_quoted_charset_unquoted(srv):
    srv.add(srv.url("/"), body=b"x", headers={"Content-Type": 'Text/HTML ; Charset="ISO-8859-1"'})
    f = get(srv.url("/"))
    assert f.content_type == "text/html"
    assert f.charset == "ISO-8859-1"


def test_no_charset_parameter(srv):
    srv.add(srv.url("/"), body=b"{}", headers={"Content-Type": "application/json"})
    f = get(srv.url("/"))
    assert f.content_type == "application/json"
    assert f.charset is None


def test_identity_headers_sent(srv):
    srv.add(srv.url("/"), body=b"x")
    get(srv.url("/"), user_agent="TestBot/1.0", headers=[("X-Token", "abc")])
    sent = srv.calls[0].headers
    assert sent["User-Agent"] == "TestBot/1.0"
    assert sent["X-Token"] == "abc"


def test_default_user_agent(srv):
    srv.add(srv.url("/"), body=b"x")
    get(srv.url("/"))
    assert srv.calls[0].headers["User-Agent"].startswith("crawler/")


# -- redirects ------------------------------------------------------------------------


def test_redirect_followed(srv):
    srv.add(srv.url("/old"), status=301, headers={"Location": srv.url("/new")})
    srv.add(srv.url("/new"), body=HTML, headers={"Content-Type": "text/html"})
    f = get(srv.url("/old"))
    assert f.url == srv.url("/old")
    assert f.final_url == srv.url("/new")
    assert f.status == 200
    assert f.body == HTML
    assert f.error is None


def test_relative_redirect_followed(srv):
    srv.add(srv.url("/old"), status=302, headers={"Location": "/elsewhere"})
    srv.add(srv.url("/elsewhere"), body=b"ok")
    f = get(srv.url("/old"))
    assert f.final_url == srv.url("/elsewhere")
    assert f.status == 200


def test_too_many_redirects(srv):
    for i in range(5):
        srv.add(srv.url(f"/r{i}"), status=301, headers={"Location": srv.url(f"/r{i + 1}")})
    srv.add(srv.url("/r5"), body=b"end")
    f = get(srv.url("/r0"), max_redirects=2)
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.retryable is False
    assert f.body == b""


def test_redirect_limit_is_inclusive(srv):
    # exactly max_redirects hops is allowed
    for i in range(2):
        srv.add(srv.url(f"/r{i}"), status=301, headers={"Location": srv.url(f"/r{i + 1}")})
    srv.add(srv.url("/r2"), body=b"end")
    f = get(srv.url("/r0"), max_redirects=2)
    assert f.error is None
    assert f.final_url == srv.url("/r2")
    assert f.body == b"end"


def test_redirect_loop(srv):
    srv.add(srv.url("/x"), status=302, headers={"Location": srv.url("/y")})
    srv.add(srv.url("/y"), status=302, headers={"Location": srv.url("/x")})
    f = get(srv.url("/x"), max_redirects=3)
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.status is None


@pytest.mark.parametrize("target", ["ftp://a.test/f", "javascript:alert(1)", "file:///etc/passwd", "mailto:x@a.test"])
def test_redirect_to_other_scheme_refused(srv, target):
    srv.add(srv.url("/go"), status=302, headers={"Location": target})
    f = get(srv.url("/go"))
    assert f.error is not None
    assert f.error.startswith("redirects: refused redirect to"), f.error
    assert f.retryable is False
    assert f.final_url == srv.url("/go")
    assert len(srv.calls) == 1


def test_redirect_loop_is_caught_at_first_repeat(srv):
    srv.add(srv.url("/x"), status=302, headers={"Location": "/y"})
    srv.add(srv.url("/y"), status=302, headers={"Location": "/x"})
    f = get(srv.url("/x"))  # max_redirects 10: a loop must not take 10 hops to notice
    assert f.error is not None
    assert f.error.startswith("redirects: redirect loop"), f.error
    assert len(srv.calls) == 2


def test_redirect_to_itself_after_setting_a_cookie_is_no_loop(srv):
    # The cookie-check pattern: /page sets a cookie and redirects to itself.
    srv.add(srv.url("/page"), status=302, headers={"Location": "/page", "Set-Cookie": "seen=1; Path=/"})
    srv.add(srv.url("/page"), body=b"in", headers={"Content-Type": "text/html"})
    f = get(srv.url("/page"))
    assert f.error is None, f.error
    assert f.body == b"in"
    assert srv.calls[1].headers["Cookie"] == "seen=1"


def test_authorization_is_not_sent_to_another_host(srv):
    srv.add(srv.url("/"), status=302, headers={"Location": srv.other + "/"})
    srv.add(srv.other + "/", body=b"b")
    f = get(srv.url("/"), headers=[("Authorization", "Bearer secret")])
    assert f.error is None
    assert f.final_url == srv.other + "/"
    assert srv.calls[0].headers["Authorization"] == "Bearer secret"
    assert "Authorization" not in srv.calls[1].headers
    assert srv.calls[1].url == srv.other + "/"


def test_redirect_error_names_the_last_url_reached(srv):
    srv.add(srv.url("/1"), status=301, headers={"Location": "/2"})
    srv.add(srv.url("/2"), status=302, headers={"Location": "ftp://a.test/"})
    f = get(srv.url("/1"))
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.final_url == srv.url("/2")


# -- HTTP errors ------------------------------------------------------------------------


def test_404_is_an_error_not_retryable(srv):
    srv.add(srv.url("/missing"), status=404, body=b"not here", headers={"Content-Type": "text/html"})
    f = get(srv.url("/missing"))
    assert f.status == 404
    assert f.error is not None
    assert re.match(r"^http: 404\b", f.error), f.error
    assert f.error == "http: 404 Not Found"
    assert f.retryable is False
    assert f.retry_after is None
    assert f.body == b"not here"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retryable(srv, status):
    srv.add(srv.url("/"), status=status)
    f = get(srv.url("/"))
    assert f.status == status
    assert f.error is not None
    assert f.error.startswith(f"http: {status}")
    assert f.retryable is True
    assert f.retry_after is None  # no header: the caller's backoff decides


@pytest.mark.parametrize("status", [400, 401, 403, 410, 501])
def test_other_errors_not_retryable(srv, status):
    srv.add(srv.url("/"), status=status)
    f = get(srv.url("/"))
    assert f.status == status
    assert f.error is not None
    assert f.error.startswith(f"http: {status}")
    assert f.retryable is False


def test_429_with_retry_after_seconds(srv):
    srv.add(srv.url("/"), status=429, headers={"Retry-After": "7"})
    f = get(srv.url("/"))
    assert f.status == 429
    assert f.error is not None
    assert f.error.startswith("http: 429")
    assert f.retryable is True
    assert f.retry_after == 7.0


def test_503_with_retry_after_http_date(srv):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    srv.add(srv.url("/"), status=503, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    f = get(srv.url("/"))
    assert f.status == 503
    assert f.retryable is True
    assert f.retry_after is not None
    assert 25.0 <= f.retry_after <= 30.5


# -- transport errors -----------------------------------------------------------------------


def test_connection_error(srv):
    srv.add(srv.url("/"), action="reset")  # the request read, then the connection reset
    f = get(srv.url("/"))
    assert f.status is None
    assert f.error is not None
    assert f.error == f"connection: connection reset by 127.0.0.1:{srv.port}"
    assert f.retryable is True
    assert f.final_url == srv.url("/")
    assert f.body == b""
    assert ISO_UTC.match(f.fetched_at)


def test_connection_refused_kind():
    url = refused_url("/")
    f = get(url)
    assert f.status is None
    assert f.error is not None
    assert f.error.startswith("refused:"), f.error
    assert f.error == f"refused: connection refused by {url.split('/')[2]}"
    assert f.retryable is True


def test_dns_error_kind(monkeypatch):
    resolver = FakeResolver().install(monkeypatch)
    f = get("http://a.test/")
    assert f.status is None
    assert f.error is not None
    assert f.error == "dns: cannot resolve host a.test"
    assert resolver.asked == ["a.test"]
    assert resolver.connects == []  # no connection attempted


def test_timeout(srv):
    srv.add(srv.url("/"), action="silent")  # the request read, never answered
    f = get(srv.url("/"), timeout=0.3)
    assert f.status is None
    assert f.error is not None
    assert f.error == f"timeout: no complete response from 127.0.0.1:{srv.port} within 0.3 s"
    assert f.retryable is True


def test_error_text_is_short(monkeypatch):
    resolver = FakeResolver().install(monkeypatch)
    host = ".".join(["x" * 60] * 4)  # a 243-character name that does not resolve
    f = get(f"http://{host}/")
    assert f.error is not None
    assert f.error.startswith("dns: cannot resolve host xxx")
    assert len(f.error) == 200  # cut
    assert resolver.connects == []


# -- body size ------------------------------------------------------------------------------


def test_body_larger_than_max_bytes_is_cut(srv):
    body = bytes(range(256)) * 40  # 10240 bytes
    srv.add(srv.url("/big"), body=body, headers={"Content-Type": "application/octet-stream"})
    f = get(srv.url("/big"), max_bytes=1000)
    assert f.truncated is True
    assert len(f.body) == 1000
    assert f.body == body[:1000]
    assert f.status == 200
    assert f.error is None


def test_body_larger_than_one_chunk_is_cut_exactly(srv):
    body = b"z" * (200 * 1024)
    srv.add(srv.url("/big"), body=body)
    f = get(srv.url("/big"), max_bytes=100_000)
    assert f.truncated is True
    assert f.body == body[:100_000]


def test_body_exactly_max_bytes_is_not_truncated(srv):
    srv.add(srv.url("/"), body=b"a" * 1000)
    f = get(srv.url("/"), max_bytes=1000)
    assert f.truncated is False
    assert len(f.body) == 1000


def test_max_bytes_argument_overrides_config(srv):
    srv.add(srv.url("/"), body=b"a" * 1000)
    config = CrawlConfig()
    f = fetch(srv.url("/"), config, session=make_session(config), max_bytes=10)
    assert f.truncated is True
    assert f.body == b"a" * 10


def test_gzip_body_is_decompressed(srv):
    data = b"<html><title>zip</title></html>" + b" " * 5000
    srv.add(srv.url("/"), body=gzip.compress(data), headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    f = get(srv.url("/"))
    assert f.body == data
    assert f.truncated is False
    assert "gzip" in srv.calls[0].headers["Accept-Encoding"]


def test_gzip_body_counted_decompressed(srv):
    data = b"a" * 200_000
    compressed = gzip.compress(data)
    assert len(compressed) < 1000  # the wire size is far below the limit
    srv.add(srv.url("/"), body=compressed, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    f = get(srv.url("/"), max_bytes=5000)
    assert f.truncated is True
    assert f.body == data[:5000]


# -- sessions --------------------------------------------------------------------------------


def test_make_session_settings():
    config = CrawlConfig(user_agent="UA/2", headers=[("Accept-Language", "fr")], max_redirects=3)
    session = make_session(config)
    assert session.headers["User-Agent"] == "UA/2"
    assert session.headers["Accept-Language"] == "fr"
    assert session.max_redirects == 3
    session.close()


def test_sessions_are_lent_one_fetch_at_a_time_warmest_first(monkeypatch):
    monkeypatch.setattr(fetch_module, "_idle_sessions", [])  # leave no Session behind
    config = CrawlConfig()
    first = borrow_session(config)
    second = borrow_session(config)  # the first is in use: a new one
    assert second is not first
    return_session(first)
    return_session(second)
    assert borrow_session(config) is second  # the last given back: its connections are warm
    assert borrow_session(config) is first
    assert len(fetch_module._idle_sessions) == 0


def test_fetch_gives_its_session_back_even_when_it_fails(monkeypatch, srv):
    monkeypatch.setattr(fetch_module, "_idle_sessions", [])
    srv.add(srv.url("/ok"), body="ok")
    config = CrawlConfig(retries=0)
    assert fetch(refused_url("/"), config).error
    assert fetch(srv.url("/ok"), config).status == 200
    assert len(fetch_module._idle_sessions) == 1  # one Session served both, one after the other


# -- parse_retry_after -------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (None, None),
    ("", None),
    ("7", 7.0),
    (" 120 ", 120.0),
    ("0", 0.0),
    ("soon", None),
    ("-5", None),
])
def test_parse_retry_after_simple(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_future_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=60)
    seconds = parse_retry_after(email.utils.format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 55.0 <= seconds <= 60.5


def test_parse_retry_after_past_date_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_parse_retry_after_date_without_zone_is_utc():
    when = datetime.now(timezone.utc) + timedelta(seconds=60)
    text = when.strftime("%a, %d %b %Y %H:%M:%S -0000")  # RFC 2822's "unknown zone"
    seconds = parse_retry_after(text)
    assert seconds is not None
    assert 55.0 <= seconds <= 60.5


def test_the_short_send_path_sends_what_session_get_sends(srv):
    srv.add(srv.url("/p"), body=HTML, headers={"Content-Type": "text/html"})
    session = make_session(CrawlConfig(headers=(("X-Extra", "1"), ("Accept-Language", "fr"))))
    session.cookies.set("sid", "abc", domain="127.0.0.1", path="/")
    session.cookies.set("other", "x", domain="127.0.0.2", path="/")
    session.trust_env = False
    asked = {"If-None-Match": '"v1"', "Accept-Language": None}  # None drops a session header
    _internals.send_get(session, srv.url("/p"), 5, asked).close()
    session.get(srv.url("/p"), stream=True, timeout=5, allow_redirects=False, headers=asked).close()
    short, full = srv.calls
    assert short.fields == full.fields  # the same header fields, in the same order
    assert short.headers["Cookie"] == "sid=abc"
    assert short.headers["If-None-Match"] == '"v1"'
    assert "Accept-Language" not in short.headers
    assert (short.url, short.method, short.path) == (full.url, full.method, full.path)


@pytest.mark.parametrize(("environ", "matters", "verify"), [
    ({}, False, True),
    ({"no_proxy": "*", "NO_PROXY": "*"}, False, True),  # exempts hosts from a proxy there is not
    ({"http_proxy": ""}, False, True),
    ({"HTTPS_PROXY": "http://proxy:3128"}, True, True),
    ({"all_proxy": "socks5://p:1080", "no_proxy": "*"}, True, True),
    ({"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem", "CURL_CA_BUNDLE": "/x.pem"}, False, "/etc/ssl/corp.pem"),
    ({"CURL_CA_BUNDLE": "/etc/ssl/corp.pem"}, False, "/etc/ssl/corp.pem"),
    ({"NETRC": "/tmp/netrc"}, True, True),
])
def test_requests_reads_the_environment_only_when_it_holds_something(monkeypatch, tmp_path, environ, matters,
                                                                    verify):
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
                                                       "NETRC"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    session = make_session(CrawlConfig())
    assert session.trust_env is matters
    # What requests' own environment path would verify HTTPS against.
    assert session.verify == verify
    if not matters:
        session.trust_env = True
        assert session.merge_environment_settings("https://h.test/", {}, None, None, None)["verify"] == verify


# -- issue 16, defect 12: every not-ok response names its error ----------------------------------


def test_304_to_an_unconditional_request_names_its_error(srv):
    srv.add(srv.url("/"), status=304)
    f = get(srv.url("/"))
    assert f.status == 304
    assert f.error == "http: 304 Not Modified to a request that was not conditional"


def test_304_to_a_conditional_request_is_no_error(srv):
    srv.add(srv.url("/"), status=304)
    f = fetch(srv.url("/"), CrawlConfig(), validators=('"v1"', None))
    assert srv.calls[0].headers["If-None-Match"] == '"v1"'
    assert "If-Modified-Since" not in srv.calls[0].headers
    assert f.status == 304
    assert f.error is None


@pytest.mark.parametrize(("status", "headers", "error"), [
    (302, {}, "redirects: 302 without Location"),
    (300, {"Location": "/x"}, "redirects: 300 Multiple Choices not followed"),
    (305, {}, "redirects: 305 without Location"),
])
def test_redirect_status_not_followed_names_its_error(srv, status, headers, error):
    srv.add(srv.url("/"), status=status, headers=headers)
    assert get(srv.url("/")).error == error
    assert len(srv.calls) == 1
