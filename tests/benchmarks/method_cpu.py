#!/usr/bin/env python3
"""Run the crawler with a CPU-time accumulator on some methods of the main process.

``METHODS`` names them (comma-separated ``module.Class.method``); at exit each
one's call count and summed thread CPU time is printed::

    METHODS=crawler.store.linkdb.LinkSink.write,crawler.engine.crawler.Crawler._emit \\
        .venv/bin/python tests/benchmarks/method_cpu.py check URL -d 3 -o out.jsonl

Thread CPU, not wall time: a method that waits is not charged for it. A
method that calls another one listed is charged for both.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import os
import resource
import runpy
import sys
import time
from collections.abc import Callable
from typing import Any

_totals: dict[str, list[float]] = {}


def _accumulate(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    total = _totals.setdefault(name, [0, 0.0])

    @functools.wraps(method)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            total[0] += 1
            total[1] += time.thread_time() - started

    return timed


def _report() -> None:
    for name, (calls, seconds) in _totals.items():
        each = seconds / calls * 1e6 if calls else 0.0
        print(f"[method_cpu] {name}: {int(calls)} calls, {seconds:.3f} s ({each:.0f} us each)", file=sys.stderr)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"[method_cpu] main process: {usage.ru_utime + usage.ru_stime:.2f} s CPU", file=sys.stderr)


def main() -> None:
    for name in filter(None, os.environ.get("METHODS", "").split(",")):
        module, owner, attribute = name.rsplit(".", 2)
        cls = getattr(importlib.import_module(module), owner)
        setattr(cls, attribute, _accumulate(name, getattr(cls, attribute)))
    atexit.register(_report)
    sys.argv = ["crawler", *sys.argv[1:]]
    runpy.run_module("crawler", run_name="__main__")


if __name__ == "__main__":
    main()
