"""Failures through the real CLI: page errors are records, bad input is exit 2.

SPEC: exit 0 when the run finished (page errors are records), 1 when nothing
could be fetched, 2 on bad usage or bad input files (a clear message, no
traceback).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.conftest import (
    RECORD_FIELDS,
    CrawlRun,
    assert_clean_stderr,
    assert_usage_error,
    crawl_cli,
    run_cli,
)
from tests.site import Site, write_seeds

WORKERS = ("-w", "2")


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- page errors ------------------------------------------------------------------
@pytest.fixture(scope="module")
def error_run(site: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlRun, str]:
    refused = f"http://127.0.0.1:{closed_port()}/nothing-here"
    out = tmp_path_factory.mktemp("errors") / "out.jsonl"
    seeds = [site.url("/status/404"), site.url("/status/500"), refused, site.url("/a"), site.url("/slow?s=3")]
    run = crawl_cli(site, *seeds, "--retries", 0, "--timeout", 1, *WORKERS, output=out)
    return run, refused


def test_page_errors_do_not_fail_the_run(error_run: tuple[CrawlRun, str]) -> None:
    run, _ = error_run
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert len(run.records) == 5
    for record in run.records:
        assert tuple(record) == RECORD_FIELDS


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_status_is_a_record(status: int, error_run: tuple[CrawlRun, str], site: Site) -> None:
    run, _ = error_run
    record = run.by_url()[site.url(f"/status/{status}")]
    assert record["status"] == status
    assert record["ok"] is False
    assert record["error"]
    assert str(status) in record["error"]
    assert run.hits[f"/status/{status}"] == 1, "--retries 0: no second try"


def test_refused_connection_is_a_record(error_run: tuple[CrawlRun, str]) -> None:
    run, refused = error_run
    record = run.by_url()[refused]
    assert record["status"] is None
    assert record["ok"] is False
    assert record["error"]
    assert record["depth"] == 0


def test_timeout_is_a_record(error_run: tuple[CrawlRun, str], site: Site) -> None:
    run, _ = error_run
    record = run.by_url()[site.url("/slow?s=3")]
    assert record["status"] is None
    assert record["ok"] is False
    assert record["error"].startswith("timeout"), record["error"]


def test_working_page_among_errors(error_run: tuple[CrawlRun, str], site: Site) -> None:
    run, _ = error_run
    record = run.by_url()[site.url("/a")]
    assert record["ok"] is True
    assert record["error"] is None


def test_refused_without_robots_says_refused(site: Site) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    run = crawl_cli(site, url, "--no-robots", "--retries", 0, *WORKERS)
    assert run.result.returncode == 1
    (record,) = run.records
    assert record["status"] is None
    assert record["error"].startswith("refused"), record["error"]


def test_nothing_fetched_exits_1(site: Site, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    run = crawl_cli(site, url, "--retries", 0, *WORKERS, output=tmp_path / "out.json")
    assert run.result.returncode == 1, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    assert len(run.records) == 1
    assert run.records[0]["url"] == url
    assert run.records[0]["error"]
    assert run.records[0]["status"] is None


def test_retries(site: Site) -> None:
    # 5xx is retried (Retry-After honoured), a flaky page recovers, 4xx is not retried.
    seeds = [site.url("/flaky/k?fail=2"), site.url("/status/503?retry_after=1"), site.url("/status/404")]
    run = crawl_cli(site, *seeds, "--retries", 2, *WORKERS)
    assert run.result.returncode == 0, run.result.stderr
    records = run.by_url()
    flaky = records[site.url("/flaky/k?fail=2")]
    assert flaky["status"] == 200
    assert flaky["ok"] is True
    assert flaky["error"] is None
    assert run.hits["/flaky/k?fail=2"] == 3
    assert flaky["attempts"] == 3
    unavailable = records[site.url("/status/503?retry_after=1")]
    assert unavailable["status"] == 503
    assert unavailable["error"]
    assert run.hits["/status/503?retry_after=1"] == 3
    assert run.hits["/status/404"] == 1
    assert unavailable["attempts"] == 3
    assert records[site.url("/status/404")]["attempts"] == 1
    assert len(run.records) == 3, "a retried URL still gets one record"


def test_retry_after_http_date(site: Site) -> None:
    # Retry-After as an HTTP-date: within --max-retry-after it is waited for;
    # beyond it the page is an error record at once, not a wait of an hour.
    soon, late = site.url("/flaky/date?fail=1&retry_date=2"), site.url("/status/503?retry_date=3600")
    start = time.monotonic()
    run = crawl_cli(site, soon, late, "--max-retry-after", 10, *WORKERS, timeout=60)
    took = time.monotonic() - start
    assert run.result.returncode == 0, run.result.stderr
    records = run.by_url()
    recovered = records[soon]
    assert recovered["ok"] is True, recovered
    assert recovered["attempts"] == 2
    times = [t for t, target in run.log if target == "/flaky/date?fail=1&retry_date=2"]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.9, "the date (1-2 s ahead, to the second) was not waited for"
    refused = records[late]
    assert refused["status"] == 503
    assert "exceeds --max-retry-after" in refused["error"], refused
    assert refused["attempts"] == 1
    assert run.hits["/status/503?retry_date=3600"] == 1
    assert took < 15, f"took {took:.1f} s"


# -- bad input: exit 2, one line, no traceback -----------------------------------------
def test_no_seed_at_all() -> None:
    assert_usage_error(run_cli(), "SEED")


def test_missing_seed_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing-seeds.txt"
    assert_usage_error(run_cli(missing), str(missing))


def test_missing_relative_seed_file(tmp_path: Path) -> None:
    # A typo in a seed file name must not turn into a crawl of http://missing-seeds.txt/.
    # (Guard: any request goes to a dead proxy on loopback, never to DNS.)
    env = {"HTTP_PROXY": f"http://127.0.0.1:{closed_port()}", "HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}"}
    result = run_cli("missing-seeds.txt", "--retries", 0, "--timeout", 2, env=env, timeout=30)
    assert_usage_error(result, "missing-seeds.txt")


def test_seed_is_a_directory(tmp_path: Path) -> None:
    assert_usage_error(run_cli(tmp_path), str(tmp_path))


def test_empty_seed_file(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path, ["", "# only a comment", "   ", "  # indented comment"])
    assert_usage_error(run_cli(seeds))


def test_ftp_line_names_file_and_line(tmp_path: Path, site: Site) -> None:
    seeds = write_seeds(tmp_path, ["# seeds", site.url("/a"), "ftp://example.com/file.txt", site.url("/b")])
    site.reset()
    result = run_cli(seeds, "--strict")
    assert_usage_error(result, f"{seeds}:3", "ftp")
    assert site.page_hits() == {}, "bad input is found before any fetch"


def test_line_with_spaces_names_file_and_line(tmp_path: Path, site: Site) -> None:
    seeds = write_seeds(tmp_path, [site.url("/a"), "", "http://exa mple.com/"])
    assert_usage_error(run_cli(seeds, "--strict"), f"{seeds}:3")


def test_ftp_url_on_the_command_line() -> None:
    assert_usage_error(run_cli("ftp://example.com/"), "ftp")


def test_unreadable_seed_file_encoding(tmp_path: Path) -> None:
    seeds = tmp_path / "latin1.txt"
    seeds.write_bytes(b"http://caf\xe9.example/\n")
    assert_usage_error(run_cli(seeds), str(seeds))


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["-o", "out.xml"], "out.xml"),
        (["--depth", "-1"], "depth"),
        (["-d", "two"], "depth"),
        (["-c", "0"], "concurrency"),
        (["--per-host", "0"], "per-host"),
        (["--max-pages", "0"], "max-pages"),
        (["-w", "0"], "workers"),
        (["--timeout", "0"], "timeout"),
        (["--delay", "-1"], "delay"),
        (["--allow", "("], "("),
        (["--deny", "[a-"], "[a-"),
        (["--scope", "planet"], "scope"),
        (["--format", "xml"], "format"),
        (["-H", "no colon here"], "no colon here"),
        (["--no-such-option"], "--no-such-option"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_bad_options(options: list[str], fragment: str, site: Site, tmp_path: Path) -> None:
    site.reset()
    result = run_cli(site.url("/a"), *options)
    assert_usage_error(result, fragment)
    assert site.page_hits() == {}, "bad usage is found before any fetch"
    assert not (Path.cwd() / "out.xml").exists()


def test_unwritable_output(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.json"
    site.reset()
    assert_usage_error(run_cli(site.url("/a"), "-o", out), str(out))
    assert site.page_hits() == {}
