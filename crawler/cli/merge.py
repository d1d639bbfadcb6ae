"""``python -m crawler merge OUT IN...``: the nodes' output files as one deduplicated file.

Each node of a distributed crawl writes its own file; merging reads them all
(CSV, JSON and JSONL, mixed as they come) and writes one file with one record
per ``url``. When a URL appears more than once (a node restarted on another
output, or a Redis that lost its last second of writes), the record with the
latest ``fetched_at`` wins, the first one read on a tie; records keep the
order in which their URL first appeared.

A node killed mid-write leaves a torn last record: `crawler.store.records.read_records` skips it
(it is still in that node's outbox in Redis). ``--redis URL --crawl-id NAME``
adds what the outboxes hold, so the merge is complete even for a node that
was killed and never restarted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..page import RECORD_FIELDS
from ..store.output import format_for, open_writer
from ..store.records import read_records


@dataclass
class MergeStats:
    """What a merge read and wrote."""

    files: int = 0
    read: int = 0
    written: int = 0
    duplicates: int = 0
    skipped: int = 0
    from_redis: int = 0


def merge_records(sources: Iterable[Iterable[dict[str, Any]]], stats: MergeStats | None = None) -> list[dict[str, Any]]:
    """One record per ``url``: the latest ``fetched_at`` wins, the first read on a tie.

    >>> a = {"url": "u", "fetched_at": "2026-01-01T00:00:00.000Z", "title": "old"}
    >>> b = {"url": "u", "fetched_at": "2026-01-02T00:00:00.000Z", "title": "new"}
    >>> [r["title"] for r in merge_records([[a], [b]])]
    ['new']
    """
    stats = stats if stats is not None else MergeStats()
    best: dict[str, dict[str, Any]] = {}
    for records in sources:
        for record in records:
            stats.read += 1
            url = record["url"]
            kept = best.get(url)
            if kept is None:
                best[url] = record
                continue
            stats.duplicates += 1
            if str(record.get("fetched_at") or "") > str(kept.get("fetched_at") or ""):
                best[url] = record
    stats.written = len(best)
    return list(best.values())


def write_records(path: str, records: Sequence[dict[str, Any]], fmt: str | None = None) -> None:
    """Write ``records`` to ``path`` (``-``: stdout) atomically, columns in record order."""
    extra: list[str] = []
    for record in records:
        extra += [key for key in record if key not in RECORD_FIELDS and key not in extra]
    kind = format_for(path, fmt)
    target = path if path == "-" else f"{path}.tmp-{os.getpid()}"
    writer = open_writer(target, kind, extra_fields=tuple(extra))
    try:
        for record in records:
            writer.write_record(record)
    finally:
        writer.close()
    if target != path:
        os.replace(target, path)


def main(argv: Sequence[str]) -> int:
    """``crawler merge``: returns the exit status (2 with a one-line message on bad usage)."""
    from .usage import fail_usage, usage_parser

    parser = usage_parser("crawler merge", "Merge the output files of a distributed crawl into one "
                          "file with one record per url (the latest fetched_at wins).")
    parser.add_argument("output", metavar="OUT", help="merged file; format from .csv/.json/.jsonl, - = stdout")
    parser.add_argument("inputs", nargs="+", metavar="IN", help="node output files (CSV, JSON or JSONL)")
    parser.add_argument("--format", choices=("csv", "json", "jsonl"), help="format of OUT (overrides the extension)")
    parser.add_argument("--redis", metavar="URL", help="also take the records still in the crawl's outboxes")
    parser.add_argument("--crawl-id", metavar="NAME", help="with --redis: the crawl")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    args = parser.parse_args(argv)
    stats = MergeStats()
    try:
        if bool(args.redis) != bool(args.crawl_id):
            raise UsageError("--redis and --crawl-id go together")
        if args.output != "-" and any(os.path.abspath(args.output) == os.path.abspath(p) for p in args.inputs):
            raise UsageError(f"OUT {args.output!r} is also an input: merge into a new file")
        format_for(args.output, args.format)
        sources = []
        for path in args.inputs:
            got = read_records(path)
            stats.files += 1
            stats.skipped += got.skipped
            sources.append(got.records)
        if args.redis:
            from ..cluster.node import outbox_records

            leftover = outbox_records(args.redis, args.crawl_id)
            stats.from_redis = len(leftover)
            sources.append(leftover)
        write_records(args.output, merge_records(sources, stats), args.format)
    except UsageError as exc:
        return fail_usage(str(exc))
    if not args.quiet:
        line = (f"crawler: merged {stats.written} records from {stats.files} files "
                f"({stats.duplicates} duplicates dropped, {stats.skipped} torn or unreadable skipped")
        line += f", {stats.from_redis} from Redis outboxes)" if args.redis else ")"
        print(line, file=sys.stderr)
    return 0
