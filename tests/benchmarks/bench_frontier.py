"""How much memory a huge frontier costs the main process, with and without --state.

A loopback server answers /p/N with a page of --links links (/p/N*L+1 …), so
--pages fetched pages queue about pages × links URLs. The crawl stops at
--max-pages; the script reports the peak RSS (VmHWM) of the main process and,
without --state, of the Manager process that holds the queue.

    .venv/bin/python tests/benchmarks/bench_frontier.py                       # 1,000,000 queued, with --state
    .venv/bin/python tests/benchmarks/bench_frontier.py --no-state            # the default frontier
    .venv/bin/python tests/benchmarks/bench_frontier.py --links 100 --pages 200   # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def make_handler(links: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if not self.path.startswith("/p/"):
                body = b""
                self.send_response(404)
            else:
                n = int(self.path[3:] or 0)
                hrefs = "".join(f'<a href="/p/{n * links + i}">x</a>' for i in range(1, links + 1))
                body = f"<title>page {n}</title>{hrefs}".encode()
                self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000, help="links per page (default 1000)")
    parser.add_argument("--pages", type=int, default=1001, help="pages fetched (default 1001: ~1M queued)")
    parser.add_argument("--no-state", action="store_true", help="use the default Manager-queue frontier")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args.links))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "crawler", f"{base}/p/0", "-d", "9", "--max-pages", str(args.pages),
               "--no-robots", "-q", "-o", os.path.join(tmp, "out.jsonl")]
        if not args.no_state:
            cmd += ["--state", os.path.join(tmp, "crawl.db")]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=ROOT)
        main_kb = manager_kb = 0
        while proc.poll() is None:
            main_kb = max(main_kb, hwm_kb(proc.pid))
            # The Manager is the first child; workers come later and are not it.
            kids = children(proc.pid)
            if kids and args.no_state:
                manager_kb = max(manager_kb, hwm_kb(kids[0]))
            time.sleep(0.2)
        elapsed = time.monotonic() - start
        lines = sum(1 for _ in open(os.path.join(tmp, "out.jsonl"), encoding="utf-8"))
        db = os.path.join(tmp, "crawl.db")
        db_mb = os.path.getsize(db) / 2**20 if os.path.exists(db) else 0
    server.shutdown()
    queued = args.pages * args.links - lines
    print(f"frontier={'manager' if args.no_state else 'state'} pages={lines} queued~{queued:,} "
          f"time={elapsed:.1f}s main_peak_rss={main_kb / 1024:.0f}MB"
          + (f" manager_peak_rss={manager_kb / 1024:.0f}MB" if args.no_state else f" state_db={db_mb:.0f}MB"))
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
