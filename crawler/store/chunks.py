"""``--chunks PATH``: each page's Markdown in pieces for an embedding pipeline, one JSON line each.

`split_markdown` cuts a page's Markdown body (the text before its link
reference list) at its headings, then cuts a section longer than the word
limit at blank lines, then at line ends, then between words: no piece is
over the limit, each carries its heading path, and the pieces joined give
the body back exactly. `ChunkSink` writes them, flushed page by page.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO

from ..errors import UsageError
from ..page import Done, PageResult, Result

_HEADING = re.compile(r"(#{1,6})(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_FENCE_STARTS = frozenset(" `~")
_REFERENCES = re.compile(r"\n(?:\[\d+\]: [^\n]*\n)+\Z")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece: the headings above it (outermost first), its Markdown and its word count."""

    headings: tuple[str, ...]
    text: str
    words: int


def markdown_body(markdown: str) -> str:
    """``markdown`` without the reference list that ends it (what `split_markdown` splits)."""
    match = _REFERENCES.search(markdown)
    return markdown[: match.start()] if match else markdown


def split_markdown(body: str, max_words: int) -> list[Chunk]:
    """``body`` cut at headings into pieces of at most ``max_words`` words (see the module).

    >>> [(c.headings, c.text) for c in split_markdown("Intro\\n\\n# A\\n\\nx y\\n\\n## B\\n\\nz\\n", 10)]
    [((), 'Intro\\n\\n'), (('A',), '# A\\n\\nx y\\n\\n'), (('A', 'B'), '## B\\n\\nz\\n')]
    """
    chunks: list[Chunk] = []
    for headings, section in _sections(body):
        for piece, words in _pack(_blocks(section), max_words):
            chunks.append(Chunk(headings, piece, words))
    return chunks


def _sections(body: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(heading path, text) of each section: the text before the first heading, then one per heading."""
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None
    current: tuple[str, ...] = ()
    for line in body.splitlines(keepends=True):
        first = line[:1]
        # Only a line starting with these can open or close a fence or be a heading:
        # the regular expressions run on those alone.
        if first in _FENCE_STARTS:
            opened = _FENCE.match(line)
            if fence is not None:
                if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                        and not line.strip().strip(fence[0]):
                    fence = None
            elif opened:
                fence = opened.group(1)
        elif first == "#" and fence is None:
            heading = _HEADING.match(line.rstrip("\n"))
            if heading:
                if lines:
                    yield current, "".join(lines)
                lines = []
                level = len(heading.group(1))
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, heading.group(2).strip()))
                current = tuple(text for _, text in path)
        lines.append(line)
    if lines:
        yield current, "".join(lines)


def _blocks(section: str) -> list[str]:
    """The section cut after each blank line outside code fences (joined: the section)."""
    out: list[str] = []
    block: list[str] = []
    fence: str | None = None
    for line in section.splitlines(keepends=True):
        block.append(line)
        opened = _FENCE.match(line) if line[:1] in _FENCE_STARTS else None
        if opened:
            fence = None if fence is not None and opened.group(1)[0] == fence[0] else fence or opened.group(1)
        elif fence is None and not line.strip():
            out.append("".join(block))
            block = []
    if block:
        out.append("".join(block))
    return out


def _pack(units: list[str], max_words: int, lines: bool = False) -> list[tuple[str, int]]:
    """``units`` gathered greedily into (piece, words) of at most ``max_words`` words, in order.

    Units are blocks, or (``lines``) the lines of a block too long; a line
    too long is cut between words. A word never spans two units (each ends
    in white space but the last), so a piece's words are the sum of its
    units' words: each is counted once.
    """
    pieces: list[tuple[str, int]] = []
    current: list[str] = []
    count = 0
    for unit in units:
        words = len(unit.split())
        if words > max_words:
            if current:
                pieces.append(("".join(current), count))
                current, count = [], 0
            if not lines:
                pieces.extend(_pack(unit.splitlines(keepends=True), max_words, lines=True))
                continue
            *full, (unit, words) = _cut_words(unit, max_words)
            pieces.extend(full)  # the rest of the line may share a piece with the next lines
        elif count + words > max_words and current:
            pieces.append(("".join(current), count))
            current, count = [], 0
        current.append(unit)
        count += words
    if current:
        if count == 0 and pieces:
            text, words = pieces[-1]
            pieces[-1] = (text + "".join(current), words)  # trailing white space belongs to the piece before
        else:
            pieces.append(("".join(current), count))
    return pieces


def _cut_words(line: str, max_words: int) -> list[tuple[str, int]]:
    """``line`` cut after every ``max_words`` words: full pieces, then the rest (never empty)."""
    pattern, pieces, done = _words_at_once(max_words), [], 0
    # Anchored at each cut (finditer would search on through the shorter rest, at every position).
    while (match := pattern.match(line, done)) is not None and match.end() > done:
        pieces.append((match.group(0), max_words))
        done = match.end()
    # A line of exactly N words leaves an empty rest: the last full piece is the rest then.
    return [*pieces, (line[done:], len(line[done:].split()))] if done < len(line) or not pieces else pieces


@lru_cache(maxsize=16)
def _words_at_once(count: int) -> re.Pattern[str]:
    # The regex engine steps over the words, not a Python loop (a 3000-word page at 30 words a piece).
    return re.compile(rf"\s*(?:\S+\s+){{{count - 1}}}\S+\s*")


class ChunkSink:
    """The ``--chunks`` sink: one JSON line per piece of every converted page, flushed per page.

    ``append`` continues the file of an interrupted run (its torn last line
    cut) instead of starting it afresh.
    """

    def __init__(self, path: str, max_words: int, append: bool = False) -> None:
        self.path = path
        self.max_words = max_words
        self.append = append
        self._file: IO[str] | None = None

    def open(self) -> None:
        """Open (or continue) the file; UsageError when it cannot be written."""
        try:
            if self.append and os.path.exists(self.path):
                _cut_torn_line(self.path)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            else:
                self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise UsageError(f"cannot write --chunks {self.path!r}: {exc.strerror or exc}") from None

    def write(self, done: Done) -> bool:
        """Write the pieces of the page's Markdown, if the worker converted it this time."""
        result = done.result
        if self._file is None or not isinstance(result, PageResult) or not result.converted or not result.markdown:
            return True
        page = done.page
        lines = [json.dumps({"url": page.url, "title": page.title, "chunk": index, "headings": list(chunk.headings),
                             "text": chunk.text, "words": chunk.words}, ensure_ascii=False, separators=(",", ":"))
                 for index, chunk in enumerate(split_markdown(markdown_body(result.markdown), self.max_words))]
        self._file.write("".join(line + "\n" for line in lines))
        self._file.flush()
        return True

    def unrecorded(self, result: Result) -> None:
        """Nothing to do: a fetch that makes no record has no Markdown."""

    def tick(self) -> None:
        """Nothing to do: each page's pieces are flushed as they are written."""

    def close(self, finished: bool) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _cut_torn_line(path: str) -> None:
    """Drop a last line a killed run left without its newline."""
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(max(0, size - 65536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        if cut < 0 and size > len(tail):
            # A torn line longer than the tail read: find its start further back.
            f.seek(0)
            cut_at = f.read().rfind(b"\n") + 1
        else:
            cut_at = size - len(tail) + cut + 1
        f.truncate(cut_at)
