"""crawler.engine.gate: what is fetched and why not, and its parity with the workers' pre-filter."""

from __future__ import annotations

import signal

import pytest
from protego import Protego

from crawler.config import CrawlConfig
from crawler.engine.gate import Gate
from crawler.engine.robots import RobotsRules
from crawler.page import PAGE, SITEMAP, Task
from crawler.policy import LinkFilter
from crawler.worker import fetch as fetch_module
from crawler.worker import tasks as worker
from tests.scripted import FakeResolver, ScriptedServer


def test_caps_refuse_with_stable_reasons_and_count_first_attempts_only():
    gate = Gate(max_pages=3, max_per_host=2)
    assert gate.admit(Task("http://a.test/1")) is None
    assert gate.admit(Task("http://a.test/2")) is None
    capped = gate.admit(Task("http://a.test/3"))
    assert capped is not None
    assert (capped.reason, capped.error) == ("host-cap", "host-cap: --max-pages-per-host reached")
    assert gate.admit(Task("http://a.test/1", attempt=1)) is None  # a retry is not a new page
    assert gate.admit(Task("http://a.test/sitemap.xml", kind=SITEMAP)) is None  # bookkeeping
    assert gate.admit(Task("http://b.test/1")) is None
    assert gate.admitted == 3
    assert gate.exhausted()
    stopped = gate.admit(Task("http://b.test/2"))
    assert stopped is not None
    assert stopped.reason == "max-pages"
    assert gate.refused == {"host-cap": 1, "max-pages": 1}


def test_robots_refusal_counts_pages_and_keeps_found_urls_for_verbose():
    gate = Gate("crawler/1")
    rules = RobotsRules(Protego.parse("User-agent: *\nDisallow: /private/\n"))
    assert gate.robots(Task("http://a.test/ok"), rules) is None
    seed = gate.robots(Task("http://a.test/private/seed"), rules)
    found = gate.robots(Task("http://a.test/private/x", depth=2), rules)
    assert seed is not None
    assert found is not None
    assert (found.reason, found.error, found.unreachable) == ("robots", "robots: disallowed", False)
    assert gate.robots(Task("http://a.test/private/map.xml", kind=SITEMAP), rules) is not None
    assert gate.refused == {"robots": 2}  # the sitemap is bookkeeping
    assert gate.refused_urls == ["http://a.test/private/x"]  # the seed gets a record instead
    down = gate.robots(Task("http://b.test/"), RobotsRules(deny_reason="connection: refused"))
    assert down is not None
    assert down.unreachable
    assert down.error == "connection: refused"
    assert gate.refused == {"robots": 2}  # a dead host's pages are error records, not refusals


def test_sitemap_lastmod_marks_unchanged_pages_only_with_a_history():
    assert Gate().changed(["http://a.test/1"], [0.0]) == (["http://a.test/1"], [])
    history = {"http://a.test/old": 100.0, "http://a.test/new": 100.0}
    gate = Gate(history=history.get, recrawl_after=0)
    keep, skip = gate.changed(["http://a.test/old", "http://a.test/new", "http://a.test/never"], [50.0, 150.0, 50.0])
    assert (keep, skip) == (["http://a.test/new", "http://a.test/never"], ["http://a.test/old"])
    later = gate.admit(Task("http://a.test/old", depth=1))  # reached by a link too: still unchanged
    assert later is not None
    assert later.reason == "unchanged"
    assert gate.refused["unchanged"] == 2


HTML = b"""<html><head><title>t</title></head><body>
<a href="/keep">k</a><a href="/skip-me">d</a><a href="http://other.test/">o</a>
<a href="/very/long/%s">l</a><a href="/nf" rel="nofollow">n</a><a href="/keep2">k2</a>
</body></html>""" % (b"x" * 120)


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("scope", ["host", "any"])
def test_the_workers_pre_filter_and_the_gate_agree_on_every_link(monkeypatch, depth, scope):
    config = CrawlConfig(depth=2, scope=scope, deny=("skip",), max_url_length=100, follow_nofollow=True)
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    monkeypatch.setattr(fetch_module, "_idle_sessions", [])
    worker.init_worker(config)
    gate = Gate(links=LinkFilter.from_config(config), max_depth=config.depth)
    FakeResolver().install(monkeypatch)  # other.test, a link only, never reaches a real resolver
    with ScriptedServer() as server:
        base = server.base
        server.add(f"{base}/p", body=HTML, headers={"Content-Type": "text/html"})
        result = worker.process(Task(f"{base}/p", depth=depth, seed=f"{base}/", kind=PAGE))
    found = [f"{base}/keep", f"{base}/skip-me", "http://other.test/",
             f"{base}/very/long/" + "x" * 120, f"{base}/nf", f"{base}/keep2"]
    verdicts = {url: gate.link(url, f"{base}/", depth) for url in found}
    assert list(result.links) == [url for url, reason in verdicts.items() if reason is None]
    counted: dict[str, int] = {}
    for reason in verdicts.values():
        if reason is not None:
            counted[reason] = counted.get(reason, 0) + 1
    assert (result.refused or {}) == counted


def test_a_hosts_own_page_cap() -> None:
    from crawler.engine.gate import Gate
    from crawler.page import Task

    gate = Gate(max_per_host=3, host_caps={"small.test": 1})
    assert gate.admit(Task("http://small.test/1")) is None
    refusal = gate.admit(Task("http://small.test/2"))
    assert refusal is not None
    assert refusal.error == "host-cap: the host's max_pages reached"
    assert [gate.admit(Task(f"http://big.test/{i}")) for i in range(3)] == [None, None, None]
