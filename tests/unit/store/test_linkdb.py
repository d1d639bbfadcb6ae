"""crawler.store.linkdb: the check rules, and the side file of a resumed crawl."""

from __future__ import annotations

import re
import sqlite3

import pytest

from crawler.page import CHECK, Done, Page, PageResult, Task, encode_edges
from crawler.store import linkdb
from crawler.store.linkdb import LinkDB, LinkSink, Verdict, judge

T = "http://a.test/x"


def test_judge():
    plain = Verdict()
    assert judge(plain, T, 200, 1, None, 0, 1, None, 0) == (True, None)
    assert judge(plain, T, 404, 0, "http: 404 Not Found", 0, 0, None, 0) == (False, "http: 404 Not Found")
    assert judge(plain, T, None, None, None, None, None, None, None) == (True, None)  # not fetched: not checked
    assert judge(plain, T, None, 0, "robots: disallowed", 0, 0, None, 0) == (True, "not checked: robots: disallowed")
    assert judge(plain, T, 200, 1, None, 1, 1, None, 0)[0] is False  # soft 404
    assert judge(plain, T, 200, 1, None, 0, 1, "top", 0) == (False, "fragment: #top not found")
    assert judge(plain, T, 200, 1, None, 0, 1, "top", 1) == (True, None)
    assert judge(plain, T, 200, 1, None, 0, 0, "top", 0) == (True, None)  # not parsed: fragment unknown
    accept = Verdict(frozenset({403}), (re.compile("ignored"),))
    assert judge(accept, T, 403, 0, "http: 403 Forbidden", 0, 0, None, 0) == (True, None)
    assert judge(accept, T + "/ignored", 500, 0, "http: 500", 0, 0, None, 0) == (True, "not checked: --ignore")


def _done(url: str, links: list[str], kind: str = "page") -> Done:
    page = Page(url=url, final_url=url, status=200, ok=True, title="t")
    task = Task(url, kind=kind)
    edges = encode_edges([(link, None, "text", "a", False) for link in links])
    return Done(page, task, PageResult(task=task, page=page, edges=edges if kind != CHECK else None,
                                       ids="[]" if kind != CHECK else None))


def test_a_page_fetched_again_replaces_its_links(tmp_path):
    path = str(tmp_path / "l.sqlite")
    sink = LinkSink(path, [T])
    sink.open()
    sink.write(_done(T, ["http://a.test/1", "http://a.test/2"]))
    sink.write(_done("http://b.test/", [], kind=CHECK))
    sink.close(False)
    again = LinkSink(path, [T])  # a resumed crawl
    again.open()
    again.write(_done(T, ["http://a.test/3"]))
    again.close(True)
    db = LinkDB(path)
    assert [row["target"] for row in db.link_rows(Verdict())] == ["http://a.test/3"]
    assert db.meta("finished") == "1"
    assert db.db.execute("SELECT kind FROM page WHERE url = 'http://b.test/'").fetchone() == ("check",)
    db.close()


def test_an_interrupted_crawls_side_file_names_what_it_recorded_and_what_it_left_unchecked(tmp_path):
    path = str(tmp_path / "l.sqlite")
    sink = LinkSink(path, [T])
    sink.open()
    assert not sink.interrupted  # a new file
    sink.write(_done(T, ["http://b.test/", "http://a.test/1", "http://b.test/"]))
    sink.write(_done("http://a.test/1", ["http://c.test/", "http://b.test/"]))
    sink.write(_done("http://c.test/", [], kind=CHECK))
    sink.close(False)
    again = LinkSink(path, [T])
    again.open()
    assert again.interrupted
    assert sorted(again.recorded()) == ["http://a.test/1", T, "http://c.test/"]
    # depth: the page's own (0 here) + 1; the first page linking, in the order first linked
    assert again.unanswered() == [("http://b.test/", T, 1)]
    again.close(True)
    finished = LinkSink(path, [T])
    finished.open()
    assert not finished.interrupted  # a finished crawl's file: a new run crawls afresh
    finished.close(True)


def _page(url: str, edges: list[tuple[str, str | None, str]], names: tuple[str, ...] = (), status: int = 200,
          kind: str = "page") -> Done:
    ok = status < 400
    page = Page(url=url, final_url=url, status=status, ok=ok, title="t", error=None if ok else f"http: {status}")
    task = Task(url, kind=kind)
    graph = encode_edges([(target, fragment, text, "a", False) for target, fragment, text in edges])
    return Done(page, task, PageResult(task=task, page=page, edges=graph if kind != CHECK else None,
                                       ids=encode_edges(names) if kind != CHECK else None))


