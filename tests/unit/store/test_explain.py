"""crawler.store.explain: what a state file knows about a URL, including state files from before refusals."""

from __future__ import annotations

import sqlite3

from crawler.page import Task
from crawler.store.explain import explain, lookup
from crawler.store.state import StateStore

SEED = "http://a.test/"


def _state(path: str) -> None:
    store = StateStore(path)
    store.begin([SEED])
    store.get(10)
    store.done(Task(SEED), 200, "h", None, None, "Home", 2)
    store.put([Task("http://a.test/x", 1, SEED, SEED)])
    store.refuse([("http://a.test/deep", "depth", "--depth 1")], "http://a.test/x", 2)
    store.commit()
    store.close()


def test_refusal_and_fetch(tmp_path):
    path = str(tmp_path / "s.db")
    _state(path)
    assert explain(lookup(path, SEED)).startswith(f"{SEED} was fetched as a seed (depth 0): HTTP 200, title \"Home\"")
    deep = lookup(path, "http://a.test/deep")
    assert deep.known
    assert explain(deep) == ("http://a.test/deep was not fetched at depth 2 from http://a.test/x: "
                             "it was found on a page at the --depth limit (--depth 1).")
    assert "is queued at depth 1" in explain(lookup(path, "http://a.test/x"))
    assert not lookup(path, "http://a.test/other").known


def test_state_file_from_before_refusals_opens_as_it_is(tmp_path):
    path = str(tmp_path / "old.db")
    _state(path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE refusal")
    assert not lookup(path, "http://a.test/deep").known  # unknown, not an error
    store = StateStore(path)  # a crawl on it creates the table and goes on
    store.refuse([("http://a.test/deep", "depth", "--depth 1")], None, 2)
    store.commit()
    store.close()
    assert lookup(path, "http://a.test/deep").reason == "depth"
