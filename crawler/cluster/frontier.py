"""`RedisFrontier`: the shared frontier of a distributed crawl, and `RedisHostGate`,
its global per-host politeness.

Work is leased, not popped: `RedisFrontier.get` moves tasks into the crawl's
in-flight set with a lease expiry, the node renews the leases of every task
it still holds (buffered or fetching) every third of ``--lease-timeout``, and
any node's next `get` puts expired leases back first in line. A page ends with
`RedisFrontier.complete`: one script marks it done, keeps its record in the
node's outbox and queues its links; a page that is already done (a late
report after its lease ran out and another node fetched it) is refused, so
every URL is reported once.

Round trips are kept few: one `get` leases a batch, one `complete` per page
also acknowledges the records written since the last call and frees host
slots, and each reply carries the crawl's state (queued, in flight, lowest
unfinished depth), so `pending` and `min_depth` need no calls of their own
while pages complete. Not thread-safe: the crawler calls it under its lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from hashlib import blake2b
from typing import Any

from ..page import Task
from ..urls import origin_of
from .link import Keys, RedisLink
from .scripts import ACQUIRE, COMPLETE, HAND_BACK, PUT, RENEW, STATUS, TAKE

#: Tasks a node keeps leased per request slot (and at least), see `RedisFrontier.want`.
SHARED_BUFFER_PER_SLOT = 2
SHARED_BUFFER_MIN = 4

#: Seconds the crawl's state (from the last reply) is trusted before asking again.
STATE_TTL = 0.2
#: Seconds between the loop's turns, and how long the state is trusted, while this node has
#: no task: at a crawl's start (one node leased the seeds) and its end (the others finish
#: the last pages), each node waited out a 0.5 s turn, ~0.8 s of a 4.5 s three-node crawl
#: (bench_redis latency: 3 nodes / 1 node 2.05x; 2.34x at 0.05 s, 2.43x at 0.02 s). An idle
#: node's ask is one small script call: 50 a second, while it has nothing to do.
IDLE_POLL = 0.02
#: Seconds between `get` calls that found nothing (others' leases may expire meanwhile),
#: unless the crawl's state changed since (see `RedisFrontier.get`).
EMPTY_POLL = 0.2
#: Seeds and sitemap URLs are queued this many per call.
PUT_BATCH = 1000
#: Seconds to wait before asking again for a slot of a host whose slots are all taken.
FULL_POLL = 0.05
#: Seconds a node refused a slot counts as waiting for the host (it asks again every FULL_POLL):
#: while any node waits, the holders keep no more than their fair share of the host's slots.
WAITING = 3 * FULL_POLL


def fp_of(url: str) -> str:
    """The fingerprint Redis keys a URL by (16 hex digits: `crawler.urls.fingerprint`'s, in hex)."""
    return blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


# One encoder for every task: json.dumps with options builds a new one per call (~40 a page).
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _encode(task: Task) -> str:
    return _dumps([task.url, task.depth, task.referrer, task.seed or task.url])


def _lines(tasks: Sequence[Task]) -> str:
    """Tasks as the scripts' ``put`` reads them: per line, the fingerprint, then the JSON."""
    return "\n".join([fp_of(task.url) + _encode(task) for task in tasks])


def _decode(text: Any) -> Task:
    url, depth, referrer, seed = json.loads(text)
    return Task(url, int(depth), referrer, seed or url)


class RedisFrontier:
    """The `Frontier` of one node of a distributed crawl (see the module docstring)."""

    def __init__(self, link: RedisLink, keys: Keys, node: str, lease_timeout: float) -> None:
        self.link = link
        self.keys = keys
        self.node = node
        self.lease_ms = max(1, int(lease_timeout * 1000))
        self.heartbeat = ""
        #: fingerprint -> task, for every task this node leased and has not completed
        self.held: dict[str, Task] = {}
        #: (slot zset, token) pairs to free with the next call
        self.releases: list[tuple[str, str]] = []
        #: records written to the output since the last acknowledgement
        self.unacked = 0
        #: origin -> other nodes waiting for one of its slots (from the last reply that said)
        self.contended: dict[str, int] = {}
        self._scripts = {name: link.script(text) for name, text in
                         (("put", PUT), ("take", TAKE), ("complete", COMPLETE), ("renew", RENEW),
                          ("hand_back", HAND_BACK), ("status", STATUS), ("acquire", ACQUIRE))}
        self._state = (0, 0, -1)
        self._state_at = float("-inf")
        self._empty_at = float("-inf")
        #: (queued, min_depth) when `get` last found nothing for this node (None: wait the poll out)
        self._empty_state: tuple[int, ...] | None = None
        self._renewed_at = time.monotonic()
        self._call_id = int(time.time() * 1000)  # unique across restarts of the node

    # -- Frontier ------------------------------------------------------------------
    def put(self, tasks: Sequence[Task]) -> int:
        """Queue tasks whose URL the crawl has not seen; returns how many were new."""
        fresh = 0
        by_depth: dict[int, list[Task]] = {}
        for task in tasks:
            by_depth.setdefault(task.depth, []).append(task)
        for depth, group in sorted(by_depth.items()):
            for start in range(0, len(group), PUT_BATCH):
                batch = group[start:start + PUT_BATCH]
                args: list[Any] = [depth, len(batch), _lines(batch)]
                reply = self.link.call(self._scripts["put"], self._frontier_keys() + [self.keys.seen, self.keys.task],
                                       args)
                fresh += int(reply[0])
                self._note(reply[1:4])
        return fresh

    def get(self, limit: int, max_depth: int | None = None) -> list[Task]:
        """Lease up to ``limit`` tasks (expired leases first), lowest depth first, none deeper than ``max_depth``."""
        if limit <= 0:
            return []
        if time.monotonic() - self._empty_at < EMPTY_POLL and self._state[::2] == self._empty_state:
            # Nothing for us at the last ask and nothing changed since. A change (links this
            # node queued, a finished depth level) asks at once: waiting out the poll at every
            # level's end stalled a fast crawl by up to 0.2 s a level.
            return []
        k = self.keys
        reply = self.link.call(self._scripts["take"], self._frontier_keys() + [k.task, k.done, k.hosts, k.takers],
                               [limit, self.lease_ms, -1 if max_depth is None else max_depth, self.node,
                                len(self.held)])
        self._note(reply[:3])
        tasks = [_decode(text) for text in reply[4:]]
        if not tasks:
            self._empty_at = time.monotonic()
            # Held back by its fair share, a node waits out the poll whatever changes.
            self._empty_state = None if int(reply[3]) else self._state[::2]
        for task in tasks:
            self.held[fp_of(task.url)] = task
        tasks.sort(key=lambda t: t.depth)
        return tasks

    def pending(self) -> int:
        """Tasks anywhere in the crawl not finished yet: queued, or leased by any node."""
        queued, inflight, _ = self._fresh_state()
        return queued + inflight

    def queued(self) -> int:
        """Tasks waiting in the shared queue (from the last reply)."""
        return self._state[0]

    def min_depth(self) -> int | None:
        """Lowest depth of a task queued or leased anywhere in the crawl."""
        low = self._fresh_state()[2]
        return None if low < 0 else low

    def close(self) -> None:
        """Nothing to release here: `hand_back` is the crawl's choice (see `RedisNode.close`)."""

    def drop(self, task: Task) -> None:
        """``task`` ends without a record (refused by robots.txt, a cap): done, for every node."""
        self.complete(task, None)

    def want(self, concurrency: int, buffered: int) -> int:
        """How many tasks to lease now: buffered tasks are leased, so a node holds only about
        two rounds of work (the other nodes get theirs) and refills at half of that, so one
        lease call serves many pages."""
        high = max(SHARED_BUFFER_MIN, concurrency * SHARED_BUFFER_PER_SLOT)
        return high - buffered if buffered <= high // 2 else 0

    # -- completion --------------------------------------------------------------------
    def complete(self, task: Task, record: str | None, links: Sequence[Task] = (), error: bool = False) -> bool:
        """Mark ``task`` done with its record (None: no record) and queue its links, atomically.

        Returns False when the URL was already done: report nothing then.
        """
        return self.complete_many([(task, record, links, error)])[0]

    def complete_many(self, pages: Sequence[tuple[Task, str | None, Sequence[Task], bool]]) -> list[bool]:
        """`complete` for several pages, ``(task, record, links, error)`` each, in one round trip
        (each page atomically); one flag per page, False where the URL was already done."""
        k = self.keys
        self._call_id += 1
        origins: dict[str, None] = {}
        args: list[Any] = []
        for task, record, links, error in pages:
            fp = fp_of(task.url) if task.url else ""  # "": acknowledge and release only
            depth = links[0].depth if links else task.depth + 1
            args += [fp, task.depth, record or "", int(error), depth, len(links), _lines(links)]
            if task.url:
                origins[origin_of(task.url)] = None
        slot_keys, tokens = self._take_releases()
        keys = self._frontier_keys() + [k.seen, k.task, k.done, k.outbox(self.node), k.calls,
                                        *(k.waiting(origin) for origin in origins), *slot_keys]
        reply = self.link.call(self._scripts["complete"], keys,
                               [self.node, self._call_id, self.unacked, len(pages), len(origins), *args, *tokens])
        self.unacked = 0
        for task, *_ in pages:
            if task.url:
                self.held.pop(fp_of(task.url), None)
        self._note(reply[1:4])
        for origin, others in zip(origins, reply[4:], strict=True):
            self._contention(origin, int(others))
        flags = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        return [flag == "1" for flag in flags]

    def ack(self) -> None:
        """Acknowledge the records written since the last call and free pending slots."""
        if self.unacked or self.releases:
            self.complete(Task(""), None)

    def renew_due(self) -> bool:
        """True when the leases should be renewed (a third of the lease has passed)."""
        return time.monotonic() - self._renewed_at >= self.lease_ms / 3000

    def renew(self, slots: dict[str, str]) -> None:
        """Extend the leases of held tasks, of the host ``slots`` (token -> zset) and the heartbeat."""
        fps = list(self.held)
        keys = self._frontier_keys() + [self.keys.alive(self.node), *slots.values()]
        reply = self.link.call(self._scripts["renew"], keys,
                               [self.lease_ms, self.heartbeat, len(fps), *fps, *slots])
        self._renewed_at = time.monotonic()
        self._note(reply)

    def hand_back(self, slots: dict[str, str]) -> None:
        """Give every held task back to the crawl (first in line) and free ``slots``."""
        fps = list(self.held)
        slot_keys, tokens = self._take_releases()
        keys = self._frontier_keys() + [self.keys.task, *slot_keys, *slots.values()]
        self.link.call(self._scripts["hand_back"], keys, [len(fps), *fps, *tokens, *slots])
        self.held.clear()

    def flush(self) -> None:
        """Free pending host slots now, if no other call has carried them."""
        if self.releases:
            slot_keys, tokens = self._take_releases()
            self._note(self.link.call(self._scripts["status"], self._frontier_keys() + slot_keys, tokens))

    # -- internals ---------------------------------------------------------------------
    def _frontier_keys(self) -> list[str]:
        k = self.keys
        return [k.queue, k.requeued, k.inflight, k.depths, k.meta]

    def _take_releases(self) -> tuple[list[str], list[str]]:
        releases, self.releases = self.releases, []
        return [key for key, _ in releases], [token for _, token in releases]

    def _contention(self, origin: str, others: int) -> None:
        if others:
            self.contended[origin] = others
        else:
            self.contended.pop(origin, None)

    def _note(self, state: Sequence[Any]) -> None:
        self._state = (int(state[0]), int(state[1]), int(state[2]))
        self._state_at = time.monotonic()

    def _fresh_state(self) -> tuple[int, int, int]:
        ttl = STATE_TTL if self.held else IDLE_POLL
        if time.monotonic() - self._state_at > ttl:
            self.flush()
            if time.monotonic() - self._state_at > ttl:
                self._note(self.link.call(self._scripts["status"], self._frontier_keys(), []))
        return self._state


class RedisHostGate:
    """`HostGate` of the scheduler: per-host slots and pacing shared by every node.

    A request to an origin needs a slot: the scheduler asks `acquire` just
    before it starts one (robots.txt fetches too) and `release` when it
    ends. Slots carry a lease like tasks do, renewed while the node holds
    them, so a dead node's slots come free after ``--lease-timeout``.

    A slot is this node's (token ``node|s|STAMP.N``), not a request's: a request
    that ends leaves its slot *idle*, still held in Redis, and the next
    request to that origin takes it without a round trip. Only once the
    scheduler has dispatched what it could (`settle`) do the idle slots go
    back, with the node's next call. Each slot stays counted in Redis all
    along, so the global limit holds; a host busy with this node's pages
    costs one Redis call per burst of requests instead of one per request.
    With a delay the host's pace is kept in Redis, so each request still asks.

    Shares are fair: a node refused a slot is noted as waiting for the host,
    and while others wait a node keeps (reuses, or is granted) no more than
    ``limit`` / (nodes wanting the host) of its slots. The replies to its
    acquisitions and completions tell a node how many others wait.
    """

    def __init__(self, frontier: RedisFrontier) -> None:
        self.frontier = frontier
        #: token -> slot zset, for every slot this node holds (busy or idle)
        self.held: dict[str, str] = {}
        #: origin -> slots this node holds (busy or idle)
        self.count: dict[str, int] = {}
        #: origin -> tokens held in Redis that no request uses now
        self.idle: dict[str, list[str]] = {}
        #: (kind, url) of a request in flight -> (origin, token of its slot)
        self.busy: dict[tuple[str, str], tuple[str, str]] = {}
        self.waits = 0
        self._next = 0
        # Tokens are unique per process: a restarted node (same name) never takes one of
        # its dead predecessor's slots for its own before their lease runs out.
        self._stamp = f"{time.time_ns() // 1_000_000:x}"

    def acquire(self, origin: str, task: Task, limit: int, delay: float) -> float:
        """0 when a request to ``origin`` may start now (its slot is taken), else seconds to wait
        (negative: every slot is taken, see `HostGate.acquire`)."""
        front = self.frontier
        spare = self.idle.get(origin)
        mine = self.count.get(origin, 0)
        if spare:
            others = front.contended.get(origin, 0)
            if others and mine > -(-limit // (others + 1)):
                # Over our share while others wait: the idle slots go back (settle), none is taken.
                self.waits += 1
                return -FULL_POLL
            if delay <= 0:  # a slot of ours, still counted in Redis: no call
                self.busy[(task.kind, task.url)] = (origin, spare.pop())
                return 0.0
        key = front.keys.slots(origin)
        if spare:
            token = spare[-1]  # held already: the script only checks the pace
        else:
            self._next += 1
            token = f"{front.node}|s|{self._stamp}.{self._next}"
        slot_keys, tokens = front._take_releases()
        wait, others = front.link.call(
            front._scripts["acquire"], [key, front.keys.pace, front.keys.waiting(origin), *slot_keys],
            [origin, token, limit, int(delay * 1000), front.lease_ms, front.node, mine, int(WAITING * 1000),
             *tokens])
        front._contention(origin, int(others))
        if int(wait) == 0:
            if spare:
                spare.pop()
            else:
                self.held[token] = key
                self.count[origin] = mine + 1
            self.busy[(task.kind, task.url)] = (origin, token)
            return 0.0
        self.waits += 1
        return -FULL_POLL if int(wait) < 0 else int(wait) / 1000

    def release(self, origin: str, task: Task) -> None:
        """The request for ``task`` ended: its slot is idle, for this node's next request to ``origin``."""
        slot = self.busy.pop((task.kind, task.url), None)
        if slot is not None:
            self.idle.setdefault(slot[0], []).append(slot[1])

    def spare(self) -> list[str]:
        """Origins with an idle slot of this node (see `HostGate.spare`)."""
        return [origin for origin, tokens in self.idle.items() if tokens]

    def settle(self) -> None:
        """The scheduler started what it could: idle slots go back to the crawl with the next call."""
        if not self.idle:
            return
        releases = self.frontier.releases
        for origin, tokens in self.idle.items():
            for token in tokens:
                key = self.held.pop(token, None)
                if key is not None:
                    releases.append((key, token))
            left = self.count.get(origin, 0) - len(tokens)
            if left > 0:
                self.count[origin] = left
            else:
                self.count.pop(origin, None)
        self.idle.clear()

    def clear(self) -> None:
        """Every slot was handed back (`RedisFrontier.hand_back`)."""
        self.held.clear()
        self.count.clear()
        self.idle.clear()
        self.busy.clear()
