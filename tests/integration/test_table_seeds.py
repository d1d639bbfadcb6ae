"""CSV and JSONL seed files: the URL column, kept columns as ``input_*`` fields, bad rows as warnings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import RECORD_FIELDS, assert_clean_stderr, assert_usage_error, crawl_cli, read_output, run_cli
from tests.site import Site


def _csv_seeds(tmp_path: Path, site: Site, column: str = "link") -> Path:
    path = tmp_path / "seeds.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", column, "score", "note"])
        writer.writerow(["Home", site.url("/"), "3", "=cmd"])
        writer.writerow(["No URL", "", "4", ""])  # line 3: skipped with a warning
        writer.writerow(["Page B", site.url("/b"), "5", "multi\nline"])
    return path


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_kept_columns_go_into_the_seeds_records(site: Site, tmp_path: Path, fmt: str) -> None:
    seeds = _csv_seeds(tmp_path, site)
    out = tmp_path / f"out.{fmt}"
    run = crawl_cli(site, seeds, "-d", 1, "-w", 1, "--url-column", "link", "--keep-columns", "name,score,note",
                    output=out)
    assert run.result.returncode == 0, run.result.stderr
    assert run.result.stderr.count("crawler: warning:") == 1
    assert f"{seeds}:3: the 'link' cell is empty" in run.result.stderr
    by_url = {r["url"]: r for r in run.records}
    assert {site.url("/"), site.url("/a"), site.url("/b"), site.url("/b1")} <= set(by_url)
    home, found, page_b = by_url[site.url("/")], by_url[site.url("/a")], by_url[site.url("/b")]
    # The fields right after the record's own (SPEC: after the feature fields, before selectors and hooks).
    assert list(home)[len(RECORD_FIELDS):] == ["input_name", "input_score", "input_note"]
    formula = "'=cmd" if fmt == "csv" else "=cmd"  # neutralised in CSV, as every cell
    assert (home["input_name"], home["input_score"], home["input_note"]) == ("Home", "3", formula)
    assert (page_b["input_name"], page_b["input_note"]) == ("Page B", "multi\nline")
    empty = "" if fmt == "csv" else None  # a page found by crawling has none
    assert (found["input_name"], found["input_score"]) == (empty, empty)
    assert all(r["input_name"] == empty for url, r in by_url.items() if url not in (home["url"], page_b["url"]))


def test_jsonl_seeds_with_a_url_key_need_no_flag(site: Site, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.jsonl"
    rows = [{"url": site.url("/a"), "id": 7, "tags": ["x", "y"]}, "not an object", {"id": 8}, {"url": site.url("/b")}]
    seeds.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    run = crawl_cli(site, seeds, "-w", 1, "--keep-columns", "*")
    assert run.result.returncode == 0, run.result.stderr
    assert f"{seeds}:2: not a JSON object" in run.result.stderr
    assert f"{seeds}:3: no 'url' value" in run.result.stderr
    by_url = {r["url"]: r for r in run.records}
    assert by_url[site.url("/a")]["input_id"] == 7
    assert by_url[site.url("/a")]["input_tags"] == '["x","y"]'
    assert (by_url[site.url("/b")]["input_url"], by_url[site.url("/b")]["input_id"]) == (site.url("/b"), None)


def test_bad_rows_are_errors_with_strict_and_bad_columns_always(site: Site, tmp_path: Path) -> None:
    seeds = _csv_seeds(tmp_path, site)
    assert_usage_error(run_cli(seeds, "--url-column", "link", "--strict"), f"{seeds}:3")
    assert_usage_error(run_cli(seeds), "no 'url' column", "--url-column")
    assert_usage_error(run_cli(seeds, "--url-column", "link", "--keep-columns", "name,price"), "price")
    assert site.hits() == {}


def test_inputs_survive_a_state_resume(site: Site, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text("url,id\n" + "".join(f"{site.url(p)},{i}\n" for i, p in enumerate(["/a", "/b", "/a1"])))
    out, state = tmp_path / "out.jsonl", tmp_path / "crawl.db"
    args = [seeds, "-w", 1, "-c", 1, "--keep-columns", "id", "--state", state]
    first = crawl_cli(site, *args, "--max-pages", 1, output=out)
    assert first.result.returncode == 0, first.result.stderr
    second = crawl_cli(site, *args, output=out)
    assert second.result.returncode == 0, second.result.stderr
    records = read_output(out)
    assert {r["url"]: r["input_id"] for r in records} == {site.url("/a"): "0", site.url("/b"): "1",
                                                          site.url("/a1"): "2"}


def test_inputs_in_a_redis_crawl(site: Site, tmp_path: Path, redis_url: str) -> None:
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"url,id\n{site.url('/a')},A\n")
    run = crawl_cli(site, seeds, "-d", 1, "-w", 1, "--keep-columns", "id", "--redis", redis_url,
                    output=tmp_path / "node.jsonl")
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    by_url = {r["url"]: r for r in run.records}
    assert by_url[site.url("/a")]["input_id"] == "A"
    assert by_url[site.url("/a")]["node"]
    assert by_url[site.url("/a1")]["input_id"] is None


def test_library_reads_table_seeds(site: Site, tmp_path: Path) -> None:
    from crawler import crawl

    seeds = tmp_path / "seeds.csv"
    seeds.write_text(f"id,page\n9,{site.url('/a')}\n")
    site.reset()
    [page] = crawl(seeds, workers=1, robots=False, url_column="page", keep_columns="id")
    assert page.to_dict()["input_id"] == "9"


def test_column_options_without_a_table_warn(site: Site, tmp_path: Path) -> None:
    run = crawl_cli(site, site.url("/a"), "-w", 1, "--keep-columns", "id")
    assert run.result.returncode == 0, run.result.stderr
    assert "apply to .csv and .jsonl seed files; no seed file is one" in run.result.stderr
    assert "input_id" not in run.records[0]
