"""Seed reading: files of URLs, URLs given directly, and ``-`` for stdin.

A seed file has one URL per line; blank lines and lines starting with ``#``
are skipped (so is anything after white space and ``#`` on a line). A line without a scheme
(``example.com/path``) is taken as ``http://example.com/path``, as wget and
curl do. Any other unusable line is a `SeedError` naming the file and line.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from .errors import SeedError
from .urls import normalize_url

_TRAILING_COMMENT = re.compile(r"\s#")
_FILE_SUFFIXES = (".txt", ".csv", ".tsv", ".lst", ".list", ".urls", ".json", ".jsonl", ".gz", ".log", ".md")


def read_seeds(sources: Iterable[str], stdin: TextIO | None = None) -> list[str]:
    """Canonical seed URLs from files, URLs and ``-``, duplicates removed, order kept.

    Raises `SeedError` for an unreadable file, a bad line, or an empty result.
    """
    seen: set[str] = set()
    seeds: list[str] = []
    for url in _iter_seeds(sources, stdin or sys.stdin):
        if url not in seen:
            seen.add(url)
            seeds.append(url)
    if not seeds:
        raise SeedError("no seed URLs given (the seed list is empty)")
    return seeds


def _iter_seeds(sources: Iterable[str], stdin: TextIO) -> Iterator[str]:
    for source in sources:
        if source == "-":
            yield from parse_lines(stdin, "<stdin>")
        elif "://" in source:
            yield parse_seed(source, "command line")
        elif os.path.isdir(source):
            raise SeedError(f"{source}: is a directory, not a seed file")
        elif os.path.exists(source):
            yield from _read_file(source)
        elif _looks_like_host(source):
            yield parse_seed(source, "command line")
        else:
            raise SeedError(f"{source}: no such seed file (and not a URL)")


def _read_file(path: str) -> Iterator[str]:
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.readlines()
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from None
    yield from parse_lines(lines, path)


def parse_lines(lines: Iterable[str], name: str) -> Iterator[str]:
    """Canonical URLs of the non-blank, non-comment lines; ``name`` labels errors."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = _TRAILING_COMMENT.split(text, 1)[0].strip()
        yield parse_seed(text, f"{name}:{number}")


def parse_seed(text: str, where: str) -> str:
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
        return normalize_url(text)
    except ValueError as exc:
        raise SeedError(f"{where}: not a valid URL ({exc}): {text[:200]!r}") from None


def _has_port(text: str) -> bool:
    host = text.split("/", 1)[0]
    return host.rsplit(":", 1)[1].isdigit()


def _looks_like_host(text: str) -> bool:
    host = text.split("/", 1)[0]
    if host.lower().endswith(_FILE_SUFFIXES):  # "seeds.txt" is a missing file, not a host
        return False
    return "." in host and not any(c.isspace() for c in text) and not host.startswith(".")
