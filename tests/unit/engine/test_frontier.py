"""crawler.engine.frontier: ManagerFrontier over a real multiprocessing Manager."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from crawler.engine.frontier import ManagerFrontier, start_manager
from crawler.page import Task


@pytest.fixture(scope="module")
def manager():
    mgr = start_manager(multiprocessing.get_context())
    yield mgr
    mgr.shutdown()


@pytest.fixture
def frontier(manager):
    f = ManagerFrontier(manager)
    yield f
    f.close()


def t(url: str, depth: int = 0, referrer: str | None = None) -> Task:
    return Task(url, depth=depth, referrer=referrer, seed="http://a.test/")


def test_empty(frontier):
    assert frontier.pending() == 0
    assert frontier.min_depth() is None
    assert frontier.get(10) == []  # never blocks


def test_put_dedupes(frontier):
    assert frontier.put([t("http://a.test/1"), t("http://a.test/2"), t("http://a.test/1")]) == 2
    assert frontier.put([t("http://a.test/2"), t("http://a.test/3")]) == 1
    assert frontier.put([]) == 0
    assert frontier.pending() == 3
    got = frontier.get(100)
    assert sorted(x.url for x in got) == ["http://a.test/1", "http://a.test/2", "http://a.test/3"]
    assert frontier.pending() == 0


def test_seen_survives_get(frontier):
    frontier.put([t("http://a.test/1")])
    assert len(frontier.get(10)) == 1
    assert frontier.put([t("http://a.test/1")]) == 0  # already crawled
    assert frontier.put([t("http://a.test/1", depth=0)]) == 0
    assert frontier.get(10) == []
    assert frontier.pending() == 0
    assert frontier.min_depth() is None
    assert frontier.seen_count() == 1


def test_get_lowest_depth_first(frontier):
    frontier.put([t("http://a.test/d2", 2)])
    frontier.put([t("http://a.test/d1a", 1), t("http://a.test/d3", 3)])
    frontier.put([t("http://a.test/d0", 0), t("http://a.test/d1b", 1)])
    got = frontier.get(100)
    assert [x.depth for x in got] == [0, 1, 1, 2, 3]
    assert got[0].url == "http://a.test/d0"


def test_get_respects_limit_without_losing_tasks(frontier):
    for i in range(10):
        frontier.put([t(f"http://a.test/{i}")])
    first = frontier.get(3)
    assert 3 <= len(first) < 10
    assert frontier.pending() == 10 - len(first)
    rest = frontier.get(100)
    assert len(first) + len(rest) == 10
    assert {x.url for x in first} | {x.url for x in rest} == {f"http://a.test/{i}" for i in range(10)}
    assert frontier.pending() == 0


def test_shorter_depth_while_queued(frontier):
    assert frontier.put([t("http://a.test/x", 3, referrer="http://a.test/deep")]) == 1
    assert frontier.min_depth() == 3
    assert frontier.put([t("http://a.test/x", 1, referrer="http://a.test/shallow")]) == 0
    assert frontier.pending() == 1
    assert frontier.min_depth() == 1
    assert frontier.put([t("http://a.test/x", 2, referrer="http://a.test/middle")]) == 0  # not shorter
    got = frontier.get(10)
    assert len(got) == 1
    assert got[0].url == "http://a.test/x"
    assert got[0].depth == 1
    assert got[0].referrer == "http://a.test/shallow"
    assert frontier.min_depth() is None


def test_longer_depth_ignored(frontier):
    frontier.put([t("http://a.test/x", 1, referrer="r1")])
    frontier.put([t("http://a.test/x", 4, referrer="r4")])
    got = frontier.get(10)
    assert [(x.depth, x.referrer) for x in got] == [(1, "r1")]


def test_pending_and_min_depth_counts(frontier):
    frontier.put([t("http://a.test/a", 2), t("http://a.test/b", 2)])
    frontier.put([t("http://a.test/c", 1)])
    assert frontier.pending() == 3
    assert frontier.min_depth() == 1
    got = frontier.get(100)
    assert len(got) == 3
    assert frontier.pending() == 0
    assert frontier.min_depth() is None
    frontier.put([t("http://a.test/d", 5)])
    assert frontier.pending() == 1
    assert frontier.min_depth() == 5


def test_min_depth_after_partial_get(frontier):
    frontier.put([t("http://a.test/a", 0)])
    frontier.put([t("http://a.test/b", 1)])
    got = frontier.get(1)
    assert [x.depth for x in got] == [0]
    assert frontier.min_depth() == 1
    assert frontier.pending() == 1


def test_tasks_round_trip_intact(frontier):
    task = Task("http://a.test/p", depth=2, referrer="http://a.test/", seed="http://a.test/", attempt=0)
    frontier.put([task])
    (got,) = frontier.get(1)
    assert got == task


def test_concurrent_puts(frontier):
    def put_range(start: int) -> None:
        for i in range(start, start + 50):
            frontier.put([t(f"http://a.test/{i % 75}")])

    threads = [threading.Thread(target=put_range, args=(k * 25,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    got = frontier.get(1000)
    assert len(got) == 75
    assert len({x.url for x in got}) == 75
    assert frontier.seen_count() == len(got)


@pytest.mark.parametrize("local", [False, True])
def test_get_leaves_deeper_tasks_queued_until_a_shorter_path_can_still_come(frontier, manager, local):
    f = ManagerFrontier(None) if local else frontier
    # A depth-2 page linked /u (so /u is at depth 3) before its depth-1 parent was done ...
    f.put([t("http://a.test/u", 3, "http://a.test/q2"), t("http://a.test/v", 3, "http://a.test/q2")])
    f.put([t("http://a.test/w", 2, "http://a.test/p1")])
    # ... and the loop only takes what its depth gate would dispatch.
    assert [x.url for x in f.get(10, max_depth=2)] == ["http://a.test/w"]
    assert f.get(10, max_depth=2) == []
    assert f.pending() == 2
    # The depth-1 parent's links arrive: /u is at depth 2 after all.
    f.put([t("http://a.test/u", 2, "http://a.test/p1")])
    got = {x.url: x for x in f.get(10, max_depth=3)}
    assert (got["http://a.test/u"].depth, got["http://a.test/u"].referrer) == (2, "http://a.test/p1")
    assert got["http://a.test/v"].depth == 3
    assert f.pending() == 0
