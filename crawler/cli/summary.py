"""The run manifest: a JSON summary of one crawl, for cron jobs and monitoring.

`RunSummary` counts the records as the main process writes them (feed it
every `Page` through ``on_page``); `RunSummary.manifest` adds the run's own
facts (times, exit status, robots refusals, what stopped it);
`write_summary` puts the result on disk atomically, so a reader never sees
half a file. The CLI writes it next to the output (``pages.csv`` →
``pages.csv.summary.json``) or where ``--summary`` says.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..config import __version__
from ..errors import UsageError
from ..page import Page, utc_now
from ..policy import REASONS
from ..urls import host_of

if TYPE_CHECKING:
    from ..engine.crawler import CrawlStats

SUFFIX = ".summary.json"


class RunSummary:
    """Counts of the records of one run: by status, host, error kind (and change)."""

    def __init__(self) -> None:
        self.started_at = utc_now()
        self.pages = 0
        self.ok = 0
        self.bytes = 0
        self.retries = 0
        self.truncated = 0
        self.no_response = 0
        self.by_status: Counter[int] = Counter()
        self.by_host: Counter[str] = Counter()
        self.by_error: Counter[str] = Counter()
        self.by_change: Counter[str] = Counter()

    def add(self, page: Page) -> None:
        """Count one record."""
        self.pages += 1
        self.ok += page.ok
        self.bytes += page.bytes
        self.retries += max(page.attempts - 1, 0)
        if page.status is None:
            self.no_response += 1
        else:
            self.by_status[page.status] += 1
        self.by_host[host_of(page.url)] += 1
        if page.error:
            kind = page.error.split(":", 1)[0]
            self.by_error[kind] += 1
            self.truncated += kind == "truncated"
        # Incremental crawls mark records with a change kind; count them when present.
        change = getattr(page, "change", None) or page.extra.get("change")
        if change is not None:
            self.by_change[str(change)] += 1

    def manifest(self, stats: CrawlStats, exit_status: int, output: str | None) -> dict[str, Any]:
        """The summary as a JSON-ready dict (``by_change`` only when records carried ``change``)."""
        data: dict[str, Any] = {
            "crawler": __version__,
            "output": output if output in (None, "-") else os.path.abspath(output),
            "started": self.started_at,
            "finished": utc_now(),
            "duration_s": round(stats.elapsed, 3),
            "exit_status": exit_status,
            "stopped_by": stats.stopped_by,
            "pages": self.pages,
            "ok": self.ok,
            "errors": sum(self.by_error.values()),
            "bytes": self.bytes,
            "retries": self.retries,
            "truncated": self.truncated,
            "robots_blocked": stats.robots_refused,
            "host_capped": stats.host_capped,
            "sitemaps": stats.sitemaps,
            "sitemap_urls": stats.sitemap_urls,
            "no_response": self.no_response,
            "by_status": {str(status): n for status, n in sorted(self.by_status.items())},
            "by_error": dict(sorted(self.by_error.items())),
            "by_host": dict(sorted(self.by_host.items())),
            # What the gate refused, by reason (crawler.policy): found links per occurrence, URLs once.
            "refused": {reason: stats.refused[reason] for reason in REASONS if stats.refused[reason]},
        }
        if stats.redis_calls is not None:
            data["redis"] = {"crawl_id": stats.crawl_id, "node": stats.node, "calls": stats.redis_calls}
        if self.by_change:
            data["by_change"] = dict(sorted(self.by_change.items()))
        return data


def summary_path(output: str | None, override: str | None = None) -> str | None:
    """Where the summary goes: ``override``, else next to a file output, else nowhere (stdout).

    Raises `UsageError` when its directory does not exist, so a cron job
    learns that before crawling, not after.
    """
    path = override or (output + SUFFIX if output and output != "-" else None)
    if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise UsageError(f"cannot write summary {path!r}: no such directory")
    return path


def write_summary(path: str, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
