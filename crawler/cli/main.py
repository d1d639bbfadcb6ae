"""The command line: argparse (over a ``--config`` file) → `CrawlConfig`, seeds,
progress, run log and summary, exit status.

Exit status: 0 the run finished (page errors are records); 1 nothing could be
fetched; 2 bad usage or input; 3 lost Redis mid-run (``--redis``); 130/143
stopped by SIGINT/SIGTERM.

``crawler merge …`` and ``crawler status …`` are subcommands of a
distributed crawl (`crawler.cli.merge`, `crawler.cli.status`).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import (
    CONTENT_MODES,
    DEFAULT_CHUNK_WORDS,
    DEFAULT_CONCURRENCY,
    DEFAULT_CONTENT,
    DEFAULT_DELAY,
    DEFAULT_LEASE_TIMEOUT,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RETRY_AFTER,
    DEFAULT_MAX_URL_LENGTH,
    DEFAULT_PER_HOST,
    DEFAULT_REDIS_OUTAGE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    FORMATS,
    MAX_CONCURRENCY,
    MAX_RETRIES,
    MAX_SECONDS,
    MAX_WORKERS,
    SCOPES,
    CrawlConfig,
    __version__,
)
from ..engine.crawler import Crawler, CrawlStats
from ..errors import ConfigError, CrawlerError, RedisLostError, SeedError, UsageError
from ..store.output import format_for
from ..store.seeds import read_seeds
from ..store.tables import SeedInputs
from .progress import Progress, summary
from .runlog import runlog, setup_logging, teardown_logging
from .summary import SUFFIX, RunSummary, summary_path, write_summary
from .usage import EXIT_NOTHING, EXIT_OK, EXIT_REDIS_LOST, EXIT_USAGE, UsageParser, fail

if TYPE_CHECKING:
    from ..select import Selector
    from .check import LinkRun

#: ``python -m crawler NAME …``: commands other than a crawl
SUBCOMMANDS = ("merge", "status", "demo", "extract", "check", "explain")
INSECURE_WARNING = "crawler: warning: --insecure: TLS certificates are not checked (anyone on the path can answer)"
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}
#: seconds after a SIGINT/SIGTERM within which another is the same request to stop
_REPEAT_GRACE = 1.0


class _Repeated(argparse.Action):
    """``action="append"``, except that the command line replaces a list that a
    config file set (it arrives as the default) instead of adding to it.

    ``many`` (for ``--select``/``--select-all``, which share one list to keep
    their order) stores ``(value, many)`` pairs.
    """

    def __init__(self, *args: Any, many: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.many = many

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        items = getattr(namespace, self.dest, None)
        if items is None or items is self.default:  # first use in this parse
            items = []
            setattr(namespace, self.dest, items)
        items.append(values if self.many is None else (values, self.many))


def build_parser(raise_errors: bool = False) -> argparse.ArgumentParser:
    """The argument parser of ``python -m crawler``.

    ``raise_errors`` makes a bad value raise `UsageError` instead of exiting.
    """
    p = UsageParser(prog="crawler", description="Fetch URLs in parallel (or crawl outward from them) "
                "and write one record per page as CSV, JSON or JSON Lines.",
                epilog="SEED is a file of URLs (one per line, # comments; a .csv or .jsonl file is a table with a url "
                "column), a URL, or - for stdin. "
                "Exit status: 0 done, 1 nothing could be fetched, 2 bad usage, 3 lost Redis, 130/143 interrupted. "
                "Try it offline: 'crawler demo'. Distributed crawls: 'crawler merge --help', 'crawler status --help'. "
                "Records from WARC files: 'crawler extract --help'. Site check: 'crawler check --help'; "
                "why a URL was or was not fetched: 'crawler explain --help'.",
                raise_errors=raise_errors)
    input = p.add_argument_group("input", "where the seeds come from")
    input.add_argument("seeds", nargs="*", metavar="SEED", help="seed file, URL, or - for stdin")
    input.add_argument("--config", metavar="FILE",
                   help="TOML file of seeds and options (keys: long options in snake_case; "
                   '[hosts."NAME"] tables: per_host, delay, user_agent, header, max_pages for that host); '
                   "the command line overrides it")
    input.add_argument("--url-column", metavar="NAME",
                   help="in .csv and .jsonl seed files, the column with the URL (default: url)")
    input.add_argument("--keep-columns", metavar="A,B",
                   help="copy these columns of a .csv/.jsonl seed's row into its record as input_A, input_B "
                   "('*': every column; null in the records of pages found by crawling)")
    input.add_argument("--strict", action="store_true",
                   help="a bad seed line stops the run (exit 2); by default it is reported and skipped")
    scope = p.add_argument_group("crawl scope", "which pages are fetched: depth, caps, and which links are followed")
    scope.add_argument("-d", "--depth", type=_nonneg_int, default=0, metavar="N",
                   help="follow links up to N hops from the seeds (default 0: seeds only)")
    scope.add_argument("--max-pages", type=_pos_int, metavar="N", help="stop after N pages")
    scope.add_argument("--max-pages-per-host", type=_pos_int, metavar="N",
                   help="fetch at most N pages of each host (scheme://host:port); the rest are left out")
    scope.add_argument("--max-url-length", type=_pos_int, default=DEFAULT_MAX_URL_LENGTH, metavar="N",
                   help=f"skip seeds and links longer than N characters (default {DEFAULT_MAX_URL_LENGTH})")
    scope.add_argument("--scope", choices=SCOPES, default="host",
                   help="links followed: same host as the seed (default), same registered domain, or any")
    scope.add_argument("--allow", action=_Repeated, default=[], metavar="REGEX",
                   help="follow only links matching REGEX (repeatable)")
    scope.add_argument("--deny", action=_Repeated, default=[], metavar="REGEX",
                   help="never follow links matching REGEX (repeatable)")
    scope.add_argument("--follow-nofollow", action="store_true",
                   help='also follow rel="nofollow" links and links of <meta name="robots" content="nofollow"> pages')
    scope.add_argument("--sitemaps", action="store_true",
                   help="also seed from each seed origin's sitemaps (robots.txt Sitemap: lines, /sitemap.xml)")
    politeness = p.add_argument_group("politeness", "how hard each host is asked")
    politeness.add_argument("--per-host", type=_ints(1, MAX_CONCURRENCY), default=DEFAULT_PER_HOST, metavar="N",
                   help=f"requests in flight per host (default {DEFAULT_PER_HOST})")
    politeness.add_argument("--delay", type=_seconds(zero=True), default=DEFAULT_DELAY, metavar="SECONDS",
                   help="minimum gap between requests to one host, at most a day "
                   "(robots.txt Crawl-delay wins if larger)")
    politeness.add_argument("--max-retry-after", type=_seconds(zero=True),
                   default=DEFAULT_MAX_RETRY_AFTER, metavar="SECONDS",
                   help="longest Retry-After honoured; a longer one ends the retries (default 120)")
    politeness.add_argument("--no-robots", action="store_true", help="ignore robots.txt")
    output = p.add_argument_group("output", "records, the run summary and what is shown")
    output.add_argument("-o", "--output", default="-", metavar="PATH",
                   help="output file; format from .csv/.json/.jsonl; - = stdout as JSONL (default)")
    output.add_argument("--format", choices=FORMATS, help="output format (overrides the extension)")
    output.add_argument("--summary", metavar="PATH",
                   help="write the run summary (JSON) here (default: OUTPUT.summary.json; none for stdout)")
    output.add_argument("--log-file", metavar="PATH", help="append timestamped log lines and the summary line here")
    output.add_argument("--warc", metavar="PATH",
                   help="also archive every HTTP exchange in this WARC file (.warc.gz: gzip per record, or .warc)")
    output.add_argument("--warc-max-size", default="1G", metavar="SIZE",
                   help="go on in PATH-00001.warc.gz... once a WARC file passes SIZE (default 1G; 500M, 2G...)")
    output.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary line on stderr")
    output.add_argument("--no-progress", action="store_true", help="no progress bar")
    output.add_argument("-v", "--verbose", action="store_true", help="log details (and URLs refused by robots.txt)")
    state = p.add_argument_group("state", "resumable and incremental crawls (one SQLite file)")
    state.add_argument("--state", metavar="PATH",
                   help="SQLite state file: a killed run resumes; a finished one is re-crawled incrementally")
    state.add_argument("--changed-only", action="store_true",
                   help="with --state: write only pages that are new, changed or gone")
    state.add_argument("--recrawl-after", type=_duration, metavar="DURATION",
                   help="with --state: skip pages fetched within DURATION (e.g. 30m, 6h, 2d)")
    distributed = p.add_argument_group("distributed", "one crawl shared by several machines through Redis")
    distributed.add_argument("--redis", metavar="URL",
                   help="share the crawl through Redis (redis://HOST:PORT/DB): run the same command on "
                   "every machine; each writes its own output (see 'crawler merge')")
    distributed.add_argument("--crawl-id", metavar="NAME",
                   help="with --redis: the crawl's name in Redis (default: a hash of the seeds)")
    distributed.add_argument("--node", metavar="NAME",
                   help="with --redis: this node's name (default: host name and a hash of the output path)")
    distributed.add_argument("--lease-timeout", type=_seconds(zero=False),
                   default=DEFAULT_LEASE_TIMEOUT, metavar="SECONDS",
                   help="with --redis: a dead node's pages go to other nodes after this long "
                   f"(default {DEFAULT_LEASE_TIMEOUT:g}; live nodes renew their leases)")
    distributed.add_argument("--redis-outage", type=_seconds(zero=True),
                   default=DEFAULT_REDIS_OUTAGE, metavar="SECONDS",
                   help="with --redis: how long a lost Redis is retried before the node stops with exit 3 "
                   f"(default {DEFAULT_REDIS_OUTAGE:g})")
    extraction = p.add_argument_group("extraction", "fields taken from each page, and its text as Markdown "
                                      "(a field, files, chunks)")
    selected: list[tuple[str, bool]] = []  # one default list: both options fill it, in order
    extraction.add_argument("--select", action=_Repeated, many=False, default=selected, metavar="NAME=CSS[@ATTR]",
                   help="add field NAME: the text (or attribute ATTR) of the first match of CSS (repeatable)")
    extraction.add_argument("--select-all", action=_Repeated, many=True, dest="select", default=selected,
                   metavar="NAME=CSS[@ATTR]", help="add field NAME: a list of every match (repeatable)")
    text = extraction  # the page's text for people and models: a field, one file per page, pieces
    text.add_argument("--markdown", action="store_true",
                   help="add field markdown: the page's main content as CommonMark, links as numbered references")
    text.add_argument("--content", choices=CONTENT_MODES, default=DEFAULT_CONTENT,
                   help="main: leave navigation, sidebars, footers and banners out (default); full: the whole body")
    text.add_argument("--markdown-dir", metavar="DIR",
                   help="write one .md file per ok HTML page under DIR (YAML front matter; field markdown_file)")
    text.add_argument("--chunks", metavar="PATH",
                   help="write the Markdown split at headings to PATH, one JSON line per piece")
    text.add_argument("--chunk-words", type=_pos_int, default=DEFAULT_CHUNK_WORDS, metavar="N",
                   help=f"with --chunks: at most N words a piece (default {DEFAULT_CHUNK_WORDS})")
    extraction.add_argument("--seo", action="store_true",
                   help="add SEO fields: canonical, meta_description, h1, lang, hreflang, og_title, og_image, "
                   "word_count, content_hash (SimHash of the visible text), redirects")
    check = p.add_argument_group("site check and reports", "the crawl's link graph ('crawler check --help')")
    check.add_argument("--links", metavar="PATH",
                   help="links table (.csv or .jsonl): one row per link occurrence, with its target's status")
    check.add_argument("--report", action=_Repeated, default=[], metavar="PATH",
                   help="write a report of the crawl: .html (self-contained, with charts), .md, .xml (JUnit) "
                   "or .json (repeatable)")
    check.add_argument("--check-assets", action="store_true",
                   help="with 'crawler check': also check img src, script src, link href and iframe src")
    check.add_argument("--ignore", action=_Repeated, default=[], metavar="REGEX",
                   help="with 'crawler check': targets matching REGEX are neither checked nor followed (repeatable)")
    check.add_argument("--accept", type=_statuses, default=(), metavar="CODES",
                   help="with 'crawler check': statuses counted as ok, comma-separated (e.g. 403,429)")
    network = p.add_argument_group("network", "processes, requests and their limits")
    network.add_argument("-w", "--workers", type=_ints(1, MAX_WORKERS), metavar="N",
                   help=f"worker processes, at most {MAX_WORKERS} (default: CPU count)")
    network.add_argument("-c", "--concurrency", type=_ints(1, MAX_CONCURRENCY),
                   default=DEFAULT_CONCURRENCY, metavar="N",
                   help=f"requests in flight in total, at most {MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})")
    network.add_argument("--timeout", type=_seconds(zero=False), default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="bound on each whole request, redirects and body included, at most a day "
                   f"(default {DEFAULT_TIMEOUT:g})")
    network.add_argument("--retries", type=_ints(0, MAX_RETRIES), default=DEFAULT_RETRIES, metavar="N",
                   help=f"retries on connection errors, timeouts, 429 and 5xx, at most {MAX_RETRIES} "
                   f"(default {DEFAULT_RETRIES})")
    network.add_argument("--max-bytes", type=_pos_int, default=DEFAULT_MAX_BYTES, metavar="N",
                   help="largest body read, decompressed (default 10 MiB)")
    network.add_argument("--user-agent", default=DEFAULT_USER_AGENT, metavar="STR",
                   help=f"User-Agent header (default {DEFAULT_USER_AGENT})")
    network.add_argument("-H", "--header", action=_Repeated, default=[], metavar="'K: V'",
                   help="extra request header (repeatable)")
    network.add_argument("--proxy", metavar="URL",
                   help="send every request (robots.txt and sitemaps too) through this proxy: "
                   "http://, https://, socks5:// or socks5h:// (DNS by the proxy), with user:pass@ if it asks "
                   "(default: HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY, as curl reads them)")
    network.add_argument("--cookies", metavar="FILE",
                   help="send the cookies of this Netscape cookies.txt (as curl, wget and browser extensions "
                   "write it) to the hosts they belong to, from the first request on")
    network.add_argument("--no-private", action="store_true",
                   help="connect to public addresses only, seeds included (by default only a page on a public "
                   "address is kept from leading to loopback, private and link-local ones)")
    network.add_argument("--insecure", action="store_true",
                   help="do not check TLS certificates (a warning says so at start)")
    network.add_argument("--ca-bundle", metavar="PATH",
                   help="check HTTPS certificates against these CAs (PEM file or folder; default: "
                   "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE if set, else the system's)")
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
        follow_nofollow=args.follow_nofollow, max_url_length=args.max_url_length,
        max_pages_per_host=args.max_pages_per_host, sitemaps=args.sitemaps, state=args.state,
        changed_only=args.changed_only, recrawl_after=args.recrawl_after,
        select=_selectors(args.select), seo=args.seo,
        links=args.links or None, report=tuple(args.report), check_assets=args.check_assets,
        ignore=tuple(args.ignore), accept=args.accept,
        # "" is "not given" (a config file's way to show the key with its default)
        redis=args.redis or None, crawl_id=args.crawl_id or None, node=args.node or None,
        lease_timeout=args.lease_timeout, redis_outage=args.redis_outage,
        proxy=args.proxy or None, no_private=args.no_private, insecure=args.insecure, ca_bundle=args.ca_bundle or None,
        hosts=getattr(args, "hosts", None) or (),  # only a config file sets it ([hosts."NAME"] tables)
        cookies=args.cookies or None, url_column=args.url_column or None, keep_columns=args.keep_columns or (),
        markdown=args.markdown, content=args.content, markdown_dir=args.markdown_dir or None,
        chunks=args.chunks or None, chunk_words=args.chunk_words,
        warc=args.warc or None, warc_max_size=args.warc_max_size,
    )
    if args.workers:
        options["workers"] = args.workers
    return CrawlConfig(**options)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line over the ``--config`` file it names, if any (the command line wins).

    Raises `UsageError` for a bad config file; a bad command line exits 2.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.config:
        values = config_file_defaults(args.config)
        if "format" in values and _gives_output(argv):
            # The file's format goes with the file's output: "-o x.jsonl"
            # must not write the CSV a file's format = "csv" asked for.
            del values["format"]
        # The file's values become the parser's defaults: what the command
        # line gives wins, what it leaves out comes from the file.
        parser.set_defaults(**values)
        args = parser.parse_args(argv)
    return args


def _gives_output(argv: list[str]) -> bool:
    """True when the command line has -o (and no --format of its own)."""
    probe = build_parser()
    probe.set_defaults(output=None)
    args = probe.parse_args(argv)
    return args.output is not None and args.format is None


def config_file_defaults(path: str) -> dict[str, Any]:
    """Parsed values of a config file, by argparse destination; raises `ConfigFileError`."""
    from ..select import check_selectors
    from .configfile import ConfigFileError, read_config_file  # only runs with --config need it

    checker = build_parser(raise_errors=True)
    values: dict[str, Any] = {}
    for key, tokens in read_config_file(path):
        try:
            parsed = checker.parse_args(tokens)
        except UsageError as exc:
            raise ConfigFileError(f"{path}: {key}: {exc}") from None
        if key.startswith("hosts."):  # hosts.NAME.KEY: the host's own setting, checked as the option is
            name, _, setting = key[len("hosts."):].rpartition(".")
            own = values.setdefault("hosts", {}).setdefault(name, {})
            own[setting] = getattr(parsed, setting)
        elif key in ("select", "select_all"):
            values.setdefault("select", []).extend(parsed.select)
        else:
            values[key] = getattr(parsed, key)
    try:  # here rather than later, so that the message names the file
        check_selectors(_selectors(values.get("select", [])))
        CrawlConfig(hosts=values.get("hosts", {}))
    except ConfigError as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
    return values


def _selectors(pairs: list[tuple[str, bool]]) -> tuple[Selector, ...]:
    if not pairs:
        return ()
    from ..select import Selector  # imported only by runs that select

    return tuple(Selector.parse(spec, many) for spec, many in pairs)


def main(argv: Sequence[str] | None = None, *, restore_signals: bool = True) -> int:
    """Run the command line; returns the exit status.

    With ``restore_signals`` false the SIGINT/SIGTERM handlers of the crawl's
    end stay installed when it returns: for `run`, whose process ends next.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:  # a seed file named so is reached as ./merge
        return _subcommand(argv[0], argv[1:], restore_signals)
    try:
        return _main(argv, restore_signals)
    except KeyboardInterrupt:  # Ctrl-C before or after the crawl (reading stdin, writing the summary)
        print("crawler: interrupted", file=sys.stderr)
        return _SIGNAL_EXIT["SIGINT"]
    finally:
        teardown_logging()


