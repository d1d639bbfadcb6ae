#!/usr/bin/env python3
"""What a crawl would gain from a GET on http.client alone (issue 17, target 2): a measurement, not a fetch path.

Runs the crawler's own CLI with its arguments. With ``LEAN=1`` in the
environment, the workers' `fetch` is replaced, before the pool forks, by
the minimal http.client GET below: keep-alive connections per host,
redirects, gzip and deflate, ``--max-bytes``. It has none of the real
path's watchdog, address policy, TLS, proxies, cookies, conditional
requests or WARC capture. ``LEAN=2`` is the middle way: the same GET on the
crawler's own watched urllib3 connections (address policy, watchdog and
interim responses kept), read through http.client, without urllib3's pool
and response or requests. Use either only on a plain-HTTP loopback site
(the bench's ``fast`` site), and time the runs against each other, alternated::

    P=".venv/bin/python tests/benchmarks/lean_get_payoff.py"
    for i in 1 2 3 4 5 6 7 8 9 10; do
        /usr/bin/time -f "stock %e s %U+%S" $P $S -o stock.jsonl
        /usr/bin/time -f "lean %e s %U+%S" env LEAN=1 $P $S -o lean.jsonl
    done

where ``S`` is the site's seeds and ``-d 3 -c 16 --no-progress -q``. Both
runs must record the same pages (compare url, status, title and links).
"""

from __future__ import annotations

import functools
import http.client
import os
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import urllib3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crawler.cli.main import main  # noqa: E402
from crawler.config import CrawlConfig  # noqa: E402
from crawler.page import utc_now  # noqa: E402
from crawler.worker import addresses, tasks  # noqa: E402
from crawler.worker import fetch as fetching  # noqa: E402
from crawler.worker.watchdog import Deadline, _use, _WatchedHTTPConnection  # noqa: E402

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_idle: dict[tuple[str, int], list[http.client.HTTPConnection]] = {}
_lock = threading.Lock()
os.register_at_fork(after_in_child=_idle.clear)  # a worker must not share its parent's sockets


def lean_fetch(url: str, config: CrawlConfig, session: Any = None, max_bytes: int | None = None,
               cookies: Any = None, validators: Any = None, watched: bool = False) -> fetching.Fetched:
    """GET ``url`` with http.client (plain http; see the module's docstring for what is left out),
    on the crawler's watched connections when ``watched``."""
    limit = config.max_bytes if max_bytes is None else max_bytes
    result = fetching.Fetched(url=url, final_url=url, fetched_at=utc_now())
    headers = {"User-Agent": config.user_agent, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
               "Accept-Encoding": "gzip, deflate"}
    start = time.monotonic()
    try:
        with Deadline(config.timeout):
            _get(url, config, headers, limit, result, watched)
    except (OSError, http.client.HTTPException, zlib.error, urllib3.exceptions.HTTPError) as exc:
        result.error, result.retryable = f"connection: {exc}"[:200], True
    result.elapsed_ms = round((time.monotonic() - start) * 1000, 1)
    return result


def _get(url: str, config: CrawlConfig, headers: dict[str, str], limit: int, result: fetching.Fetched,
         watched: bool) -> None:
    for _ in range(config.max_redirects + 1):
        result.final_url = url
        parts = urlsplit(url)
        key = (parts.hostname or "", parts.port or 80)
        with _lock:
            idle = _idle.get(key)
            conn = idle.pop() if idle else None
        if conn is None:
            conn = (_WatchedHTTPConnection if watched else http.client.HTTPConnection)(*key, timeout=config.timeout)
        elif watched:  # as the watched pool does before each request on a kept-alive connection
            addresses.check_reused(conn)  # type: ignore[arg-type]
            _use(conn.sock)
        try:
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
            # http.client's own getresponse, also on urllib3's connection class: no urllib3 response
            response = http.client.HTTPConnection.getresponse(conn)
        except Exception:
            conn.close()
            raise
        location = response.getheader("Location")
        if response.status in REDIRECTS and location:
            response.read()
            with _lock:
                _idle.setdefault(key, []).append(conn)
            result.redirects.append(f"{response.status} {url}")
            url = urljoin(url, location)
            continue
        _read(response, result, limit)
        if response.isclosed() and not response.will_close:
            with _lock:
                _idle.setdefault(key, []).append(conn)
        else:
            conn.close()
        return


def _read(response: http.client.HTTPResponse, result: fetching.Fetched, limit: int) -> None:
    result.status = response.status
    fetching._parse_content_type(response.getheader("Content-Type"), result)
    result.robots_tag = response.getheader("X-Robots-Tag")
    coding = (response.getheader("Content-Encoding") or "").lower()
    decoder = zlib.decompressobj(31) if coding == "gzip" else zlib.decompressobj() if coding == "deflate" else None
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(fetching.CHUNK):
        if decoder is not None:
            chunk = decoder.decompress(chunk)
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            result.truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
    result.body = b"".join(chunks)
    result.error = fetching.status_error(response.status, response.reason, False, False)
    result.retryable = response.status in fetching.RETRY_STATUSES


if __name__ == "__main__":
    if os.environ.get("LEAN") in ("1", "2"):
        # What the workers call, inherited by fork.
        tasks.fetch = functools.partial(lean_fetch, watched=os.environ["LEAN"] == "2")  # type: ignore[assignment]
    raise SystemExit(main(sys.argv[1:]))
