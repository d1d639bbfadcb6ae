"""The values that travel between processes: `Task` (work), its `Result`, and the `Page` record.

All are dataclasses of plain values (str, int, float, bool, None, and tuples
or lists of them): they pickle cheaply across the pool and other frontiers
store them as JSON. `Task` and the results are frozen: a retry or a task
with cookies is a `dataclasses.replace` copy. `Page` is the record the main
process still completes (``change``, ``node``, selected fields), so it is not.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, NamedTuple

#: The record's fields, in the order SPEC.md fixes for every output format.
FIELDS: tuple[str, ...] = (
    "url",
    "final_url",
    "status",
    "ok",
    "content_type",
    "bytes",
    "elapsed_ms",
    "depth",
    "referrer",
    "title",
    "links",
    "error",
    "fetched_at",
)

#: Fields features add after the SPEC's 13 (documented in README), in order.
FEATURE_FIELDS: tuple[str, ...] = ("attempts", "noindex")

#: Every record's fixed fields, in output order.
RECORD_FIELDS: tuple[str, ...] = FIELDS + FEATURE_FIELDS

#: Added after RECORD_FIELDS when the crawl keeps state (``--state``).
STATE_FIELDS: tuple[str, ...] = ("change",)

#: Added after those when the crawl is shared through Redis (``--redis``).
NODE_FIELDS: tuple[str, ...] = ("node",)

#: With ``--markdown`` and ``--markdown-dir``: the first of the ``extra`` fields, before hook and selector fields.
MARKDOWN_FIELDS: tuple[str, ...] = ("markdown", "markdown_file")
#: Added with ``--seo``, after those and before hook and selector fields (SPEC "SEO fields").
SEO_FIELDS: tuple[str, ...] = ("canonical", "meta_description", "h1", "lang", "hreflang", "og_title", "og_image",
                               "word_count", "content_hash", "redirects")

#: Task kinds: a page to record, or a robots.txt or sitemap fetch (bookkeeping, no record).
PAGE = "page"
ROBOTS = "robots"
SITEMAP = "sitemap"
#: ``crawler check``: a link target fetched once to see that it answers (HEAD, then GET), never parsed
CHECK = "check"

#: One link occurrence on a page (``--links``, ``crawler check``):
#: (target, fragment or None, anchor text or ``alt``, tag, nofollow).
Edge = tuple[str, "str | None", str, str, bool]

_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), check_circular=False).encode


def encode_edges(edges: Sequence[Edge] | Sequence[str]) -> str:
    """A page's link occurrences (or its fragment names) as compact JSON text, as `PageResult` carries them.

    JSON, not pickle: the side file that keeps it outlives the Python that wrote it.

    >>> encode_edges([("http://h/x", None, "Go", "a", False)])
    '[["http://h/x",null,"Go","a",false]]'
    >>> decode_edges(encode_edges([("http://h/x", "s", "Go", "a", True)]))
    [['http://h/x', 's', 'Go', 'a', True]]
    """
    return _dumps(edges)


def decode_edges(text: str) -> list[Any]:
    """The arrays `encode_edges` wrote: each edge as a list ``[target, fragment, text, tag, nofollow]``."""
    value: list[Any] = json.loads(text)
    return value


class _Plain:
    """Pickled as its class and its field values, rebuilt by ``__init__``.

    Every page's task and result cross a pipe: the slots dataclass's own way
    (a state list set back field by field through ``__setstate__``) cost ~24
    us each way for a bench page's `PageResult`, this ~10 us to pickle and ~8
    to unpickle, in the main process too, which unpickles every result.
    For the dataclasses below (all fields set by ``__init__``).
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        cls = type(self)
        names = _FIELD_NAMES.get(cls)
        if names is None:
            names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
        return cls, tuple([getattr(self, name) for name in names])


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class CookieData(NamedTuple):
    """A cookie a response set, as plain values (the fields of `http.cookiejar.Cookie` a jar uses)."""

    name: str
    value: str | None
    domain: str
    path: str
    secure: bool = False
    expires: int | None = None
    version: int | None = 0
    port: str | None = None
    port_specified: bool = False
    domain_specified: bool = False
    domain_initial_dot: bool = False
    path_specified: bool = False
    discard: bool = False


