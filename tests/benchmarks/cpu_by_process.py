#!/usr/bin/env python3
"""CPU seconds of each process of a command's tree (the main process, each pool worker, the Manager).

Run a crawl through it to see which process pays for a feature::

    .venv/bin/python tests/benchmarks/cpu_by_process.py .venv/bin/python -m crawler URL -d 3 -o out.jsonl

It polls /proc every 50 ms and keeps each process's last user+system time,
so a process that lives under 50 ms may be missed. Linux only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from /proc's children lists."""
    found = [root]
    try:
        for thread in os.listdir(f"/proc/{root}/task"):
            with open(f"/proc/{root}/task/{thread}/children") as children:
                for child in children.read().split():
                    found += descendants(int(child))
    except OSError:  # gone meanwhile
        pass
    return found


def cpu_seconds(pid: int) -> float | None:
    """User + system seconds of ``pid`` so far, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: cpu_by_process.py COMMAND [ARG ...]", file=sys.stderr)
        return 2
    started = time.monotonic()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    last: dict[int, float] = {}
    while proc.poll() is None:
        for pid in descendants(proc.pid):
            seconds = cpu_seconds(pid)
            if seconds is not None:
                last[pid] = seconds
        time.sleep(0.05)
    wall = time.monotonic() - started
    parts = ", ".join(f"{'main' if pid == proc.pid else pid}: {seconds:.2f}" for pid, seconds in last.items())
    print(f"wall {wall:.2f} s; CPU s by process: {parts}; total {sum(last.values()):.2f}", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
