#!/usr/bin/env python3
"""Distributed-crawl benchmark: pages/s with 1, 2, 3… nodes sharing one Redis, and Redis work per page.

Run from the project root with the project's venv (needs redis-server, and nginx for the site)::

    .venv/bin/python tests/benchmarks/bench_redis.py --pages 2000 --hosts 4 --nodes 1,2,3
    .venv/bin/python tests/benchmarks/bench_redis.py --scenario latency   # scale-out, below

Uses bench_crawl.py's generated site and servers. For each node count it
empties Redis, starts that many ``python -m crawler … --redis URL`` processes
(same command, own output each), waits for all, and checks that the union of
their outputs is the expected URL set with no URL twice. It also runs the
crawler once without Redis as the baseline. Reported per run: wall time,
pages/s, client round trips per page (from the nodes' summaries) and Redis
commands per page (``INFO commandstats``, commands inside scripts included).

All nodes run on this machine: they share its cores with each other, with
the site's server and with Redis, so on the fast site more nodes show the
overhead of sharing a crawl, not a speed-up.

``--scenario latency`` is the scale-out case, where the work is bound by the
servers' latency and not by the cores: nginx delays every response by 50 ms
(its echo module), 3000 pages on 4 hosts, ``-c 16 --per-host 16 -w 2`` per node,
nodes 1 and 3. One node can have at most 16 requests in flight (320 pages/s),
three nodes 48, so three nodes may reach 3x one node; the ratios printed at
the end are 3 nodes / 1 node and 1 node / plain. ``--serve`` only starts the
site's servers and Redis and prints the commands to run against them (for
timing runs with an outside tool), until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_crawl as bench  # noqa: E402 - a sibling script, not a package

PROJECT = HERE.parent.parent


def start_redis(work: Path) -> tuple[subprocess.Popen, int]:
    port = bench.free_port(["127.0.0.1"])
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(work),
                             "--save", "", "--appendonly", "no", "--daemonize", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def command_calls(client: redis.Redis) -> int:
    return sum(int(v["calls"]) for k, v in client.info("commandstats").items() if k.startswith("cmdstat_"))


def run(nodes: int, seeds: list[str], args: argparse.Namespace, work: Path, expected: set[str],
        redis_url: str | None, client: redis.Redis | None) -> dict:
    per_host = args.per_host or max(1, args.concurrency // args.hosts)
    outs = [work / f"n{nodes}-{'redis' if redis_url else 'plain'}-{i}.jsonl" for i in range(nodes)]
    base = [sys.executable, "-m", "crawler", *seeds, "-d", str(args.depth), "-c", str(args.concurrency),
            "--per-host", str(per_host), "-q"]
    if args.workers:
        base += ["-w", str(args.workers)]
    if redis_url:
        client.flushall()
        base += ["--redis", redis_url]
    before = command_calls(client) if client is not None else 0
    start = time.perf_counter()
    procs = [subprocess.Popen([*base, "-o", str(out)], cwd=PROJECT, stderr=subprocess.PIPE, text=True)
             for out in outs]
    errors = [p.communicate(timeout=args.timeout)[1] for p in procs]
    wall = time.perf_counter() - start
    assert all(p.returncode == 0 for p in procs), errors
    urls = [json.loads(line)["url"] for out in outs for line in out.read_text().splitlines()]
    assert len(urls) == len(set(urls)), "a URL twice"
    assert set(urls) == expected, f"{len(expected - set(urls))} missing, {len(set(urls) - expected)} extra"
    row = {"nodes": nodes, "redis": bool(redis_url), "pages": len(urls), "wall_s": round(wall, 2),
           "pages_per_s": round(len(urls) / wall, 1)}
    if redis_url:
        calls = sum(json.loads(Path(f"{out}.summary.json").read_text())["redis"]["calls"] for out in outs)
        row["round_trips_per_page"] = round(calls / len(urls), 2)
        row["redis_commands_per_page"] = round((command_calls(client) - before) / len(urls), 1)
    return row


#: Options of a plain run, and of each ``--scenario`` (see the module docstring).
DEFAULTS: dict[str, object] = {"pages": 2000, "hosts": 4, "depth": 3, "concurrency": 16, "per_host": 0,
                               "latency_ms": 0.0, "nodes": "1,2,3"}
SCENARIOS: dict[str, dict[str, object]] = {
    "latency": {"pages": 3000, "hosts": 4, "depth": 3, "concurrency": 16, "per_host": 16, "workers": 2,
                "latency_ms": 50.0, "nodes": "1,3"},
}


def serve_only(seeds: list[str], args: argparse.Namespace, work: Path, url: str, expected: int) -> None:
    """Print the commands of a plain run and a node run against the running servers, then wait."""
    per_host = args.per_host or max(1, args.concurrency // args.hosts)
    base = ["-m", "crawler", *seeds, "-d", str(args.depth), "-c", str(args.concurrency), "--per-host",
            str(per_host), "-q", *(["-w", str(args.workers)] if args.workers else [])]
    print(f"{expected} URLs expected; work dir {work}")
    print("plain:", shlex.join([sys.executable, *base, "-o", str(work / "plain.jsonl")]))
    print("node: ", shlex.join([sys.executable, *base, "--redis", url, "-o", str(work / "node-N.jsonl")]))
    print(f"(empty Redis between runs: redis-cli -u {url} flushall)", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A background job ignores SIGINT: SIGTERM stops it too, and the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, help="preset options (see above); others override them")
    parser.add_argument("--pages", type=int)
    parser.add_argument("--hosts", type=int)
    parser.add_argument("--depth", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--per-host", type=int, help="--per-host of each node (default: concurrency / hosts)")
    parser.add_argument("--workers", type=int, help="worker processes per node (default: the crawler's)")
    parser.add_argument("--latency-ms", type=float, help="server delay per response (nginx's echo module)")
    parser.add_argument("--nodes", help="node counts to run, comma-separated")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--serve", action="store_true", help="only serve the site and Redis (see above)")
    args = parser.parse_args()
    for name, value in {**DEFAULTS, **SCENARIOS.get(args.scenario or "", {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    work = Path(tempfile.mkdtemp(prefix="crawler-bench-redis-"))
    work.chmod(0o755)
    servers = redis_proc = None
    try:
        addrs = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
        site = bench.build_site(args.pages, args.hosts, bench.free_port(addrs))
        bench.write_site(site, work / "site")
        expected = set(bench.expected_urls(site, site.seeds, args.depth))
        latency = float(args.latency_ms)
        kind = "nginx" if bench.find_nginx() and (latency <= 0 or bench.find_echo_module()) else "python"
        servers = bench.Servers(work / "site", work, addrs, site.port, kind, latency, 1)
        servers.start()
        redis_proc, port = start_redis(work)
        client = redis.Redis(port=port)
        url = f"redis://127.0.0.1:{port}/0"
        print(f"site: {len(expected)} URLs on {args.hosts} hosts ({kind}, {latency:g} ms a response); "
              f"-c {args.concurrency} per node")
        if args.serve:
            serve_only(site.seeds, args, work, url, len(expected))
            return 0
        rows = []
        for _ in range(args.repeat):
            rows.append(run(1, site.seeds, args, work, expected, None, None))
            print(rows[-1], flush=True)
            for nodes in (int(n) for n in args.nodes.split(",")):
                rows.append(run(nodes, site.seeds, args, work, expected, url, client))
                print(rows[-1], flush=True)
        print("\n| nodes | Redis | pages/s | wall s | round trips/page | Redis commands/page |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(f"| {r['nodes']} | {'yes' if r['redis'] else 'no'} | {r['pages_per_s']} | {r['wall_s']} | "
                  f"{r.get('round_trips_per_page', '')} | {r.get('redis_commands_per_page', '')} |")
        print_ratios(rows)
        return 0
    finally:
        if redis_proc is not None:
            bench.stop_process(redis_proc)
        if servers is not None:
            servers.stop()
        shutil.rmtree(work, ignore_errors=True)


def print_ratios(rows: list[dict]) -> None:
    """Scale-out figures: each node count's pages/s against one node's, and one node's against plain."""
    def median(values: list[float]) -> float:
        values = sorted(values)
        return (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2

    speed: dict[tuple[int, bool], float] = {}
    for key in {(r["nodes"], r["redis"]) for r in rows}:
        speed[key] = median([r["pages_per_s"] for r in rows if (r["nodes"], r["redis"]) == key])
    one, plain = speed.get((1, True)), speed.get((1, False))
    print()
    if one and plain:
        print(f"1 node / plain: {one / plain:.2f}x (medians of pages/s)")
    for nodes, redis_on in sorted(speed):
        if redis_on and nodes > 1 and one:
            print(f"{nodes} nodes / 1 node: {speed[(nodes, True)] / one:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
