"""Which part of a page is its main content, and which elements are boilerplate.

Works on the lxml tree the worker already parsed (`crawler.worker.parse`),
without changing it: `main_node` picks the element that holds the content,
and `is_boilerplate` tells the Markdown converter (`crawler.worker.markdown`)
which elements inside it to leave out (navigation, breadcrumbs, sidebars,
footers, cookie banners, share bars, hidden elements).

The choice follows what the page says first (``<main>``, ``role="main"``,
the ``<article>`` holding most of the text) and falls back on text density
(the element whose paragraphs hold the most text, as Readability does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

from lxml import etree

#: Never content, in any mode: code, styles, embedded objects, form controls.
SKIPPED_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object", "embed",
    "button", "input", "select", "textarea", "option", "head", "title", "meta", "link",
})
#: Boilerplate by its tag, in ``main`` mode.
BOILERPLATE_TAGS = frozenset({"nav", "aside", "footer", "dialog", "menu"})
#: ARIA roles of boilerplate landmarks and pop-ups.
BOILERPLATE_ROLES = frozenset({
    "navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog", "menu",
    "menubar", "toolbar",
})
#: Words of a class or id that mark boilerplate ("site-footer", "cookie_banner", "breadcrumbs").
BOILERPLATE_WORDS = frozenset({
    "nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "crumb", "crumbs", "sidebar",
    "footer", "cookie", "cookies", "consent", "gdpr", "share", "sharing", "social", "related", "promo",
    "advert", "advertisement", "ads", "sponsor", "sponsored", "popup", "modal", "newsletter", "subscribe",
    "skip", "toc", "comments", "pagination", "pager", "masthead", "topbar", "ad", "headerlink",
})
#: Whole class names of text meant for screen readers only ("Skip to content", "opens in a new tab").
SCREEN_READER_CLASSES = frozenset({"sr-only", "visually-hidden", "visuallyhidden", "screen-reader-text"})
_WORD_SPLIT = re.compile(r"[\s_\-]+")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
#: Paragraph-like elements whose text scores their parents (the density fallback).
_SCORED = ("p", "pre", "blockquote", "td", "dd", "li")
#: A class or id match is ignored when it would drop more than this share of the text:
#: "post-content has-toc" names the article, not a table of contents.
_MAX_DROPPED_SHARE = 0.5
#: The density fallback widens its pick to an ancestor with at most this much more content.
_MAX_WIDENING = 1.3


def tag_of(element: etree._Element) -> str | None:
    """The tag name, or None for comments and processing instructions (libxml2's HTML parser
    gives tag names in lower case)."""
    tag = element.tag
    return tag if isinstance(tag, str) else None


def text_length(element: etree._Element) -> int:
    """Characters of text under ``element`` (white space included)."""
    # Serialised by libxml2 in one call: a Python loop over itertext() cost more than the rest.
    return len(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


def is_hidden(element: etree._Element) -> bool:
    """True when the page hides the element from readers (``hidden``, ``aria-hidden``, display:none)."""
    if element.get("hidden") is not None or element.get("aria-hidden", "").strip().lower() == "true":
        return True
    style = element.get("style")
    return style is not None and _HIDDEN_STYLE.search(style) is not None


def _named_boilerplate(element: etree._Element) -> bool:
    role = element.get("role")
    if role is not None and role.strip().lower() in BOILERPLATE_ROLES:
        return True
    label = element.get("aria-label")
    if label is not None and "breadcrumb" in label.lower():
        return True
    for name in (element.get("class"), element.get("id")):
        if name and not BOILERPLATE_WORDS.isdisjoint(_WORD_SPLIT.split(name.lower())):
            return True
    classes = element.get("class")
    return classes is not None and not SCREEN_READER_CLASSES.isdisjoint(classes.lower().split())


def is_boilerplate(element: etree._Element, tag: str, container_text: int, attributes: bool = True) -> bool:
    """True for an element of the main container that is not content.

    ``container_text`` is `text_length` of the container: an element named
    like boilerplate that holds most of the text is the content after all.
    A ``<header>`` is the site's banner unless an article or main element
    holds it (there it holds the article's title). ``attributes=False`` says
    the element has none (nothing to read in them).
    """
    if tag in BOILERPLATE_TAGS:
        return True
    if tag == "header":
        return not any(tag_of(up) in ("article", "main") for up in element.iterancestors())
    if not attributes or not _named_boilerplate(element):
        return False
    return text_length(element) <= container_text * _MAX_DROPPED_SHARE


def main_node(root: etree._Element) -> etree._Element:
    """The element that holds the page's main content (the body when nothing stands out)."""
    body = _body(root)
    mains = [el for el in body.iter("main", "article", "div", "section")
             if (tag_of(el) == "main" or el.get("role", "").lower() == "main") and not is_hidden(el)]
    if mains:
        main = max(mains, key=text_length)
        # An empty or token <main> (the content beside it) does not count.
        if text_length(main) * 4 >= content_length(body):
            return main
    articles = [el for el in body.iter("article") if not is_hidden(el) and not _named_boilerplate(el)]
    if articles:
        lengths = [text_length(el) for el in articles]
        best = max(range(len(articles)), key=lengths.__getitem__)
        if lengths[best] >= 0.6 * sum(lengths):
            return articles[best]
    densest = _densest(body)  # an element's truth value is whether it has children: compare with None
    return body if densest is None else _widened(densest, body)


def _widened(node: etree._Element, body: etree._Element) -> etree._Element:
    """``node``'s ancestor that adds little content to it (the post's title beside its paragraphs).

    Boilerplate in the ancestors (comments, sidebars) does not count: the
    converter leaves it out anyway.
    """
    if node is body:
        return node
    length = content_length(node)
    parent = node.getparent()
    while parent is not None and parent is not body:
        wider = content_length(parent)
        if wider > length * _MAX_WIDENING:
            break
        node, length, parent = parent, wider, parent.getparent()
    return node


def content_length(element: etree._Element) -> int:
    """Characters of text under ``element`` outside boilerplate, hidden and skipped elements."""
    total = len(element.text or "")
    for child in element:
        tag = tag_of(child)
        if tag is not None and not (tag in SKIPPED_TAGS or tag in BOILERPLATE_TAGS or tag == "header"
                                    or is_hidden(child) or _named_boilerplate(child)):
            total += content_length(child)
        total += len(child.tail or "")
    return total


def _body(root: etree._Element) -> etree._Element:
    if tag_of(root) == "body":
        return root
    for body in root.iter("body"):
        return body
    return root


def _densest(body: etree._Element) -> etree._Element | None:
    """The element whose paragraphs hold the most text (Readability's scoring, simplified)."""
    scores: dict[etree._Element, float] = {}
    for para in body.iter(*_SCORED):
        if _in_boilerplate(para, body):
            continue
        text = " ".join("".join(cast("Iterator[str]", para.itertext())).split())
        if len(text) < 25:
            continue
        score = 1 + min(len(text) / 100, 3) + text.count(",")
        parent = para.getparent()
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0.0) + score
        grand = parent.getparent()
        if grand is not None:
            scores[grand] = scores.get(grand, 0.0) + score / 2
    if not scores:
        return None
    return max(scores, key=scores.__getitem__)


def _in_boilerplate(element: etree._Element, stop: etree._Element) -> bool:
    node: etree._Element | None = element
    while node is not None and node is not stop:
        tag = tag_of(node)
        if tag in BOILERPLATE_TAGS or tag == "header" or _named_boilerplate(node) or is_hidden(node):
            return True
        node = node.getparent()
    return False
