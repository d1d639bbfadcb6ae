"""`RedisNode`: node identity, commit-then-write, and the restart that makes its file whole."""

from __future__ import annotations

import json

import pytest

from crawler.cluster.node import RedisNode, default_crawl_id, default_node, outbox_records
from crawler.config import CrawlConfig
from crawler.errors import UsageError
from crawler.page import Page, Task
from tests.conftest import read_output

H = "http://h.test"


def make_node(redis_url: str, output, **over) -> RedisNode:
    options = dict(redis=redis_url, crawl_id="c", node="n1", output=str(output), workers=1)
    options.update(over)
    return RedisNode(CrawlConfig(**options), [f"{H}/"])


def abandon(node: RedisNode) -> None:
    """The node is "killed": its heartbeat runs out, its file and connection just close."""
    node.link.client.delete(node.keys.alive(node.name))
    if node.writer is not None:
        node.writer.stream.close()
    node.link.close()


def page(url: str) -> Page:
    return Page(url=url, final_url=url, status=200, ok=True, title=url[-2:], fetched_at="2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_a_restarted_node_has_each_of_its_records_once(redis_url, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    first = make_node(redis_url, out)
    first.open()
    first.frontier.put([Task(f"{H}/p{i}", 1) for i in range(1, 4)])
    tasks = {t.url: t for t in first.frontier.get(10)}
    assert first.record(page(f"{H}/"), tasks[f"{H}/"])
    assert first.record(page(f"{H}/p1"), tasks[f"{H}/p1"])
    # Killed at the worst moment: p2 committed in Redis, its line half written.
    p2 = page(f"{H}/p2")
    p2.node = "n1"
    assert first.frontier.complete(tasks[f"{H}/p2"], json.dumps(p2.to_dict()))
    if fmt != "json":
        line = first.writer.encode(p2.to_dict())
        first.writer.stream.write(line[: len(line) // 2])
        first.writer.stream.flush()
    abandon(first)

    again = make_node(redis_url, out)
    again.open()
    assert again.record(page(f"{H}/p3"), tasks[f"{H}/p3"])
    again.close(finished=True)
    records = read_output(out)
    assert [r["url"] for r in records] == [f"{H}/", f"{H}/p1", f"{H}/p2", f"{H}/p3"]
    assert {r["node"] for r in records} == {"n1"}
    assert outbox_records(redis_url, "c") == []


def test_a_node_on_another_output_starts_it_afresh_with_its_leftovers(redis_url, tmp_path):
    first = make_node(redis_url, tmp_path / "a.jsonl")
    first.open()
    [task] = first.frontier.get(1)
    p = page(f"{H}/")
    p.node = "n1"
    first.frontier.complete(task, json.dumps(p.to_dict()))  # committed, never written
    abandon(first)
    assert [r["url"] for r in outbox_records(redis_url, "c")] == [f"{H}/"]
    again = make_node(redis_url, tmp_path / "b.jsonl")
    again.open()
    again.close(finished=True)
    assert [r["url"] for r in read_output(tmp_path / "b.jsonl")] == [f"{H}/"]


def test_a_late_duplicate_is_neither_written_nor_counted(redis_url, tmp_path):
    a, b = make_node(redis_url, tmp_path / "a.jsonl", node="a"), make_node(redis_url, tmp_path / "b.jsonl", node="b")
    a.open()
    b.open()
    [task] = a.frontier.get(1)
    assert b.record(page(f"{H}/"), task)
    assert not a.record(page(f"{H}/"), task)
    a.close(finished=True)
    b.close(finished=True)
    assert read_output(tmp_path / "a.jsonl") == []
    assert [r["node"] for r in read_output(tmp_path / "b.jsonl")] == ["b"]


def test_a_second_process_under_a_live_nodes_name_is_refused(redis_url, tmp_path):
    first = make_node(redis_url, tmp_path / "a.jsonl")
    first.open()
    second = make_node(redis_url, tmp_path / "b.jsonl")
    with pytest.raises(UsageError, match="node 'n1' of crawl 'c' is already running"):
        second.open()
    second.close(finished=False)  # must not touch the first node's registration
    assert first.link.client.exists(first.keys.alive("n1"))
    first.close(finished=True)
    assert not first.link.client.exists(first.keys.alive("n1"))


def test_clean_stop_hands_back_what_the_node_held(redis_url, tmp_path):
    a = make_node(redis_url, tmp_path / "a.jsonl", node="a")
    a.open()
    assert len(a.frontier.get(5)) == 1
    a.close(finished=False)
    b = make_node(redis_url, tmp_path / "b.jsonl", node="b")
    b.open()
    assert [t.url for t in b.frontier.get(5)] == [f"{H}/"]
    b.close(finished=False)


def test_default_names(tmp_path):
    assert default_crawl_id(["http://a/", "http://b/", "http://a/"]) == default_crawl_id(["http://b/", "http://a/"])
    assert default_crawl_id(["http://a/"]) != default_crawl_id(["http://b/"])
    assert default_node(str(tmp_path / "x.csv")) == default_node(str(tmp_path / "x.csv"))
    assert default_node(str(tmp_path / "x.csv")) != default_node(str(tmp_path / "y.csv"))
    CrawlConfig(redis="redis://x", node=default_node("-"), crawl_id=default_crawl_id(["http://a/"]))


@pytest.mark.parametrize(("options", "fragment"), [
    (dict(redis="redis://x", state="s.db"), "--state and --redis cannot be combined"),
    (dict(crawl_id="x"), "need a Redis URL"),
    (dict(redis="redis://x", crawl_id="a{b}"), "crawl_id must be"),
    (dict(redis="redis://x", lease_timeout=0), "lease_timeout must be > 0"),
])
def test_config_checks(options, fragment):
    from crawler.errors import ConfigError

    with pytest.raises(ConfigError, match=fragment):
        CrawlConfig(**options)
