"""crawler.worker.tasks, in-process: a fetched page becomes a Page record and links to follow."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from crawler.config import CrawlConfig
from crawler.page import RECORD_FIELDS, ROBOTS, Task
from crawler.select import Selector
from crawler.worker import fetch as fetch_module
from crawler.worker import tasks as worker
from tests.scripted import FakeResolver

HTML = b"""<html><head><title> Home  page </title></head><body>
<a href="/a">a</a><a href="/b#x">b</a><a href="http://other.test/">o</a><a href="mailto:x@y">m</a>
</body></html>"""


@pytest.fixture
def setup(monkeypatch, srv):
    """init_worker without touching this process's signal handlers, and a fresh Session per test."""
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(fetch_module, "_idle_sessions", [])

    def init(**options):
        worker.init_worker(CrawlConfig(**options))

    # A name in a test (other.test in HTML's links) never reaches a real resolver.
    FakeResolver().install(monkeypatch)
    return init, srv


def test_html_page_record(setup):
    init, rs = setup
    init(depth=1)
    rs.add(f"{rs.base}/", body=HTML, headers={"Content-Type": "text/html; charset=utf-8"})
    result = worker.process(Task(f"{rs.base}/", depth=0, seed=f"{rs.base}/"))
    page = result.page
    assert list(page.to_dict()) == list(RECORD_FIELDS)
    assert page.url == page.final_url == f"{rs.base}/"
    assert page.status == 200
    assert page.ok is True
    assert page.content_type == "text/html"
    assert page.bytes == len(HTML)
    assert page.title == "Home page"
    assert page.links == 3  # /a, /b, other.test; mailto is not a link
    assert page.error is None
    assert page.depth == 0
    assert page.referrer is None
    assert page.fetched_at.endswith("Z")
    assert result.links == (f"{rs.base}/a", f"{rs.base}/b")  # scope host: other.test not followed
    assert result.refused == {"scope": 1}  # counted by the gate's reason
    assert result.retry_after is None


def test_no_links_to_follow_at_depth_limit(setup):
    init, rs = setup
    init(depth=1)
    rs.add(f"{rs.base}/p", body=HTML, headers={"Content-Type": "text/html"})
    result = worker.process(Task(f"{rs.base}/p", depth=1, referrer=f"{rs.base}/", seed=f"{rs.base}/"))
    assert result.page.links == 3
    assert result.page.referrer == f"{rs.base}/"
    assert result.links == ()
    assert result.refused == {"depth": 3}


def test_scope_any_follows_other_hosts(setup):
    init, rs = setup
    init(depth=2, scope="any")
    rs.add(f"{rs.base}/", body=HTML, headers={"Content-Type": "text/html"})
    result = worker.process(Task(f"{rs.base}/", seed=f"{rs.base}/"))
    assert result.links == (f"{rs.base}/a", f"{rs.base}/b", "http://other.test/")


def test_non_html_not_parsed(setup):
    init, rs = setup
    init(depth=1)
    rs.add(f"{rs.base}/f.pdf", body=b"%PDF-1.4 <a href='/x'>",
           headers={"Content-Type": "application/pdf"})
    result = worker.process(Task(f"{rs.base}/f.pdf", seed=f"{rs.base}/"))
    assert result.page.status == 200
    assert result.page.content_type == "application/pdf"
    assert result.page.title is None
    assert result.page.links == 0
    assert result.links == ()


