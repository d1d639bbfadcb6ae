"""--markdown, --markdown-dir and --chunks through the real CLI, its worker processes and a loopback site.

The site serves the pages of tests/markdown_pages.py (known main content),
a JSON file and a page of boilerplate only; the pages dict is changed
between runs to exercise --state re-crawls.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from crawler.store.chunks import markdown_body
from crawler.worker.markdown import html_markdown
from tests.conftest import (
    RECORD_FIELDS,
    ROOT,
    assert_clean_stderr,
    assert_usage_error,
    cli_command,
    cli_env,
    kill_group,
    page_handler,
    read_output,
    run_cli,
    serving,
)
from tests.markdown_pages import ARTICLE, BOILERPLATE_ONLY, DIVS, DOCS

INDEX = b"""<html lang="en"><head><title>Index</title></head><body><nav><a href="/">Home</a></nav>
<main><h1>Welcome</h1><p>This site has a guide, a garden diary and some data for the tests.</p>
<p><a href="/guide">Guide</a> <a href="/garden">Garden</a> <a href="/boiler">Boiler</a>
<a href="/data.json">Data</a> <a href="/guide?page=2">Guide, page 2</a></p></main></body></html>"""


@pytest.fixture
def pages() -> dict[str, Any]:
    return {
        "/": INDEX,
        "/guide": ARTICLE.html.encode(),
        "/guide?page=2": DOCS.html.encode(),
        "/garden": DIVS.html.encode(),
        "/boiler": BOILERPLATE_ONLY.html.encode(),
        "/data.json": (b'{"a": 1}', "application/json"),
    }


@pytest.fixture
def base(pages: dict[str, Any]) -> Iterator[str]:
    with serving(page_handler(pages)) as url:
        yield url


def crawl(base: str, out: Path, *extra: object) -> list[dict[str, Any]]:
    result = run_cli(f"{base}/", "-d", 1, "-w", 2, "--no-robots", "-q", "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    assert_clean_stderr(result.stderr)
    return read_output(out)


def by_path(records: list[dict[str, Any]], base: str) -> dict[str, dict[str, Any]]:
    return {record["url"][len(base):]: record for record in records}


def read_md(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n\n", 1)
    return yaml.safe_load(head), body


def test_markdown_files_and_chunks(base: str, pages: dict[str, Any], tmp_path: Path) -> None:
    out, folder, chunks = tmp_path / "out.jsonl", tmp_path / "md", tmp_path / "chunks.jsonl"
    records = by_path(crawl(base, out, "--markdown", "--markdown-dir", folder, "--chunks", chunks,
                            "--chunk-words", 30, "--select", "h1=h1"), base)
    assert set(records) == set(pages)
    # Field order: the record's own fields, then markdown and markdown_file, then the selectors'.
    assert list(records["/guide"])[-3:] == ["markdown", "markdown_file", "h1"]
    assert list(records["/guide"])[: len(RECORD_FIELDS)] == list(RECORD_FIELDS)

    guide = records["/guide"]
    assert guide["markdown"] == html_markdown(pages["/guide"], f"{base}/guide").markdown
    assert guide["markdown"].startswith("# Parsing HTML fast\n")
    assert "[lxml notes][1]" in guide["markdown"]
    assert f"\n[1]: {base}/docs/lxml\n" in guide["markdown"]
    assert records["/boiler"]["markdown"] is None  # all boilerplate: nothing, not the navigation
    assert records["/data.json"]["markdown"] is None
    assert records["/data.json"]["markdown_file"] is None

    files = {path: record["markdown_file"] for path, record in records.items() if record["markdown_file"]}
    assert set(files) == {"/", "/guide", "/guide?page=2", "/garden", "/boiler"}
    assert len(set(files.values())) == len(files)  # the query string gets its own file
    for path, relative in files.items():
        meta, body = read_md(folder / relative)
        record = records[path]
        assert meta == {"url": record["url"], "final_url": record["final_url"], "title": record["title"],
                        "fetched_at": record["fetched_at"], "depth": record["depth"],
                        "lang": {"/guide?page=2": "de", "/garden": None, "/boiler": None}.get(path, "en")}
        assert body == (record["markdown"] or "")
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]  # no temporary file left

    lines = [json.loads(line) for line in chunks.read_text(encoding="utf-8").splitlines()]
    assert {line["url"] for line in lines} == {records[p]["url"] for p in ("/", "/guide", "/guide?page=2", "/garden")}
    for path in ("/guide", "/garden"):
        mine = [line for line in lines if line["url"] == records[path]["url"]]
        assert [line["chunk"] for line in mine] == list(range(len(mine)))
        assert "".join(line["text"] for line in mine) == markdown_body(records[path]["markdown"])
        assert all(1 <= line["words"] <= 30 for line in mine)
        assert all(line["title"] == records[path]["title"] for line in mine)
    code = next(line for line in lines if line["text"].startswith("### The code"))
    assert code["headings"] == ["Parsing HTML fast", "Results", "The code"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_multi_line_markdown_in_csv_and_json(base: str, pages: dict[str, Any], tmp_path: Path, fmt: str) -> None:
    records = by_path(crawl(base, tmp_path / f"out.{fmt}", "--markdown", "--content", "full"), base)
    expected = html_markdown(pages["/guide"], f"{base}/guide", content="full").markdown
    assert expected is not None
    assert "Pricing" in expected  # --content full: the navigation too
    assert records["/guide"]["markdown"] == expected
    assert records["/data.json"]["markdown"] in ("", None)  # CSV has no null


def test_state_rerun_keeps_unchanged_files_and_removes_gone_ones(base: str, pages: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    state, folder, chunks = tmp_path / "crawl.db", tmp_path / "md", tmp_path / "chunks.jsonl"
    first = by_path(crawl(base, tmp_path / "one.jsonl", "--state", state, "--markdown-dir", folder), base)
    files = {path: folder / record["markdown_file"] for path, record in first.items() if record["markdown_file"]}
    mtimes = {path: file.stat().st_mtime_ns for path, file in files.items()}

    pages["/garden"] = DIVS.html.replace("dahlias", "tulips").encode()
    pages["/boiler"] = None  # 404 now: gone
    second = by_path(crawl(base, tmp_path / "two.jsonl", "--state", state, "--markdown-dir", folder,
                           "--changed-only", "--chunks", chunks), base)
    assert {path: record["change"] for path, record in second.items()} == {"/garden": "changed", "/boiler": "gone"}
    for path in ("/", "/guide", "/guide?page=2"):
        assert files[path].stat().st_mtime_ns == mtimes[path], path  # untouched
    assert "tulips" in files["/garden"].read_text(encoding="utf-8")
    assert not files["/boiler"].exists()
    # Unchanged pages were not converted again: only the changed one has chunks.
    urls = {json.loads(line)["url"] for line in chunks.read_text(encoding="utf-8").splitlines()}
    assert urls == {second["/garden"]["url"]}


def test_redis_nodes_write_their_own_files(base: str, pages: dict[str, Any], tmp_path: Path,
                                           redis_url: str) -> None:
    procs = []
    for i in range(2):
        args = [f"{base}/", "-d", 1, "-w", 1, "--no-robots", "-q", "--redis", redis_url, "--node", f"n{i}",
                "-o", tmp_path / f"n{i}.jsonl", "--markdown-dir", tmp_path / f"md{i}"]
        procs.append(subprocess.Popen(cli_command(*args), cwd=ROOT, env=cli_env(), stderr=subprocess.PIPE,
                                      text=True, start_new_session=True))
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            kill_group(proc.pid)
    records = [r for i in range(2) for r in read_output(tmp_path / f"n{i}.jsonl")]
    assert sorted(r["url"][len(base):] for r in records) == sorted(pages)  # each page once
    for i in range(2):
        mine = {r["markdown_file"] for r in read_output(tmp_path / f"n{i}.jsonl") if r["markdown_file"]}
        written = {p.relative_to(tmp_path / f"md{i}").as_posix() for p in (tmp_path / f"md{i}").rglob("*.md")}
        assert written == mine


@pytest.mark.parametrize(("args", "fragment"), [
    (["--content", "full"], "content needs"),
    (["--chunk-words", "5"], "chunk_words needs"),
    (["--markdown", "--chunk-words", "0"], "chunk-words"),
    (["--markdown", "--content", "some"], "content"),
])
def test_usage_errors(args: list[str], fragment: str) -> None:
    assert_usage_error(run_cli("http://127.0.0.1:9/", *args), fragment)


def test_markdown_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run_cli("http://127.0.0.1:9/", "--markdown-dir", tmp_path / "file", "-o", tmp_path / "o.jsonl")
    assert_usage_error(result, "not a directory")


def test_a_selector_cannot_take_the_markdown_fields_name() -> None:
    result = run_cli("http://127.0.0.1:9/", "--markdown", "--select", "markdown=h1")
    assert_usage_error(result, "already a record field")


def test_library(base: str) -> None:
    from crawler import crawl

    pages = {page.url[len(base):]: page for page in crawl([f"{base}/"], depth=1, workers=1, robots=False,
                                                          markdown=True, content="main")}
    assert pages["/guide"].extra["markdown"].startswith("# Parsing HTML fast\n")
    assert pages["/data.json"].extra["markdown"] is None
    assert pages["/guide"].to_dict()["markdown"] == pages["/guide"].extra["markdown"]


def test_a_304_keeps_its_file(site, tmp_path: Path) -> None:
    from tests.conftest import crawl_cli

    site.versions = {"a": "A one", "b": "B one"}
    try:
        state, folder = tmp_path / "crawl.db", tmp_path / "md"
        runs = []
        for name in ("one", "two"):
            run = crawl_cli(site, site.url("/v/a"), "-d", 1, "-w", 2, "--state", state, "--markdown-dir", folder,
                            "--markdown", output=tmp_path / f"{name}.jsonl")
            assert run.result.returncode == 0, run.result.stderr
            runs.append({r["url"].rsplit("/", 1)[1]: r for r in run.records})
            if name == "one":
                files = {key: folder / r["markdown_file"] for key, r in runs[0].items()}
                mtimes = {key: file.stat().st_mtime_ns for key, file in files.items()}
        assert {key: (r["status"], r["change"]) for key, r in runs[1].items()} == {"a": (304, "unchanged"),
                                                                                   "b": (304, "unchanged")}
        for key, record in runs[1].items():
            assert record["markdown_file"] == runs[0][key]["markdown_file"]
            assert record["markdown"] is None  # not converted again
            assert files[key].stat().st_mtime_ns == mtimes[key]
    finally:
        site.versions = {}
