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
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import CrawlConfig
from ..page import (
    MARKDOWN_FIELDS,
    NODE_FIELDS,
    RECORD_FIELDS,
    ROBOTS,
    SITEMAP,
    STATE_FIELDS,
    Archived,
    Exchange,
    Page,
    PageResult,
    Result,
    RobotsResult,
    SitemapResult,
    Task,
)
from ..policy import DEPTH, NOFOLLOW, LinkFilter, follows_links
from ..select import Compiled, compile_selectors, run_selectors
from ..urls import normalize_url
from . import addresses, headers, network
from .cookies import from_jar, to_jar
from .fetch import Fetched, fetch, from_archive
from .parse import Parsed, is_html, parse_html
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


def process(task: Task) -> Result:
    """Fetch one task and turn it into a `Result` (never raises for page failures)."""
    config = _state.config
    if task.kind == ROBOTS:
        return _process_robots(task, config)
    if task.kind == SITEMAP:
        return _process_sitemap(task, config)
    with addresses.policy(task.referrer, config.no_private):
        fetched = fetch(task.url, config, cookies=to_jar(task.cookies), validators=task.validators)
    page = _page(task, fetched)
    links: tuple[str, ...] = ()
    refused: dict[str, int] | None = None
    digest = validators = None
    if config.state:
        # What a later run compares with: the body's hash and the validators.
        digest = hashlib.blake2b(fetched.body, digest_size=8).hexdigest() if fetched.status else None
        validators = (fetched.etag, fetched.last_modified)
    text: Text | None = None
    if fetched.body and is_html(fetched.content_type):
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
        links, refused, text = _parse_into(page, task, fetched, config, digest)
    elif fetched.status == 304 and _state.markdown is not None:
        _state.markdown.not_modified(page, task)
    return PageResult(task=task, page=page, retry_after=_retry_hint(fetched), cookies=from_jar(fetched.cookies),
                      links=links, refused=refused, digest=digest, validators=validators,
                      markdown=text.markdown if text else None, lang=text.lang if text else None,
                      converted=text is not None,
                      exchanges=_exchanges(fetched))


def process_archived(task: Task, archived: Archived) -> Page:
    """The record a live fetch of ``task`` would have made, from an archived response
    (``crawler extract``): the same parse, selectors and hook, no network."""
    config = _state.config
    fetched = from_archive(archived, config.max_bytes)
    page = _page(task, fetched)
    if fetched.body and is_html(fetched.content_type):
        _parse_into(page, task, fetched, config, None)
    if archived.not_modified:
        # As the live run recorded the 304: the stored copy's title and links, no bytes.
        page.bytes = 0
        page.ok = page.error is None
    return page


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
                digest: str | None) -> tuple[tuple[str, ...], dict[str, int] | None, Text | None]:
    """Fill in the page's title, link count, Markdown and selected fields; the links to follow,
    the others counted by reason, and the page's Markdown (None when it was not converted)."""
    extract, selectors = _state.extract, _state.selectors
    # Only hooks and selectors need BeautifulSoup's whole tree; without them
    # lxml alone reads title and links, many times faster.
    with _parse_gate:  # the parse and the link filter; hooks and selectors come after
        try:
            parsed = parse_html(fetched.body, fetched.final_url, fetched.charset, full=_state.full_tree)
        except Exception as exc:  # a parser bug on one odd page must not kill the worker
            log.debug("parse failed for %s", page.url, exc_info=True)
            page.error = page.error or f"parse: {type(exc).__name__}: {exc}"[:200]
            page.ok = False
            return (), None, None
        links, refused = _follow(page, task, parsed, fetched, config)
        # Before the hook: the Markdown fields come before the hook's and the selectors' fields.
        text = _state.markdown.convert(page, task, fetched, parsed, digest) if _state.markdown is not None else None
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


def _follow(page: Page, task: Task, parsed: Parsed, fetched: Fetched,
            config: CrawlConfig) -> tuple[tuple[str, ...], dict[str, int] | None]:
    """The links of the page that the crawl is to follow, and the others counted by reason."""
    status = page.status or 0
    seed = task.seed or task.url
    if not (200 <= status < 300 and parsed.links and _landed_in_scope(fetched, seed)):
        return (), None
    if not follows_links(task.depth, config.depth):
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
    keep = []
    reason_of = _state.links.reason
    for link in follow:
        reason = reason_of(link, seed)
        if reason is None:
            keep.append(link)
        else:
            refused[reason] = refused.get(reason, 0) + 1
    return tuple(keep), refused or None


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
        if key in _RESERVED:
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
