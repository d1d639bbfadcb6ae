"""Sitemap parsing (sitemaps.org): URL sets, sitemap indexes, gzip, plain text.

Sitemaps come from servers we do not trust, so the XML parser never
resolves entities, never loads a DTD and never touches the network: a
"billion laughs" document stays a few kilobytes and fails to parse instead
of expanding. Sizes are capped before and after decompression.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lxml import etree

#: sitemaps.org: at most 50,000 URLs and 50 MB (uncompressed) per sitemap.
MAX_BYTES = 50 * 1024 * 1024
MAX_URLS = 50_000
_GZIP_MAGIC = b"\x1f\x8b"


class SitemapError(ValueError):
    """A sitemap that cannot be read (malformed, too large, an XML bomb)."""


@dataclass(slots=True)
class Sitemap:
    """What one sitemap lists: page URLs (with ``<lastmod>``) or, for an index, sitemaps."""

    urls: list[str] = field(default_factory=list)
    lastmods: list[float | None] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(body: bytes, max_bytes: int = MAX_BYTES) -> Sitemap:
    """Parse a sitemap's bytes (gzipped or not, XML or plain text); raises `SitemapError`."""
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, max_bytes)
    if len(body) > max_bytes:
        raise SitemapError(f"larger than {max_bytes} bytes")
    text_start = body.lstrip()[:1]
    if text_start and text_start != b"<":
        return _plain_text(body)
    return _xml(body)


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    # Decompress at most max_bytes + 1: a gzip bomb stops there.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise SitemapError(f"bad gzip data: {exc}") from None
    if len(out) > max_bytes:
        raise SitemapError(f"larger than {max_bytes} bytes once decompressed")
    return out


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def _xml(body: bytes) -> Sitemap:
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"not valid XML: {exc}") from None
    if root is None:
        raise SitemapError("empty document")
    if any(isinstance(node, etree._Entity) for node in root.iter()):
        # An unexpanded entity reference: the document relies on a DTD's
        # entities (the shape of an entity-expansion bomb). No sitemap needs one.
        raise SitemapError("entity references are not allowed in a sitemap")
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap (root element <{kind}>)")
    out = Sitemap()
    child = "url" if kind == "urlset" else "sitemap"
    for entry in root:
        if not isinstance(entry.tag, str) or etree.QName(entry).localname != child:
            continue
        loc = lastmod = None
        for part in entry:
            if not isinstance(part.tag, str):
                continue
            name = etree.QName(part).localname
            if name == "loc":
                loc = (part.text or "").strip()
            elif name == "lastmod":
                lastmod = (part.text or "").strip()
        if not loc:
            continue
        if kind == "sitemapindex":
            out.sitemaps.append(loc)
        else:
            out.urls.append(loc)
            out.lastmods.append(parse_lastmod(lastmod))
        if len(out.urls) + len(out.sitemaps) >= MAX_URLS:
            break
    return out


def _plain_text(body: bytes) -> Sitemap:
    out = Sitemap()
    for line in body.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith(("http://", "https://")):
            out.urls.append(line)
            out.lastmods.append(None)
            if len(out.urls) >= MAX_URLS:
                break
    return out


def parse_lastmod(text: str | None) -> float | None:
    """A W3C datetime (``2024-05-01``, ``2024-05-01T10:00:00+02:00``) as a Unix time, or None."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()
