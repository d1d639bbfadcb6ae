"""crawler.worker.fetch: one GET with redirects, limits, errors and Retry-After, scripted with `responses`."""

from __future__ import annotations

import email.utils
import gzip
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests
import responses

from crawler import _internals
from crawler.config import CrawlConfig
from crawler.worker import fetch as fetch_module
from crawler.worker.fetch import Fetched, borrow_session, fetch, make_session, parse_retry_after, return_session

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HTML = b"<html><head><title>Hi</title></head><body><a href='/a'>a</a></body></html>"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        yield rs


def get(url: str, **options) -> Fetched:
    config = CrawlConfig(**options)
    return fetch(url, config, session=make_session(config))


# -- success ------------------------------------------------------------------------


def test_200_html(mocked):
    mocked.add(responses.GET, "http://a.test/page", body=HTML, status=200,
               headers={"Content-Type": "text/html; charset=utf-8"})
    f = get("http://a.test/page")
    assert f.url == "http://a.test/page"
    assert f.final_url == "http://a.test/page"
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


def test_content_type_is_lower_cased_and_quoted_charset_unquoted(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"x",
               headers={"Content-Type": 'Text/HTML ; Charset="ISO-8859-1"'})
    f = get("http://a.test/")
    assert f.content_type == "text/html"
    assert f.charset == "ISO-8859-1"


def test_no_charset_parameter(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"{}", headers={"Content-Type": "application/json"})
    f = get("http://a.test/")
    assert f.content_type == "application/json"
    assert f.charset is None


def test_identity_headers_sent(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"x")
    get("http://a.test/", user_agent="TestBot/1.0", headers=[("X-Token", "abc")])
    sent = mocked.calls[0].request.headers
    assert sent["User-Agent"] == "TestBot/1.0"
    assert sent["X-Token"] == "abc"


def test_default_user_agent(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"x")
    get("http://a.test/")
    assert mocked.calls[0].request.headers["User-Agent"].startswith("crawler/")


# -- redirects ------------------------------------------------------------------------


def test_redirect_followed(mocked):
    mocked.add(responses.GET, "http://a.test/old", status=301, headers={"Location": "http://a.test/new"})
    mocked.add(responses.GET, "http://a.test/new", body=HTML, headers={"Content-Type": "text/html"})
    f = get("http://a.test/old")
    assert f.url == "http://a.test/old"
    assert f.final_url == "http://a.test/new"
    assert f.status == 200
    assert f.body == HTML
    assert f.error is None


def test_relative_redirect_followed(mocked):
    mocked.add(responses.GET, "http://a.test/old", status=302, headers={"Location": "/elsewhere"})
    mocked.add(responses.GET, "http://a.test/elsewhere", body=b"ok")
    f = get("http://a.test/old")
    assert f.final_url == "http://a.test/elsewhere"
    assert f.status == 200


def test_too_many_redirects(mocked):
    for i in range(5):
        mocked.add(responses.GET, f"http://a.test/r{i}", status=301, headers={"Location": f"http://a.test/r{i + 1}"})
    mocked.add(responses.GET, "http://a.test/r5", body=b"end")
    f = get("http://a.test/r0", max_redirects=2)
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.retryable is False
    assert f.body == b""


def test_redirect_limit_is_inclusive(mocked):
    # exactly max_redirects hops is allowed
    for i in range(2):
        mocked.add(responses.GET, f"http://a.test/r{i}", status=301, headers={"Location": f"http://a.test/r{i + 1}"})
    mocked.add(responses.GET, "http://a.test/r2", body=b"end")
    f = get("http://a.test/r0", max_redirects=2)
    assert f.error is None
    assert f.final_url == "http://a.test/r2"
    assert f.body == b"end"


def test_redirect_loop(mocked):
    mocked.add(responses.GET, "http://a.test/x", status=302, headers={"Location": "http://a.test/y"})
    mocked.add(responses.GET, "http://a.test/y", status=302, headers={"Location": "http://a.test/x"})
    f = get("http://a.test/x", max_redirects=3)
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.status is None


@pytest.mark.parametrize("target", ["ftp://a.test/f", "javascript:alert(1)", "file:///etc/passwd", "mailto:x@a.test"])
def test_redirect_to_other_scheme_refused(mocked, target):
    mocked.add(responses.GET, "http://a.test/go", status=302, headers={"Location": target})
    f = get("http://a.test/go")
    assert f.error is not None
    assert f.error.startswith("redirects: refused redirect to"), f.error
    assert f.retryable is False
    assert f.final_url == "http://a.test/go"


