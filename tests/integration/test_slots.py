"""With an extract hook, a page's request slot is free once its response is read, while
the page is still being parsed (the real pool, through the library API)."""

from __future__ import annotations

import threading
import time
from typing import Any

from crawler import crawl
from tests.conftest import page_handler, serving

PAGE = b"<html><head><title>t</title></head><body><a href='/x'>x</a></body></html>"
EXTRACT_SECONDS = 0.6


def slow_extract(url: str, soup: Any) -> dict[str, float]:
    # Runs in the worker after the response is read, as a heavy --select or hook would.
    time.sleep(EXTRACT_SECONDS)
    return {"extracted_at": time.time()}


class Arrivals:
    """Wraps a handler class: when each page request arrived, and the most in flight at once."""

    def __init__(self, handler: type) -> None:
        self.times: list[float] = []
        self.inflight = self.max_inflight = 0
        lock = threading.Lock()
        outer = self

        class Counting(handler):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/robots.txt":
                    super().do_GET()
                    return
                with lock:
                    outer.times.append(time.time())
                    outer.inflight += 1
                    outer.max_inflight = max(outer.max_inflight, outer.inflight)
                try:
                    super().do_GET()
                finally:
                    with lock:
                        outer.inflight -= 1

        self.handler = Counting


def test_a_page_being_parsed_holds_no_request_slot() -> None:
    paths = [f"/p{i}" for i in range(6)]
    arrivals = Arrivals(page_handler(dict.fromkeys(paths, PAGE), delays=dict.fromkeys(paths, 0.1)))
    with serving(arrivals.handler) as base:
        pages = list(crawl([base + p for p in paths], extract=slow_extract, concurrency=2, workers=1,
                           depth=0, timeout=10))
    assert sorted(p.url for p in pages) == sorted(base + p for p in paths)
    assert all(p.status == 200 and p.extra["extracted_at"] for p in pages)
    first_parsed = min(p.extra["extracted_at"] for p in pages)
    arrived = sorted(arrivals.times)
    # Held through the parse, two slots would let the third request in only
    # after a page's extract had ended.
    assert arrived[2] < first_parsed - EXTRACT_SECONDS / 2
    assert arrivals.max_inflight <= 2  # -c still caps the requests in flight
