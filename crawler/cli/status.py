"""``python -m crawler status --redis URL --crawl-id NAME``: how a distributed crawl is doing.

One consistent snapshot (a MULTI/EXEC transaction) of the crawl's counters:
queued, in flight (and how many of those leases have run out), done,
errors, and each node: alive or not, and records still in its outbox.
``--delete`` removes the whole crawl from Redis instead.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..cluster.link import Keys, RedisLink, connect
from ..errors import UsageError


@dataclass
class NodeStatus:
    """One node as Redis knows it."""

    name: str
    alive: bool
    finished: bool
    unwritten: int
    output: str | None


@dataclass
class CrawlStatus:
    """A snapshot of one distributed crawl."""

    crawl_id: str
    queued: int = 0
    in_flight: int = 0
    expired: int = 0
    done: int = 0
    pages: int = 0
    errors: int = 0
    dropped: int = 0
    capped: int = 0
    seen: int = 0
    requeues: int = 0
    nodes: list[NodeStatus] = field(default_factory=list)

    @property
    def state(self) -> str:
        """``finished`` (nothing queued nor in flight), ``running`` or ``empty`` (no such crawl)."""
        if not self.seen:
            return "empty"
        return "finished" if self.queued + self.in_flight == 0 else "running"

    def lines(self) -> list[str]:
        """The report, one ``name: value`` line each."""
        out = [f"crawl:      {self.crawl_id} ({self.state})",
               f"queued:     {self.queued}",
               f"in flight:  {self.in_flight}" + (f" ({self.expired} leases expired)" if self.expired else ""),
               f"done:       {self.done} ({self.pages} records, {self.dropped + self.capped} left out)",
               f"errors:     {self.errors}",
               f"seen:       {self.seen}"]
        for node in self.nodes:
            state = "alive" if node.alive else ("finished" if node.finished else "gone")
            extra = f", {node.unwritten} records not yet in its file" if node.unwritten else ""
            out.append(f"node:       {node.name} ({state}{extra})")
        return out


def crawl_status(link: RedisLink, crawl_id: str) -> CrawlStatus:
    """The snapshot of ``crawl_id`` (all zero when Redis has no such crawl)."""
    k, client = Keys(crawl_id), link.client
    node_info = link.run(lambda: client.hgetall(k.nodes))
    names = sorted(name.decode() for name in node_info)

    def snapshot() -> list[Any]:
        pipe = client.pipeline(transaction=True)
        # One command per call: redis-py's types do not know a pipeline's
        # commands return the pipeline.
        pipe.zcard(k.queue)
        pipe.zcard(k.requeued)
        pipe.zcard(k.inflight)
        pipe.eval("local t = redis.call('TIME') return redis.call('ZCOUNT', KEYS[1], '-inf', "
                  "tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))", 1, k.inflight)
        pipe.scard(k.done)
        pipe.scard(k.seen)
        pipe.hgetall(k.meta)
        for name in names:
            pipe.exists(k.alive(name))
            pipe.llen(k.outbox(name))
        return pipe.execute()

    replies = link.run(snapshot)
    queue, requeued, inflight, expired, done, seen, meta = replies[:7]
    counters = {key.decode(): int(value) for key, value in meta.items()}
    cap = counters.get("max_pages", 0)
    if cap and counters.get("admitted", 0) >= cap:
        queue = 0  # left over by --max-pages: never to be fetched
    status = CrawlStatus(crawl_id, queued=queue + requeued, in_flight=inflight, expired=expired, done=done,
                         pages=counters.get("pages", 0), errors=counters.get("errors", 0),
                         dropped=counters.get("dropped", 0), capped=counters.get("capped", 0), seen=seen,
                         requeues=counters.get("requeues", 0))
    for i, name in enumerate(names):
        info = json.loads(node_info[name.encode()])
        alive, unwritten = replies[7 + 2 * i], replies[8 + 2 * i]
        status.nodes.append(NodeStatus(name, bool(alive), bool(info.get("finished")), unwritten,
                                       info.get("output")))
    return status


def delete_crawl(link: RedisLink, crawl_id: str) -> int:
    """Remove every key of ``crawl_id``; returns how many there were."""
    client = link.client
    prefix = Keys(crawl_id).prefix.replace("[", "\\[").replace("]", "\\]").replace("?", "\\?")
    keys = link.run(lambda: list(client.scan_iter(match=prefix + "*", count=1000)))
    for start in range(0, len(keys), 500):
        link.run(functools.partial(client.delete, *keys[start:start + 500]))
    return len(keys)


def main(argv: Sequence[str]) -> int:
    """``crawler status``: print the snapshot; exit 2 when Redis cannot be reached."""
    from .usage import fail_usage, usage_parser

    parser = usage_parser("crawler status", "Show how a distributed crawl (--redis) is doing: "
                          "queued, in flight, done, errors, nodes.")
    parser.add_argument("--redis", required=True, metavar="URL", help="redis://HOST:PORT/DB of the crawl")
    parser.add_argument("--crawl-id", required=True, metavar="NAME", help="the crawl's id (see the node's log)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--delete", action="store_true", help="remove the crawl from Redis (start it afresh)")
    args = parser.parse_args(argv)
    try:
        link = connect(args.redis, outage=5.0)
    except UsageError as exc:
        return fail_usage(str(exc))
    try:
        if args.delete:
            print(f"crawler: deleted crawl {args.crawl_id} ({delete_crawl(link, args.crawl_id)} keys)")
            return 0
        status = crawl_status(link, args.crawl_id)
    finally:
        link.close()
    if args.json:
        data = asdict(status)
        data["state"] = status.state
        json.dump(data, sys.stdout)
        print()
    else:
        print("\n".join(status.lines()))
    return 0
