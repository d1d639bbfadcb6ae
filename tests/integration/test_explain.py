"""``crawler explain URL --state PATH`` after a real --state crawl: fetched, refused (robots, deny,
depth, scope), unknown, bad usage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pagesite import Canned, PageSite

pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PageSite, Path]]:
    pages: dict[str, str | Canned] = {
        "/": '<title>Home</title><a href="/a">Go to A</a><a href="/private/x">secret</a>'
             '<a href="/denied/page">denied</a><a href="http://127.0.0.2:9/elsewhere">away</a>',
        "/a": '<title>Page A</title><a href="/deep">deeper</a>',
        "/robots.txt": Canned(200, "User-agent: *\nDisallow: /private/\n", content_type="text/plain"),
    }
    with PageSite(pages) as site:
        out = tmp_path_factory.mktemp("explain")
        state = out / "crawl.db"
        result = run_cli(site.url("/"), "-d", "1", "--deny", "/denied/", "--state", state, "-w", "1", "-q",
                         "-o", out / "o.jsonl", "--links", out / "links.csv", timeout=60)
        assert result.returncode == 0, result.stderr
        yield site, state


def _explain(url: str, state: Path) -> tuple[int, str]:
    result = run_cli("explain", url, "--state", state, timeout=30)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout + result.stderr


def test_fetched(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/a"), state)
    assert status == 0
    assert f"{site.url('/a')} was fetched at depth 1 from {site.url('/')}" in text
    assert '(anchor text "Go to A")' in text
    assert 'HTTP 200, title "Page A"' in text
    assert text.count("\n") == 1  # one paragraph


def test_seed(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/"), state)
    assert status == 0
    assert "as a seed (depth 0)" in text


def test_robots_refused(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/private/x"), state)
    assert status == 0
    assert "was not fetched at depth 1" in text
    assert "robots.txt disallows it" in text
    assert site.count("/private/x") == 0


def test_denied(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/denied/page"), state)
    assert status == 0
    assert "it matches a --deny pattern ('/denied/')" in text


def test_too_deep(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/deep"), state)
    assert status == 0
    assert f"from {site.url('/a')}" in text
    assert "the --depth limit" in text


def test_out_of_scope(crawled: tuple[PageSite, Path]):
    _, state = crawled
    status, text = _explain("http://127.0.0.2:9/elsewhere", state)
    assert status == 0
    assert "it is outside the crawl's --scope (--scope host of its seed" in text


def test_unknown(crawled: tuple[PageSite, Path]):
    site, state = crawled
    status, text = _explain(site.url("/nowhere"), state)
    assert status == 1
    assert "never linked" in text


def test_bad_usage(crawled: tuple[PageSite, Path], tmp_path: Path):
    site, state = crawled
    assert _explain("not a url", state)[0] == 2
    status, text = _explain(site.url("/"), tmp_path / "missing.db")
    assert status == 2
    assert "no state file" in text
    (tmp_path / "junk.db").write_text("not sqlite")
    assert _explain(site.url("/"), tmp_path / "junk.db")[0] == 2
    result = run_cli("explain", site.url("/"), timeout=30)
    assert result.returncode == 2
