"""Seed reading: files of URLs, URLs given directly, and ``-`` for stdin.

A seed file has one URL per line (a ``.csv`` or ``.jsonl`` file is a table
instead: `crawler.store.tables`); blank lines and lines starting with ``#``
are skipped (so is anything after white space and ``#`` on a line). A line without a scheme
(``example.com/path``) is taken as ``http://example.com/path``, as wget and
curl do. Any other unusable line (another scheme, white space inside, an
invalid or over-long URL) is a `SeedError` naming the file and line: raised,
or, when the caller passes a ``skipped`` list, collected there while the good
lines still run (the CLI's default; ``--strict`` raises).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from ..errors import SeedError
from ..urls import normalize_url
from .tables import SeedInputs, is_table, read_table

_COMMAND_LINE = "command line"
_TRAILING_COMMENT = re.compile(r"\s#")
_FILE_SUFFIXES = (".txt", ".csv", ".tsv", ".lst", ".list", ".urls", ".json", ".jsonl", ".gz", ".log", ".md")


def read_seeds(
    sources: Iterable[str],
    stdin: TextIO | None = None,
    *,
    skipped: list[SeedError] | None = None,
    max_url_length: int | None = None,
    url_column: str | None = None,
    keep_columns: Sequence[str] = (),
    inputs: SeedInputs | None = None,
) -> list[str]:
    """Canonical seed URLs from files, URLs and ``-``, duplicates removed, order kept.

    A bad line raises `SeedError`, unless ``skipped`` is a list: then the
    error is appended there and the line left out (a bad URL given directly,
    not in a file, always raises). An unreadable or missing
    file, and an empty result, always raise. URLs longer than
    ``max_url_length`` characters (canonical form) are bad lines.

    ``.csv`` and ``.jsonl`` files are tables (`crawler.store.tables`): the
    URL is in the ``url_column`` (default ``url``); the ``keep_columns`` of
    each seed's row go into ``inputs``, when given, as its ``input_*`` fields.
    """
    seen: set[str] = set()
    seeds: list[str] = []
    fields = inputs.fields if inputs is not None else []
    sources = list(sources)
    if inputs is not None:
        inputs.tables += sum(1 for s in sources if s != "-" and "://" not in s and is_table(s) and os.path.isfile(s))
    for where, text, kept in _iter_lines(sources, stdin or sys.stdin, url_column, list(keep_columns), fields):
        try:
            if isinstance(text, SeedError):
                raise text
            url = parse_seed(text, where, max_url_length)
        except SeedError as exc:
            if skipped is None or where == _COMMAND_LINE:  # a URL typed as an argument is never skipped
                raise
            skipped.append(exc)
            continue
        if url not in seen:
            seen.add(url)
            seeds.append(url)
            if kept and inputs is not None:  # a seed listed twice keeps its first row's values
                inputs.by_url[url] = kept
    if not seeds:
        empty = "no usable seed URL (every line was skipped)" if skipped else "the seed list is empty"
        raise SeedError(f"no seed URLs given ({empty})")
    return seeds


#: (where, the seed's text or the problem with its row, the input columns kept for it)
_Entry = tuple[str, "str | SeedError", "dict[str, Any] | None"]


def _iter_lines(sources: Iterable[str], stdin: TextIO, url_column: str | None = None,
                keep: list[str] | None = None, fields: list[str] | None = None) -> Iterator[_Entry]:
    """Every seed: ``where`` is ``FILE:LINE`` or ``command line``."""
    for source in sources:
        if source == "-":
            yield from ((where, text, None) for where, text in _lines(stdin, "<stdin>"))
        elif "://" in source:
            yield _COMMAND_LINE, source, None
        elif os.path.isdir(source):
            raise SeedError(f"{source}: is a directory, not a seed file")
        elif os.path.exists(source) and is_table(source):
            for row in read_table(source, url_column, keep or [], [] if fields is None else fields):
                yield row.where, row.problem or row.url or "", row.kept
        elif os.path.exists(source):
            yield from ((where, text, None) for where, text in _read_file(source))
        elif _looks_like_host(source):
            yield _COMMAND_LINE, source, None
        else:
            raise SeedError(f"{source}: no such seed file (and not a URL)")


def _read_file(path: str) -> Iterator[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.readlines()
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from None
    yield from _lines(lines, path)


def _lines(lines: Iterable[str], name: str) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        yield f"{name}:{number}", _TRAILING_COMMENT.split(text, 1)[0].strip()


def parse_seed(text: str, where: str, max_url_length: int | None = None) -> str:
    """One seed as a canonical URL; a bare host gets ``http://``."""
    if any(c.isspace() for c in text):
        raise SeedError(f"{where}: not a URL (contains white space): {text[:200]!r}")
    if "://" not in text:
        if ":" in text.split("/", 1)[0] and not _has_port(text):
            scheme = text.split(":", 1)[0]
            raise SeedError(f"{where}: unsupported scheme {scheme!r} (only http and https): {text[:200]!r}")
        text = "http://" + text
    scheme = text.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise SeedError(f"{where}: unsupported scheme {scheme!r} (only http and https): {text[:200]!r}")
    try:
        url = normalize_url(text)
    except ValueError as exc:
        raise SeedError(f"{where}: not a valid URL ({exc}): {text[:200]!r}") from None
    if max_url_length is not None and len(url) > max_url_length:
        raise SeedError(f"{where}: URL longer than {max_url_length} characters ({len(url)}): {text[:100]!r}…")
    return url


def _has_port(text: str) -> bool:
    host = text.split("/", 1)[0]
    return host.rsplit(":", 1)[1].isdigit()


def _looks_like_host(text: str) -> bool:
    host = text.split("/", 1)[0]
    if host.lower().endswith(_FILE_SUFFIXES):  # "seeds.txt" is a missing file, not a host
        return False
    return "." in host and not any(c.isspace() for c in text) and not host.startswith(".")
