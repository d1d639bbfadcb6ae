"""``--markdown-dir DIR``: one Markdown file per ok HTML page, kept as a mirror of the site.

A sink (see `crawler.engine.sink`) after the record sink: it sees every
record reported, with the worker's Markdown in its `crawler.page.PageResult`.
Each file is written whole to a temporary name in its directory and renamed
over the old one, so a killed run never leaves half a file. Under
``--state`` an unchanged page is not converted again and its file is left
as it is (its modification time too); the file of a page that is ``gone``
is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile

from ..errors import UsageError
from ..page import Done, Page, PageResult, Result
from ..urls import markdown_path

#: What YAML reads in a double-quoted scalar as it is (YAML 1.1's printable set, less \ and ", and
#: the Unicode line separators some parsers take for line breaks).
_YAML_PLAIN = re.compile('[^\\x20-\\x21\\x23-\\x5b\\x5d-\\x7e\\xa0-\\u2027\\u202a-\\ud7ff\\ue000-\\ufefe\\uff00-\\ufffd'
                         '\\U00010000-\\U0010ffff]')


_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_string(value: str | None) -> str:
    """``value`` as a YAML double-quoted scalar any YAML parser reads back exactly (None: ``null``).

    >>> yaml_string('a "b"\\n') , yaml_string(None)
    ('"a \\\\"b\\\\"\\\\n"', 'null')
    """
    if value is None:
        return "null"
    return '"' + _YAML_PLAIN.sub(_yaml_escape, value) + '"'


def _yaml_escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in ('"', "\\"):
        return "\\" + char
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def front_matter(page: Page, lang: str | None) -> str:
    """The YAML front matter of a page's file: url, final_url, title, fetched_at, depth, lang."""
    return (f"---\nurl: {yaml_string(page.url)}\nfinal_url: {yaml_string(page.final_url)}\n"
            f"title: {yaml_string(page.title)}\nfetched_at: {yaml_string(page.fetched_at)}\n"
            f"depth: {page.depth}\nlang: {yaml_string(lang)}\n---\n")


class MarkdownFiles:
    """The ``--markdown-dir`` sink: writes, keeps or removes each page's ``.md`` file under ``directory``."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._folders: set[str] = set()  # made (or found) already: one makedirs per folder, not per page

    def open(self) -> None:
        """Create the directory (UsageError when it cannot be)."""
        try:
            os.makedirs(self.directory, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UsageError(f"--markdown-dir {self.directory!r} is not a directory") from None
        except OSError as exc:
            raise UsageError(f"cannot create --markdown-dir {self.directory!r}: {exc.strerror or exc}") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise UsageError(f"cannot write in --markdown-dir {self.directory!r}")

    def write(self, done: Done) -> bool:
        """Write the page's file if the worker converted it; remove it if the page is gone."""
        page, result = done.page, done.result
        if page.change == "gone":
            self._remove(markdown_path(done.task.url))
        elif isinstance(result, PageResult) and result.converted:
            relative = page.extra.get("markdown_file") or markdown_path(done.task.url)
            self._write(relative, front_matter(page, result.lang) + "\n" + (result.markdown or ""))
        return True

    def unrecorded(self, result: Result) -> None:
        """Nothing to do: a fetch that makes no record has no Markdown."""

    def tick(self) -> None:
        """Nothing to do: every file is complete once written."""

    def close(self, finished: bool) -> None:
        """Nothing to close: no file stays open."""

    def _write(self, relative: str, text: str) -> None:
        path = os.path.join(self.directory, relative)
        folder = os.path.dirname(path)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        # A hidden temporary name in the same directory: the rename is atomic there.
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        except FileNotFoundError:  # the folder went away meanwhile (removed by hand): make it again
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _remove(self, relative: str) -> None:
        path = os.path.join(self.directory, relative)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        # Directories the removal left empty go too, up to (not including) the root.
        folder = os.path.dirname(path)
        root = os.path.abspath(self.directory)
        while os.path.abspath(folder) != root and folder:
            try:
                os.rmdir(folder)
            except OSError:
                break
            self._folders.discard(folder)
            folder = os.path.dirname(folder)
