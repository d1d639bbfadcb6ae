#!/usr/bin/env python3
"""Per-request cost of `crawler.worker.fetch.fetch` against a local keep-alive server.

Run from the project root with the project's venv::

    .venv/bin/python tests/benchmarks/bench_fetch.py [--requests 3000] [--rounds 5] [--threads 1]

A stdlib HTTP/1.1 server on 127.0.0.1 (a thread per connection, keep-alive)
serves one 16 KB HTML page; each fetch thread runs ``fetch()`` in a loop
with its own Session, as a worker's fetch threads do. Reported: the best
round's wall time and this process's CPU time per request (the server runs
in this process too, so CPU covers both ends; compare runs, not absolutes).
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crawler.config import CrawlConfig
from crawler.worker.fetch import fetch, make_session

BODY = b"<html><head><title>bench</title></head><body>" + b"<p>lorem ipsum</p>" * 900 + b"</body></html>"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


def run_round(url: str, config: CrawlConfig, requests_per_thread: int, threads: int) -> tuple[float, float]:
    """(wall s, CPU s) of ``threads`` threads each fetching ``url`` ``requests_per_thread`` times."""
    def loop() -> None:
        session = make_session(config)
        for _ in range(requests_per_thread):
            result = fetch(url, config, session=session)
            assert result.error is None, result.error
        session.close()

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    wall, cpu = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per round, in total")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/page"
    config = CrawlConfig(timeout=10)
    per_thread = max(1, args.requests // args.threads)
    run_round(url, config, 50, 1)  # warm up: imports, caches
    results = [run_round(url, config, per_thread, args.threads) for _ in range(args.rounds)]
    total = per_thread * args.threads
    wall = min(r[0] for r in results)
    cpu = min(r[1] for r in results)
    print(f"{total} requests x {args.rounds} rounds, {args.threads} thread(s), best round: "
          f"{wall / total * 1e6:.0f} us wall/request ({total / wall:.0f} req/s), "
          f"{cpu / total * 1e6:.0f} us CPU/request")
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
