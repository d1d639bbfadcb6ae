"""Reading output files back: every complete record of a CSV, JSON or JSONL file.

A run killed mid-write leaves a torn last record: `read_records` skips and
counts it. Used by ``crawler merge``, by a Redis node that reopens its file
after a restart, and by anything else that reads what the crawler wrote.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from .output import format_for, unneutralised

_INT_FIELDS = ("status", "bytes", "depth", "links", "attempts")
_BOOL_FIELDS = ("ok", "noindex")


@dataclass
class Records:
    """The complete records of one file, and how many broken ones were skipped."""

    records: list[dict[str, Any]]
    skipped: int = 0


def read_records(path: str, fmt: str | None = None) -> Records:
    """Every complete record of an output file; a torn or unreadable record is skipped and counted.

    Raises `UsageError` when the file cannot be read.
    """
    kind = format_for(path, fmt)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if kind == "csv":
        return _read_csv(text)
    if kind == "json":
        return _read_json(text)
    return _read_jsonl(text)


def _read_jsonl(text: str) -> Records:
    out = Records([])
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            out.skipped += 1
            continue
        if isinstance(record, dict) and "url" in record:
            out.records.append(record)
        else:
            out.skipped += 1
    return out


def _read_json(text: str) -> Records:
    try:
        data = json.loads(text)
    except ValueError:
        return _read_json_prefix(text)
    if not isinstance(data, list):
        return Records([], 1)
    return Records([r for r in data if isinstance(r, dict) and "url" in r],
                   sum(1 for r in data if not (isinstance(r, dict) and "url" in r)))


def _read_json_prefix(text: str) -> Records:
    # A JSON array cut short: read record after record until the cut.
    decoder = json.JSONDecoder()
    out = Records([])
    pos = text.find("[") + 1
    if pos == 0:
        return Records([], 1 if text.strip() else 0)
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        try:
            record, pos = decoder.raw_decode(text, pos)
        except ValueError:
            out.skipped += 1
            return out
        if isinstance(record, dict) and "url" in record:
            out.records.append(record)


_CSV_FIELD_MAX = 2**31 - 1  # a C long everywhere


def _read_csv(text: str) -> Records:
    out = Records([])
    torn = bool(text) and not text.endswith("\n")  # the writer ends every row with CRLF
    # A cell may be a whole page's Markdown (--markdown): the csv module's default cap
    # (128 KiB a field) would make the file unreadable. The cap is the module's, for every reader.
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_MAX))
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return Records([], 1)
    if not rows:
        return out
    # Header cells are neutralised like data cells (see crawler.store.output): the field names are behind.
    header = [unneutralised(cell) for cell in rows[0]]
    body = rows[1:]
    if torn and body:
        body.pop()
        out.skipped += 1
    for row in body:
        if len(row) != len(header):
            out.skipped += 1
            continue
        out.records.append(_typed(dict(zip(header, row, strict=True))))
    return out


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row with the types JSON output would have (empty cells are null)."""
    record: dict[str, Any] = {}
    for key, cell in row.items():
        value: Any = cell
        if cell == "" and key != "url":
            value = None
        elif key in _INT_FIELDS:
            value = _number(cell, int)
        elif key == "elapsed_ms":
            value = _number(cell, float)
        elif key in _BOOL_FIELDS:
            value = cell == "true"
        else:
            value = unneutralised(cell)  # CSV output redoes it
        record[key] = value
    return record


def _number(cell: str, kind: type) -> Any:
    try:
        return kind(cell)
    except ValueError:
        return cell
