"""The connection to Redis of a distributed crawl (``--redis``): keys, scripts, retries.

`RedisLink` owns one `redis.Redis` client and runs every call through
`RedisLink.run`, which counts round trips (the summary reports them per page)
and rides out an outage: connection errors are retried with backoff for up to
``outage`` seconds (a Redis restart, a network blip), then `RedisLostError`.
A crawl's keys share the prefix ``crawler:{CRAWL_ID}:``; the braces are a
Redis Cluster hash tag, so every key of one crawl lives in one slot and the
Lua scripts may touch them together.

Imported only when ``--redis`` is given (it needs the ``redis`` package).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.commands.core import Script

from ..errors import RedisLostError, UsageError

log = logging.getLogger(__name__)

#: Seconds a lost Redis is retried before the crawl stops (CrawlConfig.redis_outage).
DEFAULT_OUTAGE = 30.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.1, 2.0
#: Crawl ids and node names: short, printable, no braces (they would break the hash tag).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_RETRYABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class Keys:
    """Key names of one crawl.

    ============  =====  ==========================================================
    ``queue``     zset   fingerprint → depth · 2³² + discovery sequence (BFS, FIFO)
    ``hq:O``      zset   the same, for the tasks of origin O only (TAKE's round-robin over hosts)
    ``origins``   zset   origin → score of its ``hq:O``'s first task (origins with queued tasks)
    ``requeued``  zset   expired leases waiting to be taken again (before ``queue``)
    ``inflight``  zset   leased fingerprints → lease expiry (ms, Redis clock)
    ``task``      hash   fingerprint → JSON ``[url, depth, referrer, seed]`` (queued or leased)
    ``seen``      set    every fingerprint ever queued
    ``done``      set    fingerprints completed (reported or dropped): the completed set
    ``depths``    hash   depth → tasks queued or leased at that depth (the BFS gate)
    ``meta``      hash   counters: seq, pages, errors, dropped, admitted, capped, requeues;
                         caps: max_pages, max_per_host, cap:NAME (a host's max_pages), host_caps
    ``settings``  str    JSON: the crawl's per-host settings (``[hosts."NAME"]``, the first node's)
    ``takers``    zset   node → time (ms) it last asked for work (nodes sharing the queue)
    ``hosts``     hash   origin → pages admitted (``--max-pages-per-host``)
    ``pace``      hash   origin → time (ms) its next request may start (``--delay``)
    ``slots:O``   zset   slot token (``node|s|STAMP.N``) → expiry: slots of origin O held by nodes
    ``wait:O``    zset   node → expiry: nodes refused a slot of origin O lately (fair shares)
    ``nodes``     hash   node → JSON: its output file and whether it finished
    ``alive:N``   str    node N's heartbeat, ``host:pid``, expires with the lease
    ``outbox:N``  list   records committed by node N and not yet known written
    ``calls``     hash   node → ``call-id:result`` of its last completion (retries)
    ============  =====  ==========================================================
    """

    def __init__(self, crawl_id: str) -> None:
        self.crawl_id = crawl_id
        self.prefix = f"crawler:{{{crawl_id}}}:"
        for name in ("queue", "requeued", "inflight", "task", "seen", "done", "depths", "meta",
                     "settings", "hosts", "pace", "nodes", "calls", "takers"):
            setattr(self, name, self.prefix + name)

    def slots(self, origin: str) -> str:
        """The zset of requests in flight to ``origin``."""
        return f"{self.prefix}slots:{origin}"

    def waiting(self, origin: str) -> str:
        """The zset of nodes waiting for a slot of ``origin``."""
        return f"{self.prefix}wait:{origin}"

    def alive(self, node: str) -> str:
        """Node ``node``'s heartbeat key."""
        return f"{self.prefix}alive:{node}"

    def outbox(self, node: str) -> str:
        """Node ``node``'s list of committed, not yet acknowledged records."""
        return f"{self.prefix}outbox:{node}"

    # set in __init__; declared for type checkers
    queue: str
    requeued: str
    inflight: str
    task: str
    seen: str
    done: str
    depths: str
    meta: str
    settings: str
    hosts: str
    pace: str
    nodes: str
    calls: str
    takers: str


def connect(url: str, outage: float = DEFAULT_OUTAGE) -> RedisLink:
    """A checked connection to ``url``; raises `UsageError` (exit 2) if Redis cannot be reached."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10,
                                      health_check_interval=0)
    except ValueError as exc:
        raise UsageError(f"bad --redis URL {url!r}: {exc} (expected redis://HOST:PORT/DB)") from None
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise UsageError(f"cannot reach Redis at {_safe(url)}: {_reason(exc)}") from None
    return RedisLink(client, url, outage)


class RedisLink:
    """A Redis client whose calls survive short outages and are counted."""

    def __init__(self, client: redis.Redis, url: str = "", outage: float = DEFAULT_OUTAGE) -> None:
        self.client = client
        self.url = url
        self.outage = outage
        #: round trips made (scripts and commands)
        self.calls = 0
        #: set by the crawl: when it returns True a retry loop gives up at once
        self.abort: Callable[[], bool] = lambda: False
        #: Redis was given up on: every later call fails at once (the crawl is stopping)
        self.lost = False

    def script(self, text: str) -> Script:
        """A Lua script, sent once and then called by its SHA (reloaded after a Redis restart)."""
        return self.client.register_script(text)

    def call(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run ``script`` with retries (see `run`)."""
        return self.run(lambda: script(keys=list(keys), args=list(args)))

    def run(self, op: Callable[[], Any], outage: float | None = None) -> Any:
        """Run ``op`` (one round trip), retrying connection errors with backoff.

        Gives up with `RedisLostError` after ``outage`` seconds (default: the
        link's) or as soon as `abort` says so.
        """
        if self.lost:
            raise RedisLostError(f"lost Redis at {_safe(self.url)}")
        window = self.outage if outage is None else outage
        deadline = time.monotonic() + window
        pause = _BACKOFF_FIRST
        warned = False
        while True:
            self.calls += 1
            try:
                return op()
            except _RETRYABLE as exc:
                left = deadline - time.monotonic()
                if left <= 0 or self.abort():
                    self.lost = True
                    raise RedisLostError(f"lost Redis at {_safe(self.url)} for {window:g} s: "
                                         f"{_reason(exc)}") from None
                if not warned:
                    log.warning("Redis unreachable (%s); retrying for up to %g s", _reason(exc), window)
                    warned = True
                time.sleep(min(left, pause * (0.5 + random.random())))
                pause = min(pause * 2, _BACKOFF_MAX)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    return text.splitlines()[0][:200]


def _safe(url: str) -> str:
    # Never print a password from redis://user:secret@host.
    return re.sub(r"//[^@/]*@", "//***@", url)
