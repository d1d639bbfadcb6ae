"""crawler.config: CrawlConfig defaults (SPEC's option table) and validation."""

from __future__ import annotations

import dataclasses
import os

import pytest

from crawler import __version__
from crawler.config import CrawlConfig
from crawler.errors import ConfigError, UsageError


def test_defaults_match_spec():
    c = CrawlConfig()
    assert c.output is None
    assert c.format is None
    assert c.depth == 0
    assert c.max_pages is None
    assert c.scope == "host"
    assert c.allow == ()
    assert c.deny == ()
    assert c.workers == (os.cpu_count() or 1)
    assert c.concurrency == 16
    assert c.per_host == 4
    assert c.delay == 0
    assert c.timeout == 20
    assert c.retries == 2
    assert c.max_bytes == 10 * 1024 * 1024
    assert c.user_agent == f"crawler/{__version__}"
    assert c.headers == ()
    assert c.robots is True


def test_values_kept():
    c = CrawlConfig(depth=3, scope="domain", concurrency=5, per_host=1, delay=0.5, timeout=3,
                    retries=0, max_bytes=1, max_pages=7, workers=2, format="csv", output="x.csv")
    assert (c.depth, c.scope, c.concurrency, c.per_host, c.delay, c.timeout) == (3, "domain", 5, 1, 0.5, 3)
    assert (c.retries, c.max_bytes, c.max_pages, c.workers, c.format, c.output) == (0, 1, 7, 2, "csv", "x.csv")


@pytest.mark.parametrize("options", [
    {"depth": -1},
    {"depth": 1.5},
    {"depth": "1"},
    {"depth": True},
    {"concurrency": 0},
    {"concurrency": -4},
    {"per_host": 0},
    {"workers": 0},
    {"retries": -1},
    {"max_bytes": 0},
    {"max_pages": 0},
    {"max_redirects": -1},
    {"max_url_length": 10},
    {"max_pages_per_host": 0},
    {"delay": -0.1},
    {"timeout": 0},
    {"timeout": -1},
    {"max_retry_after": -1},
    {"scope": "world"},
    {"scope": "HOST"},
    {"format": "xml"},
    {"allow": ["("]},
    {"deny": ["[a-"]},
    {"allow": ["ok", "*bad"]},
    {"headers": [("", "value")]},
    {"headers": [("only-name",)]},
    {"start_method": "thread"},
])
def test_bad_values_raise(options):
    with pytest.raises(ConfigError):
        CrawlConfig(**options)


def test_nan_timeout_rejected():
    with pytest.raises(ConfigError):
        CrawlConfig(timeout=float("nan"))


def test_config_error_is_usage_error_and_value_error():
    with pytest.raises(UsageError):
        CrawlConfig(depth=-1)
    with pytest.raises(ValueError):  # noqa: PT011
        CrawlConfig(depth=-1)


def test_error_message_names_the_option():
    with pytest.raises(ConfigError, match="concurrency"):
        CrawlConfig(concurrency=0)
    with pytest.raises(ConfigError, match="scope"):
        CrawlConfig(scope="world")
    with pytest.raises(ConfigError, match="regex"):
        CrawlConfig(allow=["("])


def test_unknown_option_is_type_error():
    with pytest.raises(TypeError):
        CrawlConfig(no_such_option=1)


def test_lists_converted_to_tuples():
    c = CrawlConfig(allow=["a", "b"], deny=["c"], headers=[["X-A", "1"], ("X-B", "2")])
    assert c.allow == ("a", "b")
    assert c.deny == ("c",)
    assert c.headers == (("X-A", "1"), ("X-B", "2"))
    assert isinstance(c.allow, tuple)
    assert all(isinstance(h, tuple) for h in c.headers)
    hash(c)  # hashable once lists are tuples


def test_single_string_pattern_is_one_pattern():
    c = CrawlConfig(allow="/blog/", deny="\\.pdf$")
    assert c.allow == ("/blog/",)
    assert c.deny == ("\\.pdf$",)


