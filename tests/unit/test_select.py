"""crawler.select: parsing and checking NAME=CSS[@ATTR] selectors, and running them on HTML."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

from crawler.config import CrawlConfig
from crawler.errors import ConfigError, UsageError
from crawler.page import RECORD_FIELDS
from crawler.select import Selector, as_selectors, check_selectors, compile_selectors, run_selectors
from tests.conftest import ROOT

HTML = """<html><head><title>T</title><link rel="canonical" href=" https://ex.test/p "></head><body>
<h1>  Big
   heading </h1>
<p class="price main">9.99</p>
<ul><li class="tag"><a href="/t/a">alpha</a></li><li class="tag"><a>beta</a></li>
<li class="tag"><a href="/t/c">gamma <b>bold</b></a></li></ul>
<a href="mailto:x@y.org">mail</a><p class="empty"></p>
</body></html>"""


def select(*selectors: Selector, html: str = HTML) -> dict:
    return run_selectors(compile_selectors(selectors), BeautifulSoup(html, "lxml"))


# -- parsing ------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "expected"), [
    ("h1=h1", Selector("h1", "h1")),
    ("price=p.price", Selector("price", "p.price")),
    ("canonical=link[rel=canonical]@href", Selector("canonical", "link[rel=canonical]", "href")),
    (" img = img.logo @ src ", Selector("img", "img.logo", "src")),
    ("x=svg use@xlink:href", Selector("x", "svg use", "xlink:href")),
    ("id=div@data-id", Selector("id", "div", "data-id")),
    # an "@" inside the CSS is not an attribute
    ("mail=a[href$='@y.org']", Selector("mail", "a[href$='@y.org']")),
    ("mail=a[href$='@y.org']@href", Selector("mail", "a[href$='@y.org']", "href")),
    ("c=p:-soup-contains('a@b')", Selector("c", "p:-soup-contains('a@b')")),
])
def test_parse(spec, expected):
    assert Selector.parse(spec) == expected


def test_parse_many_and_str_round_trip():
    sel = Selector.parse("tags=.tag a@href", many=True)
    assert sel == Selector("tags", ".tag a", "href", many=True)
    assert str(sel) == "tags=.tag a@href"
    assert Selector.parse(str(sel), many=True) == sel


def test_parse_without_name():
    with pytest.raises(ConfigError, match="expected NAME=CSS"):
        Selector.parse("h1")


# -- checking -------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "message"), [
    ("=h1", "bad field name ''"),
    ("a b=h1", "bad field name 'a b'"),
    ("1st=h1", "bad field name '1st'"),
    ("x=", "bad CSS selector"),
    ("x=a >", "bad CSS selector"),
    ("x=a[", "bad CSS selector"),
    ("x=p:nope", "bad CSS selector"),
    ("x=!!", "bad CSS selector"),
    ("x=@href", "bad CSS selector"),
])
def test_check_rejects(spec, message):
    with pytest.raises(ConfigError, match=message) as info:
        check_selectors([Selector.parse(spec)])
    assert "\n" not in str(info.value)  # soupsieve's caret diagram is dropped: one line
    assert str(info.value).startswith(f"select {str(Selector.parse(spec))!r}: ")


@pytest.mark.parametrize("name", RECORD_FIELDS)
def test_check_rejects_record_field_names(name):
    with pytest.raises(ConfigError, match="already a record field"):
        check_selectors([Selector(name, "h1")])


def test_check_rejects_duplicates_across_select_and_select_all():
    with pytest.raises(ConfigError, match="'h' is selected twice"):
        check_selectors([Selector("h", "h1"), Selector("h", "h2", many=True)])


def test_check_rejects_bad_attribute_of_a_built_selector():
    with pytest.raises(ConfigError, match="bad attribute name"):
        check_selectors([Selector("h", "a", attr="x y")])


def test_check_accepts_good_ones_and_deprecated_contains_quietly():
    # ':contains' warns (FutureWarning) in soupsieve; filterwarnings=error would raise here.
    check_selectors([Selector("a", "h1"), Selector("b", "p:contains('x')"), Selector("c-d.e_f", "a", "href")])


# -- what a library caller may pass ------------------------------------------------
def test_as_selectors_shapes():
    expected = (Selector("h1", "h1"), Selector("next", "a[rel=next]", "href"))
    assert as_selectors({"h1": "h1", "next": "a[rel=next]@href"}) == expected
    assert as_selectors(["h1=h1", "next=a[rel=next]@href"]) == expected
    assert as_selectors(iter(expected)) == expected
    assert as_selectors("h1=h1") == expected[:1]
    assert as_selectors(Selector("t", ".t", many=True)) == (Selector("t", ".t", many=True),)
    assert as_selectors(None) == ()


@pytest.mark.parametrize("bad", [[3], {"h": 3}, ["h1"]])
def test_as_selectors_rejects(bad):
    with pytest.raises(ConfigError):
        as_selectors(bad)


def test_crawl_config_normalises_checks_and_pickles():
    config = CrawlConfig(select={"h1": "h1", "tags": "li.tag"})
    assert config.select == (Selector("h1", "h1"), Selector("tags", "li.tag"))
    assert CrawlConfig().select == ()
    assert CrawlConfig(select={}).select == ()
    assert pickle.loads(pickle.dumps(config)) == config
    assert dataclasses.replace(config, depth=1).select == config.select
    with pytest.raises(UsageError, match="bad CSS selector"):
        CrawlConfig(select=["x=a >"])
    with pytest.raises(UsageError, match="already a record field"):
        CrawlConfig(select={"title": "h1"})


# -- running on HTML --------------------------------------------------------------
def test_text_of_first_match_with_white_space_collapsed():
    assert select(Selector("h1", "h1"), Selector("tag", "li.tag")) == {"h1": "Big heading", "tag": "alpha"}


def test_nested_markup_text():
    assert select(Selector("c", "li.tag:nth-of-type(3) a")) == {"c": "gamma bold"}


def test_no_match_is_none_and_empty_match_is_empty_text():
    assert select(Selector("none", "table"), Selector("empty", "p.empty")) == {"none": None, "empty": ""}


def test_attribute_of_first_match():
    fields = select(Selector("canonical", "link[rel=canonical]", "href"), Selector("cls", "p.price", "class"),
                    Selector("missing", "h1", "href"), Selector("none", "table", "href"))
    # trimmed; a multi-valued attribute joined by spaces; absent attribute or no match: None
    assert fields == {"canonical": "https://ex.test/p", "cls": "price main", "missing": None, "none": None}


def test_attribute_of_first_match_even_if_a_later_one_has_it():
    # "li.tag a" first matches <a href="/t/a">; "li.tag:nth-of-type(2) a" has no href
    assert select(Selector("h", "li.tag:nth-of-type(2) a", "href")) == {"h": None}


def test_select_all_lists():
    fields = select(Selector("tags", "li.tag", many=True), Selector("hrefs", "li.tag a", "href", many=True),
                    Selector("none", "table", many=True))
    assert fields == {"tags": ["alpha", "beta", "gamma bold"], "hrefs": ["/t/a", "/t/c"], "none": []}


def test_fields_in_selector_order():
    sels = [Selector("z", "h1"), Selector("a", "p.price"), Selector("m", "li", many=True)]
    assert list(select(*sels)) == ["z", "a", "m"]


def test_at_in_attribute_value_selector_runs():
    assert select(Selector.parse("mail=a[href$='@y.org']@href")) == {"mail": "mailto:x@y.org"}


def test_importing_the_cli_does_not_load_selectors_or_bs4():
    # The main process of a crawl without --select stays light (soupsieve imports bs4 and lxml).
    code = ("import sys, crawler.cli.main; "
            "print(sorted(m for m in ('bs4', 'soupsieve', 'lxml', 'crawler.select') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
