"""CSS selectors that add fields to every record (``--select``, ``--select-all``).

A selector is written ``NAME=CSS`` (the text of the first match, white space
collapsed as in ``title``; None when nothing matches) or ``NAME=CSS@ATTR``
(that attribute of the first match). ``--select-all`` gives the list of
every match instead. The main process parses and checks selectors once
(`Selector.parse`, `check_selectors`); each worker compiles them once
(`compile_selectors`) and runs them on a page's BeautifulSoup tree
(`run_selectors`).

soupsieve (and through it BeautifulSoup) is imported only when a selector is
checked or compiled, so a crawl without selectors never loads it.

>>> Selector.parse("img=img.logo@src")
Selector(name='img', css='img.logo', attr='src', many=False)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .page import RECORD_FIELDS

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# What may follow the last "@": an attribute name (data-id, xlink:href). An
# "@" inside the CSS itself (a[href$="@x.org"]) is followed by a quote or a
# bracket, so it never reads as an attribute.
_ATTR = re.compile(r"[A-Za-z_:][A-Za-z0-9_:.-]*")

#: A compiled selector: (the selector, its soupsieve pattern).
Compiled = tuple["Selector", Any]


@dataclass(frozen=True, slots=True)
class Selector:
    """One extracted field: ``name``, the ``css`` to match, the ``attr`` to read
    (None: the text), and ``many`` (every match as a list, not just the first).
    """

    name: str
    css: str
    attr: str | None = None
    many: bool = False

    @classmethod
    def parse(cls, spec: str, many: bool = False) -> Selector:
        """A selector from ``NAME=CSS`` or ``NAME=CSS@ATTR``; raises `ConfigError`.

        >>> Selector.parse("tags=.tag a", many=True)
        Selector(name='tags', css='.tag a', attr=None, many=True)
        """
        name, sep, rest = spec.partition("=")
        if not sep:
            raise ConfigError(f"{_option(many)} {spec!r}: expected NAME=CSS or NAME=CSS@ATTR")
        return cls.of(name.strip(), rest, many)

    @classmethod
    def of(cls, name: str, css: str, many: bool = False) -> Selector:
        """A selector named ``name`` from ``CSS`` or ``CSS@ATTR``."""
        css, attr = _split_attr(css.strip())
        return cls(name, css, attr, many)

    def __str__(self) -> str:
        return f"{self.name}={self.css}" + (f"@{self.attr}" if self.attr else "")


def _split_attr(css: str) -> tuple[str, str | None]:
    head, sep, tail = css.rpartition("@")
    tail = tail.strip()
    if sep and _ATTR.fullmatch(tail):
        return head.strip(), tail
    return css, None


def _option(many: bool) -> str:
    return "select_all" if many else "select"


def as_selectors(value: Any) -> tuple[Selector, ...]:
    """Selectors from what a library caller may pass as ``CrawlConfig(select=...)``.

    Accepted: `Selector` objects and ``"NAME=CSS[@ATTR]"`` strings (one, or an
    iterable of them), or a mapping ``{NAME: "CSS[@ATTR]"}``. Strings and
    mappings give first-match selectors; ``Selector(..., many=True)`` gives lists.

    >>> [str(s) for s in as_selectors({"h1": "h1", "next": "a[rel=next]@href"})]
    ['h1=h1', 'next=a[rel=next]@href']
    """
    if value is None:
        return ()
    if isinstance(value, (str, Selector)):
        value = [value]
    if isinstance(value, Mapping):
        return tuple(Selector.of(str(name), _string(css, name)) for name, css in value.items())
    selectors = []
    for item in value:
        if isinstance(item, Selector):
            selectors.append(item)
        elif isinstance(item, str):
            selectors.append(Selector.parse(item))
        else:
            raise ConfigError(f"select: expected 'NAME=CSS' strings or Selector objects, got {item!r}")
    return tuple(selectors)


def _string(css: Any, name: Any) -> str:
    if not isinstance(css, str):
        raise ConfigError(f"select: the selector of {name!r} must be a string, got {css!r}")
    return css


def check_selectors(selectors: Iterable[Selector]) -> None:
    """Raise `ConfigError` for a bad name, a repeated name, a name that is a record field, or bad CSS."""
    names: set[str] = set()
    for sel in selectors:
        where = f"{_option(sel.many)} {str(sel)!r}"
        if not _NAME.fullmatch(sel.name):
            raise ConfigError(f"{where}: bad field name {sel.name!r} (letters, digits, _ . -; not first a digit)")
        if sel.name in RECORD_FIELDS:
            raise ConfigError(f"{where}: {sel.name!r} is already a record field")
        if sel.name in names:
            raise ConfigError(f"{where}: field {sel.name!r} is selected twice")
        names.add(sel.name)
        if sel.attr is not None and not _ATTR.fullmatch(sel.attr):
            raise ConfigError(f"{where}: bad attribute name {sel.attr!r}")
        _compile(sel.css, where)


def compile_selectors(selectors: Iterable[Selector]) -> list[Compiled]:
    """Each selector with its compiled soupsieve pattern (raises `ConfigError` on bad CSS)."""
    return [(sel, _compile(sel.css, f"{_option(sel.many)} {str(sel)!r}")) for sel in selectors]


def _compile(css: str, where: str) -> Any:
    import soupsieve  # imports BeautifulSoup: only crawls with selectors pay for it

    try:
        with warnings.catch_warnings():
            # ':contains' is deprecated in favour of ':-soup-contains' but still
            # works; a FutureWarning with soupsieve's file and line helps nobody here.
            warnings.simplefilter("ignore")
            return soupsieve.compile(css)
    except Exception as exc:  # SelectorSyntaxError, and the odd ValueError/TypeError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: bad CSS selector: {message}") from None


def run_selectors(compiled: Iterable[Compiled], soup: Any) -> dict[str, Any]:
    """The selected fields of one page's BeautifulSoup tree, in selector order.

    >>> from bs4 import BeautifulSoup
    >>> soup = BeautifulSoup("<p class=x> a  b </p><p class=x>c</p><img src=i.png>", "lxml")
    >>> run_selectors(compile_selectors(
    ...     [Selector("p", "p.x"), Selector("ps", "p", many=True), Selector("img", "img", "src")]), soup)
    {'p': 'a b', 'ps': ['a b', 'c'], 'img': 'i.png'}
    """
    fields: dict[str, Any] = {}
    for sel, pattern in compiled:
        if sel.many:
            values = (_value(tag, sel.attr) for tag in pattern.select(soup))
            fields[sel.name] = [v for v in values if v is not None]
        else:
            tag = pattern.select_one(soup)
            fields[sel.name] = None if tag is None else _value(tag, sel.attr)
    return fields


def _value(tag: Any, attr: str | None) -> str | None:
    if attr is None:
        return " ".join(tag.get_text().split())
    value = tag.get(attr)
    if value is None:
        return None
    if isinstance(value, list):  # class, rel and other multi-valued attributes
        return " ".join(value)
    return str(value).strip()