def test_redirect_loop_is_caught_at_first_repeat(mocked):
    mocked.add(responses.GET, "http://a.test/x", status=302, headers={"Location": "/y"})
    mocked.add(responses.GET, "http://a.test/y", status=302, headers={"Location": "/x"})
    f = get("http://a.test/x")  # max_redirects 10: a loop must not take 10 hops to notice
    assert f.error is not None
    assert f.error.startswith("redirects: redirect loop"), f.error
    assert len(mocked.calls) == 2


def test_redirect_to_itself_after_setting_a_cookie_is_no_loop(mocked):
    # The cookie-check pattern: /page sets a cookie and redirects to itself.
    mocked.add(responses.GET, "http://a.test/page", status=302,
               headers={"Location": "/page", "Set-Cookie": "seen=1; Path=/"})
    mocked.add(responses.GET, "http://a.test/page", body=b"in", headers={"Content-Type": "text/html"})
    f = get("http://a.test/page")
    assert f.error is None, f.error
    assert f.body == b"in"
    assert mocked.calls[1].request.headers["Cookie"] == "seen=1"


def test_authorization_is_not_sent_to_another_host(mocked):
    mocked.add(responses.GET, "http://a.test/", status=302, headers={"Location": "http://b.test/"})
    mocked.add(responses.GET, "http://b.test/", body=b"b")
    f = get("http://a.test/", headers=[("Authorization", "Bearer secret")])
    assert f.error is None
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer secret"
    assert "Authorization" not in mocked.calls[1].request.headers


def test_redirect_error_names_the_last_url_reached(mocked):
    mocked.add(responses.GET, "http://a.test/1", status=301, headers={"Location": "/2"})
    mocked.add(responses.GET, "http://a.test/2", status=302, headers={"Location": "ftp://a.test/"})
    f = get("http://a.test/1")
    assert f.error is not None
    assert f.error.startswith("redirects:")
    assert f.final_url == "http://a.test/2"


# -- HTTP errors ------------------------------------------------------------------------


def test_404_is_an_error_not_retryable(mocked):
    mocked.add(responses.GET, "http://a.test/missing", status=404, body=b"not here",
               headers={"Content-Type": "text/html"})
    f = get("http://a.test/missing")
    assert f.status == 404
    assert f.error is not None
    assert re.match(r"^http: 404\b", f.error), f.error
    assert f.error == "http: 404 Not Found"
    assert f.retryable is False
    assert f.retry_after is None
    assert f.body == b"not here"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retryable(mocked, status):
    mocked.add(responses.GET, "http://a.test/", status=status)
    f = get("http://a.test/")
    assert f.status == status
    assert f.error is not None
    assert f.error.startswith(f"http: {status}")
    assert f.retryable is True
    assert f.retry_after is None  # no header: the caller's backoff decides


@pytest.mark.parametrize("status", [400, 401, 403, 410, 501])
def test_other_errors_not_retryable(mocked, status):
    mocked.add(responses.GET, "http://a.test/", status=status)
    f = get("http://a.test/")
    assert f.status == status
    assert f.error is not None
    assert f.error.startswith(f"http: {status}")
    assert f.retryable is False


def test_429_with_retry_after_seconds(mocked):
    mocked.add(responses.GET, "http://a.test/", status=429, headers={"Retry-After": "7"})
    f = get("http://a.test/")
    assert f.status == 429
    assert f.error is not None
    assert f.error.startswith("http: 429")
    assert f.retryable is True
    assert f.retry_after == 7.0


