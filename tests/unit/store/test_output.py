"""crawler.store.output: JSONL, JSON and CSV writers, and picking the format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crawler.errors import UsageError
from crawler.page import FIELDS, RECORD_FIELDS, Page
from crawler.store.output import format_for, open_writer


def page(n: int = 1, **kw) -> Page:
    values = dict(
        url=f"http://a.test/{n}", final_url=f"http://a.test/{n}", status=200, ok=True,
        content_type="text/html", bytes=1234, elapsed_ms=12.5, depth=0, referrer=None,
        title=f"Page {n}", links=3, error=None, fetched_at="2026-11-22T03:04:05.123Z",
    )
    values.update(kw)
    return Page(**values)


def failed_page() -> Page:
    return Page(url="http://b.test/", final_url="http://b.test/", status=None, ok=False,
                error="dns: Name or service not known", depth=1, referrer="http://a.test/1",
                fetched_at="2026-11-22T03:04:06.000Z")


def read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


# -- JSONL ---------------------------------------------------------------------------------


def test_jsonl_one_line_per_record_flushed(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = open_writer(str(path), "jsonl")
    try:
        assert path.read_text(encoding="utf-8") == ""  # created up front
        writer.write(page(1))
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1
        writer.write(failed_page())
        lines = path.read_text(encoding="utf-8").splitlines()  # before close
        assert len(lines) == 2
    finally:
        writer.close()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert list(records[0]) == list(RECORD_FIELDS)
    assert records[0]["url"] == "http://a.test/1"
    assert records[0]["ok"] is True
    assert records[0]["status"] == 200
    assert records[0]["elapsed_ms"] == 12.5
    assert records[1]["status"] is None
    assert records[1]["title"] is None
    assert records[1]["error"] == "dns: Name or service not known"
    assert records[1]["referrer"] == "http://a.test/1"


def test_jsonl_from_extension_and_unicode(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = open_writer(str(path))
    writer.write(page(title="\u65e5\u672c\u8a9e \u201cq\u201d\nnewline"))
    writer.close()
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 1  # an embedded newline is escaped
    assert json.loads(text)["title"] == "\u65e5\u672c\u8a9e \u201cq\u201d\nnewline"


def test_jsonl_extra_fields_follow(tmp_path):
    path = tmp_path / "out.jsonl"
    writer = open_writer(str(path))
    writer.write(page(extra={"h1": "Heading", "lang": "en"}))
    writer.close()
    record = json.loads(path.read_text(encoding="utf-8"))
    assert list(record) == [*RECORD_FIELDS, "h1", "lang"]
    assert record["h1"] == "Heading"


def test_jsonl_zero_records_empty_file(tmp_path):
    path = tmp_path / "out.jsonl"
    open_writer(str(path)).close()
    assert path.exists()
    assert path.read_text(encoding="utf-8") == ""


def test_stdout_is_jsonl(capsys):
    writer = open_writer("-")
    writer.write(page(1))
    writer.close()
    out = capsys.readouterr().out
    assert json.loads(out)["url"] == "http://a.test/1"
    assert out.endswith("\n")


# -- JSON ------------------------------------------------------------------------------------


def test_json_valid_after_every_write(tmp_path):
    path = tmp_path / "out.json"
    writer = open_writer(str(path), "json")
    try:
        assert json.loads(path.read_text(encoding="utf-8")) == []
        writer.write(page(1))
        data = json.loads(path.read_text(encoding="utf-8"))
        assert [r["url"] for r in data] == ["http://a.test/1"]
        writer.write(failed_page())
        writer.write(page(3))
        data = json.loads(path.read_text(encoding="utf-8"))
        assert [r["url"] for r in data] == ["http://a.test/1", "http://b.test/", "http://a.test/3"]
    finally:
        writer.close()
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data) == 3
    assert all(list(r) == list(RECORD_FIELDS) for r in data)
    assert data[1]["status"] is None


def test_json_zero_records(tmp_path):
    path = tmp_path / "out.json"
    open_writer(str(path)).close()
    assert json.loads(path.read_text(encoding="utf-8")) == []


def test_json_no_trailing_garbage_after_close(tmp_path):
    path = tmp_path / "out.json"
    writer = open_writer(str(path))
    for i in range(5):
        writer.write(page(i, title="x" * (50 - i * 10)))  # shrinking records
    writer.close()
    text = path.read_text(encoding="utf-8")
    assert len(json.loads(text)) == 5
    assert text.rstrip().endswith("]")


def test_json_to_stdout_is_valid(monkeypatch):
    stream = io.StringIO()
    stream.seekable = lambda: False  # stdout is usually a pipe
    monkeypatch.setattr("sys.stdout", stream)
    writer = open_writer("-", "json")
    writer.write(page(1))
    writer.write(page(2))
    writer.close()
    assert [r["url"] for r in json.loads(stream.getvalue())] == ["http://a.test/1", "http://a.test/2"]


# -- CSV -------------------------------------------------------------------------------------


def test_csv_header_and_rows(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path), "csv")
    writer.write(page(1))
    writer.write(failed_page())
    rows = read_csv(path)  # before close
    assert len(rows) == 3
    writer.close()
    rows = read_csv(path)
    assert rows[0] == list(RECORD_FIELDS)
    assert len(FIELDS) == 13
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["url"] == "http://a.test/1"
    assert first["status"] == "200"
    assert first["ok"] == "true"
    assert first["referrer"] == ""
    assert first["error"] == ""
    assert first["elapsed_ms"] == "12.5"
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["status"] == ""
    assert second["ok"] == "false"
    assert second["title"] == ""
    assert second["content_type"] == ""
    assert second["depth"] == "1"


def test_csv_crlf_line_endings(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1))
    writer.write(page(2, title="multi\nline"))
    writer.close()
    raw = path.read_bytes()
    assert raw.startswith(b"url,final_url,status,ok,content_type,bytes,elapsed_ms,depth,referrer,title,links,"
                          b"error,fetched_at,attempts,noindex\r\n")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\r\n") == 3
    assert read_csv(path)[2][FIELDS.index("title")] == "multi\nline"


@pytest.mark.parametrize("dangerous", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_formula_neutralised(tmp_path, dangerous):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1, title=dangerous, error=dangerous, extra={"h1": dangerous}))
    writer.close()
    rows = read_csv(path)
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["title"] == "'" + dangerous
    assert row["error"] == "'" + dangerous
    assert row["h1"] == "'" + dangerous


def test_csv_safe_cells_untouched(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1, title="a = b, \"quoted\"", elapsed_ms=0.0))
    writer.close()
    row = dict(zip(*read_csv(path), strict=True))
    assert row["title"] == "a = b, \"quoted\""
    assert row["url"] == "http://a.test/1"


def test_csv_extra_fields_appended(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1, extra={"h1": "Heading", "price": "9.99"}))
    writer.write(page(2, extra={"price": "1.00"}))  # h1 missing: empty cell
    writer.close()
    rows = read_csv(path)
    assert rows[0] == [*RECORD_FIELDS, "h1", "price"]
    assert rows[1][-2:] == ["Heading", "9.99"]
    assert rows[2][-2:] == ["", "1.00"]
    assert all(len(r) == len(RECORD_FIELDS) + 2 for r in rows)


def test_csv_declared_extra_fields_order(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path), extra_fields=("b", "a"))
    writer.write(page(1, extra={"a": "A", "b": "B", "c": "C"}))
    writer.close()
    rows = read_csv(path)
    assert rows[0] == [*RECORD_FIELDS, "b", "a", "c"]
    assert rows[1][-3:] == ["B", "A", "C"]


def test_csv_last_fields_after_every_other_extra(tmp_path):
    # --select fields come last, after the fields an extract hook returns
    path = tmp_path / "out.csv"
    writer = open_writer(str(path), last_fields=("s1", "s2"))
    writer.write(page(1, extra={"hook": "H", "s1": "one", "s2": ["a", "=b"]}))
    writer.write(page(2, extra={"s1": None, "s2": None}))
    writer.close()
    rows = read_csv(path)
    assert rows[0] == [*RECORD_FIELDS, "hook", "s1", "s2"]
    assert rows[1][-3:] == ["H", "one", "a|=b"]  # a list is |-joined; the cell starts with "a": kept
    assert rows[2][-3:] == ["", "", ""]


def test_csv_last_fields_in_header_when_the_first_record_has_none(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path), last_fields=("price",))
    writer.write(failed_page())
    writer.close()
    rows = read_csv(path)
    assert rows[0] == [*RECORD_FIELDS, "price"]
    assert rows[1][-1] == ""


def test_csv_selected_list_starting_with_a_formula_is_neutralised(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path), last_fields=("tags",))
    writer.write(page(1, extra={"tags": ["=HYPERLINK(1)", "b"]}))
    writer.close()
    assert read_csv(path)[1][-1] == "'=HYPERLINK(1)|b"


def test_csv_unicode(tmp_path):
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1, title="\u65e5\u672c\u8a9e caf\u00e9"))
    writer.close()
    assert read_csv(path)[1][FIELDS.index("title")] == "\u65e5\u672c\u8a9e caf\u00e9"


def test_csv_zero_records_file_created(tmp_path):
    path = tmp_path / "out.csv"
    open_writer(str(path)).close()
    assert path.exists()


# -- format_for / open_writer -------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    ("out.csv", "csv"),
    ("out.json", "json"),
    ("out.jsonl", "jsonl"),
    ("OUT.CSV", "csv"),
    ("dir.d/out.JSON", "json"),
    ("-", "jsonl"),
])
def test_format_for(path, expected):
    assert format_for(path) == expected


def test_format_override():
    assert format_for("out.txt", "csv") == "csv"
    assert format_for("out.csv", "json") == "json"
    assert format_for("-", "csv") == "csv"


@pytest.mark.parametrize("path", ["out.txt", "out", "out.xlsx", "archive.csv.gz"])
def test_format_for_unknown_extension(path):
    with pytest.raises(UsageError, match="format"):
        format_for(path)


def test_open_writer_unwritable_path(tmp_path):
    with pytest.raises(UsageError):
        open_writer(str(tmp_path / "no" / "such" / "dir" / "out.jsonl"))


def test_open_writer_format_overrides_extension(tmp_path):
    path = tmp_path / "out.txt"
    writer = open_writer(str(path), "csv")
    writer.write(page(1))
    writer.close()
    assert read_csv(path)[0] == list(RECORD_FIELDS)


def test_csv_header_cells_neutralised_like_data_cells(tmp_path):
    # Issue 16, defect 7: an extract hook's field "=cmd" was an unescaped header cell.
    path = tmp_path / "out.csv"
    writer = open_writer(str(path))
    writer.write(page(1, extra={"=cmd|' /C calc'!A0": "x", "+sum": "y", "plain": "z"}))
    writer.close()
    header = read_csv(path)[0]
    assert header[-3:] == ["'=cmd|' /C calc'!A0", "'+sum", "plain"]
    # Appending reads the header back as the field names the records carry.
    writer = open_writer(str(path), append=True)
    writer.write(page(2, extra={"=cmd|' /C calc'!A0": "x2", "+sum": "y2", "plain": "z2"}))
    writer.close()
    rows = read_csv(path)
    assert rows[0] == header
    assert rows[2][-3:] == ["x2", "y2", "z2"]
