"""Per-host settings as a distributed crawl keeps them in Redis (crawler.cluster.node)."""

from __future__ import annotations

from crawler.cluster.node import hosts_from_json, hosts_json
from crawler.config import CrawlConfig


def test_host_settings_round_trip_through_their_json() -> None:
    hosts = CrawlConfig(hosts={"a.test": {"delay": 1.5, "per_host": 2, "user_agent": "bot",
                                          "header": ["X-A: 1", "X-B: 2"], "max_pages": 7},
                               "b.test": {"max_pages": 1}}).hosts
    text = hosts_json(hosts)
    assert hosts_from_json(text) == hosts
    assert hosts_json(()) == "[]"
    assert hosts_from_json("[]") == ()


def test_the_first_nodes_host_settings_hold_for_the_crawl(redis_url: str, tmp_path, caplog) -> None:
    from crawler.cluster.node import RedisNode

    def node(name: str, hosts: dict) -> RedisNode:
        config = CrawlConfig(redis=redis_url, crawl_id="c", node=name, output=str(tmp_path / f"{name}.jsonl"),
                             workers=1, hosts=hosts)
        return RedisNode(config, ["http://h.test/"])

    first, second = node("n1", {"h.test": {"delay": 2, "max_pages": 3}}), node("n2", {"h.test": {"delay": 9}})
    try:
        first.open()
        second.open()
        assert second.hosts == first.hosts == CrawlConfig(hosts={"h.test": {"delay": 2, "max_pages": 3}}).hosts
        assert "per-host settings are the first node's" in caplog.text
        meta = first.link.client.hgetall(first.keys.meta)
        assert (meta[b"cap:h.test"], meta[b"host_caps"]) == (b"3", b"1")
    finally:
        first.close(False)
        second.close(False)
