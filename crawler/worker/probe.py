"""``crawler check`` in the worker: a link target checked with HEAD (then GET), and the soft-404 probe.

A checked target is fetched to learn whether it answers, never parsed: HEAD
first (no body to move), then GET when HEAD is refused (405, 501) or fails,
since many servers and CDNs answer HEAD badly. The soft-404 probe asks each
origin once per worker process for a path that cannot exist: a 2xx answer
there means the site hides its 404s, and pages whose visible text hashes
close to the probe's are soft 404s.
"""

from __future__ import annotations

import secrets
import threading
import time

import requests
import urllib3
from lxml import etree

from ..config import CrawlConfig
from ..page import utc_now
from ..urls import normalize_url
from .fetch import Fetched, borrow_session, fetch, return_session
from .parse import is_html, parse_html
from .seo import simhash, take_words

#: HEAD answers that mean "ask with GET instead".
HEAD_REFUSED = frozenset({405, 501})
#: Body read of a checked target's GET: its status is what counts.
CHECK_MAX_BYTES = 64 * 1024
#: Bits within which a page's text hash and the probe's make the page a soft 404.
SOFT404_BITS = 6

_probes: dict[str, int | None] = {}
_probe_lock = threading.Lock()


def check_target(url: str, config: CrawlConfig) -> Fetched:
    """Fetch ``url`` to see whether it answers: HEAD, then GET (body cut at `CHECK_MAX_BYTES`)."""
    head = _head(url, config)
    if head is not None and head.status not in HEAD_REFUSED and head.error is None:
        return head
    fetched = fetch(url, config, max_bytes=CHECK_MAX_BYTES)
    fetched.truncated = False  # the body was cut on purpose: only the answer counts
    fetched.body = b""
    return fetched


def _head(url: str, config: CrawlConfig) -> Fetched | None:
    result = Fetched(url=url, final_url=url, fetched_at=utc_now())
    start = time.monotonic()
    session = borrow_session(config)
    try:
        resp = session.head(url, timeout=config.timeout, allow_redirects=True)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
        return None  # GET decides, and says what went wrong
    finally:
        return_session(session)
    result.elapsed_ms = round((time.monotonic() - start) * 1000, 1)
    result.status = resp.status_code
    result.redirects = [f"{hop.status_code} {hop.url}" for hop in resp.history]
    try:
        result.final_url = normalize_url(resp.url)
    except ValueError:
        result.final_url = resp.url
    media = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    result.content_type = media or None
    if resp.status_code >= 400 and resp.status_code not in HEAD_REFUSED:
        result.error = f"http: {resp.status_code} {resp.reason or ''}".rstrip()
        return None if resp.status_code >= 500 else result  # a 5xx to HEAD may be HEAD's fault: GET
    return result


def text_hash(root: etree._Element | None) -> int | None:
    """SimHash of a parsed page's visible text, as ``content_hash`` has it; None for a page without text.

    Strips the tree's invisible parts (`crawler.worker.seo.take_words`): call it last."""
    words = take_words(root) if root is not None else []
    return simhash(words) if words else None


def hides_404s(origin: str, config: CrawlConfig) -> bool:
    """True when ``origin`` answers a path that cannot exist with a 2xx HTML page (probed once per process).

    Only then can a page of it be a soft 404, and only then does ``check``
    need its pages' text hashes (~1.5 ms of CPU for a 25 KB page).
    """
    return _reference(origin, config) is not None


def is_soft404(origin: str, page_hash: int | None, config: CrawlConfig) -> bool:
    """True when ``origin`` answers 2xx for a path that cannot exist and ``page_hash`` is near that answer's."""
    if page_hash is None:
        return False
    reference = _reference(origin, config)
    return reference is not None and (reference ^ page_hash).bit_count() <= SOFT404_BITS


def _reference(origin: str, config: CrawlConfig) -> int | None:
    with _probe_lock:
        known = origin in _probes
    if not known:
        probe = _probe(origin, config)
        with _probe_lock:
            _probes.setdefault(origin, probe)
    return _probes[origin]


def _probe(origin: str, config: CrawlConfig) -> int | None:
    url = f"{origin}/{secrets.token_hex(12)}-crawler-404-probe"
    fetched = fetch(url, config, max_bytes=config.max_bytes)
    if fetched.status is None or not 200 <= fetched.status < 300 or not is_html(fetched.content_type):
        return None
    parsed = parse_html(fetched.body, fetched.final_url, fetched.charset, keep_root=True)
    return text_hash(parsed.root)
