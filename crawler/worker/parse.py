"""HTML parsing with BeautifulSoup on lxml: title, links, and the soup itself.

BeautifulSoup gets the raw bytes, decoded with the first of: a byte-order
mark, ``<meta charset>``, the HTTP header's charset, then its own detection.
Decoding with ``response.text`` first would use requests' slower, often wrong
guess.

When nobody needs the whole tree (no ``extract`` hook, no selectors) the
title and links are read straight from lxml's own tree: the same libxml2
parser BeautifulSoup's "lxml" builder drives, without the Python callback
per tag that makes BeautifulSoup ~15x slower. Both paths decode with the
same `choose_encoding` decision and give the same title and links
(tests/unit/test_parse_parity.py holds them to it).
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin

from lxml import etree
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

from ..urls import normalize_url, origin_of, whatwg_href

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_LINK_TAGS = ["a", "area"]
_local = threading.local()  # lxml parsers are not thread-safe: one per thread
_ERR_RESOURCE_LIMIT = etree.ErrorTypes.ERR_RESOURCE_LIMIT



@dataclass(slots=True)
class Parsed:
    """What a page yields: its title, its canonical http(s) links, and the soup."""

    title: str | None = None
    links: list[str] = field(default_factory=list)
    #: links that appear only as ``rel="nofollow"`` (a subset of ``links``)
    nofollow: list[str] = field(default_factory=list)
    #: ``<meta name="robots">`` says nofollow / noindex
    meta_nofollow: bool = False
    noindex: bool = False
    soup: Any = None  # a BeautifulSoup tree when parsed with full=True
    #: with ``keep_root``: the page's lxml tree (None for an empty document) and its base URL
    root: Any = None
    base: str = ""
    #: with lxml's tree: its ``<a>`` and ``<area>`` elements, in document order, and the
    #: (href, rel) of each that has an href
    anchors: list[Any] | None = None
    hrefs: list[tuple[str, str]] | None = None
    #: each distinct href read from ``<a>``/``<area>`` (and meta refresh), resolved against ``base``
    #: in the page's ``encoding`` (None: not an http(s) link): the link graph reuses them
    resolved: dict[str, str | None] = field(default_factory=dict)
    encoding: str = "utf-8"


def is_html(content_type: str | None) -> bool:
    """True for the media types we parse."""
    return content_type in HTML_TYPES


def parse_html(body: bytes, url: str, charset: str | None = None, full: bool = False,
               keep_root: bool = False) -> Parsed:
    """Parse ``body`` (fetched from ``url``) for its title and links.

    ``full`` builds a BeautifulSoup tree, returned in ``Parsed.soup`` (for
    ``extract`` hooks and selectors); otherwise lxml alone reads title and links.
    ``keep_root`` also returns lxml's tree and the base URL (``--seo`` reads them).

    >>> p = parse_html(b"<title> Hi </title><a href='/a#x'>a</a><a href='mailto:x@y'>", "http://h/")
    >>> p.title, p.links
    ('Hi', ['http://h/a'])
    """
    encoding = choose_encoding(body, charset)
    utf8 = _as_utf8(body, encoding)
    if not full:
        return _parse_lxml(utf8, url, encoding, keep_root)
    soup = _soup(utf8)
    anchors = [(str(tag["href"]), " ".join(tag.get("rel") or ())) for tag in soup.find_all(_LINK_TAGS, href=True)]
    metas = [(str(tag.get("name") or ""), str(tag.get("http-equiv") or ""), str(tag.get("content") or ""))
             for tag in soup.find_all("meta")]
    parsed = _assemble(_title(soup), anchors, metas, _base_url(soup, url), encoding)
    parsed.soup = soup
    if keep_root:  # a second parse, by lxml: only --seo with hooks or selectors pays it
        parsed.root, parsed.base = _lxml_root(utf8), _base_url(soup, url)
    return parsed


def parse_tree(body: bytes, charset: str | None = None) -> etree._Element | None:
    """lxml's tree of ``body``, decoded as `parse_html` decodes it (None for an empty document)."""
    return _lxml_root(_as_utf8(body, choose_encoding(body, charset)))


