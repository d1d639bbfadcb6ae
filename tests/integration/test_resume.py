"""A crawl with --state killed with SIGKILL, again and again, then run to the end:
every page is reported exactly once across the runs, in every output format."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_command, cli_env, kill_group, read_csv, read_output
from tests.site import Site

FAN = 100  # /fan/100 links /leaf/1 … /leaf/100: 101 pages at depth 1


def _args(site: Site, state: Path, out: Path) -> list[object]:
    # --delay paces the host so that a kill lands mid-crawl.
    return [site.url(f"/fan/{FAN}"), "-d", 1, "--state", state, "-o", out, "-w", 2, "-c", 4, "--delay", 0.015]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json"])
def test_killed_runs_resume_with_every_page_exactly_once(site: Site, tmp_path: Path, fmt: str) -> None:
    state, out = tmp_path / "crawl.db", tmp_path / f"out.{fmt}"
    rng = random.Random(f"resume-{fmt}")
    site.reset()
    kills = 0
    finished = None
    for _ in range(8):
        proc = subprocess.Popen(cli_command(*_args(site, state, out)), cwd=ROOT, env=cli_env(None),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(rng.uniform(0.3, 0.8))  # the crawl takes > 1.5 s: two kills at least
        if proc.poll() is None:
            kill_group(proc.pid)  # SIGKILL to the whole process group: workers too
            kills += 1
        _, stderr = proc.communicate(timeout=30)
        if proc.returncode == 0:  # it finished before the kill: the crawl is complete
            finished = proc
            break
        assert proc.returncode == -9, stderr
    if finished is None:
        final = subprocess.run(cli_command(*_args(site, state, out)), cwd=ROOT, env=cli_env(None),
                               capture_output=True, text=True, timeout=90)
        assert final.returncode == 0, final.stderr
    assert kills >= 2, "the kills should land mid-crawl"

    records = read_output(out, fmt)
    urls = [r["url"] for r in records]
    expected = {site.url(f"/fan/{FAN}")} | {site.url(f"/leaf/{i}") for i in range(1, FAN + 1)}
    assert len(urls) == len(set(urls)), "a page reported twice"
    assert set(urls) == expected, "a page never reported"
    if fmt == "csv":
        header, _ = read_csv(out)
        assert out.read_text(encoding="utf-8").count(",".join(header)) == 1, "one header"
