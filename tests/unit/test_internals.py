"""`crawler._internals`: every private name it relies on still exists, and CRAWLER_STOCK is read as documented.

A failure here after an upgrade of Python, requests or urllib3 names the
item that went away: see its note in crawler/_internals.py for what it
gained and what the stock path (``CRAWLER_STOCK=1``) does instead.
"""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import multiprocessing.pool
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from crawler import _internals
from crawler._internals import PRIVATE_ATTRIBUTES, Reliance


def _resolve(start: object, dotted: str) -> object:
    value = start
    for name in dotted.split("."):
        value = getattr(value, name)
    return value


@pytest.fixture(scope="module")
def instances() -> Iterator[dict[str, object]]:
    """One instance of each class whose instances carry the private attributes listed."""
    import requests
    import urllib3.connection
    import urllib3.poolmanager

    from tests.conftest import page_handler, serving

    pool = multiprocessing.pool.Pool(1, context=multiprocessing.get_context("fork"))
    try:
        result = pool.apply_async(abs, (-1,))
        assert result.get(timeout=30) == 1
        queue = multiprocessing.SimpleQueue()
        with serving(page_handler({"/": b"x"})) as site:
            manager = urllib3.poolmanager.PoolManager()
            response = manager.request("GET", f"{site}/", preload_content=False, timeout=10)
            yield {
                "multiprocessing.pool.Pool": pool,
                "multiprocessing.pool.ApplyResult": result,
                "multiprocessing.queues.SimpleQueue": queue,
                "urllib3.poolmanager.PoolManager": manager,
                "urllib3.connection.HTTPConnection": urllib3.connection.HTTPConnection("127.0.0.1", 9),
                "urllib3.response.HTTPResponse": response,
                "requests.models.PreparedRequest": requests.PreparedRequest(),
                "http.client.HTTPResponse": response._fp,
                "socket.SocketIO": response._fp.fp.raw,
            }
            response.release_conn()
        queue.close()
    finally:
        pool.terminate()
        pool.join()


@pytest.mark.parametrize("item", PRIVATE_ATTRIBUTES, ids=lambda item: f"{item.module}.{item.path}")
def test_still_exists(item: Reliance, instances: dict[str, Any]) -> None:
    module = importlib.import_module(item.module)
    if item.on_instance:
        owner, _, attribute = item.path.partition(".")
        key = f"{item.module}.{owner}"
        assert key in instances, f"no instance of {key} to check {item.path} on: add one to the fixture"
        assert isinstance(instances[key], getattr(module, owner))
        start: object = instances[key]
    else:
        start, attribute = module, item.path
    try:
        _resolve(start, attribute)
    except AttributeError:
        pytest.fail(f"{item.module}.{item.path} is gone: crawler/_internals.py relies on it "
                    "(CRAWLER_STOCK=1 runs the stock path where there is one)")


def test_the_stock_worker_loop_takes_what_the_pool_passes_in_this_order() -> None:
    # serve_threaded receives these and speaks the loop's protocol.
    parameters = list(inspect.signature(multiprocessing.pool.worker).parameters)
    assert parameters == list(_internals.WorkerArgs._fields)


def test_http_client_looks_its_header_parser_up_when_it_reads_a_response() -> None:
    # install_header_parser replaces the module function: begin() must call it by name.
    import http.client

    assert "parse_headers" in http.client.HTTPResponse.begin.__code__.co_names


def test_the_list_names_each_item_once() -> None:
    assert len(set(PRIVATE_ATTRIBUTES)) == len(PRIVATE_ATTRIBUTES)


def _in_fresh_python(code: str, stock: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CRAWLER_STOCK"}
    if stock is not None:
        env["CRAWLER_STOCK"] = stock
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


@pytest.mark.parametrize(("value", "stock"), [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_crawler_stock_is_read_from_the_environment(value: str | None, stock: bool) -> None:
    assert _in_fresh_python("from crawler import _internals; print(_internals.STOCK)", value) == str(stock)


def test_stock_leaves_the_speed_hook_to_the_stock_pool_but_not_the_fix() -> None:
    # _help_stuff_finish is a correctness fix (the stock one can wait forever
    # for a lock a dead worker held), so it stays under CRAWLER_STOCK.
    # So is _setup_queues (its ResultPipe cannot wait forever either).
    code = ("from crawler import _internals as i; print(sorted(n for n in "
            "('_get_sentinels', '_help_stuff_finish', '_setup_queues') if n in vars(i.PoolHooks)))")
    assert _in_fresh_python(code, None) == "['_get_sentinels', '_help_stuff_finish', '_setup_queues']"
    assert _in_fresh_python(code, "1") == "['_help_stuff_finish', '_setup_queues']"


def test_the_main_process_side_loads_neither_requests_nor_urllib3() -> None:
    code = ("import sys; import crawler._internals, crawler.engine.pool; "
            "print(sorted(m for m in ('requests', 'urllib3') if m in sys.modules))")
    assert _in_fresh_python(code, None) == "[]"


def test_the_peer_address_of_a_response_whose_connection_closes() -> None:
    import urllib3

    from crawler._internals import peer_address
    from tests.conftest import page_handler, serving

    with serving(page_handler({"/": b"x"})) as site:  # HTTP/1.0: http.client drops the connection's socket
        response = urllib3.PoolManager().request("GET", f"{site}/", preload_content=False, timeout=10)
        assert response.connection is None or response.connection.sock is None
        assert peer_address(response) == "127.0.0.1"
        response.release_conn()


PREPARED_URLS = [
    "http://127.0.0.1:8080/", "https://example.com/a/b.html?x=1&y=2", "http://example.com/a%20b/c?q=%E2%82%AC",
    "http://example.com/%7Euser/", "http://example.com/a b", "http://Example.com/", "http://example.com",
    "http://example.com:0080/", "http://user:pw@example.com/", "http://example.com/#top", "http://[::1]:8080/",
    "http://example.com/caf\u00e9", "http://b\u00fccher.example/", "http://example.com/a?b=c|d",
    "http://example.com/%zz", "http://example.com/a/./b/../c", "http://example.com/a/%2e%2e/b",
    "http://example.com/.well-known/x", "http://example.com/a/..", "https://example.com:443/x;p=1?a=@:/",
]


@pytest.mark.parametrize("url", PREPARED_URLS)
@pytest.mark.parametrize("jar", ["empty", "cookies"])
def test_a_get_is_prepared_as_prepare_makes_it(url: str, jar: str) -> None:
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = "crawler-test"
    session.hooks["response"].append(lambda r, **kwargs: r)
    if jar == "cookies":
        session.cookies.set("a", "1", domain="example.com", path="/")
        session.cookies.set("b", "2", domain="127.0.0.1", path="/")
    headers = requests.structures.CaseInsensitiveDict(session.headers)
    headers["If-None-Match"] = '"abc"'
    fast = _internals.prepare_get(session, url, headers)
    stock = requests.PreparedRequest()
    stock.prepare(method="GET", url=url, headers=headers, cookies=session.cookies, hooks=session.hooks)
    for name in ("method", "url", "body", "hooks", "_body_position"):
        assert getattr(fast, name) == getattr(stock, name), name
    assert dict(fast.headers) == dict(stock.headers)
    assert fast._cookies is stock._cookies  # type: ignore[attr-defined]


def test_a_header_prepare_refuses_is_refused_on_the_fast_path_too() -> None:
    import requests

    with pytest.raises(requests.exceptions.InvalidHeader):
        _internals.prepare_get(requests.Session(), "http://127.0.0.1/", {"X-Bad": "a\r\nInjected: 1"})
