"""Stopping a crawl with SIGINT / SIGTERM: exit 130 / 143, output still valid.

The crawl runs in its own session (process group), like a job started from a
shell or by cron. A signal goes either to the main process only
(``proc.send_signal``) or to the whole group (Ctrl-C in a terminal, systemd
stopping a unit). Afterwards no process of the group may be left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_command, cli_env, group_alive, parse_jsonl, read_csv
from tests.site import Site, write_seeds

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")

FAST = 3
SLOW = 30
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _records(path: Path, partial: bool = False) -> list[dict] | None:
    """Records of an output file, or None if it is missing or not valid.

    ``partial`` tolerates an unfinished last JSONL line (a file being written).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix == ".jsonl":
            if partial and not text.endswith("\n"):
                text = text.rsplit("\n", 1)[0]
            return parse_jsonl(text)
        return read_csv(path)[1]
    except ValueError:
        return None


@contextlib.contextmanager
def crawl_process(site: Site, tmp_path: Path, output: Path, fast: int = FAST, slow: int = SLOW):
    """Start a CLI crawl of ``fast`` quick pages then ``slow`` 3-second pages, in its own session."""
    site.reset()
    seeds = write_seeds(tmp_path, [site.url(f"/graph/{i}") for i in range(fast)]
                        + [site.url(f"/slow?s=3&i={i}") for i in range(slow)])
    stderr = open(tmp_path / "stderr.txt", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cli_command(seeds, "-o", output, "-c", 4, "--per-host", 4, "-w", 2, "--retries", 0),
        cwd=ROOT, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        start_new_session=True,
    )
    try:
        yield proc, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for pid in group_alive(proc.pid) if sys.platform.startswith("linux") else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stderr.close()


def _wait_for_records(output: Path, proc: subprocess.Popen, minimum: int, limit: float, site: Site) -> list[dict]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        records = _records(output, partial=True)
        if records is not None and len(records) >= minimum:
            return records
        assert proc.poll() is None, "the crawl ended before it was signalled"
        time.sleep(0.05)
    text = output.read_text()[:300] if output.exists() else "(no file)"
    pytest.fail(f"no {minimum} record(s) in {output.name} within {limit} s: {text!r}; site hits {site.hits()}")


def _check_stopped(proc: subprocess.Popen, sig: signal.Signals, stderr) -> str:
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running 5 s after {sig.name}")
    stderr.seek(0)
    text = stderr.read()
    assert code == EXIT[sig], (code, text)
    assert "Traceback" not in text, text
    assert "leaked" not in text, text  # resource_tracker complaints
    if sys.platform.startswith("linux"):
        deadline = time.monotonic() + 3
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_alive(proc.pid) == [], "worker or manager processes outlived the crawl"
    return text


@pytest.mark.parametrize(
    ("sig", "suffix", "group"),
    [
        (signal.SIGINT, ".jsonl", False),
        (signal.SIGINT, ".json", True),
        (signal.SIGTERM, ".json", False),
        (signal.SIGTERM, ".jsonl", True),
        (signal.SIGINT, ".csv", False),
    ],
    ids=["SIGINT-jsonl", "SIGINT-json-group", "SIGTERM-json", "SIGTERM-jsonl-group", "SIGINT-csv"],
)
def test_signal_stops_the_crawl_and_keeps_valid_output(sig: signal.Signals, suffix: str, group: bool,
                                                        site: Site, tmp_path: Path) -> None:
    output = tmp_path / f"out{suffix}"
    with crawl_process(site, tmp_path, output) as (proc, stderr):
        _wait_for_records(output, proc, 1, limit=15, site=site)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        text = _check_stopped(proc, sig, stderr)
    records = _records(output)
    assert records is not None, f"{output.name} is not valid after {sig.name}: {output.read_text()[:500]!r}"
    assert 1 <= len(records) < FAST + SLOW
    urls = [r["url"] for r in records]
    assert len(urls) == len(set(urls)), "no duplicate records"
    assert f"stopped by {sig.name}" in text


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv"])
def test_signal_before_any_record_leaves_an_empty_output(suffix: str, site: Site, tmp_path: Path) -> None:
    output = tmp_path / f"out{suffix}"
    with crawl_process(site, tmp_path, output, fast=0, slow=8) as (proc, stderr):
        deadline = time.monotonic() + 10
        while not output.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the first slow pages are in flight now
        proc.send_signal(signal.SIGTERM)
        _check_stopped(proc, signal.SIGTERM, stderr)
    assert output.exists(), "the output file is always created"
    assert _records(output) == []
    if suffix != ".json":
        assert output.read_text() == ""


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_sigkill_keeps_every_record_written(suffix: str, site: Site, tmp_path: Path) -> None:
    # SIGKILL cannot be caught: what is on disk is all there is. Every record
    # written before the kill must be there, each JSONL line valid JSON (and
    # the JSON file a valid array, since its closing bracket is rewritten
    # after every record).
    output = tmp_path / f"out{suffix}"
    with crawl_process(site, tmp_path, output) as (proc, _):
        _wait_for_records(output, proc, FAST, 15, site)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        records = _records(output)
        assert records is not None, output.read_text()[:300]
        assert {r["url"] for r in records} >= {site.url(f"/graph/{i}") for i in range(FAST)}
        if suffix == ".jsonl":
            assert output.read_text().endswith("\n")
