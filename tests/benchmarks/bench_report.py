"""Report build time and peak memory on a large synthetic link graph (issue 15: 100,000 pages x 50 links).

    .venv/bin/python tests/benchmarks/bench_report.py --pages 10000 --links 50
    .venv/bin/python tests/benchmarks/bench_report.py --pages 100000 --links 50 --keep

Fills a side file (`crawler.store.linkdb`) through `LinkSink` as a crawl
would, then builds each report (.html, .md, .json, .xml) and the links table
in a fresh subprocess each, printing wall time and the subprocess's peak RSS.
No network: the graph is generated (1 % of the targets broken, some titles
and texts duplicated, a few redirect chains).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crawler.page import Done, Page, PageResult, Task, encode_edges  # noqa: E402
from crawler.store.linkdb import LinkSink  # noqa: E402


def fill(path: str, pages: int, links: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    sink = LinkSink(path, ["http://127.0.0.2/"])
    sink.open()
    def url_of(k: int) -> str:
        return f"http://127.0.0.{2 + k % 4}/s{k % 100}/p{k}.html"

    for i in range(pages):
        url = url_of(i)
        broken = i % 100 == 99
        page = Page(url=url, final_url=url, status=404 if broken else 200, ok=not broken,
                    content_type="text/html", bytes=20_000, elapsed_ms=rng.uniform(1, 400), depth=min(i, 5),
                    title=f"Title {i % (pages // 2 or 1)}", error="http: 404 Not Found" if broken else None,
                    extra={"redirects": ["301 " + url + "?old"]} if i % 500 == 0 else {})
        edges = encode_edges([(url_of(rng.randrange(pages)), "top" if j == 0 else None, f"link {j}", "a", False)
                              for j in range(links)])
        text_hash = f"{rng.getrandbits(64):016x}" if i % 50 else f"{(i // 50) * 2654435761 % (1 << 64):016x}"
        result = PageResult(task=Task(url), page=page, edges=edges, ids='["top", "main"]', text_hash=text_hash)
        sink.write(Done(page, result.task, result))
        if i % 1000 == 0:
            sink.tick()
    sink.close(True)


def measure(what: str, db: str, out: str) -> tuple[float, float]:
    code = f"""
import resource, sys, time
sys.path.insert(0, {str(ROOT)!r})
from crawler.store.linkdb import LinkDB, Verdict
from crawler.store.linktable import write_links
from crawler.store.report import write_reports
db = LinkDB({db!r})
start = time.monotonic()
if {what!r} == "links":
    write_links({out!r}, db, Verdict())
else:
    write_reports([{out!r}], db, Verdict(), True, "bench")
print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rss = done.stdout.split()
    return float(seconds), float(rss)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=10_000)
    p.add_argument("--links", type=int, default=50)
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="bench-report-")
    db = os.path.join(work, "links.sqlite")
    start = time.monotonic()
    fill(db, args.pages, args.links)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"side file: {args.pages} pages x {args.links} links in {time.monotonic() - start:.1f} s, "
          f"{os.path.getsize(db) / 1e6:.0f} MB, filler peak RSS {rss:.0f} MB")
    for what in ("html", "md", "json", "xml", "links"):
        out = os.path.join(work, f"out.{what if what != 'links' else 'csv'}")
        seconds, peak = measure(what, db, out)
        print(f"{what:6s} {seconds:7.1f} s  peak RSS {peak:6.0f} MB  {os.path.getsize(out) / 1e6:8.1f} MB")
    if args.keep:
        print(f"kept {work}")
    else:
        for name in os.listdir(work):
            os.remove(os.path.join(work, name))
        os.rmdir(work)


if __name__ == "__main__":
    main()
