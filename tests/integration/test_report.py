"""--report through the real CLI: the facts (JSON), Markdown, JUnit XML, and the HTML in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pagesite import Canned, PageSite

pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)

ARTICLE = " ".join(f"word{i}" for i in range(300))


def _page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def site() -> Iterator[PageSite]:
    pages: dict[str, str | Canned] = {
        "/": _page("Home", '<a href="/twin1">t1</a><a href="/twin2">t2</a><a href="/r1">chain</a>'
                           '<a href="/missing">Broken one</a><a href="/other">other</a>'),
        "/twin1": _page("Same title", f"<p>{ARTICLE}</p>"),
        "/twin2": _page("Same title", f"<p>{ARTICLE} extra</p><a href='/missing'>Broken two</a>"),
        "/other": _page("Other", "<p>" + " ".join(f"other{i}" for i in range(300)) + "</p>"),
        "/r1": Canned(301, "", {"Location": "/r2"}),
        "/r2": Canned(302, "", {"Location": "/r3"}),
        "/r3": Canned(302, "", {"Location": "/end"}),
        "/end": _page("End", "<p>end</p>"),
        "/orphan": _page("Orphan", "<p>nobody links here</p>"),
        "/robots.txt": Canned(404, ""),
    }
    with PageSite(pages) as server:
        server.pages["/sitemap.xml"] = Canned(
            200, '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 f"<url><loc>{server.url('/orphan')}</loc></url><url><loc>{server.url('/other')}</loc></url></urlset>",
            content_type="application/xml")
        yield server


@pytest.fixture(scope="module")
def reports(site: PageSite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    paths = {kind: out / f"report.{kind}" for kind in ("html", "md", "xml", "json")}
    args = [a for path in paths.values() for a in ("--report", path)]
    result = run_cli("check", site.url("/"), "--sitemaps", "-w", "1", "--retries", "0", "-q", "-o", out / "o.jsonl",
                     *args, timeout=90)
    assert result.returncode == 1, result.stderr
    return paths


def test_json_facts(site: PageSite, reports: dict[str, Path]):
    facts = json.loads(reports["json"].read_text())
    summary = facts["summary"]
    assert summary["pages"] == 7  # /, twins, other, r1 (-> end), missing, orphan
    assert summary["broken"] == 1
    assert summary["finished"] is True
    assert {(r["status"], r["pages"]) for r in facts["statuses"]} == {(200, 6), (404, 1)}
    assert [(d["depth"], d["pages"]) for d in facts["depths"]] == [(0, 3), (1, 4)]  # seed + 2 sitemap URLs at 0
    (broken,) = facts["broken"]["targets"]
    assert broken["target"] == site.url("/missing")
    assert [(r["source"], r["text"]) for r in broken["referrers"]] == [
        (site.url("/"), "Broken one"), (site.url("/twin2"), "Broken two")]
    (chain,) = facts["redirects"]["chains"]
    assert chain["url"] == site.url("/r1")
    assert chain["final_url"] == site.url("/end")
    assert len(chain["hops"]) == 3
    (title,) = facts["duplicate_titles"]["titles"]
    assert (title["title"], title["pages"]) == ("Same title", 2)
    assert [(n["a"], n["b"]) for n in facts["near_duplicates"]] == [(site.url("/twin1"), site.url("/twin2"))]
    assert facts["orphans"]["urls"] == [site.url("/orphan")]
    assert sum(b["pages"] for b in facts["response_times"]) == 7


def test_markdown(site: PageSite, reports: dict[str, Path]):
    text = reports["md"].read_text()
    assert "## Broken links (1)" in text
    assert f"`{site.url('/missing')}`" in text
    assert "Broken two" in text
    assert "| Same title | 2 |" in text


def test_junit_xml(site: PageSite, reports: dict[str, Path]):
    root = ET.parse(reports["xml"]).getroot()
    assert root.tag == "testsuites"
    (suite,) = root
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "")) == len(cases) > 0
    failed = [case for case in cases if case.find("failure") is not None]
    assert int(suite.get("failures", "")) == len(failed) == 1
    assert failed[0].get("name") == site.url("/missing")
    detail = failed[0].find("failure").text or ""  # type: ignore[union-attr]
    assert site.url("/twin2") in detail


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    return path


def test_html_is_self_contained(reports: dict[str, Path]):
    text = reports["html"].read_text()
    assert "<script" not in text
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<link""", text)


def test_html_renders_in_a_real_browser(site: PageSite, reports: dict[str, Path], tmp_path: Path):
    browser = _chromium()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp_path / 'profile'}"]
    try:
        dom = subprocess.run([*flags, "--dump-dom", reports["html"].as_uri()], capture_output=True, text=True,
                             timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("chromium did not answer within 60 s")
    if dom.returncode != 0 or "<html" not in dom.stdout:
        pytest.skip(f"chromium cannot run here: {dom.stderr.strip()[-300:]}")
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    words = " ".join(text.split())
    assert "7 pages" in words
    assert "1 broken links" in words
    assert site.url("/missing") in words
    assert "Broken two" in words
    assert "Status codes" in words
    assert "Same title" in words
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", reports["html"].as_uri()],
                   capture_output=True, timeout=60, check=False)
    assert shot.exists()
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_a_plain_crawl(site: PageSite, tmp_path: Path):
    report = tmp_path / "r.json"
    result = run_cli(site.url("/"), "-d", "1", "-w", "1", "-q", "-o", tmp_path / "o.csv", "--report", report,
                     timeout=60)
    assert result.returncode == 0, result.stderr
    facts = json.loads(report.read_text())
    assert "broken" not in facts
    assert facts["summary"]["pages"] == 6


def test_report_of_a_resumed_state_crawl_covers_the_whole_crawl(site: PageSite, tmp_path: Path):
    state, report = tmp_path / "s.db", tmp_path / "r.json"
    first = run_cli(site.url("/"), "-d", "1", "--max-pages", "2", "-w", "1", "-q", "--state", state,
                    "-o", tmp_path / "o.jsonl", "--report", report, timeout=60)
    assert first.returncode == 0, first.stderr
    assert json.loads(report.read_text())["summary"]["pages"] == 2
    second = run_cli(site.url("/"), "-d", "1", "-w", "1", "-q", "--state", state, "-o", tmp_path / "o.jsonl",
                     "--report", report, timeout=60)
    assert second.returncode == 0, second.stderr
    assert json.loads(report.read_text())["summary"]["pages"] == 6


def test_bad_report_extension(site: PageSite, tmp_path: Path):
    result = run_cli(site.url("/"), "--report", tmp_path / "r.pdf", timeout=30)
    assert result.returncode == 2
    assert "report format" in result.stderr


def test_report_over_the_output_is_a_usage_error(site: PageSite, tmp_path: Path):
    out = tmp_path / "o.json"
    result = run_cli(site.url("/"), "-o", out, "--report", out, timeout=30)
    assert result.returncode == 2
    assert "same file" in result.stderr
