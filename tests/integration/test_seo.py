"""--seo through the real CLI, in the three modes: fields, their order (CSV too) and redirect chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import RECORD_FIELDS, read_csv, run_cli
from tests.pagesite import Canned, PageSite

pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)

SEO = ("canonical", "meta_description", "h1", "lang", "hreflang", "og_title", "og_image", "word_count",
       "content_hash", "redirects")
PAGE = """<html lang="fr"><head><title>Accueil</title><link rel="canonical" href="/home">
<link rel="alternate" hreflang="en" href="/en/"><meta name="description" content="=A page">
<meta property="og:title" content="OG"><meta property="og:image" content="/i.png"></head>
<body><h1>Bonjour</h1><p>un deux trois</p><a href="/r1">chain</a><a href="/gone">gone</a></body></html>"""


@pytest.fixture(scope="module")
def seo_site():
    pages: dict[str, str | Canned] = {
        "/": PAGE,
        "/r1": Canned(301, "", {"Location": "/r2"}),
        "/r2": Canned(302, "", {"Location": "/end"}),
        "/end": "<title>End</title><p>the end</p>",
        "/robots.txt": Canned(404, ""),
    }
    with PageSite(pages) as site:
        yield site


def _crawl(site: PageSite, out: Path, *extra: str) -> list[dict[str, str]]:
    result = run_cli(site.url("/"), "-d", "1", "-w", "1", "--seo", "--select", "para=p", "-o", out, "-q",
                     *extra, timeout=60)
    assert result.returncode == 0, result.stderr
    header, rows = read_csv(out)
    mode = ["change"] if "--state" in extra else ["node"] if "--redis" in extra else []
    assert header == [*RECORD_FIELDS, *mode, *SEO, "para"]
    return rows


def _check(site: PageSite, rows: list[dict[str, str]]) -> None:
    by_url = {row["url"]: row for row in rows}
    home = by_url[site.url("/")]
    assert home["canonical"] == site.url("/home")
    assert home["meta_description"] == "'=A page"  # neutralised like any CSV cell
    assert (home["h1"], home["lang"], home["og_title"]) == ("Bonjour", "fr", "OG")
    assert home["hreflang"] == f"en={site.url('/en/')}"
    assert home["og_image"] == site.url("/i.png")
    assert home["word_count"] == "6"  # Bonjour un deux trois chain gone: the title is not visible text
    assert len(home["content_hash"]) == 16
    assert home["redirects"] == ""
    chain = by_url[site.url("/r1")]
    assert chain["final_url"] == site.url("/end")
    assert chain["redirects"] == f"301 {site.url('/r1')}|302 {site.url('/r2')}"
    gone = by_url[site.url("/gone")]
    assert gone["status"] == "404"
    assert gone["para"] == "nothing here"


def test_seo_plain_csv(seo_site: PageSite, tmp_path: Path):
    _check(seo_site, _crawl(seo_site, tmp_path / "out.csv"))


def test_seo_jsonl_lists_and_order(seo_site: PageSite, tmp_path: Path):
    out = tmp_path / "out.jsonl"
    result = run_cli(seo_site.url("/r1"), "--seo", "-w", "1", "-o", out, "-q", timeout=60)
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(record)[len(RECORD_FIELDS):] == list(SEO)
    assert record["redirects"] == [f"301 {seo_site.url('/r1')}", f"302 {seo_site.url('/r2')}"]
    assert record["hreflang"] == []


def test_seo_without_the_option_adds_nothing(seo_site: PageSite, tmp_path: Path):
    out = tmp_path / "out.jsonl"
    result = run_cli(seo_site.url("/"), "-w", "1", "-o", out, "-q", timeout=60)
    assert result.returncode == 0, result.stderr
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(record) == list(RECORD_FIELDS)


def test_seo_with_state(seo_site: PageSite, tmp_path: Path):
    _check(seo_site, _crawl(seo_site, tmp_path / "out.csv", "--state", str(tmp_path / "s.db")))


def test_seo_with_redis(seo_site: PageSite, tmp_path: Path, redis_url: str):
    _check(seo_site, _crawl(seo_site, tmp_path / "out.csv", "--redis", redis_url))


def test_selector_named_like_a_seo_field_is_a_usage_error(seo_site: PageSite, tmp_path: Path):
    result = run_cli(seo_site.url("/"), "--seo", "--select", "h1=h1", "-o", tmp_path / "o.csv", timeout=30)
    assert result.returncode == 2
    assert "'h1' is also a --seo field" in result.stderr
    assert "Traceback" not in result.stderr
