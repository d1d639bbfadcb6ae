"""Shared fixtures: the test site(s), the CLI runner and output readers.

Fixtures local to one test file live in that file; only what several files
share is here.
"""

from __future__ import annotations

import compileall
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.redisserver import RedisServer, redis_server_path
from tests.site import Site

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package's bytecode once, for the crawls the tests start.

    Why: the CLI tests start ``python -m crawler`` hundreds of times, and
    where Python writes no bytecode of its own (PYTHONDONTWRITEBYTECODE, set
    on the machines these tests run on) each start compiled every module
    again, ~0.09 s of CPU a crawl. Python checks each file against its source.
    """
    del config
    compileall.compile_dir(str(ROOT / "crawler"), quiet=1)

#: The 13 record fields of SPEC.md, in SPEC order (spelled out here, not
#: imported from the crawler, so that the tests check the crawler against the spec).
SPEC_FIELDS = (
    "url", "final_url", "status", "ok", "content_type", "bytes", "elapsed_ms",
    "depth", "referrer", "title", "links", "error", "fetched_at",
)

#: What every record carries: the SPEC fields, then the fields features add
#: (README: "attempts").
RECORD_FIELDS = (*SPEC_FIELDS, "attempts", "noindex")

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")


# -- servers ------------------------------------------------------------------
@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """The main test site on 127.0.0.1 (see tests/site.py for its pages)."""
    with Site("127.0.0.1") as server:
        yield server


@pytest.fixture(scope="session")
def peer(site: Site) -> Iterator[Site]:
    """A second site on 127.0.0.2: another host for scope tests (``/off`` links to it)."""
    try:
        server = Site("127.0.0.2")
    except OSError as exc:  # pragma: no cover - Linux routes all of 127/8 to lo
        pytest.skip(f"cannot bind 127.0.0.2: {exc}")
    with server:
        site.peer = server
        yield server
        site.peer = None


# -- Redis (distributed crawls) ---------------------------------------------------
def need_redis_server() -> None:
    """Skip without ``redis-server``, except in CI (``CI=true``), where that is a failure."""
    if redis_server_path() is None:
        message = "redis-server is not installed (apt-get install redis-server; .ci/run does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session (no persistence)."""
    need_redis_server()
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    with redis_server.client() as client:
        client.flushall()
    return redis_server.url


# -- the command line ------------------------------------------------------------
def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI run: ours minus proxy settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def cli_command(*args: Any) -> list[str]:
    """``python -m crawler ARGS`` as an argv list."""
    return [sys.executable, "-m", "crawler", *(str(a) for a in args)]


