"""The Redis frontier's scripts against a real redis-server: queue order, dedupe, leases,
the completed set, the outbox, caps and the global per-host gate.

Two `RedisFrontier` objects on one crawl stand for two nodes.
"""

from __future__ import annotations

import json
import time

import pytest

from crawler.cluster.frontier import EMPTY_POLL, STATE_TTL, RedisFrontier, RedisHostGate, fp_of
from crawler.cluster.link import Keys, connect
from crawler.page import ROBOTS, Task

H = "http://h.test"


def node(redis_url: str, name: str = "a", lease: float = 60.0, crawl: str = "t") -> RedisFrontier:
    return RedisFrontier(connect(redis_url), Keys(crawl), name, lease)


def urls(tasks: list[Task]) -> list[str]:
    return [t.url for t in tasks]


def settle() -> None:
    time.sleep(STATE_TTL + 0.05)  # the cached crawl state is refreshed after this long


def test_put_dedupes_and_get_is_breadth_first_in_discovery_order(redis_url):
    a = node(redis_url)
    assert a.put([Task(f"{H}/s1"), Task(f"{H}/s2")]) == 2
    assert a.put([Task(f"{H}/x", 1, f"{H}/s1", f"{H}/s1"), Task(f"{H}/s1", 1)]) == 1  # s1 seen
    assert a.put([Task(f"{H}/s2")]) == 0
    got = a.get(10)
    assert urls(got) == [f"{H}/s1", f"{H}/s2", f"{H}/x"]
    assert (got[2].depth, got[2].referrer, got[2].seed) == (1, f"{H}/s1", f"{H}/s1")
    assert a.get(10) == []


def test_a_queued_url_found_by_a_shorter_path_takes_the_shorter_depth(redis_url):
    a = node(redis_url)
    a.put([Task(f"{H}/deep", 3, "r3")])
    a.put([Task(f"{H}/deep", 1, "r1")])
    assert a.min_depth() == 1
    [task] = a.get(10)
    assert (task.depth, task.referrer) == (1, "r1")


def test_get_leaves_deeper_tasks_queued(redis_url):
    a = node(redis_url)
    a.put([Task(f"{H}/deep", 3, "r3"), Task(f"{H}/near", 2, "r2")])
    assert urls(a.get(10, max_depth=2)) == [f"{H}/near"]
    assert a.get(10, max_depth=2) == []
    a.put([Task(f"{H}/deep", 2, "r2b")])
    time.sleep(EMPTY_POLL)  # a node asks again this long after an empty answer
    [task] = a.get(10, max_depth=2)
    assert (task.url, task.depth, task.referrer) == (f"{H}/deep", 2, "r2b")


