"""Seed files that are tables: ``.csv`` (a header row, then one row per seed) and ``.jsonl``
(one JSON object per line).

The URL comes from the ``url`` column, or the one ``--url-column`` names;
``--keep-columns A,B`` (or ``*``, every column) copies other cells of a row
into the record of that row's seed, as ``input_A``, ``input_B`` (minet's
``fetch -i file.csv -s col``). A file-level problem (no such column, not a
CSV) is a `SeedError`; a bad row is a `SeedError` for that row, which the
caller skips and reports like a bad line of a seed list.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SeedError

#: seed file suffixes read as tables
TABLE_SUFFIXES = (".csv", ".jsonl")
DEFAULT_URL_COLUMN = "url"
#: ``--keep-columns '*'``: every column of the file
ALL_COLUMNS = "*"
INPUT_PREFIX = "input_"


@dataclass
class SeedInputs:
    """The input columns kept for seeds: record field names in order, and each seed's values.

    ``fields`` are the ``input_NAME`` fields every record carries (None but
    for seeds'); ``by_url`` maps a canonical seed URL to its values.
    """

    fields: list[str] = field(default_factory=list)
    by_url: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: table seed files read
    tables: int = 0

    def for_url(self, url: str) -> dict[str, Any]:
        """The ``input_*`` fields of the record for ``url`` (None where it is no seed)."""
        values = self.by_url.get(url)
        if values is None:
            return dict.fromkeys(self.fields)
        return {name: values.get(name) for name in self.fields}


@dataclass
class Row:
    """One row of a table: where it is, its URL cell (None if the row is bad), the cells kept, or the problem."""

    where: str
    url: str | None
    kept: dict[str, Any]
    problem: SeedError | None = None


def is_table(path: str) -> bool:
    """Whether the seed file at ``path`` is read as a table (by its suffix)."""
    return path.lower().endswith(TABLE_SUFFIXES)


def read_table(path: str, url_column: str | None, keep: Sequence[str], fields: list[str]) -> Iterator[Row]:
    """The rows of the table at ``path``; ``fields`` gets the ``input_*`` names it adds, in order."""
    column = url_column or DEFAULT_URL_COLUMN
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            if path.lower().endswith(".csv"):
                yield from _csv_rows(f, path, column, url_column is not None, keep, fields)
            else:
                yield from _jsonl_rows(f, path, column, keep, fields)
    except UnicodeDecodeError as exc:
        raise SeedError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SeedError(f"{path}: cannot read seed file: {exc.strerror or exc}") from None


def _add_fields(fields: list[str], names: Sequence[str]) -> None:
    for name in names:
        if INPUT_PREFIX + name not in fields:
            fields.append(INPUT_PREFIX + name)


def _csv_rows(f: Any, path: str, column: str, named: bool, keep: Sequence[str],
              fields: list[str]) -> Iterator[Row]:
    reader = csv.reader(f)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise SeedError(f"{path}:1: not a CSV header row ({exc})") from None
    if not header:
        raise SeedError(f"{path}: empty CSV file (a header row with a {column!r} column comes first)")
    header = [name.strip() for name in header]
    if column not in header:
        hint = "" if named else "; name the URL column with --url-column"
        raise SeedError(f"{path}: no {column!r} column (columns: {', '.join(header)[:200]}){hint}")
    kept = [name for name in header if name] if keep == [ALL_COLUMNS] else list(keep)
    missing = [name for name in kept if name not in header]
    if missing:
        raise SeedError(f"{path}: --keep-columns names no column of this file: {', '.join(missing)} "
                        f"(columns: {', '.join(header)[:200]})")
    _add_fields(fields, kept)
    index = {name: header.index(name) for name in (column, *kept)}
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            yield Row(f"{path}:{line}", None, {}, SeedError(f"{path}:{line}: not a CSV row ({exc})"))
            line = reader.line_num + 1
            continue
        if cells is None:
            return
        where = f"{path}:{line}"
        line = reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as in a seed list
        if len(cells) != len(header):
            yield Row(where, None, {}, SeedError(f"{where}: {len(cells)} cells for {len(header)} columns"))
            continue
        url = cells[index[column]].strip()
        if not url:
            yield Row(where, None, {}, SeedError(f"{where}: the {column!r} cell is empty"))
            continue
        yield Row(where, url, {INPUT_PREFIX + name: cells[index[name]] for name in kept})


def _jsonl_rows(f: Any, path: str, column: str, keep: Sequence[str], fields: list[str]) -> Iterator[Row]:
    every = keep == [ALL_COLUMNS]
    if not every:
        _add_fields(fields, keep)
    for number, text in enumerate(f, 1):
        where = f"{path}:{number}"
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            yield Row(where, None, {}, SeedError(f"{where}: not JSON ({exc})"))
            continue
        if not isinstance(obj, dict):
            yield Row(where, None, {}, SeedError(f"{where}: not a JSON object: {text.strip()[:100]!r}"))
            continue
        url = obj.get(column)
        if not isinstance(url, str):
            found = "no" if url is None else f"a non-string ({type(url).__name__})"
            yield Row(where, None, {}, SeedError(f"{where}: {found} {column!r} value"))
            continue
        names = list(obj) if every else keep
        if every:
            _add_fields(fields, names)
        yield Row(where, url.strip(), {INPUT_PREFIX + name: _cell(obj.get(name)) for name in names})


def _cell(value: Any) -> Any:
    # Scalars stay as they are (a JSON number stays a number); a list or an
    # object becomes its JSON text, one value for one CSV cell.
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

