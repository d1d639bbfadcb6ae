"""Worker-side processing: fetch, parse, extract, filter links.

`init_worker` runs once per pool process; `process` runs once per task, in
one of the process's fetch threads, and returns a plain picklable `Result`.
Page-level failures become ``Page.error``: nothing a page does raises across
the pipe. This module never touches the output, the frontier or the CLI.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import CrawlConfig
from ..page import (
    CHECK,
    MARKDOWN_FIELDS,
    NODE_FIELDS,
    RECORD_FIELDS,
    ROBOTS,
    SEO_FIELDS,
    SITEMAP,
    STATE_FIELDS,
    ArchiveRef,
    Exchange,
    Page,
    PageResult,
    Result,
    RobotsResult,
    SitemapResult,
    Task,
    encode_edges,
)
from ..policy import ALLOW, BLOCKED, DENY, DEPTH, LENGTH, NOFOLLOW, SCOPE, LinkFilter, follows_links
from ..select import Compiled, compile_selectors, run_selectors
from ..urls import normalize_url, origin_of
from ..warcrecord import page_metadata
from . import addresses, headers, network
from .archived import read as read_archive
from .cookies import from_jar, to_jar
from .edges import page_edges
from .fetch import Fetched, fetch, from_archive, media_type
from .parse import Parsed, is_html, parse_html
from .probe import check_target, hides_404s, is_soft404, text_hash
from .seo import empty_fields, seo_fields
from .serve import release_slot
from .sitemaps import MAX_BYTES as SITEMAP_MAX_BYTES
from .sitemaps import SitemapError, parse_sitemap

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from .markdown import Text
    from .textstep import MarkdownStep

#: ``extract(url, soup) -> dict``: a user hook run in the workers.
Extract = Callable[[str, "BeautifulSoup"], "dict[str, Any] | None"]

ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; so do we
#: A response that took this long (ms) came from a server slower than our
#: parsing: its slot goes back before the page is parsed (see `process`).
SLOW_RESPONSE_MS = 30.0

#: Titles and ``--select`` values are cut to this many characters, the last an
#: ellipsis: a 5 MB ``<title>`` made a CSV cell no spreadsheet (nor Python's csv
#: module, 128 KiB a field by default) reads.
TEXT_MAX = 1000

log = logging.getLogger(__name__)


def capped(text: str) -> str:
    """``text``, or its first `TEXT_MAX` - 1 characters and "…" when it is longer."""
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "\u2026"

# One page parsed at a time per process. Parsing is CPU work under the
# process's GIL: when a wave of responses came in at -c 64, some 30 threads
# parsed at once, each holding the GIL in turn, and the threads that need it
# only briefly (to send a request, read a response, hand a result over)
# waited behind them, 5-9 ms per step. Waiting here, a parser does not ask
# for the GIL. Hooks and selectors run outside: they may wait on I/O.
_parse_gate = threading.Lock()


def _new_parse_gate() -> None:
    # A process forked while one of its threads parsed would start with the gate held.
    global _parse_gate
    _parse_gate = threading.Lock()


os.register_at_fork(after_in_child=_new_parse_gate)


class _State:
    config: CrawlConfig
    extract: Extract | None = None
    selectors: Sequence[Compiled] = ()
    #: a hook or selectors need BeautifulSoup's whole tree of every HTML page
    full_tree: bool = False
    links: LinkFilter
    #: converts pages to Markdown (``--markdown``, ``--markdown-dir``, ``--chunks``); None otherwise
    markdown: MarkdownStep | None = None
    #: the crawl keeps its link graph (``check``, ``--links``, ``--report``): pages send their edges
    edges: bool = False
    #: the link graph keeps each link's anchor text
    edge_texts: bool = True
    ignore: Sequence[re.Pattern[str]] = ()


_state = _State()


def init_worker(config: CrawlConfig, extract: Extract | None = None) -> None:
    """Pool initializer: keep the config and hook for every task of this process."""
    # Ctrl-C reaches the whole process group; the main process decides how to
    # stop, and workers must not print KeyboardInterrupt tracebacks meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the CLI's SIGTERM handler; Pool.terminate()
    # relies on SIGTERM ending the worker.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Fetch threads wake from I/O needing the GIL while another parses; the
    # default 5 ms switch interval adds that wait to every response.
    sys.setswitchinterval(0.001)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # urllib3 logs a warning with a traceback for every response whose
        # headers it cannot fully parse: common on the open web, and what a
        # response cut mid-headers at its deadline leaves. The page's record
        # says what went wrong; the details are for -v.
        logging.getLogger("urllib3.connection").setLevel(logging.ERROR)
    # The worker is the crawl's own process: http.client may parse headers faster here.
    headers.install()
    network.init_process(config)
    _state.config = config
    _state.extract = extract
    _state.selectors = compile_selectors(config.select)
    _state.full_tree = extract is not None or bool(_state.selectors)
    _state.links = LinkFilter.from_config(config)
    _state.markdown = None
    if config.wants_markdown:
        from .textstep import MarkdownStep  # imported only by crawls that convert pages

        _state.markdown = MarkdownStep(config)
    _state.edges = config.check or config.links_db is not None
    # Anchor texts show in the links table, the reports and `crawler explain` (which reads
    # STATE.links); check's verdict alone names only the pages linking to a broken target.
    # Reading them was about 10 % of a check crawl's CPU.
    _state.edge_texts = bool(config.links or config.report or config.state)
    _state.ignore = [re.compile(p) for p in config.ignore]


def process(task: Task) -> Result:
    """Fetch one task and turn it into a `Result` (never raises for page failures)."""
    config = _state.config
    if task.kind == ROBOTS:
        return _process_robots(task, config)
    if task.kind == SITEMAP:
        return _process_sitemap(task, config)
    if task.kind == CHECK:
        return _process_check(task, config)
    with addresses.policy(task.referrer, config.no_private) as reached:
        fetched = fetch(task.url, config, cookies=to_jar(task.cookies), validators=task.validators)
    page = _page(task, fetched)
    if config.seo:  # first in extra: SPEC puts them before hook and selector fields
        page.extra.update(empty_fields(fetched.redirects))
    links: tuple[str, ...] = ()
    refused: dict[str, int] | None = None
    digest = validators = None
    if config.state:
        # What a later run compares with: the body's hash and the validators.
        digest = hashlib.blake2b(fetched.body, digest_size=8).hexdigest() if fetched.status else None
        validators = (fetched.etag, fetched.last_modified)
    text: Text | None = None
    graph = _Graph()
    if fetched.body and is_html(fetched.content_type):
        if config.check and page.ok and 200 <= (fetched.status or 0) < 300:
            # The soft-404 probe is a request: made here, outside the parse gate, before the
            # parse decides whether the page's text hash is needed.
            graph.hides_404s = hides_404s(origin_of(fetched.final_url), config)
        if page.ok and (_state.full_tree or fetched.elapsed_ms >= SLOW_RESPONSE_MS):
            # The response is read: the slot may serve another request while
            # this page's BeautifulSoup tree is built and searched (~8 ms), or
            # while lxml reads a page that came slowly: there the slots, not
            # the CPU, bound the crawl (bench lat -c 16, 4 runs each: 286
            # pages/s against 280). A fast server's page parsed by lxml alone
            # (~0.5 ms) keeps its slot: releasing every page, the notices and
            # early wake-ups cost more than they won (fast and list 3-5 %
            # slower in an earlier A/B). Not for a 429/503 either:
            # the main process must see it (and maybe slow the host down)
            # before its slot goes to another request.
            release_slot()
        links, refused, text = _parse_into(page, task, fetched, config, graph, digest)
        if links and reached.public_hop:  # a redirect may have left a local URL for a public address
            links, blocked = addresses.reachable_links(reached, task.url, links)
            if blocked:
                refused = {**(refused or {}), BLOCKED: blocked}
    elif fetched.status == 304 and _state.markdown is not None:
        _state.markdown.not_modified(page, task)
    if config.check:
        page.extra["soft404"] = graph.soft404
    return PageResult(task=task, page=page, retry_after=_retry_hint(fetched), cookies=from_jar(fetched.cookies),
                      links=links, refused=refused, digest=digest, validators=validators,
                      markdown=text.markdown if text else None, lang=text.lang if text else None,
                      converted=text is not None,
                      edges=graph.edges, ids=graph.ids, checks=graph.checks, text_hash=graph.text_hash,
                      hops=tuple(fetched.redirects) if _state.edges else (),
                      refused_links=graph.refused_links,
                      exchanges=_exchanges(fetched), metadata=_metadata(task, page, links, fetched))


class _Graph:
    """What a page adds to the crawl's link graph (when the crawl keeps one)."""

    #: JSON text (`crawler.page.encode_edges`), and the link targets it names
    edges: str | None = None
    ids: str | None = None
    targets: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    soft404: bool = False
    #: ``check``: the page's origin answers 2xx for a path that cannot exist (its pages may be soft 404s)
    hides_404s: bool = False
    text_hash: str | None = None
    #: with ``--state``: the links not followed, (url, reason, detail) each
    refused_links: tuple[tuple[str, str, str], ...] = ()


