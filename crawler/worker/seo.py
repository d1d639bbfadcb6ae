"""``--seo`` fields, read from a page's lxml tree in the worker that parsed it.

Only runs when ``--seo`` is on: a plain crawl never walks the tree for
visible text. Field names and order are `crawler.page.SEO_FIELDS`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, cast

from lxml import etree

from .parse import resolve_link

#: Elements whose text a reader never sees.
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "math"})
#: Longest text kept in a field (a 5 MB meta description would make unreadable cells).
TEXT_MAX = 1000
_WORD = re.compile(r"\w+", re.UNICODE)


def seo_fields(root: etree._Element | None, base: str, redirects: list[str]) -> dict[str, Any]:
    """The ``--seo`` fields of a page whose tree is ``root`` (links resolved against ``base``).

    Strips the tree's invisible parts on its way (`take_words`): call it after anything else that reads it.

    >>> from lxml import etree
    >>> root = etree.fromstring(b"<html lang=en><h1> Hi  there</h1><p>one two</p></html>", etree.HTMLParser())
    >>> f = seo_fields(root, "http://h/", [])
    >>> f["lang"], f["h1"], f["word_count"], len(f["content_hash"])
    ('en', 'Hi there', 4, 16)
    """
    fields = empty_fields(redirects)
    if root is None:
        return fields
    fields["lang"] = _clean(root.get("lang")) if root.tag == "html" else None
    hreflang: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = link.get("href")
        if href is None:
            continue
        if "canonical" in rel and fields["canonical"] is None:
            fields["canonical"] = resolve_link(base, href.strip())
        elif "alternate" in rel and link.get("hreflang"):
            target = resolve_link(base, href.strip())
            if target is not None:
                hreflang.append(f"{link.get('hreflang', '').strip()}={target}")
    fields["hreflang"] = hreflang
    for meta in root.iter("meta"):
        key = (meta.get("name") or meta.get("property") or "").strip().lower()
        content = meta.get("content")
        if content is None:
            continue
        if key == "description" and fields["meta_description"] is None:
            fields["meta_description"] = _clean(content)
        elif key == "og:title" and fields["og_title"] is None:
            fields["og_title"] = _clean(content)
        elif key == "og:image" and fields["og_image"] is None:
            fields["og_image"] = resolve_link(base, content.strip()) or _clean(content)
    for h1 in root.iter("h1"):
        fields["h1"] = _clean("".join(cast("Iterator[str]", h1.itertext())))
        break
    words = take_words(root)  # last: it strips the tree
    fields["word_count"] = len(words)
    fields["content_hash"] = f"{simhash(words):016x}"
    return fields


def empty_fields(redirects: list[str] | None = None) -> dict[str, Any]:
    """The ``--seo`` fields of a page that was not parsed (an error, not HTML), in order."""
    return {"canonical": None, "meta_description": None, "h1": None, "lang": None, "hreflang": None,
            "og_title": None, "og_image": None, "word_count": None, "content_hash": None,
            "redirects": list(redirects or ())}


def take_words(root: etree._Element) -> list[str]:
    """The visible text's words, lower-cased: what ``word_count`` counts and ``content_hash`` hashes.

    Takes the invisible parts (scripts, styles, the head, comments) out of the
    tree itself, which is 2x faster than leaving them and filtering the text:
    call it last, once nothing else reads the tree.
    """
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, *_INVISIBLE, with_tail=False)
    return _WORD.findall(" ".join(cast("Iterator[str]", root.itertext())).lower())


def simhash(features: list[str]) -> int:
    """Charikar's 64-bit SimHash of ``features`` (a page's words, repeats counting as weight):
    similar texts give hashes a few bits apart.

    Each feature's 64-bit hash votes +1/-1 on each bit; the sign of each
    bit's total is the hash's bit. Each distinct word is hashed once per
    process (`_digest`'s cache): words repeat across a site's pages. The votes are counted in C, not in a
    Python loop over 64 bits per feature: the hashes' bytes at each of the 8
    positions are tallied (a `Counter` of a bytes slice), and each tally
    adds to big-integer lanes (one 32-bit counter per bit of the hash).

    >>> simhash([]) == 0, simhash(["a b c"]) == simhash(["a b c"])
    (True, True)
    """
    if not features:
        return 0
    joined = b"".join(map(_digest, features))
    result = 0
    for position in range(8):  # big-endian: byte 0 holds bits 63..56
        total = 0
        for byte, count in Counter(joined[position::8]).items():
            total += _LANES[byte] * count
        for bit in range(8):
            # a bit set by more than half of the features is set in the hash
            if 2 * ((total >> (bit * _LANE_BITS)) & _LANE_MASK) > len(features):
                result |= 1 << ((7 - position) * 8 + bit)
    return result


@lru_cache(maxsize=1 << 16)
def _digest(feature: str) -> bytes:
    return hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()


_LANE_BITS = 32
_LANE_MASK = (1 << _LANE_BITS) - 1
#: _LANES[b]: byte b as a 1 in the 32-bit lane of each of its set bits.
_LANES = [sum(1 << (bit * _LANE_BITS) for bit in range(8) if byte >> bit & 1) for byte in range(256)]


def hamming(a: str, b: str) -> int:
    """Bits that differ between two ``content_hash`` values (16 hex digits each)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > TEXT_MAX:
        text = text[: TEXT_MAX - 1] + "\u2026"
    return text or None
