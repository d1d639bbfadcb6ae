"""--state through the real CLI: incremental re-crawls, conditional requests, the lock."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, assert_usage_error, cli_command, cli_env, crawl_cli, kill_group, parse_jsonl, run_cli
from tests.site import Site

WORKERS = ("-w", "2")


@pytest.fixture
def versions(site: Site):
    site.versions = {"a": "A one", "b": "B one", "c": "C one"}
    yield site.versions
    site.versions = {}


def crawl(site: Site, state: Path, out: Path, *extra: object):
    run = crawl_cli(site, site.url("/v/a"), "-d", 2, "--state", state, *WORKERS, *extra, output=out)
    assert run.result.returncode == 0, run.result.stderr
    return run


def changes(run) -> dict[str, str]:
    return {r["url"].rsplit("/", 1)[1]: r["change"] for r in run.records}


def test_second_run_revalidates_with_conditional_requests(site: Site, versions, tmp_path: Path) -> None:
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    first = crawl(site, state, out)
    assert changes(first) == {"a": "new", "b": "new", "c": "new"}
    assert all("if-none-match" not in h for h in first.headers.values())

    versions["b"] = "B two"
    versions["c"] = None  # now 404
    second = crawl(site, state, out)
    assert changes(second) == {"a": "unchanged", "b": "changed", "c": "gone"}
    records = {r["url"].rsplit("/", 1)[1]: r for r in second.records}
    assert records["a"]["status"] == 304
    assert records["a"]["ok"] is True
    assert records["a"]["title"] == "A one", "a 304 keeps the title the state remembers"
    assert records["b"]["title"] == "B two"
    assert second.headers["/v/a"]["if-none-match"].startswith('"')
    assert second.headers["/v/a"]["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_changed_only_writes_only_what_changed(site: Site, versions, tmp_path: Path) -> None:
    state, out = tmp_path / "crawl.db", tmp_path / "out.csv"
    crawl(site, state, out, "--changed-only")
    versions["b"] = "B two"
    run = crawl(site, state, out, "--changed-only")
    assert [(r["url"].rsplit("/", 1)[1], r["change"]) for r in run.records] == [("b", "changed")]
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[len(header) - 1] == "change"

    nothing = crawl(site, state, out, "--changed-only")
    assert out.exists()
    assert nothing.records == []


def test_recrawl_after_skips_recent_pages(site: Site, versions, tmp_path: Path) -> None:
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    crawl(site, state, out)
    run = crawl(site, state, out, "--recrawl-after", "1h")
    assert run.records == []
    assert not any(path.startswith("/v/") for path in run.hits)
    again = crawl(site, state, out, "--recrawl-after", "0s")
    assert len(again.records) == 3


def test_new_page_linked_from_a_changed_page_is_found(site: Site, versions, tmp_path: Path) -> None:
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    crawl(site, state, out)
    versions["d"] = "D new"  # every /v/ page now links it: they all change
    run = crawl(site, state, out)
    assert changes(run)["d"] == "new"


def test_second_run_on_the_same_state_is_refused(site: Site, tmp_path: Path) -> None:
    state = tmp_path / "crawl.db"
    slow = subprocess.Popen(cli_command(site.url("/slow?s=3"), "--state", state, "-o", tmp_path / "a.jsonl"),
                            cwd=ROOT, env=cli_env(None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not Path(f"{state}.lock").exists() or not site.hits().get("/slow?s=3"):
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.05)
        run = crawl_cli(site, site.url("/a"), "--state", state, output=tmp_path / "b.jsonl")
        assert run.result.returncode == 2
        assert run.result.stderr.strip().splitlines() == [
            f"crawler: error: state file {str(state)!r} is in use by another run (pid {slow.pid})"]
        _, stderr = slow.communicate(timeout=30)
        assert slow.returncode == 0, stderr
    finally:
        kill_group(slow.pid)
        slow.communicate()


def test_state_options_need_a_state(tmp_path: Path) -> None:
    assert_usage_error(run_cli("http://127.0.0.1:9/", "--changed-only"), "state")
    assert_usage_error(run_cli("http://127.0.0.1:9/", "--state", tmp_path / "s.db", "--recrawl-after", "soon"),
                       "duration")


def test_jsonl_of_a_resumed_run(site: Site, versions, tmp_path: Path) -> None:
    # Parsing helper sanity: a finished run's file is plain JSONL.
    state, out = tmp_path / "crawl.db", tmp_path / "out.jsonl"
    crawl(site, state, out)
    assert len(parse_jsonl(out.read_text(encoding="utf-8"))) == 3