def _process_check(task: Task, config: CrawlConfig) -> PageResult:
    with addresses.policy(task.referrer, config.no_private):  # a link checked is a link followed
        fetched = check_target(task.url, config)
    page = _page(task, fetched)
    if config.seo:
        page.extra.update(empty_fields(fetched.redirects))
    if config.check:
        page.extra["soft404"] = False
    return PageResult(task=task, page=page, retry_after=_retry_hint(fetched), cookies=from_jar(fetched.cookies),
                      exchanges=_exchanges(fetched))


def process_archived(task: Task, ref: ArchiveRef) -> PageResult:
    """The record a live fetch of ``task`` would have made, from the archived response ``ref``
    points at (``crawler extract``): the same parse, selectors, hook and Markdown, no network.
    (A 304's Markdown is its stored copy's: an archive's directory is built whole.)"""
    config = _state.config
    archived = read_archive(ref)
    fetched = from_archive(archived, config.max_bytes)
    page = _page(task, fetched)
    if config.seo:
        page.extra.update(empty_fields(fetched.redirects))
    text: Text | None = None
    if fetched.body and is_html(fetched.content_type):
        _, _, text = _parse_into(page, task, fetched, config, _Graph(), None)
    if archived.not_modified:
        # As the live run recorded the 304: the stored copy's title and links, no bytes,
        # the 304's own content type (the copy's read its body).
        page.bytes = 0
        page.ok = page.error is None
        page.content_type = media_type(archived.headers)
    return PageResult(task=task, page=page, markdown=text.markdown if text else None,
                      lang=text.lang if text else None, converted=text is not None)