def parse_soup(body: bytes, charset: str | None = None) -> BeautifulSoup:
    """A BeautifulSoup tree of ``body``, decoded as `parse_html` decodes it."""
    return _soup(_as_utf8(body, choose_encoding(body, charset)))


def _soup(utf8: bytes) -> BeautifulSoup:
    # Imported on first use: only hooks and selectors need the full tree.
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        # Pages served as text/html that are really XML (feeds) are common;
        # parsing them as HTML is what we want, so the warning is noise.
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(utf8, "lxml", from_encoding="utf-8")


def _as_utf8(body: bytes, encoding: str) -> bytes:
    # Both parsers get the same UTF-8 bytes, decoded once by Python: libxml2
    # and BeautifulSoup know different sets of encoding names, and would
    # otherwise each fall back to guessing in their own way.
    bom = read_bom(body)[1]
    if bom:
        body = body[len(bom):]
    if encoding == "utf-8":
        try:
            body.decode("utf-8")
            return body
        except UnicodeDecodeError:
            pass
    return body.decode(encoding, "replace").encode("utf-8")


def _parse_lxml(utf8: bytes, url: str, encoding: str, keep_root: bool = False) -> Parsed:
    root = _lxml_root(utf8)
    if root is None:
        return Parsed(base=url)
    if _depth_exceeded():
        # libxml2 stops building the tree at 256 levels of nesting (a few
        # hundred unclosed <font> or <div> get there) and drops the rest of
        # the page. Its event interface keeps no stack and reads to the end.
        parsed = _parse_events(utf8, url, encoding)
        if keep_root:  # what the tree holds is what --seo can read (its links against the page's <base>)
            parsed.root = root
        return parsed
    title = None
    for tag in root.iter("title"):
        # Text from a parsed tree is str; lxml-stubs allow bytes too.
        title = " ".join("".join(cast("Iterator[str]", tag.itertext())).split())
        break
    base = url
    for tag in root.iter("base"):
        href = tag.get("href")
        if href is not None:  # the first <base> with an href counts, even an empty one
            base = urljoin(url, whatwg_href(href))
            break
    elements = list(root.iter(_LINK_TAGS))
    anchors = [(href, tag.get("rel") or "") for tag in elements if (href := tag.get("href")) is not None]
    metas = [(tag.get("name") or "", tag.get("http-equiv") or "", tag.get("content") or "")
             for tag in root.iter("meta")]
    parsed = _assemble(title, anchors, metas, base, encoding)
    # The tree is there: keeping it costs nothing (Markdown and --seo read it, not parsed twice).
    parsed.root, parsed.anchors, parsed.hrefs = root, elements, anchors
    return parsed


def _assemble(title: str | None, anchors: list[tuple[str, str]], metas: list[tuple[str, str, str]],
              base: str, encoding: str) -> Parsed:
    # Both parsers feed this one function, so they cannot disagree on what
    # a link, a nofollow or a meta refresh is.
    parsed = Parsed(title=title, base=base, encoding=encoding)
    refresh: list[str] = []
    for name, equiv, content in metas:
        if name.strip().lower() == "robots":
            words = {w.strip() for w in content.lower().split(",")}
            parsed.meta_nofollow |= "nofollow" in words or "none" in words
            parsed.noindex |= "noindex" in words or "none" in words
        elif equiv.strip().lower() == "refresh":
            target = refresh_url(content)
            if target:
                refresh.append(target)
    parsed.links, followed = _resolve_all(anchors + [(url, "") for url in refresh], base, encoding,
                                          parsed.resolved)
    parsed.nofollow = [link for link in parsed.links if link not in followed]
    return parsed


def _depth_exceeded() -> bool:
    # Parsing stops at that error, so it is the last one logged.
    error = _local.parser.error_log.last_error
    return error is not None and error.type == _ERR_RESOURCE_LIMIT


