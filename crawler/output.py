"""Record writers: CSV, JSON and JSON Lines, all safe to interrupt.

Every writer flushes after each record, so a killed run keeps every record
already reported:

* JSONL writes one line per record.
* JSON keeps the file a valid array after every record: the closing ``]`` is
  written each time and overwritten by the next record (on a seekable file).
* CSV (RFC 4180, CRLF line ends) writes the header with the first record and
  neutralises cells that a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any, Protocol, TextIO

from .errors import UsageError
from .page import RECORD_FIELDS, Page

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Writer(Protocol):
    """Writes records to one destination."""

    def write(self, page: Page) -> None:
        """Write one record and flush it."""

    def close(self) -> None:
        """Finish the output (JSON's closing bracket) and close the file."""


def format_for(path: str, fmt: str | None = None) -> str:
    """The output format: ``fmt`` if given, else from the extension (stdout: JSONL)."""
    if fmt:
        return fmt
    if path == "-":
        return "jsonl"
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"cannot tell the output format of {path!r}: use .csv, .json or .jsonl, or --format")
    return FORMATS[ext]


def open_writer(path: str, fmt: str | None = None, extra_fields: tuple[str, ...] = (),
                last_fields: tuple[str, ...] = ()) -> Writer:
    """A writer for ``path`` (``-`` is stdout); raises `UsageError` if it cannot be opened.

    ``extra_fields`` and ``last_fields`` name CSV columns up front (see
    `CsvWriter`); JSON and JSONL write each record's fields in its own order.
    """
    kind = format_for(path, fmt)
    if path == "-":
        stream: TextIO = sys.stdout
    else:
        try:
            stream = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by the writer
        except OSError as exc:
            raise UsageError(f"cannot write output {path!r}: {exc.strerror or exc}") from None
    if kind == "csv":
        return CsvWriter(stream, extra_fields, last_fields)
    if kind == "json":
        return JsonWriter(stream)
    return JsonlWriter(stream)


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


class _StreamWriter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def close(self) -> None:
        self.stream.flush()
        if self.stream is not sys.stdout:
            self.stream.close()


class JsonlWriter(_StreamWriter):
    """One JSON object per line."""

    def write(self, page: Page) -> None:
        self.stream.write(_dumps(page.to_dict()) + "\n")
        self.stream.flush()


class JsonWriter(_StreamWriter):
    """One JSON array, valid on disk after every record."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        try:
            self._seekable = stream.seekable()
        except (AttributeError, io.UnsupportedOperation):
            self._seekable = False
        self._count = 0
        self._closed_at: int | None = None
        if self._seekable:
            self.stream.write("[\n")
            self._closed_at = self.stream.tell()
            self.stream.write("]\n")
        else:
            self.stream.write("[")
        self.stream.flush()

    def write(self, page: Page) -> None:
        text = _dumps(page.to_dict())
        sep = ",\n" if self._count else ""
        self._count += 1
        if self._seekable:
            assert self._closed_at is not None
            self.stream.seek(self._closed_at)
            self.stream.write(sep + text)
            self._closed_at = self.stream.tell()
            self.stream.write("\n]\n")
        else:
            self.stream.write(sep + "\n" + text)
        self.stream.flush()

    def close(self) -> None:
        if self._seekable:
            self.stream.truncate()
        else:
            self.stream.write("\n]\n")
        super().close()


class CsvWriter(_StreamWriter):
    """RFC 4180 CSV: the record's fixed fields, then extra fields in order.

    Extra fields are ``extra_fields``, then any other the first record
    carries, then ``last_fields`` (selected fields, which SPEC puts last);
    a key first seen later is left out (CSV has one header).
    """

    def __init__(self, stream: TextIO, extra_fields: tuple[str, ...] = (),
                 last_fields: tuple[str, ...] = ()) -> None:
        super().__init__(stream)
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self._extra = list(extra_fields)
        self._last = list(last_fields)
        self._header = False

    def write(self, page: Page) -> None:
        if not self._header:
            for key in page.extra:
                if key not in self._extra and key not in self._last and key not in RECORD_FIELDS:
                    self._extra.append(key)
            self._extra += self._last
            self._writer.writerow(RECORD_FIELDS + tuple(self._extra))
            self._header = True
        row = [_cell(getattr(page, name)) for name in RECORD_FIELDS]
        row += [_cell(page.extra.get(name)) for name in self._extra]
        self._writer.writerow(row)
        self.stream.flush()

    def close(self) -> None:
        super().close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = "|".join(str(v) for v in value)
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    # OWASP's advice for CSV injection: a leading quote makes the cell text.
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text
