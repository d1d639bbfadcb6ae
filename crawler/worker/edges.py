"""Every link occurrence of a page and its fragment targets, read from its lxml tree.

Only runs for ``crawler check``, ``--links`` and ``--report`` (which keep the
crawl's link graph); a plain crawl reads links in `crawler.worker.parse` alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast
from urllib.parse import unquote

from lxml import etree

from ..page import Edge
from .parse import resolve_link

#: The tags whose links are checked, and the attribute each links with.
LINK_TAGS = {"a": "href", "area": "href"}
ASSET_TAGS = {"img": "src", "script": "src", "link": "href", "iframe": "src"}
#: Longest anchor text kept (a whole article inside an <a> is not a label).
TEXT_MAX = 200


def page_edges(root: etree._Element | None, base: str, encoding: str = "utf-8", assets: bool = False,
               resolved: dict[str, str | None] | None = None, anchors: Sequence[etree._Element] | None = None,
               texts: bool = True) -> tuple[list[Edge], list[str]]:
    """The link occurrences of a page (document order, every one kept) and its fragment names.

    Fragment names are each element's ``id`` and each ``<a name>``.
    What the parse already has saves reading it again
    (`crawler.worker.parse.Parsed`): ``resolved``, hrefs resolved against
    ``base`` (it gains the others); ``anchors``, every ``<a>`` and
    ``<area>`` of ``root`` in document order (used unless ``assets``).
    Without ``texts`` every anchor text is "" (nothing will show it).

    >>> root = etree.fromstring(b"<p id=top><a href='/x#s' rel=nofollow> Go  <b>on</b></a></p>", etree.HTMLParser())
    >>> page_edges(root, "http://h/")
    ([('http://h/x', 's', 'Go on', 'a', True)], ['top'])
    """
    if root is None:
        return [], []
    tags = {**LINK_TAGS, **ASSET_TAGS} if assets else LINK_TAGS
    edges: list[Edge] = []
    names: list[str] = cast("list[str]", _IDS(root))
    if resolved is None:
        resolved = {}  # a page repeats its hrefs (menus, pagers)
    # lxml filters by tag in C: only the link elements reach Python.
    for element in root.iter(*tags) if anchors is None or assets else anchors:
        tag = element.tag
        attr = tags[tag] if isinstance(tag, str) else None
        if tag == "a":
            name = element.get("name")
            if name:
                names.append(name)
        href = element.get(attr) if attr else None
        if href is None or (tag == "link" and not _checked_link(element)):
            continue
        if href in resolved:
            target = resolved[href]
        else:
            target = resolved[href] = resolve_link(base, href, encoding)
        if target is None:
            continue
        _, sep, fragment = href.partition("#")
        if not texts:
            text = ""
        elif tag == "img":
            text = " ".join((element.get("alt") or "").split())
        else:
            text = _text(element)
        rel = (element.get("rel") or "").lower().split()
        edges.append((target, unquote(fragment) if sep and fragment else None, text, tag, "nofollow" in rel))
    return edges, list(dict.fromkeys(name for name in names if name))


#: Fragment targets: every id (then the name of each <a>, read with the links).
_IDS = etree.XPath("descendant-or-self::*/@id", smart_strings=False)


def _checked_link(element: etree._Element) -> bool:
    # <link rel=canonical/alternate/preconnect/dns-prefetch> name no resource the page loads.
    rel = set((element.get("rel") or "").lower().split())
    return bool(rel & {"stylesheet", "icon", "shortcut", "preload", "manifest", "apple-touch-icon"})


def _text(element: etree._Element) -> str:
    if len(element) == 0:  # most anchors hold one text node: 4x faster than walking itertext()
        own = element.text
        text = " ".join(own.split()) if own else ""
    else:
        text = " ".join("".join(cast("Iterator[str]", element.itertext())).split())
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "\u2026"