def test_503_with_retry_after_http_date(mocked):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    mocked.add(responses.GET, "http://a.test/", status=503,
               headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    f = get("http://a.test/")
    assert f.status == 503
    assert f.retryable is True
    assert f.retry_after is not None
    assert 25.0 <= f.retry_after <= 30.5


# -- transport errors -----------------------------------------------------------------------


def test_connection_error(mocked):
    mocked.add(responses.GET, "http://a.test/", body=requests.exceptions.ConnectionError("boom"))
    f = get("http://a.test/")
    assert f.status is None
    assert f.error is not None
    assert f.error.startswith("connection:")
    assert "boom" in f.error
    assert f.retryable is True
    assert f.final_url == "http://a.test/"
    assert f.body == b""
    assert ISO_UTC.match(f.fetched_at)


def test_connection_refused_kind(mocked):
    mocked.add(responses.GET, "http://a.test/",
               body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"))
    f = get("http://a.test/")
    assert f.status is None
    assert f.error is not None
    assert f.error.startswith("refused:")
    assert f.retryable is True


def test_dns_error_kind(mocked):
    mocked.add(responses.GET, "http://a.test/",
               body=requests.exceptions.ConnectionError("NameResolutionError: Name or service not known"))
    f = get("http://a.test/")
    assert f.status is None
    assert f.error is not None
    assert f.error.startswith("dns:")


def test_timeout(mocked):
    mocked.add(responses.GET, "http://a.test/", body=requests.exceptions.ReadTimeout("read timed out"))
    f = get("http://a.test/")
    assert f.status is None
    assert f.error is not None
    assert f.error.startswith("timeout:")
    assert f.retryable is True


def test_error_text_is_short(mocked):
    mocked.add(responses.GET, "http://a.test/", body=requests.exceptions.ConnectionError("x" * 5000))
    f = get("http://a.test/")
    assert f.error is not None
    assert len(f.error) < 300


# -- body size ------------------------------------------------------------------------------


def test_body_larger_than_max_bytes_is_cut(mocked):
    body = bytes(range(256)) * 40  # 10240 bytes
    mocked.add(responses.GET, "http://a.test/big", body=body, headers={"Content-Type": "application/octet-stream"})
    f = get("http://a.test/big", max_bytes=1000)
    assert f.truncated is True
    assert len(f.body) == 1000
    assert f.body == body[:1000]
    assert f.status == 200
    assert f.error is None


def test_body_larger_than_one_chunk_is_cut_exactly(mocked):
    body = b"z" * (200 * 1024)
    mocked.add(responses.GET, "http://a.test/big", body=body)
    f = get("http://a.test/big", max_bytes=100_000)
    assert f.truncated is True
    assert f.body == body[:100_000]


def test_body_exactly_max_bytes_is_not_truncated(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"a" * 1000)
    f = get("http://a.test/", max_bytes=1000)
    assert f.truncated is False
    assert len(f.body) == 1000


def test_max_bytes_argument_overrides_config(mocked):
    mocked.add(responses.GET, "http://a.test/", body=b"a" * 1000)
    config = CrawlConfig()
    f = fetch("http://a.test/", config, session=make_session(config), max_bytes=10)
    assert f.truncated is True
    assert f.body == b"a" * 10


def test_gzip_body_is_decompressed(mocked):
    data = b"<html><title>zip</title></html>" + b" " * 5000
    mocked.add(responses.GET, "http://a.test/", body=gzip.compress(data),
               headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})
    f = get("http://a.test/")
    assert f.body == data
    assert f.truncated is False


def test_gzip_body_counted_decompressed(mocked):
    data = b"a" * 200_000
    compressed = gzip.compress(data)
    assert len(compressed) < 1000  # the wire size is far below the limit
    mocked.add(responses.GET, "http://a.test/", body=compressed,
               headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    f = get("http://a.test/", max_bytes=5000)
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


@responses.activate
def test_fetch_gives_its_session_back_even_when_it_fails(monkeypatch):
    monkeypatch.setattr(fetch_module, "_idle_sessions", [])
    responses.add(responses.GET, "http://a.test/", body=requests.ConnectionError("refused"))
    responses.add(responses.GET, "http://a.test/ok", body="ok")
    config = CrawlConfig(retries=0)
    assert fetch("http://a.test/", config).error
    assert fetch("http://a.test/ok", config).status == 200
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


def test_the_short_send_path_sends_what_session_get_sends(mocked):
    mocked.get("http://h.test/p", body=HTML, content_type="text/html")
    session = make_session(CrawlConfig(headers=(("X-Extra", "1"), ("Accept-Language", "fr"))))
    session.cookies.set("sid", "abc", domain="h.test", path="/")
    session.cookies.set("other", "x", domain="elsewhere.test", path="/")
    session.trust_env = False
    asked = {"If-None-Match": '"v1"', "Accept-Language": None}  # None drops a session header
    _internals.send_get(session, "http://h.test/p", 5, asked).close()
    session.get("http://h.test/p", stream=True, timeout=5, allow_redirects=False, headers=asked).close()
    short, full = (call.request for call in mocked.calls)
    assert dict(short.headers) == dict(full.headers)
    assert short.headers["Cookie"] == "sid=abc"
    assert "Accept-Language" not in short.headers
    assert (short.url, short.method, short.body) == (full.url, full.method, full.body)


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


def test_304_to_an_unconditional_request_names_its_error(mocked):
    mocked.add(responses.GET, "http://a.test/", status=304)
    f = get("http://a.test/")
    assert f.status == 304
    assert f.error == "http: 304 Not Modified to a request that was not conditional"


def test_304_to_a_conditional_request_is_no_error(mocked):
    mocked.add(responses.GET, "http://a.test/", status=304)
    f = fetch("http://a.test/", CrawlConfig(), validators=('"v1"', None))
    assert f.status == 304
    assert f.error is None


@pytest.mark.parametrize(("status", "headers", "error"), [
    (302, {}, "redirects: 302 without Location"),
    (300, {"Location": "/x"}, "redirects: 300 Multiple Choices not followed"),
    (305, {}, "redirects: 305 without Location"),
])
def test_redirect_status_not_followed_names_its_error(mocked, status, headers, error):
    mocked.add(responses.GET, "http://a.test/", status=status, headers=headers)
    assert get("http://a.test/").error == error