def check_paths(args: argparse.Namespace) -> None:
    """Raise `UsageError` when two files the run writes (output, summary, log file,
    state and its companions), or one it writes and one it reads (seed files,
    the config file), are the same file: one would destroy the other.

    Paths are compared resolved (absolute, symlinks followed); devices and
    pipes (``/dev/null``, ``/dev/stdout``) may be named more than once.
    """
    written: list[tuple[str, str]] = []
    if args.output and args.output != "-":
        written.append(("-o", args.output))
    manifest = args.summary or (args.output + SUFFIX if args.output and args.output != "-" else None)
    if manifest:
        written.append(("--summary" if args.summary else "the summary file",
                        manifest))
    if args.log_file:
        written.append(("--log-file", args.log_file))
    if args.chunks:
        written.append(("--chunks", args.chunks))
    if args.links:
        written.append(("--links", args.links))
    written.extend(("--report", path) for path in args.report)
    if args.warc:
        written.append(("--warc", args.warc))
    if args.state:
        written.append(("--state", args.state))
        written.extend((f"--state's {what} file", args.state + suffix)
                       for what, suffix in (("lock", ".lock"), ("WAL", "-wal"), ("shared-memory", "-shm")))
    read: list[tuple[str, str]] = [("seed file", s) for s in args.seeds
                                   if s != "-" and "://" not in s and os.path.isfile(s)]
    if args.config:
        read.append(("config file", args.config))
    if args.cookies:
        read.append(("cookies file", args.cookies))
    seen: dict[str, tuple[str, str]] = {}
    for index, (what, path) in enumerate(written + read):
        key = _resolved(path)
        if key is None:
            continue
        if key in seen:
            first, first_path = seen[key]
            if index >= len(written):
                raise UsageError(f"{first} {first_path!r} would overwrite the {what} {path!r}: "
                                 "write somewhere else")
            raise UsageError(f"{first} {first_path!r} and {what} {path!r} are the same file: "
                             "give each its own path")
        if index < len(written):
            seen[key] = (what, path)


