"""One node of a distributed crawl (``--redis``): identity, record path, output file.

Several machines run the same command against one Redis; each is a *node*
with its own worker pool and its own output file. `RedisNode` is to a node
what `crawler.store.journal.Journal` is to a ``--state`` run: a page's record is
committed first (done-mark, record into the node's outbox in Redis, links
queued: one script) and only then written to the node's file. The next
completion acknowledges the records written since the previous one, which
drops them from the outbox. So a node killed at any moment leaves each
committed record in its file, in its outbox, or both, never in neither:

* the same command started again on that machine (same node name) compares
  its file with its outbox, drops a torn last record and writes what is
  missing, so its file ends up with each of its records exactly once;
* ``crawler merge --redis`` takes the outboxes of nodes that never came back.

A node is "alive" while its heartbeat key (renewed with its leases) lives;
a second process under the same node name is refused unless the first one's
process is gone from this machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import RedisLostError, UsageError
from ..page import NODE_FIELDS, Done, Page, Result, Task
from ..store.output import Writer, format_for, open_writer
from ..store.records import read_records
from .frontier import RedisFrontier, RedisHostGate
from .link import Keys, RedisLink, connect

if TYPE_CHECKING:
    from ..config import CrawlConfig, HostSettings

log = logging.getLogger(__name__)

#: Seconds a closing node keeps retrying Redis (handing back leases, the last acknowledgement).
CLOSE_OUTAGE = 3.0


def hosts_json(hosts: tuple[tuple[str, HostSettings], ...]) -> str:
    """Per-host settings as the JSON text kept in the crawl's Redis meta hash."""
    return json.dumps([[name, {"per_host": own.per_host, "delay": own.delay, "user_agent": own.user_agent,
                               "headers": [list(pair) for pair in own.headers], "max_pages": own.max_pages}]
                       for name, own in hosts], separators=(",", ":"))


def hosts_from_json(text: str) -> tuple[tuple[str, HostSettings], ...]:
    """Per-host settings from `hosts_json`'s text."""
    from ..config import HostSettings

    return tuple((name, HostSettings(**{**own, "headers": tuple(tuple(pair) for pair in own["headers"])}))
                 for name, own in json.loads(text))


def default_crawl_id(seeds: Sequence[str]) -> str:
    """The crawl id the same seeds always give (12 hex digits of their sorted list's hash).

    >>> default_crawl_id(["http://b/", "http://a/"]) == default_crawl_id(["http://a/", "http://b/"])
    True
    """
    text = "\n".join(sorted(set(seeds)))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def default_node(output: str | None) -> str:
    """This machine's name plus a hash of the output path (stdout: plus the process id).

    The same command on the same machine is the same node, so a restarted
    node finds its outbox and its file again.
    """
    host = re.sub(r"[^A-Za-z0-9._@-]", "-", socket.gethostname())[:40].strip(".-_@") or "node"
    if not output or output == "-":
        return f"{host}-{os.getpid()}"
    digest = hashlib.blake2b(os.path.abspath(output).encode("utf-8", "surrogatepass"), digest_size=3)
    return f"{host}-{digest.hexdigest()}"


