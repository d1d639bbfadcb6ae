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

from ..errors import UsageError
from ..page import RECORD_FIELDS, Page

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Writer(Protocol):
    """Writes records to one destination."""

    def write(self, page: Page) -> None:
        """Write one record and flush it."""

    def write_record(self, record: dict[str, Any]) -> None:
        """Write one record given as a dict (as `Page.to_dict` makes it) and flush it."""

    def encode(self, record: dict[str, Any]) -> str:
        """The exact text `write_record` would append for ``record``."""

    def size(self) -> int:
        """Bytes in the output file so far (0 for a stream)."""

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
                last_fields: tuple[str, ...] = (), append: bool = False) -> Writer:
    """A writer for ``path`` (``-`` is stdout); raises `UsageError` if it cannot be opened.

    ``extra_fields`` and ``last_fields`` name CSV columns up front (see
    `CsvWriter`); JSON and JSONL write each record's fields in its own order.
    ``append`` (JSONL and CSV) adds to an existing file; a CSV file's header
    is then read from it, not written again.
    """
    kind = format_for(path, fmt)
    header: list[str] | None = None
    if path == "-":
        stream: TextIO = sys.stdout
    else:
        try:
            if append and kind == "csv":
                header = _csv_header(path)
            stream = open(path, "a" if append else "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by the writer
        except OSError as exc:
            raise UsageError(f"cannot write output {path!r}: {exc.strerror or exc}") from None
    if kind == "csv":
        return CsvWriter(stream, extra_fields, last_fields, header=header)
    if kind == "json":
        return JsonWriter(stream)
    return JsonlWriter(stream)


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


def _csv_header(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), None)
    except FileNotFoundError:
        return None
    # The names the records carry, not the neutralised cells written for them.
    return None if header is None else [unneutralised(cell) for cell in header]


def unneutralised(cell: str) -> str:
    """The text behind a CSV cell this writer neutralised against formula injection (``'=x`` -> ``=x``)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


class _StreamWriter:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, page: Page) -> None:
        self.write_record(page.to_dict())

    def write_record(self, record: dict[str, Any]) -> None:
        self.stream.write(self.encode(record))
        self.stream.flush()

    def encode(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def size(self) -> int:
        self.stream.flush()
        try:
            return os.fstat(self.stream.fileno()).st_size
        except (OSError, AttributeError, io.UnsupportedOperation):
            return 0

    def close(self) -> None:
        self.stream.flush()
        if self.stream is not sys.stdout:
            self.stream.close()


class JsonlWriter(_StreamWriter):
    """One JSON object per line."""

    def encode(self, record: dict[str, Any]) -> str:
        return _dumps(record) + "\n"


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
        self.write_record(page.to_dict())

    def encode(self, record: dict[str, Any]) -> str:
        return _dumps(record)

    def write_record(self, record: dict[str, Any]) -> None:
        text = self.encode(record)
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
                 last_fields: tuple[str, ...] = (), header: list[str] | None = None) -> None:
        super().__init__(stream)
        self._extra = list(extra_fields)
        self._last = list(last_fields)
        # An appended-to file already has its header: its columns rule.
        self._columns: list[str] | None = header

    def write_record(self, record: dict[str, Any]) -> None:
        if self._columns is None:
            extra = list(self._extra)
            for key in record:
                if key not in extra and key not in self._last and key not in RECORD_FIELDS:
                    extra.append(key)
            self._columns = [*RECORD_FIELDS, *extra, *self._last]
            # Header cells are neutralised like data cells: a hook's field "=cmd" is a column name.
            self.stream.write(_csv_line([_cell(name) for name in self._columns]))
        super().write_record(record)

    def encode(self, record: dict[str, Any]) -> str:
        columns = self._columns if self._columns is not None else [*RECORD_FIELDS, *self._extra, *self._last]
        return _csv_line([_cell(record.get(name)) for name in columns])


def _csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


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
