"""Cron ergonomics through the real CLI: --config files, the run summary, --log-file."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import (
    RECORD_FIELDS,
    ROOT,
    assert_usage_error,
    cli_command,
    cli_env,
    crawl_cli,
    kill_group,
    read_output,
    run_cli,
)
from tests.site import Site, expected_crawl, write_seeds

DEAD = "http://127.0.0.1:9/dead"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


# -- config file ----------------------------------------------------------------------
@pytest.fixture
def config_file(site: Site, tmp_path: Path) -> Path:
    path = tmp_path / "scrape.toml"
    path.write_text(
        f"seeds = {toml_list([site.url('/')])}\n"
        f"output = {json.dumps(str(tmp_path / 'file-out.jsonl'))}\n"
        "depth = 1\nworkers = 2\nquiet = true\n"
        'select = ["h1=h1"]\n',
        encoding="utf-8",
    )
    return path


def test_config_file_runs_the_crawl(config_file: Path, site: Site, tmp_path: Path) -> None:
    run = crawl_cli(site, "--config", config_file)
    assert run.result.returncode == 0, run.result.stderr
    assert run.result.stderr == ""  # quiet = true
    records = read_output(tmp_path / "file-out.jsonl")
    assert {site.path_of(r["url"]) for r in records} == set(expected_crawl(1))
    assert all(tuple(r) == (*RECORD_FIELDS, "h1") for r in records)
    home = next(r for r in records if r["url"] == site.url("/"))
    assert home["h1"] == "Home"


def test_command_line_overrides_config_file(config_file: Path, site: Site, tmp_path: Path) -> None:
    out = tmp_path / "cli-out.csv"
    run = crawl_cli(site, "--config", config_file, site.url("/a"), "-d", 0, "--select", "t=title", output=out)
    assert run.result.returncode == 0, run.result.stderr
    assert [r["url"] for r in run.records] == [site.url("/a")]  # seeds and depth from the command line
    assert tuple(run.records[0]) == (*RECORD_FIELDS, "t")  # --select replaced the file's selectors
    assert run.records[0]["t"] == "Page A"
    assert not (tmp_path / "file-out.jsonl").exists()  # -o replaced the file's output
    assert set(run.hits) == {"/robots.txt", "/a"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("depth = 'one'", "depth: expected an integer, got the string 'one'"),
        ("deepth = 1", "unknown key 'deepth' (did you mean depth?)"),
        ("per-host = 2", "unknown key 'per-host' (keys are snake_case: per_host)"),
        ("select = ['h1=a >']", "select 'h1=a >': bad CSS selector"),
        ("scope = 'planet'", "scope: invalid choice: 'planet'"),
        ("depth =", "not valid TOML"),
    ],
)
def test_bad_config_file_exits_2_before_any_fetch(text: str, fragment: str, site: Site, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"seeds = {toml_list([site.url('/')])}\n{text}\n", encoding="utf-8")
    site.reset()
    result = run_cli("--config", path, timeout=30)
    assert_usage_error(result, f"{path}: ", fragment)
    assert site.hits() == {}


def test_missing_config_file(tmp_path: Path) -> None:
    assert_usage_error(run_cli("--config", tmp_path / "nope.toml", timeout=30), "cannot read config file", "nope.toml")


# -- run summary ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def summary_run(site: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[dict], Path]:
    tmp = tmp_path_factory.mktemp("summary")
    out = tmp / "pages.csv"
    paths = ["/", "/a", "/status/404", "/status/500", "/file.pdf", "/private/x", "/flaky/k?fail=1"]
    seeds = write_seeds(tmp, [site.url(p) for p in paths] + [DEAD])
    run = crawl_cli(site, seeds, "-w", 2, "--retries", 1, output=out, fmt="csv")
    assert run.result.returncode == 0, run.result.stderr
    summary_file = Path(f"{out}.summary.json")
    return json.loads(summary_file.read_text(encoding="utf-8")), read_output(out), out


def test_summary_next_to_the_output(summary_run: tuple[dict, list[dict], Path]) -> None:
    summary, records, out = summary_run
    assert summary["output"] == str(out)
    assert summary["exit_status"] == 0
    assert summary["stopped_by"] is None
    assert summary["started"] <= summary["finished"]
    assert 0 < summary["duration_s"] < 60


def test_summary_counts_match_the_records(summary_run: tuple[dict, list[dict], Path], site: Site) -> None:
    summary, records, _ = summary_run
    assert summary["pages"] == len(records) == 8
    assert summary["bytes"] == sum(int(r["bytes"]) for r in records)
    assert summary["by_status"] == {"200": 4, "404": 1, "500": 1}  # /, /a, pdf, flaky (after one retry)
    assert summary["no_response"] == 2  # the dead host and the robots-refused seed
    assert summary["by_error"] == {"http": 2, "refused": 1, "robots": 1}
    assert summary["errors"] == 4
    assert summary["ok"] == 4
    assert summary["robots_blocked"] == 1
    assert summary["truncated"] == 0
    # /flaky/k fails once then works, /status/500 is retried once; the dead host's
    # page is never requested (its robots.txt failed): attempts 0, no retry counted
    assert summary["retries"] == sum(max(int(r["attempts"]) - 1, 0) for r in records) == 2
    assert summary["by_host"] == {"127.0.0.1": 8}
    assert "by_change" not in summary


def test_no_summary_for_stdout_unless_asked(site: Site, tmp_path: Path) -> None:
    before = set(ROOT.glob("*.summary.json"))
    run = crawl_cli(site, site.url("/"))
    assert run.result.returncode == 0
    assert set(ROOT.glob("*.summary.json")) == before
    target = tmp_path / "run.json"
    run = crawl_cli(site, site.url("/"), "--summary", target)
    assert len(run.records) == 1
    summary = json.loads(target.read_text())
    assert (summary["output"], summary["pages"], summary["by_status"]) == ("-", 1, {"200": 1})


def test_summary_option_overrides_the_default_place(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    crawl_cli(site, site.url("/"), "--summary", tmp_path / "elsewhere.json", output=out)
    assert (tmp_path / "elsewhere.json").exists()
    assert not Path(f"{out}.summary.json").exists()


def test_summary_of_a_run_that_fetched_nothing(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    run = crawl_cli(site, DEAD, "--retries", 0, output=out)
    assert run.result.returncode == 1
    summary = json.loads(Path(f"{out}.summary.json").read_text())
    assert (summary["exit_status"], summary["pages"], summary["by_error"]) == (1, 1, {"refused": 1})


def test_summary_directory_must_exist(site: Site, tmp_path: Path) -> None:
    site.reset()
    result = run_cli(site.url("/"), "--summary", tmp_path / "no" / "s.json", timeout=30)
    assert_usage_error(result, "cannot write summary", "no such directory")
    assert site.hits() == {}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_summary_written_after_sigterm(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    seeds = write_seeds(tmp_path, [site.url("/")] + [site.url(f"/slow?s=3&i={i}") for i in range(8)])
    site.reset()
    proc = subprocess.Popen(cli_command(seeds, "-o", out, "-c", 2, "-w", 1, "--retries", 0, "-q"), cwd=ROOT,
                            env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (out.exists() and out.read_text().endswith("\n")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.exists(), "no record within 20 s"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        kill_group(proc.pid)
        proc.wait(10)
    assert proc.returncode == 143, stderr
    summary = json.loads(Path(f"{out}.summary.json").read_text())
    assert summary["stopped_by"] == "SIGTERM"
    assert summary["exit_status"] == 143
    assert summary["pages"] == len(read_output(out)) >= 1
    assert list(tmp_path.glob("*.tmp")) == []


# -- log file -----------------------------------------------------------------------------
def test_log_file_lines_appended(site: Site, tmp_path: Path) -> None:
    log = tmp_path / "crawl.log"
    out = tmp_path / "out.jsonl"
    first = crawl_cli(site, site.url("/"), "--log-file", log, output=out)
    assert first.result.returncode == 0
    assert re.search(r"crawler: 1 page, 0 errors", first.result.stderr)  # still on stderr
    second = crawl_cli(site, site.url("/"), "--log-file", log, "-q", output=out)
    assert second.result.stderr == ""
    lines = log.read_text(encoding="utf-8").splitlines()
    assert all(re.match(STAMP + " (INFO|WARNING|ERROR) ", line) for line in lines), lines
    assert len(lines) == 6, lines  # start, summary line, exit status: twice
    for run in (lines[:3], lines[3:]):
        assert run[0].endswith(f"INFO start: crawler 0.1.0, 1 seed(s), output {out}")
        # Links the crawl did not follow are counted at the end of the line, by reason.
        assert re.search(r"INFO crawler: 1 page, 0 errors, [\d.]+ s, [\d.]+ pages/s"
                         r"(, \d+ links? not followed \([^)]+\))?$", run[1]), run[1]
        assert run[2].endswith(f"INFO exit status 0, summary {out}.summary.json")


def test_log_file_gets_usage_errors(site: Site, tmp_path: Path) -> None:
    log = tmp_path / "crawl.log"
    result = run_cli(site.url("/"), "--log-file", log, "--select", "x=a >", timeout=30)
    assert_usage_error(result, "bad CSS selector")
    [line] = log.read_text().splitlines()
    assert re.fullmatch(STAMP + r" ERROR crawler: error: select 'x=a >': bad CSS selector: .*", line), line


def test_unwritable_log_file(site: Site, tmp_path: Path) -> None:
    result = run_cli(site.url("/"), "--log-file", tmp_path / "no" / "crawl.log", timeout=30)
    assert_usage_error(result, "cannot write log file")


def test_summary_counts_refusals_by_reason(site: Site, tmp_path: Path) -> None:
    # Depth 1 from /: /a, /b followed, /private/x refused by robots.txt; the
    # depth-1 pages' own links are at the depth limit; /a's deny-matched link is denied.
    out = tmp_path / "pages.jsonl"
    run = crawl_cli(site, site.url("/"), "-d", 1, "--deny", "/b$", output=out)
    assert run.result.returncode == 0, run.result.stderr
    summary = json.loads(Path(f"{out}.summary.json").read_text(encoding="utf-8"))
    refused = summary["refused"]
    assert refused["robots"] == 1
    assert refused["deny"] == 1
    a_links = next(r["links"] for r in run.records if r["url"] == site.url("/a"))
    assert refused["depth"] >= a_links > 0  # every link of a depth-1 page: the limit
    assert "links not followed" in run.result.stderr