def _process_robots(task: Task, config: CrawlConfig) -> RobotsResult:
    with addresses.policy(task.referrer, config.no_private):
        fetched = fetch(task.url, config, max_bytes=ROBOTS_MAX_BYTES, cookies=to_jar(task.cookies))
    body = fetched.body.decode("utf-8", "replace") if fetched.status is not None and fetched.status < 300 else None
    return RobotsResult(task=task, page=_page(task, fetched), retry_after=_retry_hint(fetched), body=body,
                        cookies=from_jar(fetched.cookies), exchanges=_exchanges(fetched))


def _process_sitemap(task: Task, config: CrawlConfig) -> SitemapResult:
    with addresses.policy(task.referrer, config.no_private):
        fetched = fetch(task.url, config, max_bytes=SITEMAP_MAX_BYTES, cookies=to_jar(task.cookies))
    page = _page(task, fetched)
    result = SitemapResult(task=task, page=page, retry_after=_retry_hint(fetched), cookies=from_jar(fetched.cookies),
                           exchanges=_exchanges(fetched))
    if page.error is not None or not page.ok:
        return result
    try:
        sitemap = parse_sitemap(fetched.body)
    except SitemapError as exc:
        page.error = f"sitemap: {exc}"[:200]
        page.ok = False
        return result
    seed = task.seed or task.url
    links: list[str] = []
    lastmods: list[float | None] = []
    for url, lastmod in zip(sitemap.urls, sitemap.lastmods, strict=True):
        link = _canonical(url)
        # sitemaps.org: a sitemap lists its own site's URLs; scope and filters still apply.
        if link is not None and _state.links.reason(link, seed) is None:
            links.append(link)
            lastmods.append(lastmod)
    page.links = len(links)
    sitemaps = tuple(link for link in map(_canonical, sitemap.sitemaps) if link is not None)
    return replace(result, links=tuple(links), lastmods=tuple(lastmods), sitemaps=sitemaps)


