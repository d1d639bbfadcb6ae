"""The worker's Markdown step (``--markdown``, ``--markdown-dir``, ``--chunks``): which pages are
converted, and the record fields it fills.

Imported only by crawls that ask for Markdown, so a plain crawl loads none
of it. The conversion itself is `crawler.worker.markdown.page_markdown`, on
the tree the worker already parsed.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from ..urls import markdown_path
from .markdown import Text, page_markdown
from .parse import parse_tree

if TYPE_CHECKING:
    from ..config import CrawlConfig
    from ..page import Page, Task
    from .fetch import Fetched
    from .parse import Parsed

log = logging.getLogger(__name__)


class MarkdownStep:
    """Converts ok HTML pages to Markdown and fills ``markdown`` and ``markdown_file``."""

    def __init__(self, config: CrawlConfig) -> None:
        self.content = config.content
        self.field = config.markdown
        self.directory = config.markdown_dir

    def convert(self, page: Page, task: Task, fetched: Fetched, parsed: Parsed, digest: str | None) -> Text | None:
        """The page's Markdown; None when it is not converted (not ok, or unchanged since the last run)."""
        if not page.ok:
            self._fields(page, None, None)
            return None
        path = markdown_path(task.url) if self.directory else None
        if digest is not None and digest == task.digest and self._kept(path):
            # --state: the same body as last time; its Markdown (and file) is what it was.
            self._fields(page, None, path)
            return None
        root = parsed.root if parsed.root is not None else parse_tree(fetched.body, fetched.charset)
        try:
            text = page_markdown(root, fetched.final_url, self.content)
        except Exception as exc:  # a converter bug on one odd page must not kill the worker
            log.debug("markdown failed for %s", page.url, exc_info=True)
            page.error = page.error or f"markdown: {type(exc).__name__}: {exc}"[:200]
            page.ok = False
            self._fields(page, None, None)
            return None
        self._fields(page, text.markdown, path)
        return text

    def not_modified(self, page: Page, task: Task) -> None:
        """A 304: the page keeps its last file, if it has one."""
        path = markdown_path(task.url) if self.directory else None
        self._fields(page, None, path if self._kept(path) else None)

    def _kept(self, path: str | None) -> bool:
        # Without --markdown-dir there is no file to keep; with it, the last run's must be there.
        return path is None or os.path.exists(os.path.join(self.directory or "", path))

    def _fields(self, page: Page, markdown: str | None, path: str | None) -> None:
        if self.field:
            page.extra["markdown"] = markdown
        if self.directory:
            page.extra["markdown_file"] = path
