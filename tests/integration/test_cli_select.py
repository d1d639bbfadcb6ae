"""--select / --select-all through the real CLI (and the library) against the test site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler import crawl
from crawler.select import Selector
from tests import extract_helpers
from tests.conftest import RECORD_FIELDS, CrawlRun, assert_usage_error, crawl_cli, read_csv, run_cli
from tests.site import LATIN1_TITLE, PAGES, Site

pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)

SELECT = ("--select", "h1=h1", "--select-all", "hrefs=li a@href", "--select", "first=a@href",
          "--select-all", "items=li", "--select", "none=table")
SELECTED = ("h1", "hrefs", "first", "items", "none")
# an HTML page, a Latin-1 page, a 404 page (HTML body), a PDF and an unreachable host
SEED_PATHS = ("/", "/b1", "/status/404", "/file.pdf")
DEAD = "http://127.0.0.1:9/dead"


def expected(path: str) -> dict[str, object]:
    """The selected fields of a seed page, as JSON gives them."""
    if path == "/":
        hrefs = PAGES["/"][1]
        return {"h1": "Home", "hrefs": hrefs, "first": hrefs[0], "items": hrefs, "none": None}
    if path == "/b1":
        hrefs = ["/b1?x=2&a=1", "/b1?a=1&x=2#f"]  # as written in the page, not resolved
        return {"h1": LATIN1_TITLE, "hrefs": hrefs, "first": hrefs[0], "items": hrefs, "none": None}
    if path == "/status/404":  # an HTML error page is still HTML: selectors run on it
        return {"h1": "Status 404", "hrefs": [], "first": None, "items": [], "none": None}
    return dict.fromkeys(SELECTED)  # not HTML, or no response: null


@pytest.fixture(scope="module", params=["csv", "json", "jsonl"])
def select_run(request: pytest.FixtureRequest, site: Site, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    output = tmp_path_factory.mktemp("select") / f"out.{request.param}"
    seeds = [site.url(p) for p in SEED_PATHS] + [DEAD]
    return crawl_cli(site, *seeds, *SELECT, "-w", "2", "--retries", "0", output=output)


def test_selected_fields_come_last_in_order(select_run: CrawlRun) -> None:
    assert select_run.result.returncode == 0, select_run.result.stderr
    assert len(select_run.records) == len(SEED_PATHS) + 1
    for record in select_run.records:
        assert tuple(record) == (*RECORD_FIELDS, *SELECTED)
    if select_run.output is not None and select_run.output.suffix == ".csv":
        assert tuple(read_csv(select_run.output)[0]) == (*RECORD_FIELDS, *SELECTED)


def test_selected_values(select_run: CrawlRun, site: Site) -> None:
    records = select_run.by_url()
    csv = select_run.output is not None and select_run.output.suffix == ".csv"
    for path in (*SEED_PATHS, DEAD):
        url = path if path == DEAD else site.url(path)
        want = expected(path)
        got = {name: records[url][name] for name in SELECTED}
        if csv:  # CSV: lists |-joined, None empty
            want = {k: "|".join(v) if isinstance(v, list) else ("" if v is None else v) for k, v in want.items()}
        assert got == want, path
    assert records[DEAD]["error"].startswith("refused")


def test_no_selectors_no_extra_fields(site: Site, tmp_path: Path) -> None:
    run = crawl_cli(site, site.url("/"), output=tmp_path / "out.jsonl")
    assert tuple(run.records[0]) == RECORD_FIELDS


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--select", "h1"], "select 'h1': expected NAME=CSS"),
        (["--select", "h1=a >"], "select 'h1=a >': bad CSS selector"),
        (["--select-all", "x=p:nope"], "select_all 'x=p:nope': bad CSS selector"),
        (["--select", "bad name=h1"], "bad field name 'bad name'"),
        (["--select", "h=h1", "--select-all", "h=h2"], "field 'h' is selected twice"),
        (["--select", "title=h1"], "'title' is already a record field"),
        (["--select", "attempts=h1"], "'attempts' is already a record field"),
        (["--select", "=h1"], "bad field name ''"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_selector_exits_2_before_any_fetch(options: list[str], fragment: str, site: Site,
                                               tmp_path: Path) -> None:
    site.reset()
    out = tmp_path / "out.csv"
    result = run_cli(site.url("/"), "-o", out, *options, timeout=30)
    assert_usage_error(result, fragment)
    assert site.hits() == {}, "not even robots.txt is fetched"
    assert not out.exists()


def test_library_select_beside_extract(site: Site) -> None:
    site.reset()
    pages = list(crawl([site.url("/"), site.url("/file.pdf")], workers=1, extract=extract_helpers.heading,
                       select={"first": "a@href", "h1": "h1"}))
    by_path = {site.path_of(p.url): p.to_dict() for p in pages}
    home = by_path["/"]
    # hook fields, then selected fields; a selected name wins over the hook's
    assert list(home)[len(RECORD_FIELDS):] == ["worker_pid", "first", "h1"]
    assert (home["first"], home["h1"]) == ("/a", "Home")
    pdf = by_path["/file.pdf"]
    assert list(pdf)[len(RECORD_FIELDS):] == ["first", "h1"]
    assert (pdf["first"], pdf["h1"]) == (None, None)


def test_library_select_all_to_json(site: Site, tmp_path: Path) -> None:
    site.reset()
    out = tmp_path / "out.json"
    list(crawl(site.url("/a"), workers=1, output=str(out), select=[Selector.parse("as_written=a@href", many=True)]))
    [record] = json.loads(out.read_text(encoding="utf-8"))
    assert record["as_written"] == PAGES["/a"][1]
