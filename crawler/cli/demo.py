"""``crawler demo [options]``: crawl a generated site on loopback, with no network at all.

The demo site (`crawler.demo.site`: a bookshop, a documentation site and a
blog on 127.0.0.1-3, with robots.txt, sitemaps, a redirect, broken links, a
slow page, non-HTML files and a gzip-served page) is served from this
process while the real crawl runs over it: the same engine, worker pool,
progress bar and summary as any other crawl, at ``--depth 3`` into
``demo.csv`` unless the options say otherwise. Every crawl option works
(``-c``, ``--delay``, ``--select``, ``--state``…). The server stops however
the crawl ends, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ..demo.server import DemoServer
from .usage import EXIT_OK, EXIT_USAGE, fail_usage

DEFAULT_OUTPUT = "demo.csv"
DEFAULT_DEPTH = "3"

HELP = """usage: crawler demo [-o OUT] [crawl options]

Crawl a generated demo site (about 240 pages on 127.0.0.1-3, served from this
process: no network needed) with the real engine, at --depth 3, into demo.csv,
with an HTML report beside it (demo.html; --report PATH for another, .md/.xml/.json too).
Every crawl option of 'crawler --help' works here too, e.g.
  crawler demo -c 32 --per-host 8
  crawler demo --select h1=h1 -o demo.jsonl
  crawler demo --state demo.db        (run it twice: the second run revalidates)
"""


def main(argv: Sequence[str], crawl: Callable[[list[str]], int],
         parse: Callable[[list[str]], argparse.Namespace]) -> int:
    """Run the demo: ``crawl(argv)`` runs a crawl command line, ``parse(argv)`` parses one."""
    argv = list(argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(HELP, end="")
        return EXIT_OK
    args = parse(argv)  # a bad option: one line and exit 2, before the site starts
    if args.seeds:
        return fail_usage(f"crawler demo crawls its own site: no SEED ({args.seeds[0]!r}); see 'crawler demo --help'")
    defaults = [] if _given(argv, "-o", "--output") else ["-o", DEFAULT_OUTPUT]
    defaults += [] if _given(argv, "-d", "--depth") else ["-d", DEFAULT_DEPTH]
    output = args.output if _given(argv, "-o", "--output") else DEFAULT_OUTPUT
    # The report goes beside the records (demo.csv -> demo.html); none for records on stdout.
    report = None if _given(argv, "--report", "--report") or output == "-" else os.path.splitext(output)[0] + ".html"
    defaults += ["--report", report] if report else []
    with DemoServer() as server:
        site = server.site
        if not args.quiet:
            hosts = ", ".join(origin.removeprefix("http://") for origin in map(site.origin, (1, 2, 3)))
            print(f"crawler: demo site: {len(site.expected())} pages on {hosts} (loopback, served by this process)",
                  file=sys.stderr)
        status = crawl([*site.seeds(), *defaults, *argv])
    if not args.quiet and status != EXIT_USAGE:
        where = "on stdout" if output == "-" else f"in {output} (run summary: {output}.summary.json)"
        print(f"crawler: demo: records {where}", file=sys.stderr)
        if report:
            print(f"crawler: demo: report in {report} (open it in a browser)", file=sys.stderr)
        print("crawler: next: a real seed list, 'python -m crawler urls/example.txt -o pages.csv'; "
              "add '--state crawl.db' to resume a killed run and re-crawl only what changed", file=sys.stderr)
    return status


def _given(argv: list[str], short: str, long: str) -> bool:
    return any(arg == short or arg == long or arg.startswith(long + "=")
               or (arg.startswith(short) and not arg.startswith("--")) for arg in argv)
