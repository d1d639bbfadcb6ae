"""The command line: argparse → `CrawlConfig`, seeds, progress, exit status.

Exit status: 0 the run finished (page errors are records); 1 nothing could be
fetched; 2 bad usage or input; 130/143 stopped by SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DELAY,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_PER_HOST,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    FORMATS,
    SCOPES,
    CrawlConfig,
    __version__,
)
from .crawler import Crawler, CrawlStats
from .errors import CrawlerError, UsageError
from .output import format_for
from .progress import Progress, summary
from .seeds import read_seeds

EXIT_OK, EXIT_NOTHING, EXIT_USAGE = 0, 1, 2
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: cron mails and scripts read it.
        self.exit(EXIT_USAGE, f"crawler: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m crawler``."""
    p = _Parser(prog="crawler", description="Fetch URLs in parallel (or crawl outward from them) "
                "and write one record per page as CSV, JSON or JSON Lines.",
                epilog="SEED is a file of URLs (one per line, # comments), a URL, or - for stdin. "
                "Exit status: 0 done, 1 nothing could be fetched, 2 bad usage, 130/143 interrupted.")
    p.add_argument("seeds", nargs="*", metavar="SEED", help="seed file, URL, or - for stdin")
    p.add_argument("-o", "--output", default="-", metavar="PATH",
                   help="output file; format from .csv/.json/.jsonl; - = stdout as JSONL (default)")
    p.add_argument("--format", choices=FORMATS, help="output format (overrides the extension)")
    p.add_argument("-d", "--depth", type=_nonneg_int, default=0, metavar="N",
                   help="follow links up to N hops from the seeds (default 0: seeds only)")
    p.add_argument("--max-pages", type=_pos_int, metavar="N", help="stop after N pages")
    p.add_argument("--scope", choices=SCOPES, default="host",
                   help="links followed: same host as the seed (default), same registered domain, or any")
    p.add_argument("--allow", action="append", default=[], metavar="REGEX",
                   help="follow only links matching REGEX (repeatable)")
    p.add_argument("--deny", action="append", default=[], metavar="REGEX",
                   help="never follow links matching REGEX (repeatable)")
    p.add_argument("-w", "--workers", type=_pos_int, metavar="N", help="worker processes (default: CPU count)")
    p.add_argument("-c", "--concurrency", type=_pos_int, default=DEFAULT_CONCURRENCY, metavar="N",
                   help=f"requests in flight in total (default {DEFAULT_CONCURRENCY})")
    p.add_argument("--per-host", type=_pos_int, default=DEFAULT_PER_HOST, metavar="N",
                   help=f"requests in flight per host (default {DEFAULT_PER_HOST})")
    p.add_argument("--delay", type=_nonneg_float, default=DEFAULT_DELAY, metavar="SECONDS",
                   help="minimum gap between requests to one host (robots.txt Crawl-delay wins if larger)")
    p.add_argument("--timeout", type=_pos_float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"bound on each whole request, redirects and body included (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--retries", type=_nonneg_int, default=DEFAULT_RETRIES, metavar="N",
                   help=f"retries on connection errors, timeouts, 429 and 5xx (default {DEFAULT_RETRIES})")
    p.add_argument("--max-retry-after", type=_nonneg_float, default=DEFAULT_MAX_RETRY_AFTER, metavar="SECONDS",
                   help="longest Retry-After honoured; a longer one ends the retries (default 120)")
    p.add_argument("--max-bytes", type=_pos_int, default=DEFAULT_MAX_BYTES, metavar="N",
                   help="largest body read, decompressed (default 10 MiB)")
    p.add_argument("--user-agent", default=DEFAULT_USER_AGENT, metavar="STR",
                   help=f"User-Agent header (default {DEFAULT_USER_AGENT})")
    p.add_argument("-H", "--header", action="append", default=[], metavar="'K: V'",
                   help="extra request header (repeatable)")
    p.add_argument("--no-robots", action="store_true", help="ignore robots.txt")
    p.add_argument("--follow-nofollow", action="store_true",
                   help='also follow rel="nofollow" links and links of <meta name="robots" content="nofollow"> pages')
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log details (and URLs refused by robots.txt)")
    p.add_argument("--version", action="version", version=f"crawler {__version__}")
    return p


def config_from_args(args: argparse.Namespace) -> CrawlConfig:
    """The `CrawlConfig` an argument namespace asks for (raises `UsageError`)."""
    format_for(args.output, args.format)  # an unknown extension is a usage error, found before any fetch
    options: dict[str, Any] = dict(
        output=args.output, format=args.format, depth=args.depth, max_pages=args.max_pages,
        scope=args.scope, allow=tuple(args.allow), deny=tuple(args.deny), concurrency=args.concurrency,
        per_host=args.per_host, delay=args.delay, timeout=args.timeout, retries=args.retries,
        max_retry_after=args.max_retry_after, max_bytes=args.max_bytes, user_agent=args.user_agent,
        headers=tuple(_header(h) for h in args.header), robots=not args.no_robots,
        follow_nofollow=args.follow_nofollow,
    )
    if args.workers:
        options["workers"] = args.workers
    return CrawlConfig(**options)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="crawler: %(levelname)s: %(message)s")
    try:
        if not args.seeds:
            raise UsageError("no SEED given: name a seed file, a URL, or - for stdin")
        config = config_from_args(args)
        seeds = read_seeds(args.seeds)
    except CrawlerError as exc:
        return _fail(str(exc), EXIT_USAGE)
    try:
        stats = _run(config, seeds, args)
    except CrawlerError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except Exception as exc:  # no traceback for users; -v shows it
        logging.getLogger("crawler").debug("internal error", exc_info=True)
        return _fail(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)", EXIT_NOTHING)
    if not args.quiet:
        print(summary(stats), file=sys.stderr)
        if args.verbose:
            for url in stats.refused_urls:
                print(f"crawler: refused by robots.txt: {url}", file=sys.stderr)
    if stats.stopped_by in _SIGNAL_EXIT:
        return _SIGNAL_EXIT[stats.stopped_by]
    return EXIT_OK if stats.responses else EXIT_NOTHING


def _run(config: CrawlConfig, seeds: list[str], args: argparse.Namespace) -> CrawlStats:
    crawler = Crawler(config)
    progress = None
    if not (args.quiet or args.no_progress) and sys.stderr.isatty():
        progress = Progress(crawler)
        crawler.on_page = progress.on_page
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum: int, frame: Any) -> None:
        crawler.stop(signal.Signals(signum).name)
        # A second Ctrl-C means "now": the default handlers take over.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        return crawler.run(seeds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if progress is not None:
            progress.close()


def _fail(message: str, status: int) -> int:
    print(f"crawler: error: {message}", file=sys.stderr)
    return status


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"bad header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


def _pos_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a whole number >= 1")


def _nonneg_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number >= 0")


def _pos_float(text: str) -> float:
    return _number(text, float, lambda v: v > 0, "a number > 0")


def _nonneg_float(text: str) -> float:
    return _number(text, float, lambda v: v >= 0, "a number >= 0")


def _number(text: str, kind: Any, ok: Any, what: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not ok(value) or value != value:  # NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value
