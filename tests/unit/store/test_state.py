from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.errors import UsageError
from crawler.page import Task
from crawler.store.state import StateLockedError, StateStore


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "crawl.db")


def urls(tasks):
    return [t.url for t in tasks]


def finish_all(store, status=200):
    while True:
        tasks = store.get(100)
        if not tasks:
            break
        for task in tasks:
            store.done(task, status, "h", None, None, "t", 0)
    store.finish()


def test_new_state_queues_seeds_once(path):
    store = StateStore(path)
    store.begin(["http://a.test/", "http://b.test/", "http://a.test/"])
    assert store.pending() == 2
    assert store.min_depth() == 0
    assert urls(store.get(10)) == ["http://a.test/", "http://b.test/"]
    assert store.pending() == 0
    assert store.get(10) == []
    store.close()


def test_put_dedupes_and_takes_the_shorter_depth(path):
    store = StateStore(path)
    store.begin(["http://a.test/"])
    store.get(10)
    assert store.put([Task("http://a.test/x", 3, "http://a.test/r3"), Task("http://a.test/y", 2)]) == 2
    assert store.put([Task("http://a.test/x", 1, "http://a.test/r1"), Task("http://a.test/", 1)]) == 0
    assert store.min_depth() == 1
    tasks = {t.url: t for t in store.get(10)}
    assert tasks["http://a.test/x"].depth == 1
    assert tasks["http://a.test/x"].referrer == "http://a.test/r1"
    assert [t.depth for t in store.get(10)] == []
    store.close()


def test_resume_puts_taken_tasks_back(path):
    store = StateStore(path)
    store.begin(["http://a.test/1", "http://a.test/2", "http://a.test/3"])
    first, *rest = store.get(10)
    store.done(first, 200, "h", None, None, "t", 0)
    store.commit()
    store.close()  # as good as killed: status stays "running"

    again = StateStore(path)
    again.begin(["http://a.test/1", "http://a.test/2", "http://a.test/3"])
    assert again.resumed
    assert sorted(urls(again.get(10))) == sorted(urls(rest))
    again.close()


def test_uncommitted_work_is_lost_atomically(path):
    store = StateStore(path)
    store.begin(["http://a.test/1"])
    (task,) = store.get(10)
    store.commit()
    store.done(task, 200, "h", None, None, "t", 0)
    store.add_record({"url": task.url})
    store.put([Task("http://a.test/new", 1)])
    store.db.rollback()  # what a SIGKILL before the commit amounts to
    store.close()
    again = StateStore(path)
    again.begin(["http://a.test/1"])
    assert urls(again.get(10)) == ["http://a.test/1"]
    assert list(again.records()) == []
    again.close()


def test_finished_state_starts_a_new_generation_revalidating_everything(path):
    store = StateStore(path)
    store.begin(["http://a.test/"])
    store.get(10)
    store.put([Task("http://a.test/x", 1)])
    (x,) = store.get(10)
    store.done(x, 200, "h1", '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT", "X", 3)
    finish_all(store)
    store.close()

    again = StateStore(path)
    again.begin(["http://a.test/"])
    assert not again.resumed
    assert again.generation == 2
    tasks = {t.url: t for t in again.get(10)}
    assert set(tasks) == {"http://a.test/", "http://a.test/x"}
    assert tasks["http://a.test/x"].validators == ('"e1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert tasks["http://a.test/"].validators is None
    prev = again.previous("http://a.test/x")
    assert (prev.status, prev.hash, prev.fetched, prev.title, prev.links) == (200, "h1", True, "X", 3)
    again.done(tasks["http://a.test/x"], 304, None, None, None, None, None)
    assert again.previous("http://a.test/x").hash == "h1", "a 304 keeps what the 200 taught"
    again.close()


def test_recrawl_after_skips_recent_pages(path):
    store = StateStore(path)
    store.begin(["http://a.test/"])
    finish_all(store)
    store.close()
    again = StateStore(path)
    again.begin(["http://a.test/"], recrawl_after=3600)
    assert again.get(10) == []
    again.close()


def test_outbox_keeps_records_until_written(path):
    store = StateStore(path)
    store.begin(["http://a.test/"])
    assert store.add_record({"url": "u1"}) == 1
    assert store.add_record({"url": "u2"}) == 2
    store.written(1, 100)
    store.commit()
    assert store.written_mark() == (1, 100)
    assert list(store.records()) == [(2, {"url": "u2"})]
    store.close()


def test_second_run_is_locked_out(path):
    store = StateStore(path)
    code = ("import sys; from crawler.store.state import StateStore, StateLockedError\n"
            f"try:\n    StateStore({path!r})\nexcept StateLockedError as e:\n    print(e); sys.exit(3)\n")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert other.returncode == 3, other.stderr
    assert "in use by another run" in other.stdout
    store.close()
    StateStore(path).close()  # released


def test_lock_error_is_a_usage_error():
    assert issubclass(StateLockedError, UsageError)


def test_not_a_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not usable"):
        StateStore(str(bad))


def test_failed_open_leaves_no_lock_file(tmp_path):
    # issue 16, defect 11: a DIR.lock beside the directory, a bad.db.lock beside the bad file
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    directory = tmp_path / "dir"
    directory.mkdir()
    with pytest.raises(UsageError, match="not usable"):
        StateStore(str(bad))
    with pytest.raises(UsageError, match="is a directory"):
        StateStore(str(directory))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db", "dir"]


def test_failed_open_keeps_a_lock_file_it_did_not_create(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    (tmp_path / "bad.db.lock").write_text("")
    with pytest.raises(UsageError, match="not usable"):
        StateStore(str(bad))
    assert (tmp_path / "bad.db.lock").exists()


def test_get_leaves_deeper_tasks_queued(path):
    store = StateStore(path)
    store.begin(["http://a.test/"])
    store.get(10)
    store.put([Task("http://a.test/x", 3, "http://a.test/r3"), Task("http://a.test/y", 2)])
    assert urls(store.get(10, max_depth=2)) == ["http://a.test/y"]
    assert store.get(10, max_depth=2) == []
    store.put([Task("http://a.test/x", 2, "http://a.test/r2")])
    [task] = store.get(10, max_depth=2)
    assert (task.url, task.depth, task.referrer) == ("http://a.test/x", 2, "http://a.test/r2")
    store.close()