def _exchanges(fetched: Fetched) -> tuple[Exchange, ...]:
    return tuple(fetched.exchanges) if fetched.exchanges else ()


def _metadata(task: Task, page: Page, links: tuple[str, ...], fetched: Fetched) -> bytes:
    """With ``--warc``: the page's ``metadata`` record, built here so the main process only appends it."""
    if fetched.warc_gzip is None or fetched.exchanges is None:
        return b""
    return page_metadata(page, task.depth, fetched.exchanges, links, fetched.warc_gzip)


def _canonical(url: str) -> str | None:
    if not url.startswith(("http://", "https://")):
        return None
    try:
        return normalize_url(url)
    except ValueError:
        return None


def _retry_hint(fetched: Fetched) -> float | None:
    if not fetched.retryable:
        return None
    # 0 means "retryable, no server hint": the main process picks the backoff.
    return fetched.retry_after if fetched.retry_after is not None else 0.0


def _page(task: Task, fetched: Fetched) -> Page:
    error = fetched.error
    if error is None and fetched.truncated:
        error = f"truncated: body larger than {len(fetched.body)} bytes, cut there"
    status = fetched.status
    return Page(
        url=task.url,
        final_url=fetched.final_url,
        status=status,
        ok=error is None and status is not None and 200 <= status < 300,
        content_type=fetched.content_type,
        bytes=len(fetched.body),
        elapsed_ms=fetched.elapsed_ms,
        depth=task.depth,
        referrer=task.referrer,
        error=error,
        fetched_at=fetched.fetched_at,
        attempts=task.attempt + 1,
        noindex=_robots_tag_noindex(fetched.robots_tag, _state.config.user_agent),
    )


def _robots_tag_noindex(header: str | None, user_agent: str) -> bool:
    """Whether an X-Robots-Tag header says noindex (or none) to every crawler or to us.

    ``X-Robots-Tag: noindex, nofollow`` applies to all; ``otherbot: noindex``
    only to the crawler whose product token is ``otherbot``.
    """
    if not header:
        return False
    ours = user_agent.split("/", 1)[0].strip().lower()
    applies = True
    for part in header.lower().split(","):
        name, sep, rest = part.partition(":")
        if sep and " " not in name.strip() and name.strip() not in ("unavailable_after",):
            applies = name.strip() in (ours, "*")
            part = rest
        if applies and part.strip() in ("noindex", "none"):
            return True
    return False


