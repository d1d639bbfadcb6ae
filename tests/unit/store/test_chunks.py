"""--chunks: the Markdown split at headings, never over the word limit, joined back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.page import Done, Page, PageResult, Task
from crawler.store.chunks import ChunkSink, markdown_body, split_markdown
from crawler.worker.markdown import html_markdown
from tests.markdown_pages import ARTICLE, PAGES


def article() -> str:
    markdown = html_markdown(ARTICLE.html.encode(), ARTICLE.url).markdown
    assert markdown is not None
    return markdown


def test_heading_paths() -> None:
    chunks = split_markdown(markdown_body(article()), 400)
    assert [c.headings for c in chunks] == [
        ("Parsing HTML fast",),
        ("Parsing HTML fast", "What to measure"),
        ("Parsing HTML fast", "Results"),
        ("Parsing HTML fast", "Results", "The code"),
    ]
    assert chunks[3].text.startswith("### The code\n\n```python\n")


@pytest.mark.parametrize("limit", [1, 3, 7, 20, 400])
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_pieces_never_exceed_the_limit_and_join_back(page, limit: int) -> None:
    markdown = html_markdown(page.html.encode(), page.url).markdown or ""
    body = markdown_body(markdown)
    chunks = split_markdown(body, limit)
    assert "".join(c.text for c in chunks) == body
    for chunk in chunks:
        assert 1 <= chunk.words <= limit, chunk
        assert chunk.words == len(chunk.text.split())


def test_body_leaves_the_reference_list_out() -> None:
    markdown = article()
    body = markdown_body(markdown)
    assert markdown.startswith(body)
    assert markdown[len(body):] == "\n[1]: http://127.0.0.1/docs/lxml\n[2]: https://lxml.de/\n"
    assert markdown_body("no links\n") == "no links\n"


def test_a_heading_inside_a_code_block_is_code() -> None:
    body = "# Top\n\n```\n# not a heading\n```\n\n## Next\n\ntext\n"
    assert [c.headings for c in split_markdown(body, 100)] == [("Top",), ("Top", "Next")]


def done(url: str, markdown: str | None, converted: bool = True) -> Done:
    task = Task(url)
    page = Page(url=url, final_url=url, status=200, ok=True, title="T")
    return Done(page, task, PageResult(task=task, page=page, markdown=markdown, converted=converted))


def test_sink_writes_one_line_per_piece_flushed_per_page(tmp_path: Path) -> None:
    path = tmp_path / "chunks.jsonl"
    sink = ChunkSink(str(path), 5)
    sink.open()
    sink.write(done("http://h/a", "# A\n\none two three four five six\n"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # flushed before close
    assert [(x["chunk"], x["headings"], x["words"]) for x in lines] == [(0, ["A"], 2), (1, ["A"], 5), (2, ["A"], 1)]
    assert set(lines[0]) == {"url", "title", "chunk", "headings", "text", "words"}
    sink.write(done("http://h/b", None))
    sink.write(done("http://h/c", "# C\n", converted=False))  # unchanged: not converted again
    sink.close(True)
    assert len(path.read_text().splitlines()) == 3


def test_a_resumed_run_continues_the_file_without_its_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "chunks.jsonl"
    path.write_text('{"url":"http://h/a","chunk":0}\n{"url":"http://h/b","chu')
    sink = ChunkSink(str(path), 400, append=True)
    sink.open()
    sink.write(done("http://h/c", "text\n"))
    sink.close(False)
    assert [json.loads(line)["url"] for line in path.read_text().splitlines()] == ["http://h/a", "http://h/c"]
    fresh = ChunkSink(str(path), 400)
    fresh.open()
    fresh.close(True)
    assert path.read_text() == ""
