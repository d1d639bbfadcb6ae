#!/usr/bin/env python3
"""Main-content Markdown: our extractor on lxml against trafilatura, side by side.

Run from the project root with the project's venv::

    .venv/bin/python tests/benchmarks/bench_markdown.py [--site DIR] [--pages 300]

Pages: the shared bench's generated site (``../shared/bench/make_site.py``,
pages with header, navigation, breadcrumbs, article, aside, footer and an
inline script; generated into a temp dir unless ``--site`` names one), plus
`tests/markdown_pages.py`' hand-made pages of other shapes (no ``<article>``,
a cookie banner, a sidebar by class, comments, a page that is all menus).
The known main content is each bench page's ``<article>`` and each hand-made
page's ``expected`` text. Reported: word-level precision, recall and F1
(multisets of lower-cased words, link reference numbers and definitions
left out), and pages per CPU-second of this process, for

* ``ours``: `crawler.worker.markdown.page_markdown` on the tree the worker
  already parsed (the parse itself reported apart: the crawl pays it anyway);
* ``trafilatura``: ``extract(html, output_format="markdown", fast=True)`` (``pip install
  trafilatura lxml_html_clean``: not a dependency of the crawler)
  (and its full mode with ``--full``), which parses the page itself.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from crawler.worker.markdown import page_markdown  # noqa: E402
from crawler.worker.parse import parse_html  # noqa: E402
from tests.markdown_pages import PAGES  # noqa: E402

MAKE_SITE = ROOT.parent.parent / "shared" / "bench" / "make_site.py"
_WORD = re.compile(r"\w+")
_REF_DEFS = re.compile(r"^\[\d+\]: .*$", re.MULTILINE)
_REF_USES = re.compile(r"\]\[\d+\]")


def words(text: str) -> Counter[str]:
    """The multiset of lower-cased words of ``text`` (Markdown reference numbers left out)."""
    text = _REF_USES.sub("]", _REF_DEFS.sub("", text))
    return Counter(_WORD.findall(text.lower()))


def scores(got: str, expected: str) -> tuple[float, float]:
    """(precision, recall) of ``got``'s words against ``expected``'s."""
    g, e = words(got), words(expected)
    common = sum((g & e).values())
    precision = common / sum(g.values()) if g else (1.0 if not e else 0.0)
    recall = common / sum(e.values()) if e else 1.0
    return precision, recall


def bench_pages(site: Path | None, count: int) -> list[tuple[str, bytes, str]]:
    """(url, html, expected main text) of the bench site's first ``count`` pages."""
    if site is None:
        site = Path(tempfile.mkdtemp(prefix="mdbench-")) / "site"
        subprocess.run([sys.executable, str(MAKE_SITE), "generate", "--out", str(site), "--pages", str(count),
                        "--hosts", "2"], check=True, capture_output=True)
    out = []
    for path in sorted(site.rglob("*.html"))[:count]:
        body = path.read_bytes()
        article = lxml_html.fromstring(body).find(".//article")
        if article is None:
            continue
        # itertext joined with spaces: text_content() glues table cells ("KeyValue").
        out.append((f"http://127.0.0.2/{path.relative_to(site).as_posix()}", body, " ".join(article.itertext())))
    return out


def run(name: str, pages: list[tuple[str, bytes, str]], convert: Callable[[str, bytes], str]) -> None:
    precision = recall = 0.0
    start = time.process_time()
    results = [convert(url, body) for url, body, _ in pages]
    cpu = time.process_time() - start
    for got, (_, _, expected) in zip(results, pages, strict=True):
        p, r = scores(got, expected)
        precision += p
        recall += r
    n = len(pages)
    p, r = precision / n, recall / n
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(f"  {name:<24} precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  {n / cpu:8.0f} pages/CPU-s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--site", type=Path, help="a site make_site.py generated (default: generate one)")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--full", action="store_true", help="also trafilatura's full (slow) mode")
    args = parser.parse_args()
    import trafilatura

    trees = {}

    def parsed(url: str, body: bytes) -> str:
        trees[url] = parse_html(body, url).root
        return ""

    def ours(url: str, body: bytes) -> str:
        return page_markdown(trees[url], url).markdown or ""

    def traf(fast: bool) -> Callable[[str, bytes], str]:
        def convert(url: str, body: bytes) -> str:
            return trafilatura.extract(body, url=url, output_format="markdown", fast=fast,
                                       include_tables=True, include_formatting=True) or ""
        return convert

    sets = {"bench site (<article>)": bench_pages(args.site, args.pages),
            "hand-made pages (tests/markdown_pages.py)": [(p.url, p.html.encode(), p.expected) for p in PAGES]}
    for label, pages in sets.items():
        print(f"{label}: {len(pages)} pages")
        start = time.process_time()
        for url, body, _ in pages:
            parsed(url, body)
        print(f"  {'(our parse: title+links)':<24} {len(pages) / (time.process_time() - start):8.0f} pages/CPU-s")
        run("ours (tree reused)", pages, ours)
        run("ours (parse + extract)", pages, lambda url, body: page_markdown(parse_html(body, url).root, url).markdown
            or "")
        run("trafilatura fast", pages, traf(True))
        if args.full:
            run("trafilatura full", pages, traf(False))


if __name__ == "__main__":
    main()
