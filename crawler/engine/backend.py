"""Picks the mode of a crawl once, at start: plain, ``--state`` or ``--redis``.

The only place that asks which mode a crawl is in; everything it builds
serves the interfaces of `crawler.engine.sink` and `crawler.engine.frontier`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..config import CrawlConfig
from ..page import CHECK, Task
from .frontier import ManagerFrontier, start_manager
from .sink import Backend, local_want


def open_backend(config: CrawlConfig, seeds: Sequence[str], ctx: Any, stopping: Callable[[], bool],
                 selected: tuple[str, ...] = ()) -> Backend:
    """The frontier and sinks ``config`` asks for, opened, with the seeds queued.

    ``stopping()`` tells a Redis link to give up its retries once the crawl
    is stopping; ``selected`` names the ``--select`` fields (last CSV columns).
    Raises `crawler.errors.UsageError` (state in use, Redis unreachable, output
    not writable) before anything is fetched.
    """
    if config.redis:
        backend = _redis(config, seeds, stopping, selected)
    elif config.state:
        backend = _state(config, seeds, selected)
    else:
        backend = _plain(config, seeds, ctx, selected)
    if config.links_db:
        _keep_links(backend, config, seeds)
    if config.warc:
        with _closed_on_error(backend.close):
            _add_archive(backend, config)
    return backend


def _keep_links(backend: Backend, config: CrawlConfig, seeds: Sequence[str]) -> None:
    from ..store.linkdb import LinkSink, Verdict  # only crawls that keep their link graph need it

    assert config.links_db is not None
    with _closed_on_error(backend.close):
        sink = LinkSink(config.links_db, seeds)
        sink.open()
        backend.sinks.append(sink)
        # Written before the state commits the records whose links it holds: a
        # SIGKILL could otherwise leave records whose links a later run never sees.
        backend.before_commit.append(sink.flush)
        if config.check and sink.interrupted:
            # The side file outlives a killed run (it sits beside the state): what
            # that run checked is not checked again, and the targets its pages
            # named but it had not checked yet are, though no page names them again.
            seed = seeds[0] if seeds else ""
            ignore = Verdict.from_config(config).ignore
            backend.checked = sink.recorded()
            backend.pending_checks = [
                Task(target, depth, source, seed, kind=CHECK) for target, source, depth in sink.unanswered()
                if len(target) <= config.max_url_length and not any(p.search(target) for p in ignore)]


def _add_archive(backend: Backend, config: CrawlConfig) -> None:
    from ..store.archive import ArchiveSink, node_path
    from ..store.state import StateStore

    assert config.warc is not None
    memory = backend.frontier if isinstance(backend.frontier, StateStore) else None
    path = node_path(config.warc, config.node or "node") if config.redis else config.warc
    sink = ArchiveSink(path, config.warc_max_size, warcinfo(config), memory=memory, append=bool(config.redis))
    sink.open()
    backend.sinks.append(sink)


def warcinfo(config: CrawlConfig) -> dict[str, str]:
    """The ``warcinfo`` fields of the run's archive: software, robots policy, user agent, options."""
    import dataclasses

    from ..config import __version__

    options = {}
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if value != default and spec.name not in ("workers", "progress"):
            options[spec.name] = value
    return {
        "software": f"crawler/{__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "robots": "obey" if config.robots else "ignore",
        "http-header-user-agent": config.user_agent,
        "description": " ".join(f"{name}={value!r}" for name, value in options.items())[:4000],
    }


def _plain(config: CrawlConfig, seeds: Sequence[str], ctx: Any, selected: tuple[str, ...]) -> Backend:
    from ..store.plain import PlainSink

    # Only a crawl that can discover URLs needs the Manager's queue to feed
    # them back: a URL list (--depth 0, no sitemaps) saves its process (~23 MB).
    manager = start_manager(ctx) if config.depth > 0 or config.sitemaps else None
    frontier = ManagerFrontier(manager)
    backend = Backend(frontier, [], local_want, closers=[manager.shutdown] if manager is not None else [])
    with _closed_on_error(backend.close):
        sink = PlainSink(config.output, config.format, frontier, last_fields=selected)
        sink.open()
        backend.sinks.append(sink)
        _add_text_sinks(config, backend, resumed=False)
        frontier.put([Task(url, 0, None, url) for url in seeds])
    return backend


def _state(config: CrawlConfig, seeds: Sequence[str], selected: tuple[str, ...]) -> Backend:
    from ..store.journal import Journal
    from ..store.state import StateStore

    store = StateStore(config.state or "")  # its lock first: a second run on it stops here
    backend = Backend(store, [], local_want, history=lambda url: store.previous(url).fetched_at,
                      refused=store.refuse_task)
    with _closed_on_error(backend.close):
        store.begin(seeds, config.recrawl_after)
        journal = Journal(config, store, last_fields=selected)
        journal.before_commit = backend.before_commit
        journal.open()
        backend.sinks.append(journal)
        _add_text_sinks(config, backend, resumed=store.resumed)
    return backend


def _redis(config: CrawlConfig, seeds: Sequence[str], stopping: Callable[[], bool],
           selected: tuple[str, ...]) -> Backend:
    from ..cluster.frontier import IDLE_POLL
    from ..cluster.node import RedisNode  # only distributed runs need the redis package

    node = RedisNode(config, seeds, last_fields=selected)  # Redis unreachable: UsageError before anything starts
    node.link.abort = stopping
    frontier = node.frontier
    # The crawl's caps are counted in Redis, across nodes; the loop also
    # renews this node's leases, so it wakes often enough for that.
    backend = Backend(frontier, [], frontier.want, host_gate=node.gate, tick=min(0.5, config.lease_timeout / 6),
                      idle_poll=IDLE_POLL, local_caps=False, describe=node.describe, write_many=node.write_many)
    with _closed_on_error(node.close):  # the node's close hands back what it took and closes the link
        node.open()
        backend.sinks.append(node)
        backend.hosts = node.hosts
        # Each node writes its own files (its own --markdown-dir and --chunks), as it writes its own output.
        _add_text_sinks(config, backend, resumed=node.rejoined)
    return backend


def _add_text_sinks(config: CrawlConfig, backend: Backend, resumed: bool) -> None:
    """The ``--markdown-dir`` and ``--chunks`` sinks, opened, after the record sink.

    ``resumed``: the run continues an interrupted one, whose chunks file is continued.
    """
    if config.markdown_dir:
        from ..store.mdfiles import MarkdownFiles

        files = MarkdownFiles(config.markdown_dir)
        files.open()
        backend.sinks.append(files)
    if config.chunks:
        from ..store.chunks import ChunkSink

        chunks = ChunkSink(config.chunks, config.chunk_words, append=resumed)
        chunks.open()
        backend.sinks.append(chunks)


@contextmanager
def _closed_on_error(close: Callable[[bool], None]) -> Iterator[None]:
    """Run ``close(False)`` (not finished) if the block fails, then let the error go on."""
    try:
        yield
    except BaseException:
        close(False)
        raise
