"""``crawler demo``: the real CLI crawling the generated demo site, with no network at all."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler import crawl
from crawler.demo.server import DemoServer
from crawler.demo.site import DemoSite
from tests.conftest import ROOT, cli_command, cli_env, kill_group, read_output, run_cli


def _can_unshare() -> str | None:
    """None when a network namespace with only loopback can be made here, else why not."""
    missing = [tool for tool in ("unshare", "ip", "ss", "pgrep") if shutil.which(tool) is None]
    if missing:
        return f"no {', '.join(missing)} command"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                           timeout=10, check=False)
    if probe.returncode != 0:
        return f"unshare -n refused: {probe.stderr.strip()[:100]}"
    return None


def _expected(records: list[dict]) -> dict[str, int]:
    port = urlsplit(records[0]["url"]).port
    assert port is not None
    return DemoSite(port).expected()


def _check_records(records: list[dict]) -> None:
    expected = _expected(records)
    assert {r["url"]: r["status"] for r in records} == expected
    assert len(records) == len(expected)  # each URL once
    broken = {r["url"] for r in records if r["error"]}
    assert broken == {url for url, status in expected.items() if status >= 400}
    assert {r["status"] for r in records if r["url"] in broken} == {404, 410}
    assert all(r["ok"] for r in records if r["url"] not in broken)


NO_NETWORK = _can_unshare()


@pytest.mark.skipif(NO_NETWORK is not None, reason=f"no network namespace: {NO_NETWORK}")
def test_demo_runs_with_only_loopback_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    demo = " ".join(cli_command("demo", "-w", 2, "-o", out))
    # In a namespace whose only interface is loopback: after the demo, nothing of
    # it may listen or run (ss sees this namespace's sockets only).
    script = (f"ip link set lo up && {demo}; echo exit=$?; ss -ltnH; "
              "pgrep -f '^[^ ]*python[^ ]* -m crawler demo' || echo no-process")
    result = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env=cli_env(), check=False)
    lines = result.stdout.splitlines()
    assert lines[0] == "exit=0", result.stderr
    assert lines[1:] == ["no-process"], result.stdout  # no listening socket, no child process
    _check_records(read_output(out))
    assert "crawler: demo: records in" in result.stderr
    assert "urls/example.txt" in result.stderr  # what to try next


def test_sigint_mid_demo_exits_130_with_valid_output_and_the_site_stopped(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    proc = subprocess.Popen(cli_command("demo", "-w", 2, "--delay", "0.1", "-o", out), cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 5):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            kill_group(proc.pid)
            proc.wait()
    assert proc.returncode == 130, stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole
    assert 5 <= len(records) < len(_expected(records))
    port = int(re.search(r"127\.0\.0\.1:(\d+)", stderr).group(1))  # type: ignore[union-attr]
    for octet in (1, 2, 3):
        with pytest.raises(ConnectionRefusedError), socket.create_connection((f"127.0.0.{octet}", port), timeout=2):
            pass


def test_demo_options_pass_through_and_seeds_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv"
    run = run_cli("demo", "-d", 1, "--select", "h1=h1", "-q", "-o", out)
    assert run.returncode == 0, run.stderr
    records = read_output(out)
    assert {r["depth"] for r in records} == {"0", "1"}  # CSV cells
    assert all("h1" in r for r in records)
    assert run.stderr == ""  # -q: not a word
    report = (tmp_path / "demo.html").read_text()  # the report beside the records, by default
    assert f"{len(records)}</b><span>pages" in report
    refused = run_cli("demo", "http://127.0.0.1/")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "no SEED" in refused.stderr


def test_the_library_crawls_the_demo_site_in_process() -> None:
    # The same generator and server, from Python: what the demo promises, the library keeps.
    with DemoServer() as server:
        pages = list(crawl(server.site.seeds(), depth=3, workers=2))
    records = [
        {"url": p.url, "status": p.status, "error": p.error, "ok": p.ok} for p in pages
    ]
    _check_records(records)


def test_demo_site_is_deterministic() -> None:
    a, b = DemoSite(8080), DemoSite(8080)
    assert a.pages == b.pages
    assert len(a.expected()) > 200
    assert os.path.commonprefix(a.seeds()) == "http://127.0.0."