def test_frozen():
    c = CrawlConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.depth = 3  # type: ignore[misc]


def test_equal_configs_compare_equal():
    assert CrawlConfig(allow=["a"], workers=2) == CrawlConfig(allow=("a",), workers=2)


@pytest.mark.parametrize("scope", ["host", "domain", "any"])
def test_scopes(scope):
    assert CrawlConfig(scope=scope).scope == scope


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", None])
def test_formats(fmt):
    assert CrawlConfig(format=fmt).format == fmt


def test_zero_delay_retries_depth_allowed():
    c = CrawlConfig(delay=0, retries=0, depth=0)
    assert (c.delay, c.retries, c.depth) == (0, 0, 0)


@pytest.mark.parametrize("name", ["delay", "max_retry_after"])
def test_nan_seconds_rejected(name):
    # the CLI refuses NaN; the library must not accept it silently either
    with pytest.raises(ConfigError):
        CrawlConfig(**{name: float("nan")})


@pytest.mark.parametrize("options", [
    {"concurrency": 10**30},
    {"concurrency": 10_001},
    {"workers": 513},
    {"per_host": 10_001},
    {"retries": 101},
    {"timeout": float("inf")},
    {"timeout": 1e10},
    {"delay": float("inf")},
    {"delay": 1e20},
    {"max_retry_after": float("inf")},
    {"lease_timeout": float("inf")},
    {"redis_outage": 1e20},
    {"timeout": 10**400},
    {"delay": "1"},
])
def test_absurd_values_rejected(options):
    # issue 16: above these the crawl cannot start (threads, forks), overflows a timer, or never ends
    with pytest.raises(ConfigError, match="at most|must be"):
        CrawlConfig(**options)


def test_limits_themselves_accepted(monkeypatch):
    from crawler import config

    c = CrawlConfig(concurrency=10_000, workers=512, per_host=10_000, retries=100, timeout=86_400,
                    delay=86_400, max_retry_after=86_400)
    assert (c.concurrency, c.workers) == (config.MAX_CONCURRENCY, config.MAX_WORKERS)
    monkeypatch.setattr(config.os, "cpu_count", lambda: 4096)
    assert CrawlConfig().workers == 512  # the default never exceeds the bound


def test_headers_as_a_mapping_pairs_or_lines():
    # issue 16, defect 14: a dict gave "bad header ('X', '-', 'A')"
    assert CrawlConfig(headers={"X": "A", "Y": "b"}).headers == (("X", "A"), ("Y", "b"))
    assert CrawlConfig(headers=["X: A:B"]).headers == (("X", "A:B"),)
    assert CrawlConfig(headers="X: A").headers == (("X", "A"),)
    assert CrawlConfig(headers=[["X", "A"]]).headers == (("X", "A"),)


@pytest.mark.parametrize("headers", [{"X": 1}, ["nocolon"], [("X",)], [(1, "a")], {"": "a"}])
def test_bad_headers(headers):
    with pytest.raises(ConfigError, match="bad header"):
        CrawlConfig(headers=headers)


def test_command_line_names_accepted_and_not_stored():
    import dataclasses
    import pickle

    c = CrawlConfig(no_robots=True, header={"X": "A"}, headers=[("Y", "b")], select=["h=h1"],
                    select_all={"hrefs": "a@href"})
    assert c.robots is False
    assert c.headers == (("Y", "b"), ("X", "A"))
    assert [(s.name, s.many) for s in c.select] == [("h", False), ("hrefs", True)]
    assert "no_robots" not in {f.name for f in dataclasses.fields(c)}
    assert dataclasses.replace(c, depth=1).select == c.select  # replace() adds nothing twice
    assert pickle.loads(pickle.dumps(c)) == c
    assert CrawlConfig(no_robots=False).robots is True
    with pytest.raises(ConfigError, match="disagree"):
        CrawlConfig(robots=False, no_robots=False)
