"""HTML parsing with BeautifulSoup on lxml: title, links, and the soup itself.

BeautifulSoup gets the raw bytes, decoded with the first of: a byte-order
mark, ``<meta charset>``, the HTTP header's charset, then its own detection.
Decoding with ``response.text`` first would use requests' slower, often wrong
guess.

When nobody needs the whole tree (no ``extract`` hook, no selectors) a
`SoupStrainer` keeps only the tags we read, which halves parse time.
"""

from __future__ import annotations

import codecs
import warnings
from dataclasses import dataclass, field
from urllib.parse import urljoin

from bs4 import BeautifulSoup, SoupStrainer, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector

from .urls import normalize_url

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_STRAINER = SoupStrainer(["a", "area", "base", "title", "meta"])
_LINK_TAGS = ["a", "area"]

# Pages served as text/html that are really XML (feeds, sitemaps) are common;
# parsing them as HTML is what we want, so the warning is noise.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)


@dataclass(slots=True)
class Parsed:
    """What a page yields: its title, its canonical http(s) links, and the soup."""

    title: str | None = None
    links: list[str] = field(default_factory=list)
    soup: BeautifulSoup | None = None


def is_html(content_type: str | None) -> bool:
    """True for the media types we parse."""
    return content_type in HTML_TYPES


def parse_html(body: bytes, url: str, charset: str | None = None, full: bool = False) -> Parsed:
    """Parse ``body`` (fetched from ``url``) for its title and links.

    ``full`` keeps the whole tree in ``Parsed.soup`` (for ``extract`` hooks
    and selectors); otherwise only the tags we read are built.

    >>> p = parse_html(b"<title> Hi </title><a href='/a#x'>a</a><a href='mailto:x@y'>", "http://h/")
    >>> p.title, p.links
    ('Hi', ['http://h/a'])
    """
    soup = BeautifulSoup(
        body,
        "lxml",
        parse_only=None if full else _STRAINER,
        from_encoding=choose_encoding(body, charset),
    )
    base = _base_url(soup, url)
    return Parsed(title=_title(soup), links=extract_links(soup, base), soup=soup if full else None)


def choose_encoding(body: bytes, header_charset: str | None) -> str | None:
    """The encoding to decode ``body`` with: BOM, then ``<meta>``, then the HTTP header.

    None lets BeautifulSoup detect it. A declaration naming an encoding
    Python does not know is skipped.
    """
    bom_encoding = EncodingDetector.strip_byte_order_mark(body[:4])[1]
    if bom_encoding:
        return bom_encoding
    declared = EncodingDetector.find_declared_encoding(body[:4096], is_html=True, search_entire_document=False)
    for name in (declared, header_charset):
        if name and _known(name):
            return name
    return None


def _known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _title(soup: BeautifulSoup) -> str | None:
    tag = soup.find("title")
    if tag is None:
        return None
    # Collapse the white space a template leaves around and inside titles.
    return " ".join(tag.get_text().split())


def _base_url(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if base is not None:
        href = str(base["href"]).strip()
        if href:
            return urljoin(url, href)
    return url


def extract_links(soup: BeautifulSoup, base: str) -> list[str]:
    """Canonical http(s) links of ``<a href>`` and ``<area href>``, first occurrence order."""
    seen_href: set[str] = set()
    seen: set[str] = set()
    links: list[str] = []
    for tag in soup.find_all(_LINK_TAGS, href=True):
        href = str(tag["href"]).strip()
        if href in seen_href:
            continue
        seen_href.add(href)
        link = resolve_link(base, href)
        if link is not None and link not in seen:
            seen.add(link)
            links.append(link)
    return links


def resolve_link(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base`` and canonical, or None if not http(s)."""
    scheme_end = href.find(":")
    if scheme_end > 0:
        # javascript:, mailto:, tel:, data: … never reach urljoin.
        scheme = href[:scheme_end].lower()
        if scheme.isalpha() and scheme not in ("http", "https") and "/" not in href[:scheme_end]:
            return None
    try:
        return normalize_url(urljoin(base, href))
    except ValueError:
        return None