def run_cli(*args: Any, input: str | None = None, timeout: float = 60,  # noqa: A002 - subprocess's name
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crawler ARGS`` from the repo root; stdin is ``input`` (or empty).

    The crawl runs in its own session: if it outlives ``timeout``, its whole
    process group (workers and manager too) is killed and TimeoutExpired raised.
    """
    proc = subprocess.Popen(
        cli_command(*args), stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=cli_env(env),
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        raise
    finally:
        if proc.poll() is None:  # pragma: no cover - an exception above
            kill_group(proc.pid)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def kill_group(pgid: int) -> None:
    """SIGKILL the process group of a crawl this test session started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(scope="session")
def cli():
    """`run_cli` as a fixture."""
    return run_cli


# -- reading output back ----------------------------------------------------------
def format_of(path: Path | str) -> str:
    """csv, json or jsonl from a file name."""
    ext = Path(path).suffix.lower().lstrip(".")
    return {"ndjson": "jsonl"}.get(ext, ext)


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    """Records of JSON Lines text (every non-empty line must parse)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_csv(path: Path | str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows of a CSV file."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_output(path: Path | str, fmt: str | None = None) -> list[dict[str, Any]]:
    """Records of an output file: CSV rows (strings), JSON array items or JSONL lines."""
    fmt = fmt or format_of(path)
    if fmt == "csv":
        return read_csv(path)[1]
    text = Path(path).read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert isinstance(data, list), f"JSON output is not an array: {text[:200]!r}"
        return data
    if fmt == "jsonl":
        return parse_jsonl(text)
    raise ValueError(f"unknown format {fmt!r}")


@pytest.fixture(scope="session")
def read():
    """`read_output` as a fixture."""
    return read_output


def assert_clean_stderr(stderr: str) -> None:
    """No traceback and no Python warning on stderr."""
    assert "Traceback" not in stderr, stderr
    assert "Warning:" not in stderr, stderr


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2 with one ``crawler: error:`` line on stderr that contains every fragment."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("crawler: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""


# -- one crawl, recorded ----------------------------------------------------------
@dataclass
class CrawlRun:
    """A finished CLI crawl: the process, its records and what the site(s) served."""

    result: subprocess.CompletedProcess[str]
    records: list[dict[str, Any]]
    hits: dict[str, int]
    peer_hits: dict[str, int] = field(default_factory=dict)
    output: Path | None = None
    #: request headers per target, and the most /slow requests in flight at once
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    max_inflight: int = 0
    #: (monotonic time, target) of every request to the main site
    log: list[tuple[float, str]] = field(default_factory=list)

    def urls(self) -> set[str]:
        """The ``url`` of every record."""
        return {r["url"] for r in self.records}

    def by_url(self) -> dict[str, dict[str, Any]]:
        """Records keyed by ``url`` (fails on a duplicate)."""
        out: dict[str, dict[str, Any]] = {}
        for record in self.records:
            assert record["url"] not in out, f"two records for {record['url']}"
            out[record["url"]] = record
        return out


def crawl_cli(site: Site, *args: Any, output: Path | None = None, peer: Site | None = None,
              input: str | None = None, timeout: float = 60,  # noqa: A002 - subprocess's name
              env: Mapping[str, str] | None = None, robots: str | int | None | bool = False,
              fmt: str | None = None) -> CrawlRun:
    """Reset the site(s), run the CLI with ``args`` (plus ``-o output``) and read the records.

    Without ``output`` the records are read from stdout (JSONL, or ``fmt``). ``robots``,
    when given, replaces the site's robots.txt for this run.
    """
    site.reset()
    if robots is not False:
        site.robots = robots
    if peer is not None:
        peer.reset()
    extra = ["-o", output] if output is not None else []
    result = run_cli(*args, *extra, input=input, timeout=timeout, env=env)
    hits, headers, max_inflight, log = site.hits(), site.headers(), site.max_inflight, site.log()
    peer_hits = peer.hits() if peer is not None else {}
    site.reset()
    records: list[dict[str, Any]] = []
    if result.returncode != 2:
        if output is not None:
            records = read_output(output, fmt)
        elif fmt in (None, "jsonl"):
            records = parse_jsonl(result.stdout)
    return CrawlRun(result, records, hits, peer_hits, output, headers, max_inflight, log)


def page_handler(pages: Mapping[str, bytes | tuple[bytes, str]], headers: Mapping[str, Mapping[str, str]] | None = None,
                 delays: Mapping[str, float] | None = None) -> type[BaseHTTPRequestHandler]:
    """A handler class serving ``pages`` (path → body, or (body, content type)); 404 elsewhere.

    ``headers`` adds response headers per path; ``delays`` makes a path answer late.
    """

    headers, delays = headers or {}, delays or {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            time.sleep(delays.get(self.path, 0))
            page = pages.get(self.path)
            body, content_type = page if isinstance(page, tuple) else (page, "text/html; charset=utf-8")
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body or b"")))
            for name, value in headers.get(self.path, {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free 127.0.0.1 port; yields the base URL (``http://127.0.0.1:PORT``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def group_alive(pgid: int) -> list[int]:
    """Pids of live (not zombie) processes in process group ``pgid`` (Linux /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive
