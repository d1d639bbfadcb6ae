"""Titles come out right whatever the page's encoding, through the real CLI and pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import page_handler, parse_jsonl, run_cli, serving

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


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(page_handler({path: (body, ctype) for path, (body, ctype, _) in PAGES.items()})) as url:
        yield url


def test_titles_decode_in_every_encoding(base: str) -> None:
    result = run_cli(*(base + path for path in PAGES), "--no-robots", "-w", "2", timeout=60)
    assert result.returncode == 0, result.stderr
    titles = {r["url"][len(base):]: r["title"] for r in parse_jsonl(result.stdout)}
    assert titles == {path: title for path, (_, _, title) in PAGES.items()}