def test_after_an_empty_answer_a_node_asks_again_at_once_when_the_crawl_changed(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.put([Task(f"{H}/0")])
    [seed] = a.get(10)
    b.put([Task(f"{H}/other", 2)])
    calls = a.link.calls
    assert a.get(10, max_depth=0) == []  # /other is deeper than allowed
    assert a.get(10, max_depth=0) == []  # nothing changed: no call within the poll
    assert a.link.calls == calls + 1
    a.complete(seed, "r", [Task(f"{H}/1", 1, seed.url, seed.url)])  # depth 0 done, a link queued
    assert urls(a.get(10, max_depth=1)) == [f"{H}/1"]


def test_a_task_leased_by_one_node_is_not_given_to_another(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.put([Task(f"{H}/1"), Task(f"{H}/2")])
    assert urls(a.get(1)) == [f"{H}/1"]
    assert urls(b.get(10)) == [f"{H}/2"]
    settle()
    assert b.get(10) == []
    assert b.pending() == 2  # both in flight: the crawl is not finished
    assert b.min_depth() == 0


def test_an_expired_lease_goes_back_first_in_line(redis_url):
    a, b = node(redis_url, "a", lease=0.3), node(redis_url, "b", lease=0.3)
    a.put([Task(f"{H}/1"), Task(f"{H}/2")])
    assert urls(a.get(1)) == [f"{H}/1"]  # a "dies" holding /1
    time.sleep(0.4)
    assert urls(b.get(1)) == [f"{H}/1"]
    assert urls(b.get(1)) == [f"{H}/2"]


def test_renewed_leases_stay_with_their_node(redis_url):
    a, b = node(redis_url, "a", lease=0.4), node(redis_url, "b", lease=0.4)
    a.put([Task(f"{H}/1")])
    a.get(1)
    for _ in range(3):
        time.sleep(0.2)
        a.renew({})
    assert b.get(10) == []
    settle()
    assert b.get(10) == []


def test_complete_commits_record_and_links_and_refuses_a_late_duplicate(redis_url):
    a, b = node(redis_url, "a", lease=0.2), node(redis_url, "b", lease=0.2)
    client, k = a.link.client, a.keys
    a.put([Task(f"{H}/p")])
    [task_a] = a.get(1)
    time.sleep(0.3)  # a's lease runs out; b takes the page again
    [task_b] = b.get(1)
    links = [Task(f"{H}/c1", 1, f"{H}/p"), Task(f"{H}/c2", 1, f"{H}/p")]
    assert b.complete(task_b, '{"url":"b"}', links) is True
    assert a.complete(task_a, '{"url":"a"}', links) is False  # the late report says nothing
    assert client.lrange(k.outbox("b"), 0, -1) == [b'{"url":"b"}']
    assert client.llen(k.outbox("a")) == 0
    assert client.sismember(k.done, fp_of(f"{H}/p"))
    assert urls(a.get(10)) == [f"{H}/c1", f"{H}/c2"]
    assert int(client.hget(k.meta, "pages")) == 1


def test_the_next_call_acknowledges_written_records(redis_url):
    a = node(redis_url)
    k, client = a.keys, a.link.client
    a.put([Task(f"{H}/1"), Task(f"{H}/2")])
    t1, t2 = a.get(2)
    a.complete(t1, "r1")
    a.unacked = 1  # r1 is in the file now
    a.complete(t2, "r2")
    assert client.lrange(k.outbox("a"), 0, -1) == [b"r2"]
    a.unacked = 1
    a.ack()
    assert client.llen(k.outbox("a")) == 0


def test_a_retried_completion_gets_the_first_answer(redis_url):
    # A reply lost on the wire: the script ran, the node sends the same call again.
    a = node(redis_url)
    a.put([Task(f"{H}/1")])
    [task] = a.get(1)
    assert a.complete(task, "r1", [Task(f"{H}/x", 1)]) is True
    a._call_id -= 1
    assert a.complete(task, "r1", [Task(f"{H}/x", 1)]) is True
    assert a.link.client.llen(a.keys.outbox("a")) == 1
    a.get(10)  # /x, queued once


def test_the_crawl_is_finished_when_nothing_is_queued_or_in_flight(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.put([Task(f"{H}/1")])
    [task] = a.get(1)
    settle()
    assert b.pending() == 1
    a.complete(task, "r", [Task(f"{H}/2", 1)])
    settle()
    assert b.pending() == 1
    [task] = b.get(1)
    b.complete(task, None)  # dropped: done without a record
    settle()
    assert a.pending() == 0
    assert b.min_depth() is None


def test_hand_back_returns_leases_at_once(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.put([Task(f"{H}/1"), Task(f"{H}/2")])
    a.get(2)
    a.hand_back({})
    assert urls(b.get(10)) == [f"{H}/1", f"{H}/2"]


def test_max_pages_is_global(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.link.client.hset(a.keys.meta, "max_pages", 3)
    a.put([Task(f"{H}/{i}") for i in range(5)])
    got = a.get(2) + b.get(10) + a.get(10)
    assert len(got) == 3
    for task in got:
        a.complete(task, None)
    settle()
    assert a.pending() == b.pending() == 0  # the rest will never be fetched: finished


def test_max_pages_per_host_is_global(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.link.client.hset(a.keys.meta, "max_per_host", 2)
    a.put([Task(f"http://{host}.test/{i}") for i in range(3) for host in "xy"])
    got = a.get(1) + b.get(10)
    assert sorted(urls(got)) == ["http://x.test/0", "http://x.test/1", "http://y.test/0", "http://y.test/1"]
    assert int(a.link.client.hget(a.keys.meta, "capped")) == 2
    assert a.link.client.scard(a.keys.done) == 2  # left out: done without a record


# -- the host gate ---------------------------------------------------------------------
def test_per_host_slots_are_shared_by_every_node(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    ga, gb = RedisHostGate(a), RedisHostGate(b)
    t1, t2, t3 = (Task(f"{H}/{i}") for i in range(3))
    assert ga.acquire(H, t1, 2, 0) == 0
    assert gb.acquire(H, t2, 2, 0) == 0
    assert gb.acquire(H, t3, 2, 0) < 0  # full: both slots taken, one by each node
    assert gb.acquire("http://other.test", t3, 2, 0) == 0  # other hosts are not affected
    ga.release(H, t1)  # idle: still a's, for a's next request to H
    ga.settle()  # a started what it could: freed with a's next call
    assert gb.acquire(H, t3, 2, 0) < 0
    a.flush()
    assert gb.acquire(H, t3, 2, 0) == 0


def test_a_nodes_idle_slot_serves_its_next_request_without_a_call(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    ga, gb = RedisHostGate(a), RedisHostGate(b)
    t1, t2, t3 = (Task(f"{H}/{i}") for i in range(3))
    assert ga.acquire(H, t1, 1, 0) == 0
    ga.release(H, t1)
    calls = a.link.calls
    assert ga.acquire(H, t2, 1, 0) == 0  # the same slot, kept
    assert a.link.calls == calls
    assert gb.acquire(H, t3, 1, 0) < 0  # still counted in Redis: the limit holds across nodes
    ga.release(H, t2)
    ga.settle()
    assert gb.acquire(H, t3, 1, 0) < 0  # not before a's next call
    a.flush()
    assert gb.acquire(H, t3, 1, 0) == 0
    assert ga.held == {}
    assert ga.idle == {}


def test_with_a_delay_an_idle_slot_still_asks_for_the_pace(redis_url):
    a = node(redis_url, "a")
    ga = RedisHostGate(a)
    assert ga.acquire(H, Task(f"{H}/1"), 1, 0.5) == 0
    ga.release(H, Task(f"{H}/1"))
    assert 0.3 < ga.acquire(H, Task(f"{H}/2"), 1, 0.5) <= 0.5  # paced, though the slot is ours
    assert len(ga.held) == 1  # and kept, not taken twice


def test_delay_paces_a_host_across_nodes(redis_url):
    ga, gb = RedisHostGate(node(redis_url, "a")), RedisHostGate(node(redis_url, "b"))
    assert ga.acquire(H, Task(f"{H}/1"), 4, 0.5) == 0
    wait = gb.acquire(H, Task(f"{H}/2"), 4, 0.5)
    assert 0.3 < wait <= 0.5
    time.sleep(wait)
    assert gb.acquire(H, Task(f"{H}/2"), 4, 0.5) == 0


def test_a_dead_nodes_slots_come_free_after_the_lease(redis_url):
    a, b = node(redis_url, "a", lease=0.3), node(redis_url, "b", lease=0.3)
    ga, gb = RedisHostGate(a), RedisHostGate(b)
    assert ga.acquire(H, Task(f"{H}/1"), 1, 0) == 0  # a dies holding the only slot
    assert gb.acquire(H, Task(f"{H}/2"), 1, 0) < 0
    time.sleep(0.4)
    assert gb.acquire(H, Task(f"{H}/2"), 1, 0) == 0


def test_renewal_keeps_a_slot_of_a_long_request(redis_url):
    a, b = node(redis_url, "a", lease=0.3), node(redis_url, "b", lease=0.3)
    ga, gb = RedisHostGate(a), RedisHostGate(b)
    assert ga.acquire(H, Task(f"{H}/robots.txt", kind=ROBOTS), 1, 0) == 0
    for _ in range(3):
        time.sleep(0.15)
        a.renew(ga.held)
    assert gb.acquire(H, Task(f"{H}/2"), 1, 0) < 0


def test_a_completion_frees_the_slot_of_its_request(redis_url):
    a = node(redis_url, "a")
    ga, gb = RedisHostGate(a), RedisHostGate(node(redis_url, "b"))
    a.put([Task(f"{H}/1")])
    [task] = a.get(1)
    assert ga.acquire(H, task, 1, 0) == 0
    ga.release(H, task)
    ga.settle()
    a.complete(task, "r")  # carries the release
    assert gb.acquire(H, Task(f"{H}/2"), 1, 0) == 0


def test_tasks_are_stored_as_plain_json(redis_url):
    a = node(redis_url)
    a.put([Task(f"{H}/é", 0, None, f"{H}/")])
    stored = a.link.client.hget(a.keys.task, fp_of(f"{H}/é"))
    assert json.loads(stored) == [f"{H}/é", 0, None, f"{H}/"]


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "unix:///nonexistent/redis.sock"])
def test_connect_to_nothing_is_a_usage_error(url):
    from crawler.errors import UsageError

    with pytest.raises(UsageError, match="cannot reach Redis"):
        connect(url)


def test_the_redis_fingerprint_is_the_crawls_fingerprint_in_hex():
    from crawler.urls import fingerprint

    for url in (f"{H}/", f"{H}/é?q=1", "http://[::1]:8080/a b"):
        assert fp_of(url) == f"{fingerprint(url):016x}"


def test_pages_completed_together_are_each_accepted_once(redis_url):
    a, b = node(redis_url, "a"), node(redis_url, "b")
    a.put([Task(f"{H}/1"), Task(f"{H}/2")])
    t1, t2 = a.get(2)
    assert b.complete(t2, '{"url":"2"}')  # b reported /2 first (a's lease ran out)
    links = [Task(f"{H}/1/{i}", 1, t1.url, t1.url) for i in range(3)]
    assert a.complete_many([(t1, '{"url":"1"}', links, False), (t2, '{"url":"2a"}', [], False)]) == [True, False]
    assert a.link.client.lrange(a.keys.outbox("a"), 0, -1) == [b'{"url":"1"}']
    assert sorted(urls(a.get(10))) == sorted(urls(links))
