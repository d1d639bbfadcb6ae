"""Titles come out right whatever the page's encoding, through the real CLI and pool."""

from __future__ import annotations

import http.server
from collections.abc import Iterator

import pytest

from tests.conftest import parse_jsonl, run_cli, serving

JAPANESE = "日本語のページ"
CHINESE = "中文页面"
FRENCH = "Café — « déjà vu » ™"

#: path → (body, Content-Type header, expected title)
PAGES: dict[str, tuple[bytes, str, str]] = {
    "/sjis-meta": (f'<meta charset="shift_jis"><title>{JAPANESE}</title>'.encode("shift_jis"),
                   "text/html", JAPANESE),
    "/sjis-header": (f"<title>{JAPANESE}</title>".encode("shift_jis"), "text/html; charset=Shift_JIS", JAPANESE),
    "/gbk-meta": (f'<meta http-equiv="Content-Type" content="text/html; charset=gbk"><title>{CHINESE}</title>'
                  .encode("gbk"), "text/html", CHINESE),
    "/cp1252-meta-only": (f'<meta charset="windows-1252"><title>{FRENCH}</title>'.encode("cp1252"),
                          "text/html", FRENCH),
    "/utf8-bom": (b"\xef\xbb\xbf" + f"<title>{FRENCH}</title>".encode(), "text/html", FRENCH),
    # The header lies: a BOM, then a <meta>, win over it (as browsers decide).
    "/bom-vs-header": (b"\xef\xbb\xbf" + f"<title>{JAPANESE}</title>".encode(), "text/html; charset=iso-8859-1",
                       JAPANESE),
    "/meta-vs-header": (f'<meta charset="gbk"><title>{CHINESE}</title>'.encode("gbk"),
                        "text/html; charset=utf-8", CHINESE),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body, content_type, _ = PAGES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_titles_decode_in_every_encoding(base: str) -> None:
    result = run_cli(*(base + path for path in PAGES), "--no-robots", "-w", "2", timeout=60)
    assert result.returncode == 0, result.stderr
    titles = {r["url"][len(base):]: r["title"] for r in parse_jsonl(result.stdout)}
    assert titles == {path: title for path, (_, _, title) in PAGES.items()}