def _parse_into(page: Page, task: Task, fetched: Fetched, config: CrawlConfig,
                graph: _Graph, digest: str | None) -> tuple[tuple[str, ...], dict[str, int] | None, Text | None]:
    """Fill in the page's title, link count, Markdown and selected fields; the links to follow,
    the others counted by reason, and the page's Markdown (None when it was not converted)."""
    extract, selectors = _state.extract, _state.selectors
    # Only hooks and selectors need BeautifulSoup's whole tree; without them
    # lxml alone reads title and links, many times faster.
    with _parse_gate:  # the parse and the link filter; hooks and selectors come after
        try:
            parsed = parse_html(fetched.body, fetched.final_url, fetched.charset, full=_state.full_tree,
                                keep_root=config.seo or _state.edges)
            in_graph = _state.edges and page.ok and _landed_in_scope(fetched, task.seed or task.url)
            if in_graph:  # before --seo's fields and the text hash, which strip the tree's invisible parts
                _graph(graph, parsed, config)
            if config.seo:
                page.extra.update(seo_fields(parsed.root, parsed.base, fetched.redirects))
            if in_graph and (config.report or graph.hides_404s):  # near-duplicates and soft 404s
                graph.text_hash = page.extra.get("content_hash") if config.seo else _text_hash(parsed)
        except Exception as exc:  # a parser bug on one odd page must not kill the worker
            log.debug("parse failed for %s", page.url, exc_info=True)
            page.error = page.error or f"parse: {type(exc).__name__}: {exc}"[:200]
            page.ok = False
            return (), None, None
        why = _Refusals(task, config) if config.state else None  # crawler explain reads them from the state
        links, refused = _follow(page, task, parsed, fetched, config, why)
        if why is not None:
            graph.refused_links = tuple(why.rows)
        # Before the hook: the Markdown fields come before the hook's and the selectors' fields.
        text = _state.markdown.convert(page, task, fetched, parsed, digest) if _state.markdown is not None else None
    if in_graph and config.check:
        _checks(graph, parsed, fetched, links, config)  # outside the gate: the soft-404 probe is a request
    page.title = parsed.title if parsed.title is None or len(parsed.title) <= TEXT_MAX else capped(parsed.title)
    page.links = len(parsed.links)
    page.noindex = page.noindex or parsed.noindex
    if parsed.soup is not None:
        # Selectors run first, so they see the page as served even if the
        # hook changes the tree; their fields still go last in the record.
        selected = _run_select(selectors, page, parsed.soup) if selectors else {}
        if extract is not None:
            _run_extract(extract, page, parsed.soup)
        for name, value in selected.items():
            page.extra.pop(name, None)  # a selector wins over a hook field of its name
            page.extra[name] = value
    return links, refused, text


def _graph(graph: _Graph, parsed: Parsed, config: CrawlConfig) -> None:
    """The page's edges and fragment names."""
    edges, names = page_edges(parsed.root, parsed.base, parsed.encoding, config.check_assets, parsed.resolved,
                              parsed.anchors, _state.edge_texts, parsed.hrefs)
    # Encoded here, in the worker: the main process stores the text as it comes.
    graph.edges, graph.ids = encode_edges(edges), encode_edges(names)
    if config.check:
        graph.targets = tuple(edge[0] for edge in edges)


def _text_hash(parsed: Parsed) -> str | None:
    value = text_hash(parsed.root)
    return None if value is None else f"{value:016x}"


def _checks(graph: _Graph, parsed: Parsed, fetched: Fetched, links: tuple[str, ...], config: CrawlConfig) -> None:
    """``check``: the page's link targets to check that the crawl does not follow, and its soft-404 verdict."""
    followed = set(links)
    longest, ignore = config.max_url_length, _state.ignore
    graph.checks = tuple(target for target in dict.fromkeys(graph.targets)
                         if target not in followed and len(target) <= longest
                         and not (ignore and any(p.search(target) for p in ignore)))
    if graph.hides_404s and graph.text_hash is not None:
        graph.soft404 = is_soft404(origin_of(fetched.final_url), int(graph.text_hash, 16), config)


def _follow(page: Page, task: Task, parsed: Parsed, fetched: Fetched, config: CrawlConfig,
            why: _Refusals | None = None) -> tuple[tuple[str, ...], dict[str, int] | None]:
    """The links of the page that the crawl is to follow, and the others counted by reason
    (and, given ``why``, listed with their reasons)."""
    status = page.status or 0
    seed = task.seed or task.url
    if not (200 <= status < 300 and parsed.links and _landed_in_scope(fetched, seed)):
        return (), None
    if not follows_links(task.depth, config.depth):
        if why is not None:
            why.add_all(parsed.links, DEPTH)
        return (), {DEPTH: len(parsed.links)}
    follow = parsed.links
    refused: dict[str, int] = {}
    if not config.follow_nofollow:
        # rel="nofollow" links and pages whose <meta name="robots"> says nofollow
        # are not followed, as search-engine crawlers do.
        skip = set(parsed.nofollow)
        follow = [] if parsed.meta_nofollow else [link for link in follow if link not in skip]
        if len(follow) < len(parsed.links):
            refused[NOFOLLOW] = len(parsed.links) - len(follow)
            if why is not None:
                kept = set(follow)
                why.add_all([link for link in parsed.links if link not in kept], NOFOLLOW)
    keep = []
    reason_of = _state.links.reason
    for link in follow:
        reason = reason_of(link, seed)
        if reason is None:
            keep.append(link)
        else:
            refused[reason] = refused.get(reason, 0) + 1
            if why is not None:
                why.add(link, reason)
    return tuple(keep), refused or None


