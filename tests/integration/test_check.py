"""``crawler check`` through the real CLI against loopback sites with planted faults.

The main site (127.0.0.1) links to an external site (127.0.0.2) and a dead
port; a second seed (127.0.0.3) answers 200 for everything (soft 404s).
The check must find every planted fault and nothing else.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pagesite import Canned, PageSite

pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)

DEAD = "http://127.0.0.2:1/dead"  # nothing listens on port 1: connection refused
SOFT_TEMPLATE = "<title>Shop</title><h1>Sorry</h1><p>We looked everywhere but this page is not here.</p>"


def _page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>"


@pytest.fixture(scope="module")
def ext() -> Iterator[PageSite]:
    """The external site: linked, checked, never crawled."""
    pages: dict[str, str | Canned] = {
        "/ok": _page("Ext", '<a href="/never-followed">x</a>'),
        "/err": Canned(500, "boom"),
        "/nohead": _page("No HEAD", ""),
        "/robots.txt": Canned(200, "User-agent: *\nDisallow: /private\n", content_type="text/plain"),
    }
    with PageSite(pages, host="127.0.0.2") as site:
        site.no_head.add("/nohead")
        yield site


def _main_pages(ext: PageSite, faults: bool) -> dict[str, str | Canned]:
    links = ['<a href="/a">A</a>', f'<a href="{ext.url("/ok")}">external</a>',
             f'<a href="{ext.url("/nohead")}">no head</a>', f'<a href="{ext.url("/private/p")}">private</a>',
             '<a href="/r1">chain</a>', '<a href="/a#here">fragment ok</a>']
    if faults:
        links += ['<a href="/missing">Missing one</a>', f'<a href="{DEAD}">dead host</a>',
                  f'<a href="{ext.url("/err")}">server error</a>', '<a href="/a#nope">bad fragment</a>',
                  '<a href="/loop1">loop</a>']
    a_links = ['<a href="/">home</a>', f'<a href="{ext.url("/ok")}">external again</a>']
    if faults:
        a_links.append('<a href="/missing">Missing two</a>')
    return {
        "/": _page("Home", "".join(links)),
        "/a": _page("A", '<p id="here">here</p>' + "".join(a_links)),
        "/r1": Canned(301, "", {"Location": "/r2"}),
        "/r2": Canned(302, "", {"Location": "/r3"}),
        "/r3": Canned(307, "", {"Location": "/final"}),
        "/final": _page("Final", "<p>end of the chain</p>"),
        "/loop1": Canned(302, "", {"Location": "/loop2"}),
        "/loop2": Canned(302, "", {"Location": "/loop1"}),
        "/robots.txt": Canned(404, ""),
    }


@pytest.fixture
def main_site(ext: PageSite) -> Iterator[PageSite]:
    with PageSite(_main_pages(ext, faults=True)) as site:
        yield site


@pytest.fixture(scope="module")
def soft() -> Iterator[PageSite]:
    """A host that answers 200 with its "not found" template for every unknown path."""
    pages: dict[str, str | Canned] = {
        "/": _page("Soft home", '<p>Welcome to a shop with many fine things for sale today.</p>'
                                '<a href="/real">real</a><a href="/gone">gone</a>'),
        "/real": _page("Real", "<p>A real product page, with a description of the product.</p>"),
        "/robots.txt": Canned(404, ""),
    }
    with PageSite(pages, host="127.0.0.3", fallback=Canned(200, SOFT_TEMPLATE)) as site:
        yield site


def _check(*args: object, timeout: float = 90) -> tuple[int, str, list[dict[str, str]]]:
    result = run_cli("check", *args, "-w", "1", "--retries", "0", "--timeout", "5", timeout=timeout)
    return result.returncode, result.stderr, []


def _links(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _broken(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(row["target"] + (f"#{row['fragment']}" if row["error"].startswith("fragment") else ""),
             row["error"].split(":", 1)[0]) for row in rows if row["ok"] == "false"}


def test_check_finds_every_planted_fault_and_nothing_else(main_site: PageSite, ext: PageSite, soft: PageSite,
                                                          tmp_path: Path):
    links = tmp_path / "links.csv"
    status, stderr, _ = _check(main_site.url("/"), soft.url("/"), "--links", links, "-o", tmp_path / "out.jsonl")
    assert status == 1, stderr
    assert "Traceback" not in stderr
    rows = _links(links)
    assert list(rows[0]) == ["source", "target", "fragment", "text", "tag", "nofollow", "status", "ok", "error"]
    assert _broken(rows) == {
        (main_site.url("/missing"), "http"),
        (DEAD, "refused"),
        (ext.url("/err"), "http"),
        (main_site.url("/a") + "#nope", "fragment"),
        (main_site.url("/loop1"), "redirects"),
        (soft.url("/gone"), "soft404"),
    }
    # every occurrence kept, each with its own anchor text
    missing = [(r["source"], r["text"]) for r in rows if r["target"] == main_site.url("/missing")]
    assert missing == [(main_site.url("/"), "Missing one"), (main_site.url("/a"), "Missing two")]
    # the 3-hop chain is fine; the good fragment is fine
    chain = [r for r in rows if r["target"] == main_site.url("/r1")]
    assert chain[0]["ok"] == "true"
    assert chain[0]["status"] == "200"
    # robots.txt of the external host is honoured: the private target is reported, never requested
    private = next(r for r in rows if r["target"] == ext.url("/private/p"))
    assert private["ok"] == "true"
    assert private["error"].startswith("not checked: robots")
    assert ext.count("/private/p") == 0
    # external targets: requested once each however many pages link them, never parsed or followed
    assert ext.count("/ok", "HEAD") == 1
    assert ext.count("/ok", "GET") == 0
    assert ext.count("/never-followed") == 0
    assert (ext.count("/nohead", "HEAD"), ext.count("/nohead", "GET")) == (1, 1)  # HEAD refused: GET
    assert main_site.count("/missing") == 1
    # pages the crawl fetches are not checked again (the seed /a links back to)
    assert (main_site.count("/", "HEAD"), main_site.count("/", "GET")) == (0, 1)
    assert f"broken: {main_site.url('/missing')}" in stderr


def test_check_exits_0_once_the_faults_are_removed(ext: PageSite, tmp_path: Path):
    with PageSite(_main_pages(ext, faults=False)) as site:
        links = tmp_path / "links.jsonl"
        status, stderr, _ = _check(site.url("/"), "--links", links, "-o", tmp_path / "out.jsonl")
        assert status == 0, stderr
        rows = [json.loads(line) for line in links.read_text().splitlines()]
        assert rows
        assert all(row["ok"] for row in rows)
        assert isinstance(rows[0]["nofollow"], bool)


def test_accept_and_ignore(main_site: PageSite, ext: PageSite, tmp_path: Path):
    links = tmp_path / "links.csv"
    status, stderr, _ = _check(main_site.url("/"), "--links", links, "-o", tmp_path / "out.jsonl",
                               "--accept", "500,404", "--ignore", "127\\.0\\.0\\.2:1/", "--ignore", "loop",
                               "--ignore", "/a$")
    rows = _links(links)
    assert _broken(rows) == set(), stderr
    assert status == 0
    assert main_site.count("/loop1") == 0  # ignored: neither checked nor followed


def test_depth_bounds_the_check(main_site: PageSite, tmp_path: Path):
    links = tmp_path / "links.csv"
    _check(main_site.url("/"), "-d", "0", "--links", links, "-o", tmp_path / "out.jsonl")
    rows = _links(links)
    # the seed's links are all checked, but /a (depth 1) is not crawled: no row has it as source
    assert {r["source"] for r in rows} == {main_site.url("/")}
    assert main_site.count("/a", "GET") + main_site.count("/a", "HEAD") == 1


def test_bad_links_extension_is_a_usage_error(main_site: PageSite, tmp_path: Path):
    status, stderr, _ = _check(main_site.url("/"), "--links", tmp_path / "links.txt")
    assert status == 2
    assert "links table format" in stderr
    assert main_site.count("/") == 0


def test_check_help():
    result = run_cli("check", "--help", timeout=30)
    assert result.returncode == 0
    assert "--check-assets" in result.stdout


def _faults(main_site: PageSite, ext: PageSite) -> set[tuple[str, str]]:
    return {(main_site.url("/missing"), "http"), (DEAD, "refused"), (ext.url("/err"), "http"),
            (main_site.url("/a") + "#nope", "fragment"), (main_site.url("/loop1"), "redirects")}


def test_check_with_state_and_a_resumed_run(main_site: PageSite, ext: PageSite, tmp_path: Path):
    links, state = tmp_path / "links.csv", tmp_path / "crawl.db"
    status, stderr, _ = _check(main_site.url("/"), "--links", links, "--state", state, "-o", tmp_path / "o.jsonl")
    assert status == 1, stderr
    assert _broken(_links(links)) == _faults(main_site, ext)
    assert (tmp_path / "crawl.db.links").exists()
    # a re-run of the finished crawl: the verdict still covers the whole site
    status, stderr, _ = _check(main_site.url("/"), "--links", links, "--state", state, "-o", tmp_path / "o.jsonl")
    assert status == 1, stderr
    assert _broken(_links(links)) == _faults(main_site, ext)


def test_check_with_redis(main_site: PageSite, ext: PageSite, tmp_path: Path, redis_url: str):
    links = tmp_path / "links.csv"
    status, stderr, _ = _check(main_site.url("/"), "--links", links, "--redis", redis_url, "-o", tmp_path / "o.jsonl")
    assert status == 1, stderr
    assert _broken(_links(links)) == _faults(main_site, ext)


def test_check_assets(tmp_path: Path):
    page = _page("Assets", '<img src="/img.png" alt=" A  cat "><script src="/app.js"></script>'
                           '<link rel="stylesheet" href="/gone.css"><link rel="canonical" href="/not-an-asset">'
                           '<iframe src="/frame"></iframe><a href="/">self</a>')
    pages: dict[str, str | Canned] = {"/": page, "/img.png": Canned(200, "png", content_type="image/png"),
                                      "/app.js": Canned(200, "1", content_type="text/javascript"),
                                      "/frame": _page("Frame", ""), "/robots.txt": Canned(404, "")}
    with PageSite(pages) as site:
        links = tmp_path / "links.csv"
        status, stderr, _ = _check(site.url("/"), "--links", links, "-o", tmp_path / "o.jsonl")
        assert status == 0, stderr  # without --check-assets only <a> and <area> count
        assert {r["tag"] for r in _links(links)} == {"a"}
        status, stderr, _ = _check(site.url("/"), "--check-assets", "--links", links, "-o", tmp_path / "o.jsonl")
        assert status == 1, stderr
        rows = {r["target"]: r for r in _links(links)}
        assert (rows[site.url("/img.png")]["tag"], rows[site.url("/img.png")]["text"]) == ("img", "A cat")
        assert rows[site.url("/app.js")]["ok"] == "true"
        assert rows[site.url("/frame")]["tag"] == "iframe"
        assert site.url("/not-an-asset") not in rows
        assert _broken(list(rows.values())) == {(site.url("/gone.css"), "http")}


def test_a_page_another_seed_crawls_is_not_checked_too(tmp_path: Path):
    # Two seeds linking to each other's deeper pages: each such target is a page
    # of the other seed's crawl, fetched once (GET) and recorded once, not also
    # checked as an out-of-scope link (HEAD) with a second record.
    first = {"/": _page("One", '<a href="/p">p</a>'), "/p": _page("P1", ""), "/robots.txt": Canned(404, "")}
    second = {"/": _page("Two", '<a href="/q">q</a>'), "/q": _page("Q2", ""), "/robots.txt": Canned(404, "")}
    with PageSite(first, host="127.0.0.1") as one, PageSite(second, host="127.0.0.4") as two:
        one.pages["/"] = _page("One", f'<a href="/p">p</a><a href="{two.url("/q")}">their q</a>')
        two.pages["/"] = _page("Two", f'<a href="/q">q</a><a href="{one.url("/p")}">their p</a>'
                                      f'<a href="{one.url("/gone")}">gone</a>')
        out = tmp_path / "out.jsonl"
        status, stderr, _ = _check(one.url("/"), two.url("/"), "-o", out)
        records = [json.loads(line) for line in out.read_text().splitlines()]
        urls = sorted(r["url"] for r in records)
        assert urls == sorted([one.url("/"), one.url("/p"), one.url("/gone"), two.url("/"), two.url("/q")]), stderr
        assert (one.count("/p", "GET"), one.count("/p", "HEAD")) == (1, 0)
        assert (two.count("/q", "GET"), two.count("/q", "HEAD")) == (1, 0)
        assert status == 1  # /gone: checked (no page answers for it), and broken
        assert f"broken: {one.url('/gone')}" in stderr


def test_a_check_cut_short_checks_the_rest_when_it_goes_on(main_site: PageSite, ext: PageSite, tmp_path: Path):
    # The first run stops at --max-pages 1, once its one page is done: every
    # target that page names is left unchecked (queued, or held back until the
    # pages are done). The run that goes on from its state checks each of them
    # once, though no page it fetches names them again.
    links, state, out = tmp_path / "links.csv", tmp_path / "crawl.db", tmp_path / "o.jsonl"
    status, stderr, _ = _check(main_site.url("/"), "--state", state, "-o", out, "--max-pages", "1", "-c", "1")
    first = [json.loads(line)["url"] for line in out.read_text().splitlines()]
    assert first == [main_site.url("/")], stderr
    status, stderr, _ = _check(main_site.url("/"), "--links", links, "--state", state, "-o", out)
    assert status == 1, stderr
    assert _broken(_links(links)) == _faults(main_site, ext)
    urls = [json.loads(line)["url"] for line in out.read_text().splitlines()]
    assert len(urls) == len(set(urls)), sorted(urls)  # each page and each target once, over both runs
    assert {ext.url("/ok"), ext.url("/err"), ext.url("/nohead"), DEAD, main_site.url("/missing")} <= set(urls)