def _resolved(path: str) -> str | None:
    """``path`` absolute with symlinks resolved; None for a device or pipe (never a collision)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = 0
    if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return None
    return os.path.normcase(os.path.realpath(path))


def run() -> None:
    """The program, ``crawler`` and ``python -m crawler``: `main`, then exit with its status.

    A signal repeated just after the crawl stopped (a key held down, a group
    signal and then a kill) is the same request to stop. Were the handlers put
    back, it would turn exit 130 into a traceback; so they stay. And since
    the interpreter's shutdown resets every Python-level handler to the
    default, a SIGINT in its last milliseconds would still kill the process
    (status -2, no summary status): after a stop by signal, SIGINT is ignored
    outright, which shutdown leaves alone. SIGTERM and SIGKILL still end a
    shutdown that hangs.
    """
    status = main(restore_signals=False)
    if status in _SIGNAL_EXIT.values():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The interpreter's last cyclic collection walks every object still held,
    # the worker's modules too once a crawl loaded them (worker.entry.preload):
    # ~30 ms of the main process's wall time at exit, to free memory the
    # process gives back anyway. Outputs are closed and flushed by now.
    gc.freeze()
    raise SystemExit(status)


def _subcommand(name: str, argv: list[str], restore_signals: bool = True) -> int:
    if name == "check":
        from .check import main as check

        try:
            return check(argv, lambda args: _main(args, restore_signals, check=True))
        finally:
            teardown_logging()
    if name == "demo":
        from .demo import main as demo

        try:
            return demo(argv, lambda args: _main(args, restore_signals), parse_args)
        finally:
            teardown_logging()
    if name == "merge":
        from .merge import main as run
    elif name == "extract":
        from .extract import main as run
    elif name == "explain":
        from .explain import main as run
    else:
        from .status import main as run
    try:
        return run(argv)
    except SystemExit as exc:  # argparse: --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def _main(argv: Sequence[str] | None, restore_signals: bool = True, check: bool = False) -> int:
    try:
        args = parse_args(argv)
        check_paths(args)  # before the log file is opened: nothing is written on a collision
        setup_logging(args.verbose, args.log_file)
        if not args.seeds:
            raise UsageError("no SEED given: name a seed file, a URL, or - for stdin")
        config = config_from_args(args)
        manifest = summary_path(config.output, args.summary)
        skipped: list[SeedError] = []
        inputs = SeedInputs()
        try:
            seeds = read_seeds(args.seeds, skipped=None if args.strict else skipped,
                               max_url_length=config.max_url_length, url_column=config.url_column,
                               keep_columns=config.keep_columns, inputs=inputs)
        finally:
            for error in skipped:
                # A cron run keeps going on the good lines; the mail still shows the bad ones.
                print(f"crawler: warning: {error} (skipped; --strict makes this an error)", file=sys.stderr)
        if (config.url_column or config.keep_columns) and not inputs.tables:
            print("crawler: warning: --url-column and --keep-columns apply to .csv and .jsonl seed files; "
                  "no seed file is one", file=sys.stderr)
        if config.redis:
            config = _name_the_node(config, seeds, args.quiet)
        links = _link_run(config, check, seeds)
        if links is not None:
            config = links.config
    except CrawlerError as exc:
        return fail(str(exc), EXIT_USAGE)
    runlog.info("start: crawler %s, %d seed(s), output %s", __version__, len(seeds), config.output)
    if config.insecure:  # never silent, even with -q: every HTTPS answer is taken on trust
        print(INSECURE_WARNING, file=sys.stderr)
        runlog.warning("%s", INSECURE_WARNING)
    crawler = Crawler(config, inputs=inputs)
    tally = RunSummary()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = _crawl(crawler, seeds, args, tally)
        if links is not None:
            try:
                status = links.finish(status, args.quiet)
            except CrawlerError as exc:
                status = fail(str(exc), EXIT_USAGE)
        if manifest is not None and status != EXIT_USAGE:  # exit 2 here: the output could not be opened
            try:
                write_summary(manifest, tally.manifest(crawler.stats, status, config.output))
            except OSError as exc:
                fail(f"cannot write summary {manifest!r}: {exc.strerror or exc}", status)
    finally:
        if restore_signals:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    runlog.info("exit status %d%s", status, f", summary {manifest}" if manifest else "")
    return status


def _crawl(crawler: Crawler, seeds: list[str], args: argparse.Namespace, tally: RunSummary) -> int:
    """Run the crawl, print and log the summary line, and return the exit status."""
    try:
        stats = _run(crawler, seeds, args, tally)
    except RedisLostError as exc:
        # Records already written stay: each was committed in Redis first.
        fail(f"{exc}; stopped (records written so far are kept; run the command again to resume)",
              EXIT_REDIS_LOST)
        line = summary(crawler.stats, tally.retries)
        runlog.info("%s", line)
        return EXIT_REDIS_LOST
    except CrawlerError as exc:
        return fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:  # a second Ctrl-C, a while after the first: stopped where it was
        stats = crawler.stats
        stats.stopped_by = stats.stopped_by or "SIGINT"
    except Exception as exc:  # no traceback for users; -v shows it
        logging.getLogger("crawler").debug("internal error", exc_info=True)
        return fail(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)", EXIT_NOTHING)
    line = summary(stats, tally.retries)  # the records' retries, as the summary file counts them
    runlog.info("%s", line)
    if not args.quiet:
        print(line, file=sys.stderr)
        if args.verbose:
            for url in stats.refused_urls:
                print(f"crawler: refused by robots.txt: {url}", file=sys.stderr)
    if stats.stopped_by in _SIGNAL_EXIT:
        return _SIGNAL_EXIT[stats.stopped_by]
    # Nothing to do (every page fetched recently, under --state) is not a failure.
    return EXIT_OK if stats.responses or not stats.pages else EXIT_NOTHING


def _run(crawler: Crawler, seeds: list[str], args: argparse.Namespace, tally: RunSummary) -> CrawlStats:
    progress = None
    if not (args.quiet or args.no_progress) and sys.stderr.isatty():
        progress = Progress(crawler)
    crawler.on_page = tally.add if progress is None else _both(tally.add, progress.on_page)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    owner = os.getpid()
    first: list[float] = []  # when the first signal came

    def on_signal(signum: int, frame: Any) -> None:
        if os.getpid() != owner:
            # A pool worker forked a moment ago, before it reset its handlers:
            # Pool.terminate()'s SIGTERM must still end it (Ctrl-C is the
            # main process's business).
            if signum == signal.SIGTERM:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
            return
        now = time.monotonic()
        if not first:
            first.append(now)
            crawler.stop(signal.Signals(signum).name)
            return
        if now - first[0] < _REPEAT_GRACE:
            # The same stop said twice (a key held, a group signal and a kill):
            # the crawl is stopping already, and the summary still to be written.
            return
        # A later one means "now": Ctrl-C ends the crawl where it is (the
        # summary is still written), SIGTERM ends the process.
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        return crawler.run(seeds)
    finally:
        # The crawl is over; a signal now (a Ctrl-C pressed twice) must not
        # keep the summary from being written. _main restores the handlers.
        for sig in previous:
            signal.signal(sig, _after_the_crawl)
        if progress is not None:
            progress.close()


def _after_the_crawl(signum: int, frame: Any) -> None:
    """SIGINT/SIGTERM once the crawl has stopped: the summary is being written; exit after it."""


def _link_run(config: CrawlConfig, check: bool, seeds: list[str]) -> LinkRun | None:
    """The link graph this crawl keeps (``check``, ``--links``), or None (a plain crawl keeps none)."""
    if not (check or config.links or config.report):
        return None  # a plain crawl loads none of it
    from .check import LinkRun

    if config.links:
        from ..store.linktable import links_format

        links_format(config.links)  # a bad extension: exit 2 before anything is fetched
    if config.report:
        from ..store.report import report_format

        for path in config.report:
            report_format(path)
    return LinkRun(config, check, seeds)


def _name_the_node(config: CrawlConfig, seeds: list[str], quiet: bool) -> CrawlConfig:
    """Check that Redis answers (exit 2 if not), fill in the default crawl id and node
    name, and say them (status and merge need them)."""
    import dataclasses

    from ..cluster.link import connect
    from ..cluster.node import default_crawl_id, default_node

    connect(config.redis or "").close()  # unreachable: one error line, before anything is said
    config = dataclasses.replace(config, crawl_id=config.crawl_id or default_crawl_id(seeds),
                                 node=config.node or default_node(config.output))
    runlog.info("crawl %s, node %s, Redis %s", config.crawl_id, config.node, config.redis)
    if not quiet:
        print(f"crawler: crawl {config.crawl_id}, node {config.node}", file=sys.stderr)
    return config


def _both(first: Any, second: Any) -> Any:
    def on_page(page: Any) -> None:
        first(page)
        second(page)

    return on_page


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"bad header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``6h``, ``2d``, ``1w`` as seconds."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:]) if value[-1:].isalpha() else 1
    number = value[:-1] if value[-1:].isalpha() else value
    try:
        seconds = float(number) * (unit or 0)
    except ValueError:
        seconds = -1.0
    if not unit or not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (like 90s, 30m, 6h, 2d)")
    return seconds


def _statuses(text: str) -> tuple[int, ...]:
    """``403,429`` as HTTP statuses ("" is none: a config file's way to show the key)."""
    codes = []
    for part in filter(None, text.split(",")) if text.strip() else ():
        codes.append(_number(part.strip(), int, lambda v: 100 <= v <= 599, "an HTTP status (100-599)"))
    return tuple(codes)


def _pos_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a whole number >= 1")


def _nonneg_int(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number >= 0")


def _ints(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""
    def check(text: str) -> int:
        return _number(text, int, lambda v: low <= v <= high, f"a whole number from {low} to {high}")

    return check


def _seconds(zero: bool) -> Callable[[str], float]:
    """An argparse type: seconds, > 0 (>= 0 with ``zero``), finite and at most a day."""
    def check(text: str) -> float:
        what = f"a number of seconds {'>= 0' if zero else '> 0'} and at most {MAX_SECONDS:g} (a day)"
        return _number(text, float, lambda v: (v >= 0 if zero else v > 0) and v <= MAX_SECONDS, what)

    return check


_N = TypeVar("_N", int, float)


def _number(text: str, kind: Callable[[str], _N], ok: Callable[[_N], bool], what: str) -> _N:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if not ok(value) or value != value:  # NaN
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value
