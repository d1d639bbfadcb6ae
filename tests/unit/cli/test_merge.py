"""`crawler merge`: tolerant readers, one record per url (latest fetched_at wins), mixed formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.cli.main import main
from crawler.cli.merge import merge_records
from crawler.store.output import open_writer
from crawler.store.records import read_records
from tests.conftest import read_csv, read_output


def rec(url: str, at: str = "2026-01-01T00:00:00.000Z", **fields) -> dict:
    base = {"url": url, "final_url": url, "status": 200, "ok": True, "content_type": "text/html", "bytes": 10,
            "elapsed_ms": 1.5, "depth": 0, "referrer": None, "title": f"T {url}", "links": 0, "error": None,
            "fetched_at": at, "attempts": 1, "noindex": False, "node": "n1"}
    base.update(fields)
    return base


def write(path: Path, records: list[dict]) -> Path:
    writer = open_writer(str(path), extra_fields=("node",))
    for record in records:
        writer.write_record(record)
    writer.close()
    return path


def test_jsonl_torn_last_line_is_skipped(tmp_path):
    path = write(tmp_path / "a.jsonl", [rec("u1"), rec("u2")])
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"url":"u3","fina')  # killed mid-write
    got = read_records(str(path))
    assert [r["url"] for r in got.records] == ["u1", "u2"]
    assert got.skipped == 1


def test_csv_torn_last_row_is_skipped_and_types_come_back(tmp_path):
    path = write(tmp_path / "a.csv", [rec("u1", title="=1+2"), rec("u2")])
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:-9], encoding="utf-8")  # the last row, cut
    got = read_records(str(path))
    assert [r["url"] for r in got.records] == ["u1"]
    assert got.skipped == 1
    first = got.records[0]
    assert (first["status"], first["ok"], first["elapsed_ms"], first["referrer"], first["title"]) == \
        (200, True, 1.5, None, "=1+2")


def test_json_cut_short_keeps_the_complete_records(tmp_path):
    path = write(tmp_path / "a.json", [rec("u1"), rec("u2")])
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex('"u2"') + 20], encoding="utf-8")
    got = read_records(str(path))
    assert [r["url"] for r in got.records] == ["u1"]
    assert got.skipped == 1


def test_latest_fetched_at_wins_and_first_appearance_keeps_the_order():
    early, late = "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"
    merged = merge_records([[rec("a", early, title="old"), rec("b")], [rec("c"), rec("a", late, title="new")],
                            [rec("a", early, title="tie")]])
    assert [(r["url"], r["title"]) for r in merged] == [("a", "new"), ("b", "T b"), ("c", "T c")]


def test_merge_command_mixed_inputs_to_csv(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [rec("u1"), rec("u2")])
    b = write(tmp_path / "b.csv", [rec("u2", node="n2"), rec("u3", node="n2", title="-x")])
    c = write(tmp_path / "c.json", [rec("u4", node="n3")])
    out = tmp_path / "all.csv"
    assert main(["merge", str(out), str(a), str(b), str(c)]) == 0
    header, rows = read_csv(out)
    assert header[-1] == "node"
    assert [row["url"] for row in rows] == ["u1", "u2", "u3", "u4"]
    assert rows[2]["title"] == "'-x"  # neutralised again
    assert "merged 4 records from 3 files (1 duplicates dropped" in capsys.readouterr().err


def test_merge_command_csv_to_json_keeps_types(tmp_path):
    b = write(tmp_path / "b.csv", [rec("u1", status=None, ok=False, error="dns: no such host")])
    out = tmp_path / "all.json"
    assert main(["merge", "-q", str(out), str(b)]) == 0
    [record] = read_output(out)
    assert (record["status"], record["ok"], record["error"], record["depth"]) == (None, False, "dns: no such host", 0)


@pytest.mark.parametrize(("argv", "fragment"), [
    (["merge", "x.jsonl", "x.jsonl"], "is also an input"),
    (["merge", "out.txt", "a.jsonl"], "cannot tell the output format"),
    (["merge", "out.jsonl", "missing.jsonl"], "cannot read 'missing.jsonl'"),
    (["merge", "out.jsonl"], "the following arguments are required: IN"),
    (["merge", "out.jsonl", "a.jsonl", "--redis", "redis://127.0.0.1:1/0"], "--redis and --crawl-id go together"),
])
def test_merge_usage_errors_are_one_line(tmp_path, monkeypatch, capsys, argv, fragment):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.jsonl", [rec("u1")])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("crawler: error:"), err
    assert fragment in err[0], err
    assert not (tmp_path / "out.jsonl").exists()


def test_merge_output_is_replaced_atomically(tmp_path):
    a = write(tmp_path / "a.jsonl", [rec("u1")])
    out = tmp_path / "all.jsonl"
    out.write_text("old\n", encoding="utf-8")
    assert main(["merge", "-q", str(out), str(a)]) == 0
    assert [json.loads(line)["url"] for line in out.read_text().splitlines()] == ["u1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "all.jsonl"]


def test_neutralised_csv_header_cells_read_back_as_field_names(tmp_path):
    path = tmp_path / "hook.csv"
    path.write_text("url,'=cmd,title\r\nhttp://a.test/,'-1,'+t\r\n", encoding="utf-8")
    (record,) = read_records(str(path)).records
    assert record == {"url": "http://a.test/", "=cmd": "-1", "title": "+t"}