def test_http_error_record(setup):
    init, rs = setup
    init()
    rs.add(f"{rs.base}/gone", status=404, body=b"<title>Not found</title>",
           headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/gone", seed=f"{rs.base}/")).page
    assert page.status == 404
    assert page.ok is False
    assert page.error is not None
    assert page.error.startswith("http: 404")


def test_retryable_failure_carries_hint(setup):
    init, rs = setup
    init()
    rs.add(f"{rs.base}/busy", status=429, headers={"Retry-After": "7"})
    rs.add(f"{rs.base}/down", action="reset")
    assert worker.process(Task(f"{rs.base}/busy")).retry_after == 7.0
    down = worker.process(Task(f"{rs.base}/down"))
    assert down.page.error == f"connection: connection reset by 127.0.0.1:{rs.port}"
    assert down.retry_after == 0.0  # retryable, no server hint
    assert down.page.status is None
    assert down.page.ok is False
    assert down.page.bytes == 0


def test_truncated_page_flagged(setup):
    init, rs = setup
    init(max_bytes=100)
    rs.add(f"{rs.base}/big", body=b"<title>big</title>" + b"x" * 1000,
           headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/big")).page
    assert page.bytes == 100
    assert page.ok is False
    assert page.error is not None
    assert page.error.startswith("truncated")
    assert page.title == "big"


def test_redirect_final_url(setup):
    init, rs = setup
    init()
    rs.add(f"{rs.base}/old", status=301, headers={"Location": f"{rs.base}/new"})
    rs.add(f"{rs.base}/new", body=b"<a href='x'>x</a>", headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/old")).page
    assert page.url == f"{rs.base}/old"
    assert page.final_url == f"{rs.base}/new"


def test_redirect_out_of_scope_follows_no_links(setup):
    # HTML links back to 127.0.0.1 (in the seed's scope), but it was found on 127.0.0.2.
    init, rs = setup
    init(depth=2)
    rs.add(f"{rs.base}/out", status=302, headers={"Location": f"{rs.other}/page"})
    rs.add(f"{rs.other}/page", body=HTML, headers={"Content-Type": "text/html"})
    result = worker.process(Task(f"{rs.base}/out", seed=f"{rs.base}/"))
    assert result.page.final_url == f"{rs.other}/page"
    assert result.page.links == 3
    assert result.links == ()
    assert result.refused is None  # found outside the scope: none of them were the crawl's


def test_redirect_within_scope_follows_links(setup):
    init, rs = setup
    init(depth=2)
    rs.add(f"{rs.base}/old", status=301, headers={"Location": f"{rs.base}/new"})
    rs.add(f"{rs.base}/new", body=HTML, headers={"Content-Type": "text/html"})
    result = worker.process(Task(f"{rs.base}/old", seed=f"{rs.base}/"))
    assert result.links == (f"{rs.base}/a", f"{rs.base}/b")


def test_robots_task(setup):
    init, rs = setup
    init()
    rs.add(f"{rs.base}/robots.txt", body=b"User-agent: *\nDisallow: /private\n",
           headers={"Content-Type": "text/plain"})
    result = worker.process(Task(f"{rs.base}/robots.txt", kind=ROBOTS))
    assert result.body == "User-agent: *\nDisallow: /private\n"
    assert result.page.status == 200


def test_robots_404_has_no_body(setup):
    init, rs = setup
    init()
    rs.add(f"{rs.base}/robots.txt", status=404, body=b"nope")
    result = worker.process(Task(f"{rs.base}/robots.txt", kind=ROBOTS))
    assert result.body is None
    assert result.page.status == 404


def _extract_h1(url, soup):
    return {"h1": soup.find("h1").get_text(strip=True)}


def _extract_fails(url, soup):
    raise RuntimeError("hook broke")


def test_extract_hook(setup):
    init, rs = setup
    worker.init_worker(CrawlConfig(), _extract_h1)
    rs.add(f"{rs.base}/", body=b"<title>t</title><h1> Big </h1>",
           headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.extra == {"h1": "Big"}
    assert list(page.to_dict())[-1] == "h1"
    assert page.ok is True


def test_extract_hook_failure_is_a_page_error(setup):
    init, rs = setup
    worker.init_worker(CrawlConfig(), _extract_fails)
    rs.add(f"{rs.base}/", body=b"<title>t</title>", headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.ok is False
    assert page.error is not None
    assert page.error.startswith("extract:")
    assert page.title == "t"


@pytest.mark.parametrize(("header", "expected"), [
    (None, False),
    ("noindex", True),
    ("NoIndex, nofollow", True),
    ("none", True),
    ("nofollow", False),
    ("otherbot: noindex", False),
    ("crawler: noindex", True),
    ("otherbot: noindex, nofollow", False),
    ("otherbot: nofollow, crawler: noindex", True),
    ("unavailable_after: 25 Jun 2010 15:00:00 PST", False),
])
def test_x_robots_tag_noindex(header, expected):
    assert worker._robots_tag_noindex(header, "crawler/0.1.0") is expected


SELECT_HTML = b"""<title>t</title><h1> Big   one </h1><p class="tag">x</p><p class="tag">y</p>
<a href="/n" rel="next">n</a>"""


def test_selectors_add_fields_last_in_order(setup):
    init, rs = setup
    init(select=["h1=h1", "next=a[rel=next]@href", "missing=table"])
    rs.add(f"{rs.base}/", body=SELECT_HTML, headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.extra == {"h1": "Big one", "next": "/n", "missing": None}
    assert list(page.to_dict()) == [*RECORD_FIELDS, "h1", "next", "missing"]
    assert page.title == "t"
    assert page.links == 1
    assert page.ok is True


def test_selectors_beside_the_extract_hook(setup):
    init, rs = setup
    config = CrawlConfig(select=[Selector("tags", "p.tag", many=True), Selector("h1", "h1")])
    worker.init_worker(config, _extract_h1)
    rs.add(f"{rs.base}/", body=SELECT_HTML, headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    # the hook's fields first, then the selected ones (a selected name wins over the hook's)
    assert page.extra == {"tags": ["x", "y"], "h1": "Big one"}
    assert list(page.to_dict())[len(RECORD_FIELDS):] == ["tags", "h1"]


def _extract_changes_tree(url, soup):
    soup.h1.decompose()
    return {"hook": True}


def test_selectors_see_the_page_before_the_hook_changes_it(setup):
    init, rs = setup
    worker.init_worker(CrawlConfig(select=["h1=h1"]), _extract_changes_tree)
    rs.add(f"{rs.base}/", body=SELECT_HTML, headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.extra == {"hook": True, "h1": "Big one"}


def test_selectors_not_run_on_non_html(setup):
    init, rs = setup
    init(select=["h1=h1"])
    rs.add(f"{rs.base}/f.pdf", body=b"<h1>no</h1>", headers={"Content-Type": "application/pdf"})
    page = worker.process(Task(f"{rs.base}/f.pdf")).page
    assert page.extra == {}  # the main process fills in None for every selected field


@pytest.mark.parametrize(("options", "full"), [({}, False), ({"select": ["h1=h1"]}, True)])
def test_full_tree_only_when_selecting(setup, monkeypatch, options, full):
    init, rs = setup
    seen = []
    real = worker.parse_html

    def spy(*args, **kwargs):
        seen.append(kwargs.get("full"))
        return real(*args, **kwargs)

    monkeypatch.setattr(worker, "parse_html", spy)
    init(**options)
    rs.add(f"{rs.base}/", body=SELECT_HTML, headers={"Content-Type": "text/html"})
    worker.process(Task(f"{rs.base}/"))
    assert seen == [full]  # without selectors or hook, the fast lxml path


@pytest.mark.parametrize(("elapsed_ms", "status", "released"),
                         [(45.0, 200, True), (5.0, 200, False), (45.0, 503, False)])
def test_a_slow_response_gives_its_slot_back_before_the_parse(setup, monkeypatch, elapsed_ms, status, released):
    init, _ = setup
    init(depth=1)
    calls: list[str | None] = []

    def fetched(url, config, **kwargs):
        return fetch_module.Fetched(url=url, final_url=url, status=status, content_type="text/html",
                                    charset="utf-8", body=HTML, elapsed_ms=elapsed_ms)

    monkeypatch.setattr(worker, "fetch", fetched)
    monkeypatch.setattr(worker, "release_slot", lambda: calls.append(page_title()))
    real_parse = worker.parse_html
    parsed: list[str] = []

    def page_title() -> str | None:
        return parsed[-1] if parsed else None

    def parse(*args, **kwargs):
        result = real_parse(*args, **kwargs)
        parsed.append(result.title)
        return result

    monkeypatch.setattr(worker, "parse_html", parse)
    page = worker.process(Task("http://a.test/", depth=0, seed="http://a.test/")).page  # fetch() is faked
    assert page.title == "Home page"
    # Released before the parse: a fast server's page, or a 503, keeps its slot to the end.
    assert calls == ([None] if released else [])


def test_one_page_parsed_at_a_time_while_hooks_overlap(setup, monkeypatch):
    init, rs = setup
    active = {"parse": 0, "hook": 0}
    most = {"parse": 0, "hook": 0}
    lock = threading.Lock()

    def busy(kind: str, seconds: float) -> None:
        with lock:
            active[kind] += 1
            most[kind] = max(most[kind], active[kind])
        time.sleep(seconds)
        with lock:
            active[kind] -= 1

    real_parse = worker.parse_html

    def parse(*args, **kwargs):
        busy("parse", 0.02)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(worker, "parse_html", parse)
    worker.init_worker(CrawlConfig(depth=1), extract=lambda url, soup: busy("hook", 0.3))
    for i in range(4):
        rs.add(f"{rs.base}/{i}", body=HTML, headers={"Content-Type": "text/html"})
    threads = [threading.Thread(target=worker.process, args=(Task(f"{rs.base}/{i}"),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert most["parse"] == 1
    assert most["hook"] > 1  # a hook may wait on I/O: hooks are not serialised


def test_a_forked_process_starts_with_the_parse_gate_free():
    worker._parse_gate.acquire()
    try:
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 if it could take the gate
            os._exit(0 if worker._parse_gate.acquire(timeout=5) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        worker._parse_gate.release()


# -- issue 16: hook results, long texts -------------------------------------------------------


@pytest.mark.parametrize("returned", [["a", "b"], "text", 0, ("h1", "x")])
def test_extract_hook_returning_a_non_dict_is_an_extract_error(setup, returned):
    # Defect 7: it was an `internal:` record (the worker's task raised).
    init, rs = setup
    worker.init_worker(CrawlConfig(), lambda url, soup: returned)
    rs.add(f"{rs.base}/", body=b"<title>t</title>", headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.ok is False
    assert page.error == f"extract: the hook returned {type(returned).__name__}, not a dict or None"
    assert page.title == "t"


def test_extract_hook_fields_clashing_with_record_fields_are_dropped_with_one_warning(setup, caplog, monkeypatch):
    init, rs = setup
    monkeypatch.setattr(worker, "_warned", set())
    worker.init_worker(CrawlConfig(), lambda url, soup: {"title": "mine", "status": 1, "h1": "x"})
    for path in ("/", "/2"):
        rs.add(f"{rs.base}{path}", body=b"<title>t</title>", headers={"Content-Type": "text/html"})
    with caplog.at_level("WARNING", logger="crawler.worker.tasks"):
        pages = [worker.process(Task(f"{rs.base}{path}")).page for path in ("/", "/2")]
    for page in pages:
        assert page.ok is True
        assert page.extra == {"h1": "x"}
        assert page.to_dict()["title"] == "t"
        assert page.to_dict()["status"] == 200
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["extract hook: 'title' is a record field; the hook's value for it is dropped",
                        "extract hook: 'status' is a record field; the hook's value for it is dropped"]


def test_extract_hook_values_that_may_not_pickle_become_text(setup):
    init, rs = setup
    worker.init_worker(CrawlConfig(), lambda url, soup: {"when": threading.Lock(), "n": 3, "none": None})
    rs.add(f"{rs.base}/", body=b"<title>t</title>", headers={"Content-Type": "text/html"})
    result = worker.process(Task(f"{rs.base}/"))
    assert isinstance(result.page.extra["when"], str)
    assert result.page.extra["n"] == 3
    assert result.page.extra["none"] is None
    import pickle

    pickle.dumps(result)  # crosses the pipe


def test_long_title_and_selected_values_are_capped(setup):
    # Defect 13: a 5 MB <title> went whole into the record.
    init, rs = setup
    worker.init_worker(CrawlConfig(select=[Selector("h1", "h1"), Selector("ps", "p", many=True)]))
    big = "T" * 2_000_000  # three of them: within the default --max-bytes
    rs.add(f"{rs.base}/",
           body=f"<title>{big}</title><h1>{big}</h1><p>{big}</p><p>short</p>".encode(),
           headers={"Content-Type": "text/html"})
    page = worker.process(Task(f"{rs.base}/")).page
    assert page.ok is True
    assert page.title == "T" * (worker.TEXT_MAX - 1) + "\u2026"
    assert page.extra["h1"] == page.title
    assert page.extra["ps"] == [page.title, "short"]
    assert worker.capped("x" * worker.TEXT_MAX) == "x" * worker.TEXT_MAX  # at the cap: whole


ARTICLE_HTML = b"""<html lang="en"><head><title>T</title></head><body><nav><a href="/">Home</a></nav>
<main><h1>Heading</h1><p>Some text with a <a href="/x">link</a>.</p></main></body></html>"""


def test_markdown_of_an_ok_html_page(setup, tmp_path):
    init, rs = setup
    init(markdown=True, markdown_dir=str(tmp_path), select=["h1=h1"])
    rs.add(f"{rs.base}/p", body=ARTICLE_HTML, headers={"Content-Type": "text/html"})
    rs.add(f"{rs.base}/j", body=b"{}", headers={"Content-Type": "application/json"})
    result = worker.process(Task(f"{rs.base}/p"))
    assert result.markdown == f"# Heading\n\nSome text with a [link][1].\n\n[1]: {rs.base}/x\n"
    assert result.lang == "en"
    assert result.converted is True
    # The Markdown fields come before the selectors' fields.
    assert list(result.page.extra) == ["markdown", "markdown_file", "h1"]
    assert result.page.extra["markdown_file"] == f"127.0.0.1_{rs.port}_http/p.md"
    other = worker.process(Task(f"{rs.base}/j"))
    assert (other.markdown, other.converted, other.page.extra.get("markdown")) == (None, False, None)


def test_an_unchanged_body_is_not_converted_again(setup, tmp_path):
    init, rs = setup
    init(markdown_dir=str(tmp_path), state=str(tmp_path / "s.db"))
    rs.add(f"{rs.base}/p", body=ARTICLE_HTML, headers={"Content-Type": "text/html"})
    first = worker.process(Task(f"{rs.base}/p"))
    assert first.converted
    again = Task(f"{rs.base}/p", digest=first.digest)
    assert worker.process(again).converted, "its file is missing: converted again"
    (tmp_path / f"127.0.0.1_{rs.port}_http").mkdir()
    (tmp_path / f"127.0.0.1_{rs.port}_http" / "p.md").write_text("kept")
    kept = worker.process(again)
    assert not kept.converted
    assert kept.page.extra["markdown_file"] == f"127.0.0.1_{rs.port}_http/p.md"


def test_no_markdown_step_without_the_options(setup):
    init, _ = setup
    init(markdown=True)
    init()
    assert worker._state.markdown is None


def test_check_hashes_page_text_only_on_hosts_that_hide_their_404s(setup, monkeypatch):
    # A page's text hash costs ~1.5 ms; check needs it only where the soft-404
    # probe got a 2xx (a site that answers 404 has no soft 404s).
    import re

    from crawler.worker import probe

    monkeypatch.setattr(probe, "_probes", {})
    hashed = []
    real = worker.text_hash
    monkeypatch.setattr(worker, "text_hash", lambda root: hashed.append(1) or real(root))
    init, rs = setup
    init(check=True, depth=1)
    page = b"<html><title>t</title><body><p>Some words on a page.</p></body></html>"
    honest_url, hiding_url = f"{rs.base}/", f"{rs.other}/"  # honest: 404 to its probe; hiding: 200
    for url in (honest_url, hiding_url):
        rs.add(url, body=page, headers={"Content-Type": "text/html"})
    rs.add(re.compile(re.escape(rs.base) + r"/.*-crawler-404-probe"), status=404)
    rs.add(re.compile(re.escape(rs.other) + r"/.*-crawler-404-probe"), body=page,
           headers={"Content-Type": "text/html"})
    honest = worker.process(Task(honest_url, depth=0, seed=honest_url))
    assert hashed == []
    assert honest.text_hash is None
    assert honest.page.extra["soft404"] is False
    hiding = worker.process(Task(hiding_url, depth=0, seed=hiding_url))
    assert hashed == [1]
    assert hiding.text_hash is not None
    assert hiding.page.extra["soft404"] is True  # the same text as the probe's answer
