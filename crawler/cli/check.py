"""``crawler check SEED... [-d N] [--links PATH] [crawl options]``: a site checker over the crawl.

The whole site within ``--scope`` is crawled (no depth limit unless ``-d``),
every link of every page is checked (targets the crawl does not follow are
fetched once each, HEAD then GET, never parsed: `crawler.engine.checking`),
and the exit status says whether anything is broken: 0 nothing, 1 a broken
link or an unreachable seed, 2 bad usage.

The crawl keeps its link graph in a SQLite side file (`crawler.store.linkdb`):
a temporary one, or ``STATE.links`` beside a ``--state`` file, so that a
resumed check covers the whole crawl. `LinkRun` sets that up before the
crawl and, after it, writes the links table and says what is broken.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Sequence

from ..config import CrawlConfig
from ..store.linkdb import LinkDB, Verdict
from .usage import EXIT_NOTHING, EXIT_OK, EXIT_USAGE

#: ``-d`` of a check that gives none: the whole site.
UNLIMITED_DEPTH = 1_000_000
#: Broken targets listed on stderr (all of them are in the links table and reports).
SHOWN = 20

HELP = """usage: crawler check SEED... [-d N] [--links PATH] [--report PATH]... [--check-assets]
                     [--ignore REGEX]... [--accept CODES] [crawl options]

Crawl the seeds' whole site (within --scope; no depth limit unless -d) and check
every link on every page: targets outside the scope are fetched once each (HEAD,
then GET), politely (robots.txt, --per-host, --delay), never parsed or followed.
Fragments (page#name) are checked against the id/name attributes of crawled pages;
a host answering 2xx for a path that cannot exist has its look-alike pages
flagged as soft 404s.

  --links PATH        links table, .csv or .jsonl: one row per link occurrence
                      (source, target, fragment, text, tag, nofollow, status, ok, error)
  --report PATH       a report: .html (self-contained), .md, .xml (JUnit) or .json (repeatable)
  --check-assets      also check img src, script src, link href and iframe src
  --ignore REGEX      targets matching REGEX are neither checked nor followed (repeatable)
  --accept CODES      statuses counted as ok, e.g. 403,429

Exit status: 0 no broken link, 1 a broken link or an unreachable seed, 2 bad usage.
Every crawl option of 'crawler --help' works too: -o for the records (default: stdout as
JSONL), --state to resume a long check, --sitemaps to list sitemap URLs nothing links to.
"""


def main(argv: Sequence[str], crawl: Callable[[list[str]], int]) -> int:
    """Run ``crawler check ARGV``: ``crawl(argv)`` runs a crawl command line in check mode."""
    argv = list(argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(HELP, end="")
        return EXIT_OK
    depth = [] if _gives_depth(argv) else ["-d", str(UNLIMITED_DEPTH)]
    return crawl([*argv, *depth])


def _gives_depth(argv: list[str]) -> bool:
    return any(arg in ("-d", "--depth") or arg.startswith("--depth=")
               or (arg.startswith("-d") and not arg.startswith("--")) for arg in argv)


class LinkRun:
    """The link graph of one command-line crawl: its side file before the crawl, its outputs after."""

    def __init__(self, config: CrawlConfig, check: bool, seeds: Sequence[str] = ()) -> None:
        self.check = check
        shown = ", ".join(seeds[:3]) + (f" and {len(seeds) - 3} more" if len(seeds) > 3 else "")
        self.title = f"{'Site check' if check else 'Crawl report'}: {shown}"
        self._temporary: str | None = None
        path = config.links_db
        if path is None and config.state:
            path = config.state + ".links"
            if not os.path.exists(config.state) and os.path.exists(path):
                os.remove(path)  # left from an older state of that name: this crawl starts afresh
        if path is None:
            fd, path = tempfile.mkstemp(prefix="crawler-links-", suffix=".sqlite")
            os.close(fd)
            os.remove(path)  # SQLite creates it (with its WAL beside it)
            self._temporary = path
        # An ignored target is not crawled either: --ignore joins --deny.
        self.config = dataclasses.replace(config, links_db=path, check=check or config.check,
                                          deny=config.deny + config.ignore)

    def finish(self, status: int, quiet: bool) -> int:
        """Write the links table, say what is broken, and return the exit status (``check``: 0 or 1)."""
        path = self.config.links_db or ""
        try:
            if status == EXIT_USAGE or not os.path.exists(path):
                return status
            db = LinkDB(path)
            try:
                verdict = Verdict.from_config(self.config)
                if self.config.links:
                    from ..store.linktable import write_links  # imported by the runs that write one

                    write_links(self.config.links, db, verdict)
                if self.config.report:
                    from ..store.report import write_reports

                    write_reports(self.config.report, db, verdict, self.check, self.title)
                if not self.check:
                    return status
                return self._verdict(db, verdict, status, quiet)
            finally:
                db.close()
        finally:
            if self._temporary is not None:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(self._temporary + suffix):
                        os.remove(self._temporary + suffix)

    def _verdict(self, db: LinkDB, verdict: Verdict, status: int, quiet: bool) -> int:
        broken = db.broken(verdict, referrers=5)
        seeds = db.failed_seeds()
        if not quiet:
            for entry in broken[:SHOWN]:
                shown = entry.target + (f"#{entry.fragment}" if entry.fragment else "")
                where = ", ".join(dict.fromkeys(source for source, _ in entry.referrers))
                print(f"crawler: broken: {shown} ({entry.error or entry.status}) linked from {where}",
                      file=sys.stderr)
            if len(broken) > SHOWN:
                print(f"crawler: ... and {len(broken) - SHOWN} more broken (see --links or --report)",
                      file=sys.stderr)
            for seed in seeds:
                print(f"crawler: seed not reachable: {seed}", file=sys.stderr)
            print(f"crawler: check: {len(broken)} broken target(s)", file=sys.stderr)
        if status not in (EXIT_OK, EXIT_NOTHING):
            return status  # interrupted, Redis lost: that says more
        return EXIT_NOTHING if broken or seeds or status == EXIT_NOTHING else EXIT_OK
