"""Netscape cookies.txt reading (crawler.store.cookiefile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.store.cookiefile import CookieFileError, parse_cookie_line, read_cookie_file


def test_fields_as_a_jar_reads_them() -> None:
    wide = parse_cookie_line("example.com\tTRUE\t/docs\tTRUE\t2000000000\tn\tv", "f:1")
    assert wide is not None
    assert (wide.domain, wide.path, wide.secure, wide.expires) == (".example.com", "/docs", True, 2000000000)
    assert (wide.domain_specified, wide.domain_initial_dot, wide.discard) == (True, True, False)
    host = parse_cookie_line("#HttpOnly_.Shop.example.com\tFALSE\t/\tFALSE\t0\tcart\t42", "f:2")
    assert host is not None
    assert (host.domain, host.expires, host.discard, host.domain_specified) == ("shop.example.com", None, True, False)


@pytest.mark.parametrize("line", ["", "   ", "# Netscape HTTP Cookie File", "  # a comment"])
def test_blank_and_comment_lines_are_skipped(line: str) -> None:
    assert parse_cookie_line(line, "f:1") is None


@pytest.mark.parametrize(("line", "fragment"), [
    ("example.com TRUE / FALSE 0 n v", "7 tab-separated fields"),
    ("example.com\tYES\t/\tFALSE\t0\tn\tv", "subdomains field must be TRUE or FALSE"),
    ("example.com\tTRUE\t/\tno\t0\tn\tv", "secure field"),
    ("example.com\tTRUE\t/\tFALSE\tsoon\tn\tv", "expiry must be a Unix time"),
    ("\tTRUE\t/\tFALSE\t0\tn\tv", "no usable domain"),
    ("example.com\tTRUE\t/\tFALSE\t0\t\t", "needs a name"),
])
def test_malformed_lines_name_the_line(line: str, fragment: str) -> None:
    with pytest.raises(CookieFileError, match=fragment) as caught:
        parse_cookie_line(line, "cookies.txt:7")
    assert str(caught.value).startswith("cookies.txt:7: ")


def test_expired_cookies_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("a.test\tFALSE\t/\tFALSE\t100\told\t1\r\na.test\tFALSE\t/\tFALSE\t300\tnew\t2\r\n")
    assert [c.name for c in read_cookie_file(str(path), now=200)] == ["new"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CookieFileError, match="cannot read cookies file"):
        read_cookie_file(str(tmp_path / "missing.txt"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CookieFileError, match="not a UTF-8"):
        read_cookie_file(str(tmp_path / "bin.txt"))