class RedisNode:
    """This process's part of a distributed crawl: frontier, host gate, records, output."""

    def __init__(self, config: CrawlConfig, seeds: Sequence[str], last_fields: tuple[str, ...] = ()) -> None:
        assert config.redis is not None
        self.config = config
        self.seeds = list(seeds)
        self.last_fields = last_fields
        self.crawl_id = config.crawl_id or default_crawl_id(seeds)
        self.name = config.node or default_node(config.output)
        self.keys = Keys(self.crawl_id)
        self.link: RedisLink = connect(config.redis, config.redis_outage)
        self.frontier = RedisFrontier(self.link, self.keys, self.name, config.lease_timeout)
        self.gate = RedisHostGate(self.frontier)
        self.writer: Writer | None = None
        #: the crawl's per-host settings (the first node's), known once open
        self.hosts: tuple[tuple[str, HostSettings], ...] = config.hosts
        self.joined = False  # the node name is ours (claimed)
        #: this node ran in this crawl before (a restart): its other files are appended to too
        self.rejoined = False
        self._format = format_for(config.output, config.format) if config.output else None
        self.frontier.heartbeat = f"{socket.gethostname()}:{os.getpid()}"

    # -- lifecycle ---------------------------------------------------------------
    def open(self) -> None:
        """Join the crawl: claim the node name, fix the crawl's caps, open the output, queue the seeds."""
        self._claim()
        client, k, config = self.link.client, self.keys, self.config
        # The first node fixes the crawl's caps; later ones (the same command) agree.
        self.link.run(lambda: client.hsetnx(k.meta, "max_pages", config.max_pages or 0))
        self.link.run(lambda: client.hsetnx(k.meta, "max_per_host", config.max_pages_per_host or 0))
        self.hosts = self._share_hosts()
        self._open_output(self.last_fields)
        self.frontier.put([Task(url, 0, None, url) for url in self.seeds])

    def _share_hosts(self) -> tuple[tuple[str, HostSettings], ...]:
        """The crawl's per-host settings: this node's if it is the first, else the first node's
        (as the caps); their page caps (``max_pages``) go where the take script counts them."""
        client, k = self.link.client, self.keys
        mine = hosts_json(self.config.hosts)
        self.link.run(lambda: client.set(k.settings, mine, nx=True))
        shared = self.link.run(lambda: client.get(k.settings))
        text = shared.decode() if isinstance(shared, bytes) else mine
        hosts = hosts_from_json(text)
        if text != mine:
            log.warning("this crawl's per-host settings are the first node's, not this config file's")
        caps: dict[Any, Any] = {f"cap:{name}": own.max_pages for name, own in hosts if own.max_pages is not None}
        if caps:
            caps["host_caps"] = 1
            self.link.run(lambda: client.hset(k.meta, mapping=caps))
        return hosts

    def close(self, finished: bool) -> None:
        """Leave the crawl: hand back unfinished leases, acknowledge the last records, close the file."""
        try:
            if self.joined and not self.link.lost:
                self.link.outage = min(self.link.outage, CLOSE_OUTAGE)
                try:
                    self._leave(finished)
                except RedisLostError as exc:
                    log.warning("could not leave the crawl cleanly: %s", exc)
        finally:
            if self.writer is not None:
                self.writer.close()
            self.link.close()

    def _leave(self, finished: bool) -> None:
        front, k, client = self.frontier, self.keys, self.link.client
        if front.held or self.gate.held:
            front.hand_back(self.gate.held)
            self.gate.clear()
        front.ack()
        info = json.dumps({"output": self._output_id(), "finished": finished})
        self.link.run(lambda: client.hset(k.nodes, self.name, info))
        self.link.run(lambda: client.delete(k.alive(self.name)))

    def _claim(self) -> None:
        client, key = self.link.client, self.keys.alive(self.name)
        me = self.frontier.heartbeat
        if self.link.run(lambda: client.set(key, me, nx=True, px=self.frontier.lease_ms)):
            self.joined = True
            return
        holder = (self.link.run(lambda: client.get(key)) or b"").decode("utf-8", "replace")
        host, _, pid = holder.rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid)):
            # Its process is gone (killed): this is its restart.
            self.link.run(lambda: client.set(key, me, px=self.frontier.lease_ms))
            self.joined = True
            return
        raise UsageError(f"node {self.name!r} of crawl {self.crawl_id!r} is already running ({holder}): "
                         "give this one another --node or --output")

    # -- records ----------------------------------------------------------------------
    def write(self, done: Done) -> bool:
        """`Sink.write`: commit the record with its links in Redis, then write it to this node's file."""
        return self.record(done.page, done.task, done.links)

    def write_many(self, dones: Sequence[Done]) -> list[bool]:
        """`write` for the pages the loop finished in one turn: one commit (one round trip) for
        them all, then the accepted records go to this node's file, in order."""
        records = []
        for done in dones:
            done.page.node = self.name
            records.append(done.page.to_dict())
        texts = [json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) for record in records]
        accepted = self.frontier.complete_many([(done.task, text, done.links, done.page.error is not None)
                                                for done, text in zip(dones, texts, strict=True)])
        for record, ok in zip(records, accepted, strict=True):
            if ok:
                if self.writer is not None:
                    self.writer.write_record(record)
                self.frontier.unacked += 1  # acknowledged by the next call
        return accepted

    def describe(self) -> dict[str, object]:
        """The crawl, this node, and the round trips it made to Redis (for the run summary)."""
        return {"crawl_id": self.crawl_id, "node": self.name, "redis_calls": self.link.calls}

    def record(self, page: Page, task: Task, links: Sequence[Task] = ()) -> bool:
        """Commit ``page`` (done-mark, record, ``links``), then write it; False if already reported."""
        page.node = self.name
        record = page.to_dict()
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
        if not self.frontier.complete(task, text, links, error=page.error is not None):
            return False
        if self.writer is not None:
            self.writer.write_record(record)
        self.frontier.unacked += 1  # acknowledged by the next call
        return True

    def unrecorded(self, result: Result) -> None:
        """`Sink.unrecorded`: a record sink has nothing to do with a fetch that makes no record."""
        del result

    def tick(self) -> None:
        """Renew leases and heartbeat when due; free host slots no call has carried yet."""
        if self.frontier.renew_due():
            self.frontier.renew(self.gate.held)
        else:
            self.frontier.flush()

    # -- output --------------------------------------------------------------------------
    def _output_id(self) -> str:
        path = self.config.output
        return os.path.abspath(path) if path and path != "-" else "-"

    def _open_output(self, last_fields: tuple[str, ...]) -> None:
        path, fmt = self.config.output, self._format
        client, k = self.link.client, self.keys
        raw = self.link.run(lambda: client.lrange(k.outbox(self.name), 0, -1))
        outbox = [json.loads(item) for item in raw]
        info = self.link.run(lambda: client.hget(k.nodes, self.name))
        before = json.loads(info)["output"] if info else None
        self.rejoined = info is not None
        if path:
            same = path != "-" and before == self._output_id() and os.path.exists(path)
            if same:
                self.writer = self._resume(path, outbox, last_fields)
            else:
                self.writer = open_writer(path, fmt, extra_fields=NODE_FIELDS, last_fields=last_fields)
                for record in outbox:
                    self.writer.write_record(record)
        info = json.dumps({"output": self._output_id(), "finished": False})
        self.link.run(lambda: client.hset(k.nodes, self.name, info))
        if outbox:  # they are in the file now
            self.link.run(lambda: client.ltrim(k.outbox(self.name), len(outbox), -1))

    def _resume(self, path: str, outbox: list[dict[str, Any]], last_fields: tuple[str, ...]) -> Writer:
        """Reopen this node's file after a restart: each of its records exactly once."""
        fmt = self._format
        got = read_records(path, fmt)
        have = {record["url"] for record in got.records}
        missing = [record for record in outbox if record["url"] not in have]
        if fmt != "json" and not got.skipped:
            writer = open_writer(path, fmt, extra_fields=NODE_FIELDS, last_fields=last_fields, append=True)
            for record in missing:
                writer.write_record(record)
            return writer
        # A torn record, or JSON (one array): write the file again, then keep
        # appending to the same open file after renaming it into place.
        tmp = f"{path}.tmp-{os.getpid()}"
        writer = open_writer(tmp, fmt, extra_fields=NODE_FIELDS, last_fields=last_fields)
        for record in got.records + missing:
            writer.write_record(record)
        os.replace(tmp, path)
        return writer


def outbox_records(url: str, crawl_id: str) -> list[dict[str, Any]]:
    """Records still in the outboxes of a crawl's nodes (committed, maybe never written)."""
    link = connect(url)
    try:
        client = link.client
        pattern = Keys(crawl_id).outbox("*")
        out: list[dict[str, Any]] = []
        for key in sorted(client.scan_iter(match=_escape_glob(pattern), count=1000)):
            out += [json.loads(item) for item in client.lrange(key, 0, -1)]
        return out
    finally:
        link.close()


def _escape_glob(pattern: str) -> str:
    # The prefix's braces and the id's characters are literal; only the final * globs.
    return re.sub(r"([\[\]?\\])", r"\\\1", pattern[:-1]) + "*"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # A zombie (killed, not yet reaped by its parent) is gone for our purposes.
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    return True
