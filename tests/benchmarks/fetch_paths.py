#!/usr/bin/env python3
"""CPU per GET of the crawler's `fetch` against urllib3 and http.client alone, on the same URLs.

The map for a leaner fetch path (issue 17, target 2): how much of a fetch's
CPU is requests' and urllib3's, and how much the wire itself costs::

    .venv/bin/python tests/benchmarks/fetch_paths.py crawl.jsonl --limit 2000

``crawl.jsonl`` is the output of a crawl of a local site (the bench's
``fast`` site on nginx, say); its ``url`` fields are fetched one by one,
sequentially, by each path in turn, and the thread's CPU time per GET is
printed. Only loopback URLs are taken (anything else is refused). The
paths read the whole body; only ``fetch`` also decodes, bounds and times
it, as a crawl does.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import urllib3  # noqa: E402

from crawler.config import CrawlConfig  # noqa: E402
from crawler.worker import tasks  # noqa: E402
from crawler.worker.fetch import fetch  # noqa: E402

HEADERS = {"User-Agent": "fetch-paths", "Accept-Encoding": "gzip, deflate"}


def loopback(url: str) -> bool:
    try:
        return ipaddress.ip_address(urlsplit(url).hostname or "").is_loopback
    except ValueError:
        return False


def per_get(urls: list[str], get: Callable[[str], object]) -> float:
    """Thread CPU µs per GET (after 50 warm-up GETs)."""
    for url in urls[:50]:
        get(url)
    started = time.thread_time()
    for url in urls:
        get(url)
    return (time.thread_time() - started) / len(urls) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="a crawl's JSON Lines output")
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args()
    urls = [json.loads(line)["url"] for line in open(args.records, encoding="utf-8")]
    urls = [url for url in urls if url.startswith("http://") and loopback(url)][: args.limit]
    if not urls:
        sys.exit("no http:// loopback URL in " + args.records)
    config = CrawlConfig(depth=0)
    tasks.init_worker(config)  # the worker's own set-up: header parser, network policy

    pool = urllib3.PoolManager(maxsize=4)

    def via_urllib3(url: str) -> bytes:
        response = pool.request("GET", url, headers=HEADERS, preload_content=False, redirect=False)
        body = response.read()
        response.release_conn()
        return body

    connections: dict[str, http.client.HTTPConnection] = {}

    def via_http_client(url: str) -> bytes:
        parts = urlsplit(url)
        connection = connections.get(parts.netloc)
        if connection is None:
            connection = connections[parts.netloc] = http.client.HTTPConnection(parts.netloc, timeout=10)
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=HEADERS)
        return connection.getresponse().read()

    for name, get in (("crawler fetch()", lambda url: fetch(url, config)), ("urllib3 PoolManager", via_urllib3),
                      ("http.client", via_http_client)):
        print(f"{name:20} {per_get(urls, get):6.0f} µs of CPU per GET ({len(urls)} GETs)")


if __name__ == "__main__":
    main()
