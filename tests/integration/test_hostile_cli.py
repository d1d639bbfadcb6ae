"""The command line against a hostile user (issue 16): colliding paths, absurd
numbers, signals in a burst, odd terminals. Each defect found is one test here.

Every crawl goes to the test site on 127.0.0.1; nothing leaves loopback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_clean_stderr, assert_usage_error, group_alive, parse_jsonl, run_cli
from tests.site import Site


def _tree(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


# -- defect 1: paths that collide --------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["-o", "x.jsonl", "--summary", "x.jsonl"], ["-o", "--summary", "same file"]),
        (["-o", "x.jsonl", "--state", "x.jsonl"], ["-o", "--state", "same file"]),
        (["-o", "x.jsonl", "--summary", "seeds.txt"], ["--summary", "seed file", "overwrite"]),
        (["-o", "seeds.txt", "--format", "jsonl"], ["-o", "seed file", "overwrite"]),
        (["-o", "x.jsonl", "--log-file", "x.jsonl"], ["-o", "--log-file", "same file"]),
        (["-o", "x.jsonl", "--log-file", "x.jsonl.summary.json"], ["summary", "--log-file"]),
        (["-o", "x.jsonl", "--state", "s.db", "--summary", "s.db.lock"], ["--summary", "lock"]),
        (["-o", "x.jsonl", "--summary", "./sub/../x.jsonl"], ["same file"]),
        (["-o", "link.jsonl", "--summary", "x.jsonl"], ["same file"]),  # a symlink to x.jsonl
    ],
    ids=["out-summary", "out-state", "summary-seeds", "out-seeds", "out-log", "log-default-summary",
         "summary-lock", "relative", "symlink"],
)
def test_colliding_paths_exit_2_before_writing(argv: list[str], fragments: list[str], site: Site,
                                               tmp_path: Path) -> None:
    (tmp_path / "seeds.txt").write_text(site.url("/") + "\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "x.jsonl")
    before = _tree(tmp_path)
    # run_cli runs from the repo root: absolute paths
    absolute = [str(tmp_path / a) if not a.startswith("-") and a != "jsonl" else a for a in argv]
    result = run_cli(tmp_path / "seeds.txt", *absolute, "-w", 1, timeout=60)
    assert_usage_error(result, *fragments)
    assert _tree(tmp_path) == before  # nothing created, the seed file intact


def test_distinct_paths_still_run(site: Site, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(site.url("/") + "\n")
    result = run_cli(seeds, "-o", tmp_path / "x.jsonl", "--log-file", tmp_path / "log.txt",
                     "--state", tmp_path / "s.db", "-w", 1, "-q", timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(parse_jsonl((tmp_path / "x.jsonl").read_text())) == 1
    assert json.loads((tmp_path / "x.jsonl.summary.json").read_text())["pages"] == 1
    assert_clean_stderr(result.stderr)


# -- defects 2 and 3: numbers without a bound ----------------------------------------
@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["-c", "99999999999999999999"], ["--concurrency", "from 1 to 10000"]),
        (["-w", "99999999999999999999"], ["--workers", "from 1 to 512"]),
        (["--per-host", "10001"], ["--per-host", "from 1 to 10000"]),
        (["--timeout", "1e10"], ["--timeout", "at most 86400"]),
        (["--timeout", "inf"], ["--timeout", "at most 86400"]),
        (["--delay", "inf"], ["--delay", "at most 86400"]),
        (["--delay", "1e20"], ["--delay", "at most 86400"]),
        (["--max-retry-after", "nan"], ["--max-retry-after"]),
    ],
    ids=["c", "w", "per-host", "timeout-1e10", "timeout-inf", "delay-inf", "delay-1e20", "retry-after-nan"],
)
def test_absurd_numbers_exit_2(argv: list[str], fragments: list[str], site: Site) -> None:
    assert_usage_error(run_cli(site.url("/"), *argv, timeout=30), *fragments)


@pytest.mark.parametrize(("line", "fragment"), [("timeout = inf", "timeout"), ("concurrency = 100000", "10000"),
                                                ("workers = 100000", "512"), ("delay = 1e20", "delay")])
def test_absurd_numbers_in_a_config_file_exit_2(line: str, fragment: str, site: Site, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'seeds = ["{site.url("/")}"]\n{line}\n')
    assert_usage_error(run_cli("--config", config, timeout=30), str(config), fragment)


def test_help_says_the_limits() -> None:
    text = " ".join(run_cli("--help", timeout=30).stdout.split())
    for limit in ("at most 10000", "at most 512", "at most a day", "at most 100"):
        assert limit in text


def test_a_worker_that_cannot_start_threads_ends_the_run_with_one_line(site: Site) -> None:
    # 10000 threads of 8 MB stacks do not fit in 3 GB of address space: every
    # worker fails to start. The stock Pool replaced such workers forever.
    import resource
    import subprocess

    from tests.conftest import ROOT, cli_command, cli_env

    def small_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 10**9, 3 * 10**9))

    result = subprocess.run(cli_command(site.url("/"), "-c", 10000, "-w", 1, "-q"), cwd=ROOT, env=cli_env(),
                            capture_output=True, text=True, timeout=60, preexec_fn=small_address_space,
                            stdin=subprocess.DEVNULL, check=False)
    assert_usage_error(result, "a worker process could not start", "can't start new thread", "lower -c")


# -- defect 9: the summary line and the summary file agree ------------------------------
def test_summary_line_and_file_count_the_same_retries(site: Site, tmp_path: Path) -> None:
    # robots.txt answers 503: it is retried (twice by default), the page is not;
    # the line said "2 retries" while the file said 0.
    out = tmp_path / "x.jsonl"
    site.reset()
    site.robots = 503
    try:
        result = run_cli(site.url("/"), "-o", out, "--no-progress", "-w", 1, timeout=60)
        robots_hits = site.hits().get("/robots.txt", 0)
    finally:
        site.reset()
    assert robots_hits == 3, robots_hits  # the premise: robots.txt was retried
    summary = json.loads((tmp_path / "x.jsonl.summary.json").read_text())
    line = result.stderr.strip().splitlines()[-1]
    assert summary["retries"] == 0
    assert "retr" not in line, line
    assert line.startswith("crawler: 1 page, 1 error, "), line  # singulars
    assert_clean_stderr(result.stderr)


def test_summary_line_retries_are_the_records_retries(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    site.reset()
    result = run_cli(site.url("/flaky/hostile-cli?fail=1"), "-o", out, "--no-progress", "-w", 1, timeout=60)
    summary = json.loads((tmp_path / "x.jsonl.summary.json").read_text())
    line = result.stderr.strip().splitlines()[-1]
    assert summary["retries"] == 1
    assert line.startswith("crawler: 1 page, 0 errors, "), line
    assert ", 1 retry" in line, line


# -- defect 8: a terminal that reports 0x0 ------------------------------------------------
def test_progress_bar_under_script_on_a_0x0_terminal(site: Site, tmp_path: Path) -> None:
    import shlex
    import shutil
    import subprocess

    from tests.conftest import ROOT, cli_command, cli_env

    if shutil.which("script") is None or shutil.which("stty") is None:
        pytest.skip("needs script(1) and stty (util-linux, coreutils)")
    command = shlex.join(cli_command(site.url("/"), "-o", tmp_path / "x.jsonl", "-w", 1))
    env = cli_env()
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    result = subprocess.run(["script", "-qec", f"stty rows 0 cols 0; {command}", "/dev/null"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stdout
    assert "1 pages [" in result.stdout or "1 page [" in result.stdout, result.stdout  # tqdm's own counter
    assert "Traceback" not in result.stdout


# -- defect 6: two SIGINTs a few ms apart ---------------------------------------------------
@pytest.mark.parametrize("gap", [0.0, 0.005, 0.05, 0.4], ids=["same-moment", "5ms", "50ms", "400ms"])
def test_second_sigint_right_after_the_first_still_writes_the_summary(gap: float, site: Site,
                                                                      tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.conftest import ROOT, cli_command, cli_env, kill_group

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(site.url(f"/slow?s=3&i=hostile{gap}-{i}") + "\n" for i in range(4))
                     + "".join(site.url(f"/graph/{i}") + "\n" for i in range(4)))
    out = tmp_path / "x.jsonl"
    proc = subprocess.Popen(cli_command(seeds, "-o", out, "-w", 1, "-c", 8, "--per-host", 8, "--retries", 0), cwd=ROOT,
                            env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (out.exists() and out.read_text().count("\n") >= 4):
            time.sleep(0.02)
        assert proc.poll() is None, "the crawl ended before it was signalled"
        proc.send_signal(signal.SIGINT)
        if gap:
            time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        kill_group(proc.pid)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    summary = json.loads((tmp_path / "x.jsonl.summary.json").read_text())
    assert summary["stopped_by"] == "SIGINT"
    assert summary["exit_status"] == 130
    assert summary["pages"] == len(parse_jsonl(out.read_text())) >= 4


# -- defect 11: what a failed or killed run leaves behind ------------------------------------
@pytest.mark.parametrize("kind", ["directory", "not-sqlite"])
def test_failed_state_open_leaves_no_lock_file(kind: str, site: Site, tmp_path: Path) -> None:
    state = tmp_path / "state"
    if kind == "directory":
        state.mkdir()
    else:
        state.write_bytes(b"not a database " * 100)
    result = run_cli(site.url("/"), "-o", tmp_path / "x.jsonl", "--state", state, "-w", 1, timeout=60)
    assert_usage_error(result, "state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_orphaned_by_a_killed_main_process_exit_quietly(site: Site, tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.conftest import ROOT, cli_command, cli_env, kill_group

    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(site.url(f"/slow?s=2&i=orphan-{i}") + "\n" for i in range(8)))
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        proc = subprocess.Popen(cli_command(seeds, "-o", tmp_path / "x.jsonl", "-w", 2, "-c", 8, "--per-host", 8,
                                            "--retries", 0), cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and site.hits().get("/slow?i=orphan-0&s=2", 0) == 0 \
                and site.hits().get("/slow?s=2&i=orphan-0", 0) == 0:
            time.sleep(0.02)
        time.sleep(0.3)  # the fetches are in flight in the workers
        proc.send_signal(signal.SIGKILL)  # the main process only
        proc.wait(10)
        deadline = time.monotonic() + 15
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_alive(proc.pid) == [], "orphaned workers did not end"
    finally:
        kill_group(proc.pid)
    text = stderr.read_text()
    assert "Traceback" not in text, text
    assert "BrokenPipe" not in text, text


# -- defect 14: the library speaks the command line's names ------------------------------------
def test_library_takes_the_command_line_names(site: Site) -> None:
    from crawler import crawl

    site.reset()
    site.robots = "User-agent: *\nDisallow: /\n"
    try:
        pages = list(crawl(site.url("/"), workers=1, no_robots=True, headers={"X-Dict": "A"},
                           header=["X-Line: B"], select_all={"hrefs": "a@href"}))
        seen = site.headers()["/"]
    finally:
        site.reset()
    (page,) = pages
    assert page.ok, page  # robots.txt disallows everything: no_robots=True ignored it
    assert (seen["x-dict"], seen["x-line"]) == ("A", "B")
    assert "/a" in page.extra["hrefs"]


def test_library_reads_a_seed_file_given_as_a_path(site: Site, tmp_path: Path) -> None:
    from crawler import crawl

    seeds = tmp_path / "urls.txt"
    seeds.write_text(f"{site.url('/a')}\n{site.url('/b')}\n")
    by_path = sorted(p.url for p in crawl(seeds, workers=1))
    by_name = sorted(p.url for p in crawl(str(seeds), workers=1))  # an existing file, as on the command line
    assert by_path == by_name == [site.url("/a"), site.url("/b")]


def test_library_seed_named_like_a_file_is_not_a_host(tmp_path: Path) -> None:
    from crawler import SeedError, crawl

    # crawl("urls.txt") fetched http://urls.txt/; a missing Path is never a host either
    with pytest.raises(SeedError, match="no such seed file"):
        list(crawl(str(tmp_path / "urls.txt")))
    with pytest.raises(SeedError, match="no such seed file"):
        list(crawl(tmp_path / "example.com"))
