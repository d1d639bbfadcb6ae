"""The library API against the real site: ``crawl``, ``Crawler``, ``CrawlConfig``.

These run the crawl in the test process (real Pool and Manager), with the
platform's default start method and with ``spawn``.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crawler import ConfigError, CrawlConfig, Crawler, CrawlerError, Page, SeedError, crawl
from tests import extract_helpers
from tests.conftest import RECORD_FIELDS, read_csv, read_output
from tests.site import Site, expected_crawl

# Python 3.12+ warns when forking a process that has threads (the test site
# runs in threads here); the crawl's own processes do not share them.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:This process \(pid=\d+\) is multi-threaded:DeprecationWarning",
)


def _paths(site: Site, pages: list[Page]) -> set[str]:
    return {site.path_of(p.url) for p in pages}


def test_crawl_yields_pages(site: Site) -> None:
    site.reset()
    pages = list(crawl([site.url("/")], depth=1, workers=2))
    assert all(isinstance(p, Page) for p in pages)
    assert _paths(site, pages) == set(expected_crawl(1))
    assert len(pages) == len(expected_crawl(1))
    assert site.page_hits() == dict.fromkeys(expected_crawl(1), 1)
    home = next(p for p in pages if p.url == site.url("/"))
    assert (home.status, home.ok, home.title, home.depth, home.referrer) == (200, True, "Home", 0, None)
    assert tuple(home.to_dict()) == RECORD_FIELDS
    assert not multiprocessing.active_children(), "the crawl's processes are gone"


def test_crawl_accepts_one_url_string(site: Site) -> None:
    pages = list(crawl(site.url("/a"), workers=1))
    assert [p.url for p in pages] == [site.url("/a")]


@pytest.mark.parametrize("start_method", [None, "spawn"], ids=["default", "spawn"])
def test_crawler_with_on_page_and_extract(start_method: str | None, site: Site) -> None:
    seen: list[tuple[Page, int, str]] = []
    config = CrawlConfig(depth=1, workers=2, start_method=start_method)

    def on_page(page: Page) -> None:
        seen.append((page, os.getpid(), threading.current_thread().name))

    site.reset()
    stats = Crawler(config, on_page=on_page, extract=extract_helpers.heading).run([site.url("/")])
    pages = [p for p, _, _ in seen]
    assert _paths(site, pages) == set(expected_crawl(1))
    assert stats.pages == len(pages)
    assert stats.errors == 0
    assert site.page_hits() == dict.fromkeys(expected_crawl(1), 1)
    assert {pid for _, pid, _ in seen} == {os.getpid()}, "on_page runs in the main process"
    for page in pages:
        assert page.extra["h1"] == page.title
        assert page.extra["worker_pid"] != os.getpid(), "extract runs in the workers"
        record = page.to_dict()
        assert tuple(record) == (*RECORD_FIELDS, "h1", "worker_pid")
        assert record["h1"] == page.title
    assert not multiprocessing.active_children()


def test_extract_failure_is_a_page_error(site: Site) -> None:
    pages: list[Page] = []
    Crawler(CrawlConfig(depth=1, workers=2), on_page=pages.append, extract=extract_helpers.fail_on_a).run(
        [site.url("/")])
    by_url = {p.url: p for p in pages}
    assert set(by_url) == {site.url(p) for p in expected_crawl(1)}
    failed = by_url[site.url("/a")]
    assert failed.ok is False
    assert failed.error is not None
    assert failed.error.startswith("extract:")
    assert "boom" in failed.error
    assert by_url[site.url("/b")].extra == {"seen": True}
    assert by_url[site.url("/b")].ok is True


def test_extract_fields_follow_spec_fields_in_csv(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    Crawler(CrawlConfig(depth=1, workers=2, output=str(out)), extract=extract_helpers.heading).run([site.url("/")])
    header, rows = read_csv(out)
    assert header == [*RECORD_FIELDS, "h1", "worker_pid"]
    assert {r["url"] for r in rows} == {site.url(p) for p in expected_crawl(1)}
    assert all(r["h1"] == r["title"] for r in rows)


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_output_file_created_when_nothing_is_reported(fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"out.{fmt}"
    stats = Crawler(CrawlConfig(workers=1, output=str(out))).run([])
    assert stats.pages == 0
    assert out.exists()
    assert read_output(out) == []
    if fmt != "json":
        assert out.read_text() == ""


def test_leaving_the_loop_early_stops_the_crawl(site: Site) -> None:
    site.reset()
    pages = crawl([site.url("/graph/0")], depth=50, workers=2)
    first = next(pages)
    assert first.url == site.url("/graph/0")
    pages.close()
    assert not multiprocessing.active_children(), "worker and manager processes are gone"
    assert sum(site.page_hits().values()) < 20


def test_stop_from_on_page(site: Site) -> None:
    pages: list[Page] = []
    crawler = Crawler(CrawlConfig(depth=50, workers=2, concurrency=2))

    def on_page(page: Page) -> None:
        pages.append(page)
        if len(pages) == 3:
            crawler.stop("enough")

    crawler.on_page = on_page
    stats = crawler.run([site.url("/graph/0")])
    assert stats.stopped_by == "enough"
    assert 3 <= len(pages) < 10


def test_bad_seed_and_bad_config_raise() -> None:
    with pytest.raises(SeedError):
        list(crawl(["ftp://example.com/"]))
    with pytest.raises(ConfigError):
        CrawlConfig(depth=-1)
    with pytest.raises(ConfigError):
        CrawlConfig(allow=("(",))
    with pytest.raises(CrawlerError):
        list(crawl(["http://127.0.0.1:1/"], scope="planet"))


@pytest.mark.parametrize(("depth", "managers"), [(0, 0), (1, 1)])
def test_only_a_crawl_that_can_find_links_starts_the_manager(site: Site, depth: int, managers: int) -> None:
    site.reset()
    children: list[list[str]] = []
    Crawler(CrawlConfig(depth=depth, workers=2),
            on_page=lambda page: children.append([p.name for p in multiprocessing.active_children()])).run(
        [site.url("/"), site.url("/a")])
    assert children, "pages came"
    assert all(sum("SyncManager" in name for name in names) == managers for names in children), children


@pytest.mark.parametrize(("start_method", "loaded"), [("fork", True), ("spawn", False)])
def test_the_main_process_loads_the_worker_code_only_for_workers_to_inherit(site: Site, start_method: str,
                                                                           loaded: bool) -> None:
    # A fresh interpreter: this one has loaded the worker's modules already.
    code = ("import sys; from crawler import crawl; "
            "assert 'crawler.worker.tasks' not in sys.modules; "
            f"pages = list(crawl([{site.url('/')!r}], workers=1, start_method={start_method!r})); "
            "print(pages[0].status, 'crawler.worker.tasks' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["200", str(loaded)]


def test_worker_code_that_cannot_load_is_a_worker_start_error_not_a_traceback(site: Site) -> None:
    # lxml unimportable (a broken install): the main process's preload must leave it to the workers to say so.
    code = ("import sys; sys.modules['lxml'] = None; from crawler import crawl, CrawlerError\n"
            "try:\n"
            f"    list(crawl([{site.url('/')!r}], workers=1, start_method='fork'))\n"
            "except CrawlerError as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    expected = "WorkerStartError a worker process could not start: ModuleNotFoundError: import of lxml"
    assert out.stdout.startswith(expected), out.stdout