@dataclass(slots=True, frozen=True)
class Task(_Plain):
    """One URL to fetch.

    ``seed`` is the seed URL the task descends from (scope is judged against
    it); ``attempt`` counts tries already made (retries are rescheduled by the
    main process, not slept on inside a worker). ``cookies`` are the run's
    cookies for the task's host (see `crawler.engine.cookies`), None when there are none.
    """

    url: str
    depth: int = 0
    referrer: str | None = None
    seed: str = ""
    kind: str = PAGE
    attempt: int = 0
    cookies: tuple[CookieData, ...] | None = None
    #: (ETag, Last-Modified) of the last fetch, for a conditional request (``--state``)
    validators: tuple[str | None, str | None] | None = None
    #: body hash of the last 2xx fetch (``--state``): the same body again is not converted to Markdown again
    digest: str | None = None


@dataclass(slots=True)
class Page(_Plain):
    """One output record: the 13 SPEC fields, ``attempts``, ``noindex``, then ``extra`` fields in order."""

    url: str
    final_url: str
    status: int | None = None
    ok: bool = False
    content_type: str | None = None
    bytes: int = 0
    elapsed_ms: float = 0.0
    depth: int = 0
    referrer: str | None = None
    title: str | None = None
    links: int = 0
    error: str | None = None
    fetched_at: str = ""
    #: requests made for this URL (retries included); 0 when none was made
    attempts: int = 1
    #: the page asks not to be indexed (``<meta name="robots">`` or ``X-Robots-Tag``)
    noindex: bool = False
    #: with ``--state``: ``new``, ``changed``, ``unchanged`` or ``gone`` (None without state)
    change: str | None = None
    #: with ``--redis``: the name of the node that fetched the page (None otherwise)
    node: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as an ordered dict: SPEC fields, feature fields, then ``extra``."""
        d = {name: getattr(self, name) for name in RECORD_FIELDS}
        if self.change is not None:
            d["change"] = self.change
        if self.node is not None:
            d["node"] = self.node
        if self.extra:
            for key, value in self.extra.items():
                d.setdefault(key, value)
        return d


@dataclass(slots=True, frozen=True)
class Result(_Plain):
    """What a worker returns for one task; one subclass per task kind.

    ``retry_after`` is set when the fetch failed in a retryable way: the main
    process decides whether to try again (after that many seconds) or to
    record the failure. ``cookies`` are those the responses set.
    """

    task: Task
    page: Page
    retry_after: float | None = None
    cookies: tuple[CookieData, ...] | None = None
    #: with ``--warc``: every HTTP exchange of the fetch, redirect hops first
    exchanges: tuple[Exchange, ...] = ()
    #: with ``--warc``: a page's ``metadata`` record, encoded by the worker (`crawler.warcrecord.page_metadata`)
    metadata: bytes = b""


@dataclass(slots=True, frozen=True)
class PageResult(Result):
    """A page's result.

    ``links`` holds the canonical, in-scope links to follow (empty when the
    page is at the depth limit or is not HTML); ``refused`` counts the others
    by reason (`crawler.policy`: the gate's rules, applied in the worker).
    """

    links: tuple[str, ...] = ()
    refused: dict[str, int] | None = None
    #: with ``--state``: body hash and the validators for the next conditional request
    digest: str | None = None
    validators: tuple[str | None, str | None] | None = None
    #: with ``--markdown``/``--markdown-dir``/``--chunks``: the page's Markdown and language, and
    #: whether it was converted this time (False for a non-HTML or failed page, or an unchanged one)
    markdown: str | None = None
    lang: str | None = None
    converted: bool = False
    #: with ``--links``/``--report``/``check``: every link occurrence (a JSON array of `Edge`
    #: arrays, `encode_edges`), the page's ids and ``<a name>``s (fragment targets; a JSON array
    #: of strings), and the targets to check that are not followed. JSON text, made in the
    #: worker: the main process stores it as it comes, one row per page, and reads it only when
    #: the crawl's verdict, links table or report needs it.
    edges: str | None = None
    ids: str | None = None
    checks: tuple[str, ...] = ()
    #: with the link graph kept: SimHash of the visible text (16 hex digits, as ``content_hash``),
    #: and the redirects followed (``STATUS URL`` each, as ``redirects``)
    text_hash: str | None = None
    hops: tuple[str, ...] = ()
    #: with ``--state``: the links not followed, as (url, reason, detail), for ``crawler explain``
    refused_links: tuple[tuple[str, str, str], ...] = ()


@dataclass(slots=True, frozen=True)
class RobotsResult(Result):
    """A robots.txt fetch: its text (None unless it answered 2xx)."""

    body: str | None = None


@dataclass(slots=True, frozen=True)
class SitemapResult(Result):
    """A sitemap fetch: the page URLs it lists (in scope), each one's ``<lastmod>`` (Unix
    time), and the sitemaps an index lists."""

    links: tuple[str, ...] = ()
    lastmods: tuple[float | None, ...] = ()
    sitemaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Exchange(_Plain):
    """One HTTP request and the response it got, as sent and as received (for ``--warc``).

    ``response`` is the status line and headers; ``body`` the body as it came
    (``Content-Encoding`` intact, transfer framing removed); ``truncated``
    says why the body is not whole, in WARC's words: ``length`` (cut at
    ``--max-bytes``), ``time`` (the timeout) or ``disconnect`` (the
    connection broke); ``date`` (ISO 8601 UTC) is when the request went.
    """

    url: str
    date: str
    request: bytes
    response: bytes
    body: bytes = b""
    ip: str | None = None
    truncated: str | None = None
    #: the request and response records, encoded by the worker (`crawler.warcrecord.archived`);
    #: ``body`` is then left empty: it is in there
    encoded: bytes = b""
    #: with ``encoded``: the response record's WARC-Record-ID and WARC-Payload-Digest
    record_id: str | None = None
    payload_digest: str | None = None

    @property
    def status(self) -> int | None:
        """The response's status code (None if the status line is not HTTP)."""
        return status_of(self.response)


