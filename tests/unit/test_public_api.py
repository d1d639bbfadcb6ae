"""The package's public surface: `crawler.__all__` and the names SPEC's Library section uses."""

from __future__ import annotations

import importlib.metadata
import inspect
import types

import crawler

EXPECTED = {
    "FIELDS",
    "RECORD_FIELDS",
    "ConfigError",
    "CrawlConfig",
    "CrawlStats",
    "Crawler",
    "CrawlerError",
    "FrontierError",
    "Page",
    "SeedError",
    "UsageError",
    "__version__",
    "crawl",
    "read_seeds",
}


def test_all_lists_exactly_the_public_names():
    public = {
        name for name, value in vars(crawler).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(crawler.__all__) == EXPECTED
    assert set(crawler.__all__) - {"__version__"} == public
    assert len(crawler.__all__) == len(set(crawler.__all__))


def test_every_name_in_all_exists():
    for name in crawler.__all__:
        assert hasattr(crawler, name), name


def test_star_import():
    namespace: dict[str, object] = {}
    exec("from crawler import *", namespace)
    assert EXPECTED - {"__version__"} <= set(namespace)


def test_spec_library_imports():
    from crawler import FIELDS, CrawlConfig, Crawler, Page, crawl

    assert callable(crawl)
    assert inspect.isclass(Crawler)
    assert inspect.isclass(CrawlConfig)
    assert inspect.isclass(Page)
    assert FIELDS == (
        "url", "final_url", "status", "ok", "content_type", "bytes", "elapsed_ms",
        "depth", "referrer", "title", "links", "error", "fetched_at",
    )


def test_crawl_accepts_config_options():
    params = inspect.signature(crawler.crawl).parameters
    assert "seeds" in params
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_crawler_constructor_hooks():
    params = inspect.signature(crawler.Crawler).parameters
    assert {"on_page", "extract"} <= set(params)
    c = crawler.Crawler(crawler.CrawlConfig(depth=2, scope="domain"), on_page=print)
    assert c.config.depth == 2
    assert c.config.scope == "domain"
    assert callable(c.run)


def test_page_fields_and_to_dict():
    page = crawler.Page(url="http://a.test/", final_url="http://a.test/", extra={"h1": "x"})
    d = page.to_dict()
    assert list(d) == [*crawler.RECORD_FIELDS, "h1"]


def test_exception_hierarchy():
    assert issubclass(crawler.UsageError, crawler.CrawlerError)
    assert issubclass(crawler.ConfigError, crawler.UsageError)
    assert issubclass(crawler.SeedError, crawler.CrawlerError)
    assert issubclass(crawler.FrontierError, crawler.CrawlerError)


def test_version_matches_distribution():
    assert crawler.__version__ == importlib.metadata.version("crawler")


def test_console_script_declared():
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")
               if ep.name == "crawler"}
    assert scripts == {"crawler": "crawler.cli.main:run"}
