"""Worker-side processing: fetch, parse, extract, filter links.

`init_worker` runs once per pool process; `process` runs once per task, in
one of the process's fetch threads, and returns a plain picklable `Result`.
Page-level failures become ``Page.error``: nothing a page does raises across
the pipe. This module never touches the output, the frontier or the CLI.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .config import CrawlConfig
from .fetch import Fetched, fetch
from .page import ROBOTS, Page, Result, Task
from .parse import is_html, parse_html
from .policy import LinkFilter

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

#: ``extract(url, soup) -> dict``: a user hook run in the workers.
Extract = Callable[[str, "BeautifulSoup"], "dict[str, Any] | None"]

ROBOTS_MAX_BYTES = 512 * 1024  # Google reads the first 500 KiB; so do we

log = logging.getLogger(__name__)


class _State:
    config: CrawlConfig
    extract: Extract | None = None
    links: LinkFilter


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
    _state.config = config
    _state.extract = extract
    _state.links = LinkFilter.from_config(config)


def process(task: Task) -> Result:
    """Fetch one task and turn it into a `Result` (never raises for page failures)."""
    config = _state.config
    if task.kind == ROBOTS:
        return _process_robots(task, config)
    fetched = fetch(task.url, config)
    page = _page(task, fetched)
    result = Result(task=task, page=page, retry_after=_retry_hint(fetched))
    if fetched.body and is_html(fetched.content_type):
        _parse_into(result, fetched, config)
    return result


def _process_robots(task: Task, config: CrawlConfig) -> Result:
    fetched = fetch(task.url, config, max_bytes=ROBOTS_MAX_BYTES)
    body = fetched.body.decode("utf-8", "replace") if fetched.status is not None and fetched.status < 300 else None
    return Result(task=task, page=_page(task, fetched), retry_after=_retry_hint(fetched), body=body)


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
    )


def _parse_into(result: Result, fetched: Fetched, config: CrawlConfig) -> None:
    page = result.page
    extract = _state.extract
    try:
        parsed = parse_html(fetched.body, fetched.final_url, fetched.charset, full=extract is not None)
    except Exception as exc:  # a parser bug on one odd page must not kill the worker
        log.debug("parse failed for %s", page.url, exc_info=True)
        page.error = page.error or f"parse: {type(exc).__name__}: {exc}"[:200]
        page.ok = False
        return
    page.title = parsed.title
    page.links = len(parsed.links)
    if extract is not None and parsed.soup is not None:
        _run_extract(extract, page, parsed.soup)
    status = page.status or 0
    seed = result.task.seed or result.task.url
    if result.task.depth < config.depth and 200 <= status < 300 and _landed_in_scope(fetched, seed):
        follow = parsed.links
        if not config.follow_nofollow:
            # rel="nofollow" links and pages whose <meta name="robots"> says nofollow
            # are not followed, as search-engine crawlers do.
            skip = set(parsed.nofollow)
            follow = [] if parsed.meta_nofollow else [link for link in follow if link not in skip]
        result.links = [link for link in follow if _state.links.reason(link, seed) is None]


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
    if fields:
        page.extra.update(fields)