def status_of(head: bytes) -> int | None:
    r"""The status code of the HTTP response ``head`` (status line and headers), None if it has none.

    >>> status_of(b"HTTP/1.1 304\r\nETag: x\r\n\r\n")  # no reason phrase
    304
    """
    parts = head.split(b"\n", 1)[0].rstrip(b"\r").split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


@dataclass(frozen=True, slots=True)
class Archived(_Plain):
    """A page as an archive holds it, for ``crawler extract`` to parse in a worker.

    ``body`` is the payload as archived (``Content-Encoding`` intact);
    ``not_modified`` marks a 304 whose ``body`` is the stored copy's (parsed
    for title and links, counted as 0 bytes, as the live run did), and then
    ``copy_headers`` are the copy's header fields, which say how to read
    that body (its type and coding: a 304 has neither); ``error``
    is the crawl's own word on the fetch (the archive's ``metadata``), None
    when the responses are all there is to go by.
    """

    url: str
    final_url: str
    date: str
    status: int | None = None
    reason: str = ""
    #: the response's header fields, in order
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    not_modified: bool = False
    elapsed_ms: float = 0.0
    error: str | None = None
    #: the redirects followed to the response, ``"STATUS URL"`` each (``--seo``'s ``redirects``)
    redirects: tuple[str, ...] = ()
    #: with ``not_modified``: the stored copy's header fields (empty when the copy is not at hand)
    copy_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ArchiveRef(_Plain):
    """Where an archived page lies, for a worker to read it (``crawler extract``).

    ``path`` and ``offset`` locate the record whose response made the page
    (None: the page had no final response; the record comes from what the
    crawl noted: ``final_url`` and ``error``); ``copy_path`` and
    ``copy_offset`` the stored copy a ``revisit`` record refers to. ``date``,
    ``elapsed_ms``, ``error`` and ``redirects`` are what the archive's
    ``metadata`` says (None and empty for a foreign archive: then the
    response's date, and the redirect chain followed inside the archive).
    ``span``: for a ``.warc.gz`` of this crawler's, the bytes of ``path``
    from the first gzip member the index skipped since the page before to
    the page's ``metadata`` record, which the worker checks as it reads them
    (`crawler.warcmember.check_members`); None when it skipped none.
    """

    url: str
    path: str | None = None
    offset: int = 0
    copy_path: str | None = None
    copy_offset: int = 0
    date: str | None = None
    final_url: str | None = None
    elapsed_ms: float = 0.0
    error: str | None = None
    redirects: tuple[str, ...] = ()
    span: tuple[int, int] | None = None


@dataclass(slots=True)
class Done:
    """A finished page on its way to the crawl's sinks (see `crawler.engine.sink`).

    ``result`` is None for a record made in the main process (a page robots.txt
    refused, a worker bug); ``links`` are the tasks its links became.
    """

    page: Page
    task: Task
    result: Result | None = None
    links: Sequence[Task] = ()


def result_for(task: Task, page: Page) -> Result:
    """The result of ``task``'s kind with nothing but ``page`` (a failure made in the main process)."""
    kind = RobotsResult if task.kind == ROBOTS else SitemapResult if task.kind == SITEMAP else PageResult
    return kind(task=task, page=page)


def utc_now() -> str:
    """Current time as ISO 8601 UTC with milliseconds (``2026-11-22T03:04:05.123Z``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