@pytest.mark.parametrize("loaded", [20_000, 0], ids=["names-loaded", "names-cached"])
def test_broken_targets_from_one_pass_over_the_pages_links_agree_with_the_links_table(tmp_path, monkeypatch, loaded):
    # A small crawl's fragment names are read at once, a large one's a page at a time: the same verdict.
    monkeypatch.setattr(linkdb, "_NAMES_LOADED", loaded)
    path = str(tmp_path / "l.sqlite")
    sink = LinkSink(path, [T])
    sink.open()
    sink.write(_page(T, [("http://a.test/gone", None, "Gone"), ("http://a.test/2", "top", "Top"),
                         ("http://a.test/2", "nowhere", "Nowhere"), ("http://x.test/", None, "X")]))
    sink.write(_page("http://a.test/2", [("http://a.test/gone", None, "Again"), ("http://a.test/gone", None, "Again"),
                                         ("http://a.test/2", "nowhere", "Self"), ("http://a.test/y", "top", "Y")],
                     names=("top",)))
    sink.write(_page("http://a.test/gone", [], status=404))
    sink.write(_page("http://x.test/", [], status=500, kind=CHECK))
    sink.write(_page("http://a.test/y", [], names=()))
    sink.close(True)
    db = LinkDB(path)
    try:
        broken = db.broken(Verdict(), referrers=2)
        assert [(b.target, b.fragment, b.status, b.error) for b in broken] == [
            ("http://a.test/gone", None, 404, "http: 404"),
            ("http://a.test/2", "nowhere", 200, "fragment: #nowhere not found"),
            ("http://x.test/", None, 500, "http: 500"),
            ("http://a.test/y", "top", 200, "fragment: #top not found")]
        # every referrer once, up to the limit, in the order found
        assert list(broken[0].referrers) == [(T, "Gone"), ("http://a.test/2", "Again")]
        assert list(broken[1].referrers) == [(T, "Nowhere"), ("http://a.test/2", "Self")]
        assert db.meta("edges") == "0"  # the verdict needs no edge table
        table = {(row["target"], row["fragment"]) for row in db.link_rows(Verdict()) if not row["ok"]}
        assert table == {(b.target, b.fragment) for b in broken}
        assert db.meta("edges") == "1"
        assert db.referrers("http://a.test/gone") == [(T, "Gone"), ("http://a.test/2", "Again")]
        # With the edge table built, broken() asks it by SQL: the same answer.
        by_sql = db.broken(Verdict(), referrers=2)
        assert [(b.target, b.fragment, b.status, b.error, b.referrers) for b in by_sql] == \
            [(b.target, b.fragment, b.status, b.error, b.referrers) for b in broken]
        rules = Verdict(frozenset({404, 500}), (re.compile(r"a\.test/2$"),))
        db.db.execute("UPDATE meta SET value = '0' WHERE key = 'edges'")
        assert [(b.target, b.fragment) for b in db.broken(rules)] == [("http://a.test/y", "top")]
        db.build_edges()
        assert [(b.target, b.fragment) for b in db.broken(rules)] == [("http://a.test/y", "top")]
    finally:
        db.close()


def test_the_edge_table_is_built_again_once_a_crawl_changes_the_file(tmp_path):
    path = str(tmp_path / "l.sqlite")
    sink = LinkSink(path, [T])
    sink.open()
    sink.write(_page(T, [("http://a.test/1", None, "One")]))
    sink.close(False)
    db = LinkDB(path)
    assert [row["target"] for row in db.link_rows(Verdict())] == ["http://a.test/1"]
    db.close()
    again = LinkSink(path, [T])
    again.open()
    again.write(_page(T, [("http://a.test/2", None, "Two"), ("http://a.test/3", None, "Three")]))
    again.close(True)
    db = LinkDB(path)
    try:
        assert [row["target"] for row in db.link_rows(Verdict())] == ["http://a.test/2", "http://a.test/3"]
        assert db.db.execute("SELECT COUNT(*) FROM edge").fetchone() == (2,)
        assert db.links_of(T)[0] == ["http://a.test/2", None, "Two", "a", False]
    finally:
        db.close()


def test_a_side_file_of_version_1_is_upgraded_and_an_interrupted_check_goes_on_from_it(tmp_path):
    # As the first version wrote it: a row per link in `edge`, the names in `name`, none in the page rows.
    path = str(tmp_path / "l.sqlite")
    old = sqlite3.connect(path)
    old.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        CREATE TABLE page (
            url TEXT PRIMARY KEY, final_url TEXT, host TEXT, kind TEXT, status INTEGER, ok INTEGER, error TEXT,
            content_type TEXT, bytes INTEGER, elapsed_ms REAL, depth INTEGER, referrer TEXT, title TEXT,
            parsed INTEGER, soft404 INTEGER, content_hash TEXT, redirects TEXT, fetched_at TEXT);
        CREATE TABLE edge (id INTEGER PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, fragment TEXT,
                           text TEXT, tag TEXT, nofollow INTEGER);
        CREATE TABLE name (url TEXT, name TEXT, PRIMARY KEY (url, name)) WITHOUT ROWID;
        INSERT INTO meta VALUES ('schema', '1'), ('finished', '0'), ('seeds', '["http://a.test/x"]');
        INSERT INTO page (url, kind, status, ok, depth, parsed, soft404) VALUES
            ('http://a.test/x', 'page', 200, 1, 0, 1, 0), ('http://a.test/1', 'page', 200, 1, 1, 1, 0),
            ('http://a.test/empty', 'page', 200, 1, 1, 1, 0);
        INSERT INTO edge (source, target, fragment, text, tag, nofollow) VALUES
            ('http://a.test/x', 'http://b.test/', NULL, 'B', 'a', 0),
            ('http://a.test/x', 'http://a.test/1', 'top', 'One', 'a', 1),
            ('http://a.test/1', 'http://a.test/1', 'gone', 'Self', 'a', 0);
        INSERT INTO name VALUES ('http://a.test/1', 'top');
    """)
    old.commit()
    old.close()
    sink = LinkSink(path, [T])
    sink.open()
    assert sink.interrupted
    assert sink.unanswered() == [("http://b.test/", T, 1)]
    sink.close(True)
    db = LinkDB(path)
    try:
        assert db.meta("schema") == "2"
        assert db.links_of(T) == [["http://b.test/", None, "B", "a", False],
                                  ["http://a.test/1", "top", "One", "a", True]]
        assert db.links_of("http://a.test/empty") == []
        assert [(b.target, b.fragment) for b in db.broken(Verdict())] == [("http://a.test/1", "gone")]
        assert [row["target"] for row in db.link_rows(Verdict())] == ["http://b.test/", "http://a.test/1",
                                                                      "http://a.test/1"]
    finally:
        db.close()
