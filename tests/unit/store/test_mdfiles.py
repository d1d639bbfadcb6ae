"""--markdown-dir: file names, front matter, atomic writes, removal of gone pages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from crawler.errors import UsageError
from crawler.page import Done, Page, PageResult, Task
from crawler.store.mdfiles import MarkdownFiles, front_matter, yaml_string
from crawler.urls import markdown_path


@pytest.mark.parametrize("value", [
    'quotes " and \\ backslash', "new\nline\ttab\r", "\x00\x07\x1b\x7f\x85\u2028\u2029\ufeff", "😀 café",
    ": - # & * ! | > % @ ` {a: b} [c]", "null", "true", "0x10", "", "---",
])
def test_yaml_strings_read_back_exactly(value: str) -> None:
    assert yaml.safe_load(f"k: {yaml_string(value)}") == {"k": value}


def test_front_matter_parses_as_yaml() -> None:
    page = Page(url="http://h/a?x=1", final_url="http://h/b", title='Say "hi": \u2028 now', depth=2,
                fetched_at="2026-12-03T00:00:00.000Z")
    text = front_matter(page, "en-GB")
    assert text.startswith("---\n")
    assert text.endswith("\n---\n")
    assert yaml.safe_load(text.strip("-\n")) == {"url": "http://h/a?x=1", "final_url": "http://h/b",
                                                 "title": 'Say "hi": \u2028 now',
                                                 "fetched_at": "2026-12-03T00:00:00.000Z", "depth": 2,
                                                 "lang": "en-GB"}
    assert yaml.safe_load(front_matter(Page(url="u", final_url="u"), None).strip("-\n"))["title"] is None


URLS = [
    "http://h/", "http://h/a", "http://h/a/", "http://h/A", "http://h/a?x=1", "http://h/a?x=2",
    "http://h/index", "http://h/a.md", "http://h/a.md/b", "http://h/a/b", "https://h/a", "http://h:8080/a",
    "http://h/%2e%2e/etc/passwd", "http://h/..%2f..%2fetc", "http://h/.git/config", "http://h/con",
    "http://h/" + "x" * 500, "http://h/" + "d/" * 100 + "f", "http://h/caf%C3%A9", "http://[::1]/a",
    "http://h/a%20b", "http://h/-rf", "http://h/~user/", "http://h//a",
]


def test_paths_are_safe_and_unique_even_ignoring_case() -> None:
    paths = [markdown_path(url) for url in URLS]
    assert len({p.lower() for p in paths}) == len(URLS)
    files = {p.lower() for p in paths}
    for path in paths:
        assert not path.startswith("/")
        parts = path.split("/")
        assert ".." not in parts
        assert "." not in parts
        assert all(part and not part.startswith((".", "-")) for part in parts), path
        assert all(len(part) <= 255 for part in parts)
        assert len(path) < 2000
        assert path.endswith(".md")
        # No directory has the name of a file.
        for i in range(1, len(parts)):
            assert "/".join(parts[:i]).lower() not in files
    assert markdown_path("http://h/a") == markdown_path("http://h/a")  # stable
    assert markdown_path("https://example.com/blog/post") == "example.com/blog/post.md"


def done(url: str, markdown: str | None, change: str | None = None, converted: bool = True) -> Done:
    task = Task(url)
    page = Page(url=url, final_url=url, status=200, ok=True, title="T", change=change)
    page.extra["markdown_file"] = markdown_path(url)
    return Done(page, task, PageResult(task=task, page=page, markdown=markdown, lang="en", converted=converted))


def test_sink_writes_keeps_and_removes(tmp_path: Path) -> None:
    root = tmp_path / "md"
    sink = MarkdownFiles(str(root))
    sink.open()
    sink.write(done("http://h/a/b", "# B\n"))
    sink.write(done("http://h/empty", None))  # an ok page with no main content: front matter only
    path = root / markdown_path("http://h/a/b")
    text = path.read_text(encoding="utf-8")
    assert text.startswith('---\nurl: "http://h/a/b"\n')
    assert text.endswith("---\n\n# B\n")
    assert (root / markdown_path("http://h/empty")).read_text().endswith("---\n\n")
    before = path.stat().st_mtime_ns
    sink.write(done("http://h/a/b", None, change="unchanged", converted=False))
    assert path.stat().st_mtime_ns == before
    sink.write(done("http://h/a/b", None, change="gone", converted=False))
    assert not path.exists()
    assert not path.parent.exists()  # emptied directories go too
    assert root.is_dir()
    assert [p.name for p in root.rglob(".*")] == []  # no temporary file left behind
    sink.close(True)


def test_a_file_for_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        MarkdownFiles(str(tmp_path / "f")).open()
    with pytest.raises(UsageError):
        MarkdownFiles(str(tmp_path / "f" / "sub")).open()


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = MarkdownFiles(str(tmp_path))
    sink.write(done("http://h/a", "old\n"))
    path = tmp_path / markdown_path("http://h/a")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        sink.write(done("http://h/a", "new\n"))
    assert path.read_text().endswith("old\n")
    assert [p.name for p in path.parent.iterdir()] == [path.name]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_records_with_a_long_multi_line_markdown_read_back(tmp_path: Path, fmt: str) -> None:
    from crawler.store.output import open_writer
    from crawler.store.records import read_records

    markdown = ("# Title\n\nA paragraph, with \"quotes\", commas and a line\r\nend.\n\n" * 4000)[:300_000]
    path = tmp_path / f"out.{fmt}"
    writer = open_writer(str(path), extra_fields=("markdown",))
    page = Page(url="http://h/", final_url="http://h/", status=200, ok=True)
    page.extra["markdown"] = markdown
    writer.write(page)
    writer.close()
    got = read_records(str(path))
    assert got.skipped == 0
    assert [record["markdown"] for record in got.records] == [markdown]


def test_a_folder_removed_meanwhile_is_made_again(tmp_path: Path) -> None:
    import shutil

    sink = MarkdownFiles(str(tmp_path))
    sink.write(done("http://h/a/b", "one\n"))
    shutil.rmtree(tmp_path / "h_http")
    sink.write(done("http://h/a/c", "two\n"))
    assert (tmp_path / markdown_path("http://h/a/c")).read_text().endswith("two\n")