#: Most refused links of one page kept for ``crawler explain`` (a page of 100,000 links is a trap).
REFUSED_KEPT = 2000


class _Refusals:
    """The links a page does not follow, each with its reason and what in the rule refused it."""

    def __init__(self, task: Task, config: CrawlConfig) -> None:
        self.task, self.config = task, config
        self.rows: list[tuple[str, str, str]] = []

    def add_all(self, links: list[str], reason: str) -> None:
        for link in links:
            self.add(link, reason)

    def add(self, link: str, reason: str) -> None:
        if len(self.rows) < REFUSED_KEPT:
            self.rows.append((link, reason, self._detail(link, reason)))

    def _detail(self, link: str, reason: str) -> str:
        config = self.config
        if reason == DEPTH:
            return f"--depth {config.depth}"
        if reason == SCOPE:
            return f"--scope {config.scope} of its seed {self.task.seed or self.task.url}"
        if reason == DENY:
            return ", ".join(repr(p.pattern) for p in _state.links.deny if p.search(link))
        if reason == ALLOW:
            return ", ".join(repr(p) for p in config.allow)
        if reason == LENGTH:
            return f"{len(link)} characters, over {config.max_url_length}"
        if reason == NOFOLLOW:
            return 'rel="nofollow", or the page\'s <meta name="robots"> says nofollow'
        return reason


def _landed_in_scope(fetched: Fetched, seed: str) -> bool:
    # A redirect that left the scope is recorded where it landed, but the
    # links of that page are not the crawl's to follow (even those that point
    # back into scope: they were found outside it).
    return fetched.final_url == fetched.url or _state.links.in_scope(fetched.final_url, seed)


def _run_extract(extract: Extract, page: Page, soup: BeautifulSoup) -> None:
    try:
        fields = extract(page.final_url, soup)
    except Exception as exc:  # the user's hook failing is a page error, not a crash
        page.error = page.error or f"extract: {type(exc).__name__}: {exc}"[:200]
        page.ok = False
        return
    if fields is None:
        return
    if not isinstance(fields, Mapping):
        # Not a crash of the worker (an `internal` record): the hook's mistake, said on its page.
        page.error = page.error or f"extract: the hook returned {type(fields).__name__}, not a dict or None"
        page.ok = False
        return
    extra = page.extra
    for key, value in fields.items():
        if key in _RESERVED or (_state.config.seo and key in SEO_FIELDS):
            _warn_reserved(key)
            continue
        # Values the output writes as text anyway (JSON's default=str, CSV's str()) become
        # text here: any object could fail to cross the pipe to the main process.
        extra[key] = value if value is None or isinstance(value, _PLAIN_VALUES) else str(value)


#: Record fields a hook's field of the same name must not replace (dropped, with a warning).
_RESERVED = frozenset(RECORD_FIELDS + STATE_FIELDS + NODE_FIELDS + MARKDOWN_FIELDS)
_PLAIN_VALUES = (str, int, float, list, tuple, dict)
_warned: set[str] = set()


def _warn_reserved(key: str) -> None:
    # Once per key per process: a hook runs on every page.
    if key not in _warned:
        _warned.add(key)
        log.warning("extract hook: %r is a record field; the hook's value for it is dropped", key)


def _run_select(selectors: Sequence[Compiled], page: Page, soup: BeautifulSoup) -> dict[str, Any]:
    try:
        fields = run_selectors(selectors, soup)
        for name, value in fields.items():
            if isinstance(value, str):
                fields[name] = capped(value)
            elif isinstance(value, list):
                fields[name] = [capped(v) if isinstance(v, str) else v for v in value]
        return fields
    except Exception as exc:  # a matcher bug on one odd page must not kill the worker
        page.error = page.error or f"extract: {type(exc).__name__}: {exc}"[:200]
        page.ok = False
        return {}  # the main process fills the fields with None
