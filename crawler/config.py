"""`CrawlConfig`: every option of a crawl, validated once, at the edge.

Field names match the CLI long options in snake_case (``--max-pages`` →
``max_pages``) and follow the order of SPEC.md's option table; the three
that differ are also accepted under the command line's names (``header=``,
``no_robots=True``, ``select_all=``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .select import Selector

__version__ = "0.1.0"

DEFAULT_DEPTH = 0
DEFAULT_SCOPE = "host"
DEFAULT_CONCURRENCY = 16
DEFAULT_PER_HOST = 4
DEFAULT_DELAY = 0.0
DEFAULT_TIMEOUT = 20.0
DEFAULT_RETRIES = 2
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_WARC_MAX_SIZE = 1000**3
DEFAULT_USER_AGENT = f"crawler/{__version__}"
DEFAULT_MAX_RETRY_AFTER = 120.0
DEFAULT_MAX_REDIRECTS = 10
DEFAULT_MAX_URL_LENGTH = 2048  # what sitemaps.org allows, and about what browsers and CDNs accept
DEFAULT_LEASE_TIMEOUT = 60.0
DEFAULT_REDIS_OUTAGE = 30.0
DEFAULT_CONTENT = "main"
DEFAULT_CHUNK_WORDS = 400
#: Upper bounds (issue 16): beyond them a crawl cannot start (threads, forks) or
#: never ends (a delay or timeout of years); a value above one is a `ConfigError`.
MAX_WORKERS = 512
MAX_CONCURRENCY = 10_000  # also per_host's bound
MAX_RETRIES = 100
#: timeout, delay, max_retry_after, lease_timeout, redis_outage: at most a day
MAX_SECONDS = 86_400.0
#: ``crawl_id`` and ``node``: short and printable, no braces (Redis key hash tags)
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}"

SCOPES = ("host", "domain", "any")
FORMATS = ("csv", "json", "jsonl")
START_METHODS = (None, "fork", "spawn", "forkserver")
#: ``--content``: the page's main content, or its whole body
CONTENT_MODES = ("main", "full")


@dataclass(frozen=True, slots=True)
class HostSettings:
    """Settings of one host that override the crawl's (``[hosts."example.com"]`` in a config file).

    None (or no headers) leaves the crawl's value. ``max_pages`` caps the
    pages of this host as ``max_pages_per_host`` caps every host's; ``headers``
    are sent after the crawl's (a header of the same name replaces it).

    >>> HostSettings(delay=2).per_host is None
    True
    """

    per_host: int | None = None
    delay: float | None = None
    user_agent: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    max_pages: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _headers(self.headers))
        if self.per_host is not None:
            _within("per_host", self.per_host, 1, MAX_CONCURRENCY)
        if self.max_pages is not None:
            _at_least("max_pages", self.max_pages, 1)
        if self.delay is not None:
            if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) or not self.delay >= 0:
                raise ConfigError(f"delay must be a number of seconds >= 0, got {self.delay!r}")
            _at_most_a_day("delay", self.delay)
        if self.user_agent is not None and not isinstance(self.user_agent, str):
            raise ConfigError(f"user_agent must be a string, got {self.user_agent!r}")

    def request_headers(self) -> tuple[tuple[str, str], ...]:
        """The headers this host's requests get on top of the crawl's: User-Agent first."""
        agent = (("User-Agent", self.user_agent),) if self.user_agent is not None else ()
        return agent + self.headers


#: ``HostSettings`` keys, as a config file and the library name them (``header`` adds to ``headers``)
HOST_KEYS = ("per_host", "delay", "user_agent", "header", "headers", "max_pages")


def _hosts(value: Any) -> tuple[tuple[str, HostSettings], ...]:
    """``hosts`` as (host name, settings) pairs, from a mapping or pairs; settings may be mappings."""
    items = value.items() if isinstance(value, Mapping) else value
    pairs = []
    for item in items:
        try:
            name, settings = item
        except (TypeError, ValueError):
            raise ConfigError(f"hosts must map host names to settings, got {item!r}") from None
        if not isinstance(name, str) or not re.fullmatch(r"[^\s/:@]+|\[[0-9a-fA-F:.]+\]", name.strip()):
            raise ConfigError(f"hosts: {name!r} is not a host name (no scheme, port or path)")
        if isinstance(settings, Mapping):
            unknown = [key for key in settings if key not in HOST_KEYS]
            if unknown:
                raise ConfigError(f"hosts: {name}: unknown key {unknown[0]!r} "
                                  "(per_host, delay, user_agent, header, max_pages)")
            options = dict(settings)
            options["headers"] = _headers(options.pop("headers", None)) + _headers(options.pop("header", None))
            try:
                settings = HostSettings(**options)
            except ConfigError as exc:
                raise ConfigError(f"hosts: {name}: {exc}") from None
        elif not isinstance(settings, HostSettings):
            raise ConfigError(f"hosts: {name}: settings must be a mapping, got {settings!r}")
        pairs.append((name.strip().lower().strip("[]"), settings))
    return tuple(pairs)


def _default_workers() -> int:
    return min(os.cpu_count() or 1, MAX_WORKERS)


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    """Options of one crawl. Invalid values raise `ConfigError`.

    >>> CrawlConfig(depth=1, scope="domain").per_host
    4
    """

    output: str | None = None
    format: str | None = None
    depth: int = DEFAULT_DEPTH
    max_pages: int | None = None
    scope: str = DEFAULT_SCOPE
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    workers: int = field(default_factory=_default_workers)
    concurrency: int = DEFAULT_CONCURRENCY
    per_host: int = DEFAULT_PER_HOST
    delay: float = DEFAULT_DELAY
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = DEFAULT_USER_AGENT
    headers: tuple[tuple[str, str], ...] = ()
    #: every request's proxy: ``http://``, ``https://``, ``socks5://`` or ``socks5h://``, with
    #: ``user:pass@`` if it asks (None: the environment's ``HTTP_PROXY``… as curl reads them)
    proxy: str | None = None
    #: no TLS certificate check (said once at start)
    insecure: bool = False
    #: CA certificates (a PEM file or a folder) HTTPS servers are checked against
    ca_bundle: str | None = None
    #: connect to public addresses only, for every request (by default only pages linked
    #: from a public address are kept from loopback, private and link-local ones)
    no_private: bool = False
    #: a Netscape ``cookies.txt`` loaded before the first request (`crawler.store.cookiefile`)
    cookies: str | None = None
    robots: bool = True
    #: ``.csv`` / ``.jsonl`` seed files: the column holding the URL (None: ``url``)
    url_column: str | None = None
    #: columns of a seed's row copied into its record as ``input_NAME`` (``("*",)``: all);
    #: ``"A,B"`` is accepted too
    keep_columns: tuple[str, ...] = ()
    follow_nofollow: bool = False
    progress: bool = False
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    #: discovered links longer than this (canonical form) are not followed
    max_url_length: int = DEFAULT_MAX_URL_LENGTH
    #: pages fetched per host at most (None: no cap)
    max_pages_per_host: int | None = None
    #: also seed from robots.txt ``Sitemap:`` lines and /sitemap.xml of each seed's origin
    sitemaps: bool = False
    #: WARC archive of every HTTP exchange (``NAME.warc.gz`` or ``NAME.warc``)
    warc: str | None = None
    #: bytes after which the archive goes on in ``NAME-00001.warc.gz``…; ``"1G"``, ``"500M"`` accepted
    warc_max_size: int = DEFAULT_WARC_MAX_SIZE
    #: SQLite state file: resumable runs and incremental re-crawls
    state: str | None = None
    #: with ``state``: write only records whose page is new, changed or gone
    changed_only: bool = False
    #: with ``state``: seconds within which a page fetched before is not fetched again
    recrawl_after: float | None = None
    #: ``redis://HOST:PORT/DB``: share frontier, seen set and host pacing with other nodes
    redis: str | None = None
    #: with ``redis``: the crawl's name in Redis (None: derived from the seeds)
    crawl_id: str | None = None
    #: with ``redis``: this node's name (None: host name and a hash of the output path)
    node: str | None = None
    #: with ``redis``: seconds a node's task or host slot is kept for it without renewal
    lease_timeout: float = DEFAULT_LEASE_TIMEOUT
    #: with ``redis``: seconds Redis may stay unreachable mid-run before the node stops
    redis_outage: float = DEFAULT_REDIS_OUTAGE
    #: per-host settings over the crawl's, by host name (``{"example.com": {"delay": 2}}``):
    #: see `HostSettings`; stored as (host, settings) pairs
    hosts: tuple[tuple[str, HostSettings], ...] = ()
    #: add the ``markdown`` field: the page's main content as CommonMark
    markdown: bool = False
    #: what ``markdown`` converts: ``main`` (boilerplate left out) or ``full`` (the whole body)
    content: str = DEFAULT_CONTENT
    #: write one ``.md`` file (YAML front matter, then the Markdown) per ok HTML page under this directory
    markdown_dir: str | None = None
    #: write the Markdown split at headings, one JSON line per piece, to this file
    chunks: str | None = None
    #: with ``chunks``: the most words a piece holds
    chunk_words: int = DEFAULT_CHUNK_WORDS
    #: multiprocessing start method (None: the platform's default).
    start_method: str | None = None
    #: fields extracted by CSS selectors (``--select``), added after every
    #: other field in this order; `Selector` objects, ``"NAME=CSS[@ATTR]"``
    #: strings or a ``{NAME: "CSS[@ATTR]"}`` mapping (see `crawler.select`).
    select: tuple[Selector, ...] = ()
    #: add the SEO fields (canonical, meta description, h1, ..., content_hash, redirects) to each record
    seo: bool = False
    #: ``crawler check``: check every link target (out-of-scope ones fetched once, HEAD then GET, never parsed)
    check: bool = False
    #: with ``check``: also check ``img src``, ``script src``, ``link href`` and ``iframe src``
    check_assets: bool = False
    #: with ``check``: link targets matching one of these are neither checked nor followed
    ignore: tuple[str, ...] = ()
    #: with ``check``: statuses counted as ok (e.g. 403, 429)
    accept: tuple[int, ...] = ()
    #: the links table (``.csv``/``.jsonl``): one row per link occurrence
    links: str | None = None
    #: reports to write when the crawl ends (``.html``, ``.md``, ``.xml`` JUnit, ``.json``)
    report: tuple[str, ...] = ()
    #: the SQLite side file of edges and page facts behind ``links``, reports and ``check``
    #: (None: not kept; the command line picks a temporary file, or STATE.links with ``--state``)
    links_db: str | None = None
    # The command line's names for three of the fields above, accepted as
    # keywords and not stored (issue 16): ``header`` adds to ``headers``,
    # ``no_robots=True`` is ``robots=False``, ``select_all`` adds selectors
    # that give every match (``--select-all``).
    header: InitVar[Any] = None
    no_robots: InitVar[bool | None] = None
    select_all: InitVar[Any] = None

    def __post_init__(self, header: Any, no_robots: bool | None, select_all: Any) -> None:
        # Lists are accepted from library callers; store tuples so the
        # config stays hashable and immutable.
        for name in ("allow", "deny", "ignore"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        object.__setattr__(self, "headers", _headers(self.headers) + _headers(header))
        object.__setattr__(self, "keep_columns", _columns(self.keep_columns))
        object.__setattr__(self, "hosts", _hosts(self.hosts))
        if no_robots is not None:
            if not isinstance(no_robots, bool):
                raise ConfigError(f"no_robots must be True or False, got {no_robots!r}")
            if self.robots is False and no_robots is False:
                raise ConfigError("robots and no_robots disagree: give one of them")
            object.__setattr__(self, "robots", not no_robots)
        if select_all:
            from .select import Selector, as_selectors

            every = tuple(Selector(s.name, s.css, s.attr, True) for s in as_selectors(select_all))
            object.__setattr__(self, "select", (*as_selectors(self.select), *every))
        if self.select:
            # Imported only when used: the main process of a crawl without
            # selectors does not need it, and its startup time counts.
            from .select import as_selectors, check_selectors

            object.__setattr__(self, "select", as_selectors(self.select))
            check_selectors(self.select)
        else:
            object.__setattr__(self, "select", ())
        self._validate()

    def _validate(self) -> None:
        self._validate_warc()
        _at_least("depth", self.depth, 0)
        if self.max_pages is not None:
            _at_least("max_pages", self.max_pages, 1)
        _within("workers", self.workers, 1, MAX_WORKERS)
        _within("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        _within("per_host", self.per_host, 1, MAX_CONCURRENCY)
        _within("retries", self.retries, 0, MAX_RETRIES)
        _at_least("max_bytes", self.max_bytes, 1)
        _at_least("max_redirects", self.max_redirects, 0)
        _at_least("max_url_length", self.max_url_length, 16)
        if self.max_pages_per_host is not None:
            _at_least("max_pages_per_host", self.max_pages_per_host, 1)
        for name in ("delay", "timeout", "max_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number of seconds, got {value!r}")
            if value != value:  # NaN compares false with everything
                raise ConfigError(f"{name} must be a number, got NaN")
        if self.delay < 0:
            raise ConfigError(f"delay must be >= 0, got {self.delay}")
        if not self.timeout > 0:
            raise ConfigError(f"timeout must be > 0, got {self.timeout}")
        if self.max_retry_after < 0:
            raise ConfigError(f"max_retry_after must be >= 0, got {self.max_retry_after}")
        for name in ("delay", "timeout", "max_retry_after", "lease_timeout", "redis_outage"):
            _at_most_a_day(name, getattr(self, name))
        if self.recrawl_after is not None and not self.recrawl_after >= 0:
            raise ConfigError(f"recrawl_after must be >= 0 seconds, got {self.recrawl_after}")
        if (self.changed_only or self.recrawl_after is not None) and not self.state:
            raise ConfigError("changed_only and recrawl_after need a state file (--state)")
        self._validate_redis()
        self._validate_network()
        self._validate_markdown()
        if self.seo:
            from .page import SEO_FIELDS

            for selector in self.select:
                if selector.name in SEO_FIELDS:
                    raise ConfigError(f"--select field {selector.name!r} is also a --seo field: rename it")
        if self.scope not in SCOPES:
            raise ConfigError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.format is not None and self.format not in FORMATS:
            raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.start_method not in START_METHODS:
            raise ConfigError(f"start_method must be fork, spawn or forkserver, got {self.start_method!r}")
        object.__setattr__(self, "accept", tuple(self.accept))
        object.__setattr__(self, "report", (self.report,) if isinstance(self.report, str) else tuple(self.report))
        for code in self.accept:
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                raise ConfigError(f"accept must hold HTTP statuses (100-599), got {code!r}")
        for pattern in self.allow + self.deny + self.ignore:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"bad regex {pattern!r}: {exc}") from None

    @property
    def wants_markdown(self) -> bool:
        """Whether the workers convert pages to Markdown (``markdown``, ``markdown_dir`` or ``chunks``)."""
        return self.markdown or bool(self.markdown_dir) or bool(self.chunks)

    def _validate_markdown(self) -> None:
        if self.content not in CONTENT_MODES:
            raise ConfigError(f"content must be one of {', '.join(CONTENT_MODES)}, got {self.content!r}")
        _at_least("chunk_words", self.chunk_words, 1)
        if self.content != DEFAULT_CONTENT and not self.wants_markdown:
            raise ConfigError("content needs markdown, markdown_dir or chunks (--markdown, --markdown-dir, --chunks)")
        if self.chunk_words != DEFAULT_CHUNK_WORDS and not self.chunks:
            raise ConfigError("chunk_words needs a chunks file (--chunks)")
        taken = {name for name, on in (("markdown", self.markdown), ("markdown_file", bool(self.markdown_dir))) if on}
        for sel in self.select:
            if sel.name in taken:
                raise ConfigError(f"select: {sel.name!r} is already a record field (--markdown, --markdown-dir)")

    def _validate_warc(self) -> None:
        if isinstance(self.warc_max_size, str):
            object.__setattr__(self, "warc_max_size", parse_size(self.warc_max_size))
        _at_least("warc_max_size", self.warc_max_size, 1)
        if self.warc is not None and not (isinstance(self.warc, str) and self.warc.endswith((".warc", ".warc.gz"))):
            raise ConfigError(f"warc {self.warc!r}: the name must end in .warc.gz (gzip per record) or .warc")

    def _validate_redis(self) -> None:
        if not self.lease_timeout > 0:  # NaN fails too
            raise ConfigError(f"lease_timeout must be > 0 seconds, got {self.lease_timeout}")
        if not self.redis_outage >= 0:
            raise ConfigError(f"redis_outage must be >= 0 seconds, got {self.redis_outage}")
        if self.redis is None:
            if self.crawl_id is not None or self.node is not None:
                raise ConfigError("crawl_id and node need a Redis URL (--redis)")
            return
        if self.state:
            raise ConfigError("--state and --redis cannot be combined: with --redis the crawl's state "
                              "lives in Redis (run each node without --state)")
        for name in ("crawl_id", "node"):
            value = getattr(self, name)
            if value is not None and not re.fullmatch(NAME_PATTERN, value):
                raise ConfigError(f"{name} must be 1-64 letters, digits, '.', '_', '@' or '-', got {value!r}")


    def _validate_network(self) -> None:
        if self.proxy is not None:
            check_proxy(self.proxy)
        if self.ca_bundle is not None and not os.path.exists(self.ca_bundle):
            raise ConfigError(f"ca_bundle: no such file or folder: {self.ca_bundle!r}")
        if self.insecure and self.ca_bundle:
            raise ConfigError("insecure and ca_bundle contradict each other: give one of them")


#: the proxy schemes requests can use (SOCKS through its ``socks`` extra)
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def check_proxy(url: str) -> None:
    """Raise `ConfigError` unless ``url`` is a usable proxy URL (the message never shows its password)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not one
    except ValueError as exc:
        raise ConfigError(f"proxy: not a URL ({exc})") from None
    shown = hide_password(url)
    if parts.scheme.lower() not in PROXY_SCHEMES:
        raise ConfigError(f"proxy: {shown!r}: the scheme must be one of {', '.join(PROXY_SCHEMES)}")
    if not parts.hostname:
        raise ConfigError(f"proxy: {shown!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"proxy: {shown!r}: a proxy URL is scheme://[user:pass@]host:port, without a path")


def hide_password(url: str) -> str:
    """``url`` with the password of its user info replaced by ``***``."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _columns(value: Any) -> tuple[str, ...]:
    """``keep_columns`` as names: ``"A,B"`` or ``["A", "B"]``; ``"*"`` alone keeps every column."""
    if isinstance(value, str):
        value = value.split(",")
    if any(not isinstance(name, str) for name in value):
        raise ConfigError(f"keep_columns must be column names, got {value!r}")
    names = tuple(name.strip() for name in value if name.strip())
    if "*" in names and names != ("*",):
        raise ConfigError("keep_columns: '*' keeps every column; give it alone")
    return names


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    """Headers as (name, value) pairs, from pairs, a mapping, or ``"Name: value"`` strings (as ``-H``)."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        value = list(value.items())
    elif isinstance(value, str):
        value = [value]
    pairs = []
    for item in value:
        if isinstance(item, str):
            name, sep, text = item.partition(":")
            if not sep or not name.strip():
                raise ConfigError(f"bad header {item!r}: expected 'Name: value'")
            item = (name.strip(), text.strip())
        pair = tuple(item) if isinstance(item, (tuple, list)) else (item,)
        if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], str) or not pair[0]:
            raise ConfigError(f"bad header {item!r}: expected (name, value), a {{name: value}} mapping "
                              "or 'Name: value'")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


_SIZE_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def parse_size(text: str) -> int:
    """``500M``, ``2G``, ``1000000`` as bytes (decimal units, as wget and Heritrix count).

    >>> parse_size("1G"), parse_size("500M"), parse_size("4096")
    (1000000000, 500000000, 4096)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", text.upper())
    if match is None or float(match.group(1)) <= 0 or len(match.group(1)) > 15:
        raise ConfigError(f"{text!r} is not a size (like 500M, 1G, 2G)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _within(name: str, value: int, low: int, high: int) -> None:
    _at_least(name, value, low)
    if value > high:
        raise ConfigError(f"{name} must be at most {high}, got {value if value < 10**30 else 'a larger number'}")


def _at_most_a_day(name: str, seconds: float) -> None:
    # inf and 1e20 pass the lower bounds: a timer that long overflows, or the crawl never ends
    if isinstance(seconds, (int, float)) and seconds > MAX_SECONDS:
        shown = f"{seconds:g}" if isinstance(seconds, float) or seconds < 10**30 else "a larger number"
        raise ConfigError(f"{name} must be at most {MAX_SECONDS:g} seconds (a day), got {shown}")


def _at_least(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
