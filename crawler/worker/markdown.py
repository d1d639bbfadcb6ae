"""A page's main content (or whole body) as CommonMark, for ``--markdown``, ``--markdown-dir`` and ``--chunks``.

`page_markdown` is a pure function of the lxml tree and the page's URL, so
the worker calls it on the tree it already parsed for title and links, and
`html_markdown` does the same from the bytes (an archive's record, a test):
same input, same Markdown, wherever it runs.

Output: ATX headings, paragraphs, lists (nested), GFM tables, fenced code
blocks, block quotes, emphasis, code spans; links as numbered references
(``[text][3]``) with the reference list at the end, so the text reads as
prose. An element that holds no text gives nothing, so a page that is all
boilerplate gives None, never its navigation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import quote, urljoin

from lxml import etree

from .maincontent import SKIPPED_TAGS, is_boilerplate, is_hidden, main_node, tag_of, text_length

CONTENT_MODES = ("main", "full")

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
#: Elements that start a block of their own (everything else flows inline).
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup",
    "hr", "html", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul", "caption", "legend", "search",
})
_EMPHASIS = {"em": "*", "i": "*", "cite": "*", "dfn": "*", "var": "*", "strong": "**", "b": "**",
             "del": "~~", "s": "~~", "strike": "~~"}
_CODE = frozenset({"code", "kbd", "samp", "tt"})
#: Lists and generic containers made mostly of link text are menus, not content.
_LINK_LISTS = frozenset({"ul", "ol", "div", "section", "dl", "table", "menu"})
_MAX_LINK_SHARE = 0.6
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_IMAGE_SCHEMES = ("http://", "https://")
_LANG = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")

_BREAK = "\x00"  # a <br> until the paragraph's white space is collapsed
_SPACES = re.compile(r"[ \t\n\r\f\v]+")
_ESCAPE = re.compile(r"([\\`*\[\]<])|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|&(?=#?\w+;)")
_SPECIAL = re.compile(r"[\\`*\[\]<_&]")
_LINE_START = re.compile(r"^(?:([#>+=~|-])|(\d{1,9})([.)]))(?=\s|$)")
_BACKTICKS = re.compile(r"`+")
_CODE_LANG = re.compile(r"(?:^|\s)(?:language|lang)-([\w+#.-]+)")


@dataclass(frozen=True, slots=True)
class Text:
    """A page as Markdown (None when it has no text) and its declared language."""

    markdown: str | None
    lang: str | None = None


def page_markdown(root: etree._Element | None, url: str, content: str = "main") -> Text:
    """The Markdown of a parsed page: its main content, or its whole body with ``content="full"``.

    ``url`` is the page's final URL: links resolve against it (or its ``<base href>``).

    >>> from lxml import html
    >>> page_markdown(html.fromstring("<main><h1>Hi</h1><p>A <em>b</em> <a href='/c'>c</a>.</p></main>"),
    ...               "http://h/").markdown
    '# Hi\\n\\nA *b* [c][1].\\n\\n[1]: http://h/c\\n'
    """
    if root is None:
        return Text(None)
    container = root if content == "full" else main_node(root)
    converter = _Converter(_base(root, url), content == "main", text_length(container))
    body = _join(converter.blocks(container))
    if not body.strip():
        return Text(None, lang_of(root))
    refs = "".join(f"[{n}]: {_destination(link)}\n" for n, link in enumerate(converter.links, 1))
    return Text(body + "\n" + ("\n" + refs if refs else ""), lang_of(root))


def html_markdown(body: bytes, url: str, charset: str | None = None, content: str = "main") -> Text:
    """`page_markdown` of raw HTML bytes, decoded as the crawl decodes pages (for archives and tests)."""
    from .parse import parse_tree

    return page_markdown(parse_tree(body, charset), url, content)


def lang_of(root: etree._Element) -> str | None:
    """The page's language tag (``<html lang>``, else ``Content-Language`` meta), or None."""
    candidates = [root.get("lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += [meta.get("content") for meta in root.iter("meta")
                   if (meta.get("http-equiv") or "").strip().lower() == "content-language"]
    for value in candidates:
        if value:
            match = _LANG.match(value.strip())
            if match:
                return match.group(0)
    return None


def _base(root: etree._Element, url: str) -> str:
    for tag in root.iter("base"):
        href = tag.get("href")
        if href is not None:
            try:
                return urljoin(url, href.strip())
            except ValueError:  # an unparsable <base href> is ignored, as browsers do
                return url
    return url


def _destination(link: str) -> str:
    # Percent-encoded: a destination with spaces, angle brackets or unbalanced parentheses breaks the definition.
    return quote(link, safe="%/:=&?~#+!$,;'@*[]")


def _join(blocks: list[tuple[str, str]]) -> str:
    return "\n\n".join(text for _, text in blocks if text)


def escape(text: str) -> str:
    """``text`` with the characters Markdown would read as markup backslash-escaped."""
    return _ESCAPE.sub(r"\\\g<0>", text) if _SPECIAL.search(text) else text


def _escape_line_start(line: str) -> str:
    match = _LINE_START.match(line)
    if match is None:
        return line
    if match.group(1):
        return "\\" + line
    end = match.end(2)
    return line[:end] + "\\" + line[end:]


class _Converter:
    """Turns one container element into Markdown blocks; collects the link references."""

    def __init__(self, base: str, main: bool, container_text: int) -> None:
        self.base = base
        self.main = main
        self.container_text = container_text
        self.links: list[str] = []
        self._numbers: dict[str, int] = {}

    # -- blocks ------------------------------------------------------------------
    def blocks(self, element: etree._Element) -> list[tuple[str, str]]:
        """The blocks of ``element``'s children: (kind, Markdown) pairs."""
        out: list[tuple[str, str]] = []
        inline: list[str] = [_text(element.text)]
        for child in element:
            tag = tag_of(child)
            if tag is not None and self._dropped(child, tag):
                pass
            elif tag in _BLOCK_TAGS:
                self._paragraph(inline, out)
                inline = []
                # Two lists in a row would read as one: the second takes the other marker.
                out.extend(self.block(child, tag, alternate=bool(out) and out[-1][0] == "list"))
            elif tag is not None:
                inline.append(self.inline(child, tag))
            inline.append(_text(child.tail))
        self._paragraph(inline, out)
        return out

    def _dropped(self, element: etree._Element, tag: str) -> bool:
        if tag in SKIPPED_TAGS:
            return True
        # Most elements have no attribute at all: the checks that read them are skipped.
        attributes = bool(element.keys())
        if attributes and is_hidden(element):
            return True
        if not self.main:
            return False
        if is_boilerplate(element, tag, self.container_text, attributes):
            return True
        return tag in _LINK_LISTS and _mostly_links(element)

    def _paragraph(self, inline: list[str], out: list[tuple[str, str]]) -> None:
        text = _collapse("".join(inline))
        if text:
            out.append(("p", text))

    def block(self, element: etree._Element, tag: str, alternate: bool = False) -> list[tuple[str, str]]:
        """The Markdown blocks of one block-level element (``alternate``: a list's other marker)."""
        if tag in _HEADINGS:
            text = _collapse(self._inline_children(element)).replace("\\\n", " ")
            return [("h", "#" * _HEADINGS[tag] + " " + text)] if text else []
        if tag in ("ul", "ol", "menu"):
            return self._list(element, tag == "ol", alternate)
        if tag == "pre":
            return [("pre", _fence(element))]
        if tag == "blockquote":
            inner = _join(self.blocks(element))
            return [("quote", "\n".join("> " + line if line else ">" for line in inner.split("\n")))] \
                if inner else []
        if tag == "table":
            return self._table(element)
        if tag == "hr":
            return [("hr", "* * *")]
        if tag == "dt":
            text = _collapse(self._inline_children(element))
            return [("p", f"**{text}**")] if text else []
        return self.blocks(element)

    def _list(self, element: etree._Element, ordered: bool, alternate: bool) -> list[tuple[str, str]]:
        start = _int(element.get("start"), 1) if ordered else 1
        items: list[str] = []
        for child in element:
            tag = tag_of(child)
            if tag is None or self._dropped(child, tag):
                continue
            blocks = self.blocks(child) if tag == "li" else self.block(child, tag) if tag in _BLOCK_TAGS \
                else [("p", _collapse(self.inline(child, tag)))]
            blocks = [block for block in blocks if block[1]]
            if not blocks:
                continue
            if ordered:
                marker = f"{start + len(items)}{')' if alternate else '.'} "
            else:
                marker = "* " if alternate else "- "
            text = blocks[0][1]
            for kind, more in blocks[1:]:
                # A nested list keeps the outer list tight; anything else needs a blank line.
                text += ("\n" if kind.startswith("list") else "\n\n") + more
            pad = " " * len(marker)
            items.append(marker + "\n".join(pad + line if line and i else line
                                            for i, line in enumerate(text.split("\n"))))
        return [("list*" if alternate else "list", "\n".join(items))] if items else []

    def _table(self, element: etree._Element) -> list[tuple[str, str]]:
        rows: list[list[str]] = []
        for row in _rows(element):
            cells: list[str] = []
            for cell in row:
                tag = tag_of(cell)
                if tag not in ("td", "th"):
                    continue
                text = _collapse(self._inline_children(cell)).replace("\\\n", " ").replace("|", "\\|")
                cells.append(text)
                span = cell.get("colspan")
                if span is not None:
                    cells.extend([""] * (min(_int(span, 1), 50) - 1))
            if any(cells):
                rows.append(cells)
        width = max((len(row) for row in rows), default=0)
        if width < 2:
            # A one-column "table" lays a page out; its cells are blocks, not data.
            return self.blocks(element)
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
        lines.insert(1, "|" + " --- |" * width)
        return [("table", "\n".join(lines))]

    # -- inline ------------------------------------------------------------------
    def _inline_children(self, element: etree._Element) -> str:
        parts = [_text(element.text)]
        for child in element:
            tag = tag_of(child)
            if tag is not None and not (tag in SKIPPED_TAGS or is_hidden(child)):
                text = self.inline(child, tag)
                # A block inside inline content (a <div> in a link) is at least a word break.
                parts.append(f" {text} " if tag in _BLOCK_TAGS else text)
            parts.append(_text(child.tail))
        return "".join(parts)

    def inline(self, element: etree._Element, tag: str) -> str:
        """The Markdown of one inline element."""
        if tag == "br":
            return _BREAK
        if tag in _CODE:
            return _code_span("".join(cast("Iterator[str]", element.itertext())))
        if tag == "img":
            return self._image(element)
        inner = self._inline_children(element)
        if tag == "a":
            return self._link(element, inner)
        mark = _EMPHASIS.get(tag)
        if mark is None or not inner.strip():
            return inner
        # Delimiters must touch the text they wrap: "<em> x </em>" is " *x* ".
        stripped = inner.strip(" \t\n\r\f\v" + _BREAK)
        lead, trail = inner[: len(inner) - len(inner.lstrip())], inner[len(inner.rstrip()):]
        return f"{lead}{mark}{stripped}{mark}{trail}"

    def _link(self, element: etree._Element, inner: str) -> str:
        text = _collapse(inner)
        href = (element.get("href") or "").strip()
        if href.startswith("#") and not any(char.isalnum() for char in text):
            return ""  # a heading's permalink ("¶", "#"): a mark for the eye, not text
        if not text or not href or href.startswith("#"):
            return inner  # in-page anchors and links without text read as plain text
        target = _resolve(self.base, href)
        if target is None:
            return inner
        return f"[{text}][{self._number(target)}]"

    def _image(self, element: etree._Element) -> str:
        alt = _collapse(_text(element.get("alt")))
        src = (element.get("src") or "").strip()
        if not alt or not src or src.startswith("data:"):
            return ""  # decorative (no alt) or inline data: nothing a reader of the text misses
        target = _resolve(self.base, src, _IMAGE_SCHEMES)
        return alt if target is None else f"![{alt}][{self._number(target)}]"

    def _number(self, target: str) -> int:
        number = self._numbers.get(target)
        if number is None:
            self.links.append(target)
            number = self._numbers[target] = len(self.links)
        return number


@lru_cache(maxsize=4096)
def _resolve(base: str, href: str, schemes: tuple[str, ...] = _LINK_SCHEMES) -> str | None:
    # Pages of a site share most of their links: each is resolved once per process.
    try:
        target = href if href.startswith(("http://", "https://")) else urljoin(base, href)
    except ValueError:  # "//[::1" and the like: the link is text, the page is fine
        return None
    return target if target.lower().startswith(schemes) else None


def _rows(table: etree._Element) -> Iterator[etree._Element]:
    # The table's own rows (directly or in thead/tbody/tfoot), not those of a nested table.
    for child in table:
        tag = tag_of(child)
        if tag == "tr":
            yield child
        elif tag in ("thead", "tbody", "tfoot"):
            for row in child:
                if tag_of(row) == "tr":
                    yield row


def _mostly_links(element: etree._Element) -> bool:
    total = text_length(element)
    if total == 0:
        return False
    linked = sum(text_length(a) for a in element.iter("a"))
    return linked > total * _MAX_LINK_SHARE


def _text(text: str | None) -> str:
    return escape(text) if text else ""


def _collapse(text: str) -> str:
    """Inline Markdown with HTML's white-space collapsing, hard breaks made, line starts escaped."""
    # str.split() is many times faster than a regex here; it also folds the rarer
    # Unicode spaces (no-break space…), which is what a reader of the text wants.
    text = " ".join(text.split())
    if _BREAK not in text:
        return _escape_line_start(text)
    lines = [line.strip(" ") for line in text.split(_BREAK)]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\\\n".join(_escape_line_start(line) for line in lines if line)


def _code_span(code: str) -> str:
    code = _SPACES.sub(" ", code)
    if not code.strip():
        return ""
    ticks = "`" * (max((len(run) for run in _BACKTICKS.findall(code)), default=0) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{ticks}{pad}{code}{pad}{ticks}"


def _fence(pre: etree._Element) -> str:
    code = "".join(cast("Iterator[str]", pre.itertext())).strip("\n")
    classes = " ".join(el.get("class") or "" for el in (pre, *pre.iter("code")))
    match = _CODE_LANG.search(classes)
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS.findall(code)), default=0) + 1)
    return f"{fence}{match.group(1) if match else ''}\n{code}\n{fence}"


def _int(value: str | None, default: int) -> int:
    try:
        number = int((value or "").strip())
    except ValueError:
        return default
    return number if number >= 0 else default
