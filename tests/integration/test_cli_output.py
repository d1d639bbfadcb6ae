"""Output through the real CLI: CSV, JSON and JSONL files and stdout, and seed sources."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RECORD_FIELDS, CrawlRun, crawl_cli, read_csv, run_cli
from tests.site import FORMULA_TITLES, LATIN1_TITLE, QUOTE_TITLE, Site, expected_crawl

WORKERS = ("-w", "2")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")

# name -> (extra CLI options, output file name or None for stdout, format to read)
VARIANTS: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "csv": ((), "out.csv", "csv"),
    "json": ((), "out.json", "json"),
    "jsonl": ((), "out.jsonl", "jsonl"),
    "format-json-txt": (("--format", "json"), "out.txt", "json"),
    "format-csv-upper": (("--format", "csv"), "OUT.JSON", "csv"),
    "dash": (("-o", "-"), None, "jsonl"),
    "default-stdout": ((), None, "jsonl"),
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def output_run(request: pytest.FixtureRequest, site: Site, tmp_path_factory: pytest.TempPathFactory) -> CrawlRun:
    options, name, fmt = VARIANTS[request.param]
    output = None
    if name is not None:
        output = tmp_path_factory.mktemp(request.param) / name
        output.write_text("stale content from an earlier run, longer than nothing\n" * 50)
    # depth 2 reaches /b1 (Latin-1 title) and /file.pdf (null title)
    return crawl_cli(site, site.url("/"), "-d", 2, *WORKERS, *options, output=output, fmt=fmt)


def test_same_url_set_in_every_format(output_run: CrawlRun, site: Site) -> None:
    assert output_run.result.returncode == 0, output_run.result.stderr
    assert output_run.urls() == {site.url(p) for p in expected_crawl(2)}
    assert len(output_run.records) == len(expected_crawl(2))


def test_spec_fields_in_spec_order(output_run: CrawlRun) -> None:
    if output_run.output is not None and output_run.records and isinstance(output_run.records[0]["depth"], str):
        header, _ = read_csv(output_run.output)
        assert tuple(header) == RECORD_FIELDS
    for record in output_run.records:
        assert tuple(record) == RECORD_FIELDS


def test_stdout_holds_records_only(output_run: CrawlRun) -> None:
    if output_run.output is None:
        assert len(output_run.result.stdout.splitlines()) == len(output_run.records)
    else:
        assert output_run.result.stdout == ""


def test_values_round_trip(output_run: CrawlRun, site: Site) -> None:
    records = output_run.by_url()
    home = records[site.url("/")]
    pdf = records[site.url("/file.pdf")]
    b1 = records[site.url("/b1")]
    a = records[site.url("/a")]
    if isinstance(home["depth"], str):  # CSV: text cells, empty for null
        assert home["status"] == "200"
        assert home["depth"] == "0"
        assert home["referrer"] == ""
        assert home["error"] == ""
        assert pdf["title"] == ""
        assert a["depth"] == "1"
        assert int(a["links"]) == 5
        float(a["elapsed_ms"])
    else:
        assert home["status"] == 200
        assert home["ok"] is True
        assert home["depth"] == 0
        assert home["referrer"] is None
        assert home["error"] is None
        assert pdf["title"] is None
        assert a["depth"] == 1
        assert a["links"] == 5
        assert isinstance(a["bytes"], int)
        assert isinstance(a["elapsed_ms"], (int, float))
    assert b1["title"] == LATIN1_TITLE
    assert a["referrer"] == site.url("/")
    assert pdf["content_type"] == "application/pdf"
    for record in output_run.records:
        assert ISO_UTC.match(record["fetched_at"]), record["fetched_at"]


@pytest.mark.parametrize("output_run", ["json", "format-json-txt"], indirect=True)
def test_json_file_is_one_array(output_run: CrawlRun) -> None:
    assert output_run.output is not None
    data = json.loads(output_run.output.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    assert len(data) == len(expected_crawl(2))


def test_summary_on_stderr(output_run: CrawlRun) -> None:
    lines = output_run.result.stderr.strip().splitlines()
    assert len(lines) == 1, output_run.result.stderr
    assert lines[0].startswith("crawler:")
    assert "Traceback" not in output_run.result.stderr


def test_quiet_means_nothing_on_stderr(site: Site) -> None:
    run = crawl_cli(site, site.url("/a"), "-q", *WORKERS)
    assert run.result.returncode == 0
    assert run.result.stderr == ""
    assert run.urls() == {site.url("/a")}


def test_json_to_stdout(site: Site) -> None:
    run = crawl_cli(site, site.url("/"), "-d", 1, "-o", "-", "--format", "json", *WORKERS, fmt="json")
    assert run.result.returncode == 0, run.result.stderr
    data = json.loads(run.result.stdout)
    assert {r["url"] for r in data} == {site.url(p) for p in expected_crawl(1)}


def test_csv_to_stdout(site: Site) -> None:
    run = crawl_cli(site, site.url("/"), "-d", 1, "-o", "-", "--format", "csv", *WORKERS, fmt="csv")
    assert run.result.returncode == 0, run.result.stderr
    reader = csv.DictReader(io.StringIO(run.result.stdout, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == RECORD_FIELDS
    assert {r["url"] for r in rows} == {site.url(p) for p in expected_crawl(1)}


# -- CSV formula neutralisation ----------------------------------------------------------
@pytest.fixture(scope="module")
def formula_runs(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CrawlRun]:
    directory = tmp_path_factory.mktemp("formula")
    return {fmt: crawl_cli(site, site.url("/formula"), "-d", 1, *WORKERS, output=directory / f"out.{fmt}")
            for fmt in ("csv", "json")}


@pytest.mark.parametrize("path", list(FORMULA_TITLES))
def test_csv_formula_cells_are_neutralised(path: str, formula_runs: dict[str, CrawlRun], site: Site) -> None:
    title = FORMULA_TITLES[path]
    cell = formula_runs["csv"].by_url()[site.url(path)]["title"]
    assert cell.startswith("'"), cell
    assert cell == "'" + title
    # JSON carries the text as it is
    assert formula_runs["json"].by_url()[site.url(path)]["title"] == title


def test_csv_quoting_round_trips(formula_runs: dict[str, CrawlRun], site: Site) -> None:
    assert formula_runs["csv"].by_url()[site.url("/formula/quote")]["title"] == QUOTE_TITLE
    assert formula_runs["csv"].by_url()[site.url("/formula")]["title"] == "Formulas"
    assert formula_runs["json"].by_url()[site.url("/formula/quote")]["title"] == QUOTE_TITLE


def test_csv_has_no_formula_cell_anywhere(formula_runs: dict[str, CrawlRun]) -> None:
    output = formula_runs["csv"].output
    assert output is not None
    with open(output, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            for cell in row:
                assert not cell.startswith(("=", "+", "@")), cell
                assert not (cell.startswith("-") and not _is_number(cell)), cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- seeds -------------------------------------------------------------------------------
def test_seed_sources(site: Site, tmp_path: Path) -> None:
    bare = f"127.0.0.1:{site.port}/graph/20"
    lines = [
        "# a seed file with comments",
        "",
        f"   {site.url('/graph/10')}   ",
        bare,
        f"{site.url('/graph/30')} # trailing comment",
        "   # indented comment",
        "\t",
        site.url("/graph/10"),  # a duplicate
    ]
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")  # BOM + CRLF
    stdin = f"{site.url('/graph/60')}\n\n# stdin comment\n{site.url('/graph/10')}\n"
    run = crawl_cli(site, seeds, site.url("/graph/40"), "-", f"127.0.0.1:{site.port}/graph/50", *WORKERS,
                    input=stdin)
    assert run.result.returncode == 0, run.result.stderr
    expected = {f"/graph/{n}" for n in (10, 20, 30, 40, 50, 60)}
    assert run.urls() == {site.url(p) for p in expected}
    assert len(run.records) == 6, "duplicates across sources are fetched once"
    assert {k: v for k, v in run.hits.items() if k != "/robots.txt"} == dict.fromkeys(expected, 1)
    assert all(r["depth"] == 0 and r["referrer"] is None for r in run.records)


def test_seed_file_from_stdin_only(site: Site) -> None:
    run = crawl_cli(site, "-", *WORKERS, input=f"{site.url('/a')}\n{site.url('/b')}\n")
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url("/a"), site.url("/b")}


def test_url_seed_is_normalised(site: Site) -> None:
    run = crawl_cli(site, f"HTTP://127.0.0.1:{site.port}/a#section", *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    assert run.urls() == {site.url("/a")}


def test_console_script_and_version() -> None:
    script = Path(sys.executable).with_name("crawler")
    if not script.exists():
        pytest.skip("the crawler console script is not installed next to this Python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == run_cli("--version").stdout.strip()
    assert result.stdout.startswith("crawler ")
