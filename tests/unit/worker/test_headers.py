"""crawler.worker.headers: the fast header parser gives exactly the stock http.client message."""

from __future__ import annotations

import email.parser
import http.client
import io
import random

import pytest

from crawler import _internals
from crawler.worker.headers import parse_block, parse_headers


def stock(raw: bytes) -> http.client.HTTPMessage:
    lines = []
    fp = io.BytesIO(raw)
    while True:
        line = fp.readline(65537)
        lines.append(line)
        if line in (b"\r\n", b"\n", b""):
            break
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))


def same(a: http.client.HTTPMessage, b: http.client.HTTPMessage) -> None:
    assert type(a) is type(b)
    assert a.items() == b.items()
    assert a.keys() == b.keys()
    assert [type(d) for d in a.defects] == [type(d) for d in b.defects]
    assert a.is_multipart() == b.is_multipart()
    payloads = [m.get_payload() for m in (a, b)]
    if isinstance(payloads[0], list):  # message/rfc822: the parts, parsed
        payloads = [[part.items() for part in payload] for payload in payloads]
    assert payloads[0] == payloads[1]
    assert a.get_content_type() == b.get_content_type()
    assert a.get_all("set-cookie") == b.get_all("set-cookie")
    assert a.get("content-length") == b.get("content-length")


CASES = [
    b"Content-Type: text/html\r\nContent-Length: 10\r\n\r\n",
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nServer: nginx\r\n\r\nbody bytes stay unread",
    b"X-Folded: first\r\n second\r\n\tthird\r\nNext: 1\r\n\r\n",
    b"Empty:\r\nSpaces:    padded   \r\nNoSpace:x\r\n\r\n",
    b"Title: caf\xe9 \xff\r\n\r\n",
    b"Bare: lf\nEndings: mixed\r\n\n",
    b"Lone: a\rb\r\n\r\n",
    b" Starts: folded\r\nA: 1\r\n\r\n",
    b"A: 1\r\nno colon here\r\nB: 2\r\n\r\n",
    b": no name\r\nA: 1\r\n\r\n",
    b"From nobody\r\nA: 1\r\n\r\n",
    b"Bad Name: space\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
    b"Content-Type:  Message/rfc822\r\n\r\n",
    b"A: 1\r\nB: cut at EOF",
    b"A: 1\r\nB: 2\r\n",
    b"\r\n",
    b"",
    b"Weird_Name.with~chars!: v\r\n\r\n",
    b"A: trailing tab\t\r\n\r\n",
]


@pytest.mark.parametrize("raw", CASES)
def test_same_message_as_the_stock_parser(raw: bytes) -> None:
    same(parse_headers(io.BytesIO(raw)), stock(raw))


def test_plain_blocks_take_the_fast_path() -> None:
    assert parse_block("A: 1\r\nB: 2\r\n x\r\n\r\n") is not None
    assert parse_block("A: 1\r\nno colon\r\n\r\n") is None  # the stock parser's business


def test_the_body_after_the_blank_line_is_left_unread() -> None:
    fp = io.BytesIO(b"A: 1\r\n\r\nrest")
    parse_headers(fp)
    assert fp.read() == b"rest"


def test_limits_are_http_clients() -> None:
    with pytest.raises(http.client.LineTooLong):
        parse_headers(io.BytesIO(b"A: " + b"x" * 70000 + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        parse_headers(io.BytesIO(b"A: 1\r\n" * 101 + b"\r\n"))


def test_random_blocks_parse_as_the_stock_parser_does() -> None:
    rng = random.Random(7)
    names = ["Server", "X-A", "set-cookie", "Content-Type", "content-type", "Etag", "From", "Bad Name", "", "A_b~"]
    values = ["", " ", "\t", "v", "é", "\r", ":", "text/html", "multipart/x", "message/y", "a=b; c", "\x85",
              "\x0c", "\xff", "  padded  "]
    fast = 0
    for _ in range(4000):
        lines = []
        for _ in range(rng.randint(0, 8)):
            value = "".join(rng.choice(values) for _ in range(rng.randint(0, 4)))
            kind = rng.random()
            if kind < 0.75:
                line = f"{rng.choice(names)}:{value}"
            elif kind < 0.9:
                line = rng.choice(" \t") + value  # a folded line
            else:
                line = value + rng.choice(names)  # junk
            lines.append(line + rng.choice(["\r\n", "\r\n", "\n"]))
        raw = "".join(lines).encode("iso-8859-1") + rng.choice([b"\r\n", b"\r\n", b"\n", b""])
        fast += parse_block(raw.decode("iso-8859-1")) is not None
        same(parse_headers(io.BytesIO(raw)), stock(raw))
    assert 1000 < fast < 3000  # both paths were tried, many times each


@pytest.mark.skipif(_internals.STOCK, reason="CRAWLER_STOCK: http.client keeps its own parser")
def test_http_client_parses_responses_with_it_once_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.worker import headers

    monkeypatch.setattr(http.client, "parse_headers", http.client.parse_headers)  # undone after the test
    headers.install()
    assert http.client.parse_headers is parse_headers

    class Sock:
        def makefile(self, mode: str) -> io.BytesIO:
            return io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Folded: a\r\n b\r\n\r\nok")

    response = http.client.HTTPResponse(Sock())  # type: ignore[arg-type]
    response.begin()
    assert response.status == 200
    assert response.getheader("X-Folded") == "a\r\n b"
    assert response.read() == b"ok"
