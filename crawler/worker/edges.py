"""Every link occurrence of a page and its fragment targets, read from its lxml tree.

Only runs for ``crawler check``, ``--links`` and ``--report`` (which keep the
crawl's link graph); a plain crawl reads links in `crawler.worker.parse` alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast
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
               texts: bool = True, hrefs: Sequence[tuple[str, str]] | None = None) -> tuple[list[Edge], list[str]]:
    """The link occurrences of a page (document order, every one kept) and its fragment names
    (`fragment_names`).

    What the parse already has saves reading it again
    (`crawler.worker.parse.Parsed`): ``resolved``, hrefs resolved against
    ``base`` (it gains the others); ``anchors``, every ``<a>`` and
    ``<area>`` of ``root`` in document order (used unless ``assets``);
    ``hrefs``, the (href, rel) of each of those with an href.
    Without ``texts`` every anchor text is "" (nothing will show it).

    >>> root = etree.fromstring(b"<p id=top><a href='/x#s' rel=nofollow> Go  <b>on</b></a></p>", etree.HTMLParser())
    >>> page_edges(root, "http://h/")
    ([('http://h/x', 's', 'Go on', 'a', True)], ['top'])
    """
    if root is None:
        return [], []
    tags = {**LINK_TAGS, **ASSET_TAGS} if assets else LINK_TAGS
    edges: list[Edge] = []
    if resolved is None:
        resolved = {}  # a page repeats its hrefs (menus, pagers)
    if hrefs is not None and not texts and not assets and next(root.iter("area"), None) is None:
        # All the links are <a>s, and the parse has read their hrefs and rels: no element
        # is visited again (~3x faster; lxml makes a new string for each attribute read).
        return _from_hrefs(hrefs, base, encoding, resolved), fragment_names(root)
    # lxml filters by tag in C: only the link elements reach Python.
    for element in root.iter(*tags) if anchors is None or assets else anchors:
        tag = element.tag
        attr = tags[tag] if isinstance(tag, str) else None
        href = element.get(attr) if attr else None
        if href is None or (tag == "link" and not _checked_link(element)):
            continue
        if not texts:
            text = ""
        elif tag == "img":
            text = " ".join((element.get("alt") or "").split())
        else:
            text = _text(element)
        edge = _edge(href, element.get("rel"), text, tag, base, encoding, resolved)
        if edge is not None:
            edges.append(edge)
    return edges, fragment_names(root)


def _from_hrefs(hrefs: Sequence[tuple[str, str]], base: str, encoding: str,
                resolved: dict[str, str | None]) -> list[Edge]:
    edges: list[Edge] = []
    for href, rel in hrefs:
        edge = _edge(href, rel, "", "a", base, encoding, resolved)
        if edge is not None:
            edges.append(edge)
    return edges


def _edge(href: str, rel: str | None, text: str, tag: str, base: str, encoding: str,
          resolved: dict[str, str | None]) -> Edge | None:
    """The link occurrence of ``href`` (None when it is no http(s) link), its target resolved once per page."""
    if href in resolved:
        target = resolved[href]
    else:
        target = resolved[href] = resolve_link(base, href, encoding)
    if target is None:
        return None
    _, sep, fragment = href.partition("#")
    nofollow = rel is not None and "nofollow" in rel.lower().split()
    return target, unquote(fragment) if sep and fragment else None, text, tag, nofollow


def fragment_names(root: etree._Element) -> list[str]:
    """What a ``#fragment`` link can point at on the page: each element's ``id`` and each ``<a name>``
    (sorted, once each).

    >>> fragment_names(etree.fromstring(b"<p id=top><a name=old><b name=no id=top>", etree.HTMLParser()))
    ['old', 'top']
    """
    if _ID_DICT is not None:
        # libxml2 registers exactly these as the HTML document's IDs while it
        # parses: reading its table costs ~2.5 µs a page, the XPath ~30.
        names: Iterable[str] = _ID_DICT(root).keys()
    else:
        names = cast("list[str]", _NAMES(root))
    return sorted({name for name in names if name})


#: lxml's view of a parsed document's ID table (what `etree.XMLDTDID` returns): not
#: in lxml's documented API, so the XPath below stands in if a release drops it.
_ID_DICT: Callable[[etree._Element], Mapping[str, Any]] | None = getattr(etree, "_IDDict", None)
_NAMES = etree.XPath("descendant-or-self::*/@id | descendant-or-self::a/@name", smart_strings=False)


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


