"""The links table (``--links PATH``): one row per link occurrence, as CSV or JSON Lines.

Written from the side file (`crawler.store.linkdb`) when the crawl ends,
row by row: every referrer of every target is kept, in bounded memory.
"""

from __future__ import annotations

import csv
import json
import os

from ..errors import UsageError
from .linkdb import LINK_FIELDS, LinkDB, Verdict
from .output import _FORMULA_START

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def links_format(path: str) -> str:
    """``csv`` or ``jsonl`` from ``path``'s extension; raises `UsageError` for any other."""
    kind = FORMATS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise UsageError(f"cannot tell the links table format of {path!r}: use .csv or .jsonl")
    return kind


def write_links(path: str, db: LinkDB, verdict: Verdict) -> int:
    """Write the links table of ``db`` to ``path``; returns the rows written."""
    kind = links_format(path)
    rows = 0
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n") if kind == "csv" else None
            if writer is not None:
                writer.writerow(LINK_FIELDS)
            for row in db.link_rows(verdict):
                if writer is not None:
                    writer.writerow([_cell(row[name]) for name in LINK_FIELDS])
                else:
                    f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
                rows += 1
    except OSError as exc:
        raise UsageError(f"cannot write links table {path!r}: {exc.strerror or exc}") from None
    return rows


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # Anchor texts are the page's to choose: a leading "=" must not become a formula.
    return "'" + text if text.startswith(_FORMULA_START) else text
