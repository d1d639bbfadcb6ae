#!/usr/bin/env python3
"""Micro-benchmarks of the crawler's per-page hot paths, with plain timers.

Run from the project root with the project's venv::

    .venv/bin/python tests/benchmarks/bench_micro.py [--pages 200] [--rounds 3]

Pages come from the same generator as bench_crawl.py (15–25 KB, 30–50 links,
every link spelling), rendered in memory. Each benchmark runs a fixed number
of operations ``--rounds`` times and reports the best round, in CPU time of
this process (``time.process_time``) and wall time. Caches (`normalize_url`'s
lru_cache, the relative-join cache) are cleared before each round of a "cold"
benchmark; within a round they fill as they would in one worker process.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin

import bs4
import lxml.etree

from crawler.page import Page, PageResult, Task
from crawler.urls import fingerprint, normalize_url
from crawler.worker import parse as parse_mod
from crawler.worker.parse import parse_html, resolve_links

HERE = Path(__file__).resolve().parent
MAX_URLS = 20_000  # cap on the distinct URLs of the URL benchmarks
COLD_URL_OPS = 10_000  # calls per round: the URL list is cycled to reach these
WARM_URL_OPS = 100_000
WARM_RESOLVE_PAGES = 1_000
PICKLE_OPS = 20_000


def load_site_generator() -> ModuleType:
    """bench_crawl.py, imported by path (tests/benchmarks is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_crawl", HERE / "bench_crawl.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE / 'bench_crawl.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def clear_caches() -> None:
    normalize_url.cache_clear()
    parse_mod._join_dir.cache_clear()


@dataclass
class Timing:
    name: str
    ops: int
    cpu_s: float
    wall_s: float
    note: str = ""

    @property
    def us_per_op(self) -> float:
        return 1e6 * self.cpu_s / self.ops if self.ops else 0.0

    @property
    def ops_per_cpu_s(self) -> float:
        return self.ops / self.cpu_s if self.cpu_s else float("inf")


def bench(name: str, run: Callable[[], int], rounds: int, setup: Callable[[], None] | None = None,
          note: Callable[[Timing], str] | None = None) -> Timing:
    """Best of ``rounds`` runs of ``run`` (which returns its operation count)."""
    best: Timing | None = None
    for _ in range(rounds):
        if setup is not None:
            setup()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ops = run()
        timing = Timing(name, ops, time.process_time() - cpu0, time.perf_counter() - wall0)
        if best is None or timing.cpu_s < best.cpu_s:
            best = timing
    assert best is not None
    if note is not None:
        best.note = note(best)
    print(f"  {name}: {best.us_per_op:,.1f} µs/op", file=sys.stderr, flush=True)
    return best


def format_table(rows: list[Timing]) -> str:
    w = max(len(r.name) for r in rows)
    head = f"{'benchmark':<{w}} {'ops':>7} {'CPU s':>7} {'wall s':>7} {'µs/op (CPU)':>12} {'ops/CPU-s':>11}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.name:<{w}} {r.ops:>7} {r.cpu_s:>7.3f} {r.wall_s:>7.3f} {r.us_per_op:>12,.1f} "
                     f"{r.ops_per_cpu_s:>11,.0f}  {r.note}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=200, help="pages parsed by the lxml path (BeautifulSoup: a fifth)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per benchmark (best is reported)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not 1 <= args.pages <= 20_000 or not 1 <= args.rounds <= 20:
        p.error("--pages 1..20000, --rounds 1..20")

    gen = load_site_generator()
    t0 = time.perf_counter()
    site = gen.build_site(max(args.pages, 2), 2, 8080, args.seed)
    pages = [pg for pg in site.pages.values() if pg.layer >= 0][: args.pages]
    bodies = [(gen.render_page(site, pg), pg.url) for pg in pages]
    full_bodies = bodies[: max(5, args.pages // 5)]
    mb = sum(len(b) for b, _ in bodies) / 1e6
    page_hrefs = [([h for h, _ in pg.links], pg.url) for pg in pages]
    raw = {urljoin(base, h) for hrefs, base in page_hrefs for h in hrefs if h.split(":", 1)[0] not in
           ("mailto", "javascript")}
    urls = sorted(raw)[:MAX_URLS]
    canonical = sorted({normalize_url(u) for u in urls})
    n_links = sum(len(h) for h, _ in page_hrefs)
    print(f"python {platform.python_version()}, lxml {lxml.etree.__version__}, bs4 {bs4.__version__}; "
          f"cores {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(f"{len(bodies)} pages ({mb:.1f} MB, {n_links / len(pages):.1f} hrefs/page), {len(urls)} distinct "
          f"absolute URLs, set up in {time.perf_counter() - t0:.1f}s; best of {args.rounds} round(s)\n", flush=True)

    rows: list[Timing] = []

    def parse_all(items: list[tuple[bytes, str]], full: bool) -> Callable[[], int]:
        def run() -> int:
            for body, url in items:
                parse_html(body, url, full=full)
            return len(items)
        return run

    def per_mb(items: list[tuple[bytes, str]]) -> Callable[[Timing], str]:
        size = sum(len(b) for b, _ in items) / 1e6
        return lambda t: f"{size / t.cpu_s:.1f} MB/CPU-s; pages/CPU-s = ops/CPU-s"

    lxml_row = bench("parse_html (lxml fast path)", parse_all(bodies, False), args.rounds, clear_caches,
                     per_mb(bodies))
    bs4_row = bench("parse_html full=True (BeautifulSoup)", parse_all(full_bodies, True), args.rounds, clear_caches,
                    per_mb(full_bodies))
    bs4_row.note += f"; {bs4_row.us_per_op / lxml_row.us_per_op:.1f}x the lxml path"
    rows += [lxml_row, bs4_row]

    cold_normalize = normalize_url.__wrapped__

    cold_urls = (urls * (COLD_URL_OPS // len(urls) + 1))[:COLD_URL_OPS]
    warm_urls = (urls * (WARM_URL_OPS // len(urls) + 1))[:WARM_URL_OPS]

    def normalize_cold() -> int:
        for u in cold_urls:
            cold_normalize(u)
        return len(cold_urls)

    def normalize_warm() -> int:
        for u in warm_urls:
            normalize_url(u)
        return len(warm_urls)

    def prime() -> None:
        clear_caches()
        for u in urls:
            normalize_url(u)

    rows.append(bench("normalize_url (cold, __wrapped__)", normalize_cold, args.rounds,
                      note=lambda t: f"{len(urls)} distinct URLs, cycled"))
    rows.append(bench("normalize_url (warm lru_cache)", normalize_warm, args.rounds, prime))

    def resolve(items: list[tuple[list[str], str]]) -> Callable[[], int]:
        def run() -> int:
            for hrefs, base in items:
                resolve_links(hrefs, base)
            return len(items)
        return run

    def prime_resolve() -> None:
        clear_caches()
        resolve(page_hrefs)()

    def links_note(t: Timing) -> str:
        per_page = n_links / len(page_hrefs)
        return f"per page of {per_page:.0f} hrefs; {t.ops * per_page / t.cpu_s:,.0f} hrefs/CPU-s"

    warm_pages = (page_hrefs * (WARM_RESOLVE_PAGES // len(page_hrefs) + 1))[:WARM_RESOLVE_PAGES]
    rows.append(bench("resolve_links (caches cleared)", resolve(page_hrefs), args.rounds, clear_caches, links_note))
    rows.append(bench("resolve_links (caches warm)", resolve(warm_pages), args.rounds, prime_resolve, links_note))

    fingerprint_urls = (canonical * (WARM_URL_OPS // len(canonical) + 1))[:WARM_URL_OPS]

    def fingerprint_all() -> int:
        for u in fingerprint_urls:
            fingerprint(u)
        return len(fingerprint_urls)

    rows.append(bench("fingerprint", fingerprint_all, args.rounds))

    from multiprocessing.reduction import ForkingPickler  # what the pool pipes use

    links = canonical[:40]
    task = Task(url=canonical[0], depth=2, referrer=canonical[1], seed=site.seeds[0])
    page = Page(url=canonical[0], final_url=canonical[0], status=200, ok=True, content_type="text/html",
                bytes=20_480, elapsed_ms=3.2, depth=2, referrer=canonical[1], title=pages[0].title,
                links=len(links), fetched_at="2024-01-01T00:00:00.000000+00:00")
    result = PageResult(task=task, page=page, links=tuple(links))
    size = len(ForkingPickler.dumps(result))

    def pickle_round_trip() -> int:
        for _ in range(PICKLE_OPS):
            pickle.loads(ForkingPickler.dumps(result))
        return PICKLE_OPS

    rows.append(bench(f"pickle PageResult, {len(links)} links (dumps+loads)", pickle_round_trip, args.rounds,
                      note=lambda t: f"{size} bytes pickled"))

    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