class _Collector:
    """An lxml parser target gathering what `_parse_lxml` reads from a tree."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.base: str | None = None
        self.anchors: list[tuple[str, str]] = []
        self.metas: list[tuple[str, str, str]] = []
        self._title: list[str] | None = None  # text of the first <title>, while inside it

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag in ("a", "area"):
            href = attrib.get("href")
            if href is not None:
                self.anchors.append((href, attrib.get("rel") or ""))
        elif tag == "meta":
            self.metas.append((attrib.get("name") or "", attrib.get("http-equiv") or "", attrib.get("content") or ""))
        elif tag == "base":
            if self.base is None:
                self.base = attrib.get("href")
        elif tag == "title" and self.title is None and self._title is None:
            self._title = []

    def data(self, text: str) -> None:
        if self._title is not None:
            self._title.append(text)

    def end(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.title = " ".join("".join(self._title).split())
            self._title = None

    def close(self) -> _Collector:
        return self


def _parse_events(utf8: bytes, url: str, encoding: str) -> Parsed:
    found = _Collector()
    # lxml calls only the target methods that exist; lxml-stubs' ParserTarget
    # wants comment() too, which would cost a call per comment for nothing.
    etree.fromstring(utf8, etree.HTMLParser(target=found, encoding="utf-8"))  # type: ignore[arg-type]
    base = url if found.base is None else urljoin(url, whatwg_href(found.base))
    return _assemble(found.title, found.anchors, found.metas, base, encoding)


def refresh_url(content: str) -> str | None:
    """The URL of a ``<meta http-equiv="refresh" content="0; url=...">``, or None.

    >>> refresh_url("0; URL='/next'")
    '/next'
    """
    _, sep, rest = content.partition(";")
    if not sep:
        _, sep, rest = content.partition(",")
    rest = rest.strip()
    if rest[:3].lower() == "url":
        rest = rest[3:].lstrip()
        if not rest.startswith("="):
            return None
        rest = rest[1:].strip()
    if rest[:1] in ("'", '"'):
        rest = rest[1:].split(rest[0], 1)[0]
    return rest.strip() or None


def _lxml_root(utf8: bytes) -> etree._Element | None:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.HTMLParser(encoding="utf-8")
    try:
        return etree.fromstring(utf8, parser)
    except etree.XMLSyntaxError:  # empty or white-space-only document
        return None


def choose_encoding(body: bytes, header_charset: str | None) -> str:
    """The Python codec to decode ``body`` with.

    A byte-order mark, then ``<meta charset>``, then the HTTP header's charset,
    then UTF-8 if the body is valid UTF-8, else windows-1252 (what browsers
    assume for an undeclared Western page). Labels map as browsers map them
    (WHATWG, via w3lib: ``iso-8859-1`` is windows-1252); unknown ones are skipped.
    """
    bom_encoding = read_bom(body[:4])[0]
    if bom_encoding:
        return resolve_encoding(bom_encoding) or bom_encoding
    declared = html_body_declared_encoding(body[:4096])
    for label in (declared, header_charset):
        name = resolve_encoding(label) if label else None
        if name:
            return "utf-8" if name in ("utf-8", "utf_8") else name
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _title(soup: BeautifulSoup) -> str | None:
    tag = soup.find("title")
    if tag is None:
        return None
    # Collapse the white space a template leaves around and inside titles.
    return " ".join(tag.get_text().split())


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if base is not None:
        href = whatwg_href(str(base["href"]))
        if href:
            return urljoin(url, href)
    return url


def resolve_links(hrefs: Iterable[str], base: str, encoding: str = "utf-8") -> list[str]:
    """Canonical http(s) URLs of ``hrefs`` against ``base``, first occurrence order, no duplicates."""
    return _resolve_all([(href, "") for href in hrefs], base, encoding)[0]


def _resolve_all(anchors: list[tuple[str, str]], base: str, encoding: str,
                 memo: dict[str, str | None] | None = None) -> tuple[list[str], set[str]]:
    # -> (every distinct link in first-occurrence order, the links reached
    # at least once without rel="nofollow"); each distinct href resolved once
    # (into ``memo``, when given).
    if memo is None:
        memo = {}
    links: list[str] = []
    seen: set[str] = set()
    followed: set[str] = set()
    for href, rel in anchors:
        if href in memo:  # resolve_link strips and cleans what it resolves
            link = memo[href]
        else:
            link = memo[href] = resolve_link(base, href, encoding)
        if link is None:
            continue
        if link not in seen:
            seen.add(link)
            links.append(link)
        if not rel or "nofollow" not in rel.lower().split():
            followed.add(link)
    return links, followed


@lru_cache(maxsize=8192)
def _join_dir(directory: str, href: str) -> str:
    # An href urljoin takes is cleaned first (as browsers do): "a\\b" is "a/b".
    return _join_plain(directory, href) or urljoin(directory, whatwg_href(href))


_PLAIN_RELATIVE = re.compile(r"(?:\.\.?/)*[^:?#\\\s]*")


def _join_plain(directory: str, href: str) -> str | None:
    """``urljoin(directory, href)`` for the usual relative link: leading ``./``
    and ``../`` then plain segments; None for anything else (urljoin decides).
    ``directory`` ends with "/" (a page's URL up to its last slash)."""
    if not _PLAIN_RELATIVE.fullmatch(href):
        return None
    up = 0
    while True:
        if href.startswith("./"):
            href = href[2:]
        elif href.startswith("../"):
            href = href[3:]
            up += 1
        else:
            break
    if href in (".", "..") or href.startswith("/") or "/./" in f"/{href}/" or "/../" in f"/{href}/" or "//" in href:
        return None  # dot segments or empty ones further in: rare, urljoin resolves them
    root = directory.find("/", directory.find("//") + 2)
    if root < 0:
        return None
    path = directory[root:]
    if "//" in path or "/./" in path or "/../" in path:
        return None
    for _ in range(up):
        if path == "/":
            break  # "../" above the root stays at the root (RFC 3986 5.2.4)
        path = path[: path.rstrip("/").rfind("/") + 1]
    return directory[:root] + path + href


def resolve_link(base: str, href: str, encoding: str = "utf-8") -> str | None:
    """``href`` made absolute against ``base`` and canonical, or None if not http(s).

    ``href`` is read as browsers read it on a page served over http(s) (the
    URL standard: `crawler.urls.whatwg_href`). The usual links take the fast
    paths below as they are; what is left to clean, normalize_url cleans.
    ``encoding`` is the page's: browsers percent-encode a link's query in it.
    """
    scheme_end = href.find(":")
    if href.startswith("/"):
        # Before the scheme test: "//host:port/…" has a ":" too.
        second = href[1:2]
        if second not in _SECOND_SLASH:
            absolute = origin_of(base) + href
        elif second != "/":  # "/\\h", "/\t/h": a host may follow, once cleaned
            absolute = urljoin(base, whatwg_href(href))
        elif href.startswith("/", 2):  # "///h/x": the URL standard skips every slash before the host
            absolute = base[: base.find(":") + 3] + href.lstrip("/")
        else:
            absolute = base[: base.find(":") + 1] + href
    elif scheme_end > 0:
        scheme = href[:scheme_end].lower()
        if scheme in ("http", "https"):
            if href.startswith("//", scheme_end + 1) and not href.startswith("/", scheme_end + 3):
                absolute = href  # the common absolute link skips urljoin
            else:
                rest = whatwg_href(href[scheme_end + 1:])
                if base.startswith(scheme + ":") and not rest.startswith("//"):
                    # "http:x" on an http page is relative to it (the URL standard; urljoin agrees).
                    absolute = urljoin(base, rest)
                else:  # "https:h/x" on an http page, "http:///h/x": the host follows, after any slashes
                    absolute = f"{scheme}://{rest.lstrip('/')}"
        elif scheme.isalpha() and "/" not in href[:scheme_end]:
            return None  # javascript:, mailto:, tel:, data: …
        else:
            absolute = urljoin(base, whatwg_href(href))
    elif href.startswith("#"):
        absolute = base  # the page itself: the canonical form drops the fragment
    elif href and href[0] > " " and href[0] != "?" and "?" not in base and base.count("/") > 2:
        # A relative path depends only on the base's directory, which pages
        # of one directory share: cache the join per directory. (A base with
        # no path at all, "http://h" from a <base href>, has no directory to cut.)
        absolute = _join_dir(base[: base.rfind("/") + 1], href)
    else:
        absolute = urljoin(base, whatwg_href(href))
    try:
        return normalize_url(absolute, encoding)
    except ValueError:
        return None


#: What, second in an href beginning with "/", makes it a scheme-relative one (once cleaned).
_SECOND_SLASH = frozenset("/\\\t\n\r")
