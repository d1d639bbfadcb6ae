"""Main content as Markdown (crawler.worker.markdown), read back with a CommonMark parser."""

from __future__ import annotations

import re
from html import unescape

import pytest
from markdown_it import MarkdownIt

from crawler.worker.markdown import escape, html_markdown
from tests.markdown_pages import ARTICLE, BOILERPLATE_ONLY, PAGES, KnownPage

_WORD = re.compile(r"\w+")


def render(markdown: str) -> str:
    """HTML of ``markdown`` as CommonMark with GFM tables and strikethrough (link references resolved)."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def markdown_of(page: KnownPage, content: str = "main") -> str | None:
    return html_markdown(page.html.encode(), page.url, content=content).markdown


def test_article_structure_survives_a_commonmark_parser() -> None:
    markdown = markdown_of(ARTICLE)
    assert markdown is not None
    html = render(markdown)
    assert "<h1>Parsing HTML fast</h1>" in html
    assert "<h2>What to measure</h2>" in html
    assert "<h3>The code</h3>" in html
    assert "<em>the</em>" in html
    assert "<strong>lxml</strong>" in html
    # A nested list, tight.
    assert re.search(r"<li>CPU per page\s*<ul>\s*<li>in the workers</li>", html)
    assert "<table>" in html
    assert "<th>Parser</th>" in html
    assert "<td>5700</td>" in html
    assert '<pre><code class="language-python">from lxml import etree\n' in html
    assert "<code>etree.fromstring</code>" in html


def test_links_are_numbered_references_listed_at_the_end() -> None:
    markdown = markdown_of(ARTICLE)
    assert markdown is not None
    assert "[lxml notes][1]" in markdown
    assert "[project site][2]" in markdown
    assert "[the notes][1]" in markdown  # the same URL keeps its number
    assert markdown.endswith("\n[1]: http://127.0.0.1/docs/lxml\n[2]: https://lxml.de/\n")
    html = render(markdown)
    assert '<a href="http://127.0.0.1/docs/lxml">lxml notes</a>' in html
    assert '<a href="https://lxml.de/">project site</a>' in html


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_main_content_kept_and_boilerplate_dropped(page: KnownPage) -> None:
    markdown = markdown_of(page) or ""
    got = set(_WORD.findall(text_of(render(markdown)).lower()))
    missing = set(_WORD.findall(page.expected.lower())) - got
    assert not missing
    for word in page.dropped:
        assert word.lower() not in markdown.lower(), word


def test_a_page_of_boilerplate_only_has_no_markdown() -> None:
    assert markdown_of(BOILERPLATE_ONLY) is None
    assert html_markdown(b"", "http://h/").markdown is None
    assert html_markdown(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "http://h/").markdown is None


def test_full_content_converts_the_whole_body() -> None:
    markdown = markdown_of(BOILERPLATE_ONLY, content="full")
    assert markdown is not None
    for word in ("Pricing", "Alpha", "Copyright"):
        assert word in markdown
    assert "cookie" not in markdown.lower() or "We use cookies" in markdown  # the banner is body text too
    assert "Accept all" not in markdown  # buttons are never text


@pytest.mark.parametrize("text", [
    "1. not a list", "# not a heading", "- not an item", "> not a quote", "a *star* and _under_ score",
    "[not](a link) and <b>not html</b>", "snake_case stays", "AT&T and &amp; literally", "back\\slash `tick`",
])
def test_text_that_looks_like_markup_reads_back_as_itself(text: str) -> None:
    from html import escape as html_escape

    markdown = html_markdown(f"<p>{html_escape(text)}</p>".encode(), "http://h/").markdown
    assert markdown is not None
    assert text_of(render(markdown)) == text


def test_code_with_backticks_and_hard_breaks() -> None:
    markdown = html_markdown(b"<p>Run <code>a `b` c</code> now<br>next line</p><pre>x = '```'\n</pre>",
                             "http://h/").markdown
    assert markdown is not None
    html = render(markdown)
    assert "<code>a `b` c</code>" in html
    assert "now<br />\nnext line" in html
    assert "<pre><code>x = '```'\n</code></pre>" in html


def test_language_and_encoding() -> None:
    text = html_markdown("<html lang='fr-CA'><p>Caf\xe9 cr\xe8me</p></html>".encode("cp1252"), "http://h/",
                         charset="iso-8859-1")
    assert text.lang == "fr-CA"
    assert text.markdown == "Caf\xe9 cr\xe8me\n"


def test_escape() -> None:
    assert escape("a*b [c] d_ e") == "a\\*b \\[c\\] d\\_ e"
    assert escape("snake_case") == "snake_case"


def test_odd_pages_convert_without_failing() -> None:
    # An unparsable link or <base href> is text; an empty <main> does not hide the content beside it.
    text = html_markdown(b'<base href="http://[bad"><p>Some <a href="//[::1">bad link</a> and '
                         b'<img src="//[x" alt="pic">.</p>', "http://h/").markdown
    assert text == "Some bad link and pic.\n"
    text = html_markdown(b"<main></main><p>Outside text long enough to be the content of the page.</p>",
                         "http://h/").markdown
    assert text == "Outside text long enough to be the content of the page.\n"
    text = html_markdown(b"<ul><li><p>one</p><p>two</p></li><li><pre>code\n  indented</pre></li></ul>",
                         "http://h/").markdown
    assert text is not None
    assert "<li>\n<pre><code>code\n  indented\n</code></pre>\n</li>" in render(text)


def test_permalinks_screen_reader_text_and_ads_are_left_out() -> None:
    html = ('<main><h2>Install<a class="headerlink" href="#install">\u00b6</a></h2><p>Text '
            '<span class="sr-only">(opens in new tab)</span> here, <a href="#x">see below</a>.</p>'
            '<div class="ad-container">Buy now</div></main>')
    assert html_markdown(html.encode(), "http://h/").markdown == "## Install\n\nText here, see below.\n"


def test_lists_in_a_row_stay_apart() -> None:
    markdown = html_markdown(b"<ul><li>a</li></ul><ul><li>b</li></ul><ol><li>x</li></ol><ol><li>y</li></ol>",
                             "http://h/").markdown
    assert markdown is not None
    assert render(markdown).count("<ul>") == 2
    assert render(markdown).count("<ol>") == 2
