"""crawler.page: the values that cross the pool's pipes pickle back to equal values, quickly."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from crawler.page import Archived, ArchiveRef, CookieData, Exchange, Page, PageResult, RobotsResult, SitemapResult, Task

TASK = Task("http://127.0.0.1:1/a", 2, "http://127.0.0.1:1/", "http://127.0.0.1:1/", attempt=1,
            cookies=(CookieData("n", "v", "127.0.0.1", "/"),), validators=("etag", None))
PAGE = Page("http://127.0.0.1:1/a", "http://127.0.0.1:1/b", 200, True, "text/html", 10, 1.5, 2,
            extra={"h1": ["x"], "markdown": "# x"})
EXCHANGE = Exchange("http://127.0.0.1:1/a", "2026-12-04T00:00:00Z", b"GET / HTTP/1.1\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\n\r\n", b"", "127.0.0.1", None, encoded=b"x",
                    record_id="<urn:uuid:1>", payload_digest="sha1:X")


@pytest.mark.parametrize("value", [
    TASK,
    PAGE,
    PageResult(task=TASK, page=PAGE, links=("http://127.0.0.1:1/c",), refused={"depth": 2},
               edges='[["http://127.0.0.1:1/c","top","C","a",false]]', ids='["top"]', exchanges=(EXCHANGE,),
               metadata=b"m"),
    RobotsResult(task=TASK, page=PAGE),
    SitemapResult(task=TASK, page=PAGE),
    EXCHANGE,
], ids=lambda value: type(value).__name__)
def test_a_value_pickles_back_to_an_equal_one_of_its_own_class(value: object) -> None:
    back = pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
    assert type(back) is type(value)
    assert back == value
    assert copy.deepcopy(value) == value


def test_every_field_of_every_class_is_carried() -> None:
    # The pickled form is the class and its fields in order, rebuilt by __init__:
    # a field __init__ does not take would be lost, so there must be none.
    for cls in (Task, Page, PageResult, RobotsResult, SitemapResult, Exchange, Archived, ArchiveRef):
        assert all(f.init for f in dataclasses.fields(cls)), cls
    reduced = PAGE.__reduce__()
    assert reduced[0] is Page
    assert reduced[1] == tuple(getattr(PAGE, f.name) for f in dataclasses.fields(Page))
