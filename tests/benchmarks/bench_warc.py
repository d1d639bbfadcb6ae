#!/usr/bin/env python3
"""``--warc`` benchmark: what the archive costs a crawl, its bytes, a re-crawl's revisits, ``crawler extract``.

Run from the project root with the project's venv (needs nginx)::

    .venv/bin/python tests/benchmarks/bench_warc.py                  # 5000 pages on 4 hosts, crawl and list
    .venv/bin/python tests/benchmarks/bench_warc.py --gzip           # the same pages served gzipped
    .venv/bin/python tests/benchmarks/bench_warc.py --repeat 3 --modes crawl --pages 2000   # quicker

All on loopback addresses (127.0.0.x), inside one temp dir:

1. writes bench_crawl.py's site and serves it with nginx; with ``--gzip``
   every page is also written gzipped beside itself and nginx serves that
   (``gzip_static``), as most real sites send their pages: the archive then
   keeps each body with its ``Content-Encoding``;
2. per mode (``crawl``: the hosts' indexes to ``--depth``; ``list``: every
   expected URL at depth 0), runs the plain crawl and the same crawl with
   ``--warc`` in turn, ``--repeat`` pairs (the order flips every pair), each
   output checked against the expected URL set; prints each run, then the
   medians and the pair-by-pair ratios ``--warc`` / plain of wall time
   and of the CPU seconds of the whole process tree;
3. runs ``warcio check`` on the last archive of each mode and prints its bytes;
4. crawls twice more with ``--state`` and ``--warc`` (the site unchanged),
   and prints both archives' bytes and the second's record types (its
   unchanged pages are ``revisit`` records);
5. runs ``crawler extract`` on the crawl mode's archive: its records/s
   against the plain crawl's pages/s.

The machine's noise is the caveat (README.md next to this file): quote
ratios from one run, and medians.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_crawl as bench  # noqa: E402 - a sibling script, not a package


def gzip_pages(root: Path) -> int:
    """Write ``PAGE.gz`` beside every page under ``root`` (for nginx's gzip_static); returns how many."""
    count = 0
    for path in root.rglob("*.html"):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes(), 6, mtime=0))
        count += 1
    return count


def measured(label: str, cmd: list[str], out: Path, expected: set[str], args: argparse.Namespace,
             exclude: set[int]) -> bench.Row:
    """Run one crawl command; its row (wall, CPU of the tree, coverage), printed."""
    row = bench.run_one(label, args.mode_now, args.concurrency, args.per_host, cmd, bench.PROJECT, out, expected,
                        args.timeout, exclude)
    print(f"  {label:<6} {args.mode_now:<5} pages {row.pages:5d}  cover {row.coverage_pct:5.1f}%  extra "
          f"{row.extra}  wall {row.wall_s:6.2f} s  {row.pages_per_s:7.1f} pages/s  CPU {row.cpu_s:6.2f} s"
          + (f"  {row.note}" if row.note else ""), flush=True)
    if row.rc != 0 or row.coverage_pct < 100.0 or row.extra or row.dups:
        raise SystemExit(f"{label} {args.mode_now}: the crawl was not whole (see above)")
    return row


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def record_types(path: Path) -> collections.Counter[str]:
    """How many records of each type (and revisit profile) the archive at ``path`` holds."""
    from warcio.archiveiterator import ArchiveIterator

    counts: collections.Counter[str] = collections.Counter()
    with open(path, "rb") as f:
        for record in ArchiveIterator(f):
            kind = record.rec_type
            if kind == "revisit":
                kind += " (" + str(record.rec_headers.get_header("WARC-Profile") or "").rsplit("/", 1)[-1] + ")"
            counts[kind] += 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5000, help="pages in the site (all hosts)")
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--depth", type=int, default=3, help="depth of the crawl mode")
    parser.add_argument("--concurrency", type=int, default=16, help="-c; --per-host is C / hosts")
    parser.add_argument("--modes", default="crawl,list", help="crawl and/or list")
    parser.add_argument("--repeat", type=int, default=5, help="pairs (plain, --warc) per mode")
    parser.add_argument("--gzip", action="store_true", help="serve every page gzipped (nginx gzip_static)")
    parser.add_argument("--timeout", type=float, default=bench.RUN_TIMEOUT, help="cap on one crawl, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (site, outputs, archives)")
    args = parser.parse_args()
    args.per_host = max(1, args.concurrency // args.hosts)
    if not bench.find_nginx():
        print("nginx not found (Debian: apt-get install nginx)", file=sys.stderr)
        return 2
    python = bench.project_python()
    bench.become_subreaper()
    work = bench.work_dir("crawler-bench-warc-")
    servers: bench.Servers | None = None
    try:
        addrs = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
        port = bench.free_port(addrs)
        site = bench.build_site(args.pages, args.hosts, port)
        stats = bench.write_site(site, work / "site")
        gzipped = gzip_pages(work / "site") if args.gzip else 0
        expected_crawl = bench.expected_urls(site, site.seeds, args.depth)
        expected = set(expected_crawl)
        list_file = work / "list.txt"
        list_file.write_text("\n".join(sorted(expected, key=lambda u: (expected_crawl[u], u))) + "\n")
        servers = bench.Servers(work / "site", work, addrs, port, "nginx", 0.0, 1, gzip_static=args.gzip)
        servers.start()
        exclude = servers.pids
        print(f"site: {stats['pages']} pages on {args.hosts} hosts, {stats['mb']:.1f} MB"
              + (f", served gzipped ({gzipped} files)" if args.gzip else "")
              + f"; {len(expected)} URLs expected; -c {args.concurrency} --per-host {args.per_host}; {work}")
        summary = []
        archives: dict[str, Path] = {}
        plain_rate: dict[str, float] = {}
        for mode in args.modes.split(","):
            args.mode_now = mode
            depth, seeds = (args.depth, site.seeds) if mode == "crawl" else (0, [str(list_file)])
            plain_rows: list[bench.Row] = []
            warc_rows: list[bench.Row] = []
            for rep in range(args.repeat):
                archive = work / f"{mode}-{rep}.warc.gz"
                runs = [("plain", []), ("--warc", ["--warc", str(archive)])]
                for label, extra in runs if rep % 2 == 0 else runs[::-1]:
                    out = work / f"{mode}-{rep}-{'warc' if extra else 'plain'}.jsonl"
                    cmd = bench.crawler_cmd(python, seeds, depth, args.concurrency, args.per_host, out, None, extra)
                    row = measured(label, cmd, out, expected, args, exclude)
                    (warc_rows if extra else plain_rows).append(row)
                if rep + 1 < args.repeat:
                    archive.unlink()
            archives[mode] = work / f"{mode}-{args.repeat - 1}.warc.gz"
            plain_rate[mode] = median([r.pages_per_s for r in plain_rows])
            check = subprocess.run([python, "-m", "warcio.cli", "check", str(archives[mode])], capture_output=True,
                                   text=True, timeout=600)
            summary.append({
                "mode": mode,
                "plain pages/s": plain_rate[mode],
                "--warc pages/s": median([r.pages_per_s for r in warc_rows]),
                "plain CPU s": median([r.cpu_s for r in plain_rows]),
                "--warc CPU s": median([r.cpu_s for r in warc_rows]),
                "wall ratio": median([w.wall_s / p.wall_s for w, p in zip(warc_rows, plain_rows, strict=True)]),
                "CPU ratio": median([w.cpu_s / p.cpu_s for w, p in zip(warc_rows, plain_rows, strict=True)]),
                "archive MB": archives[mode].stat().st_size / 1e6,
                "warcio check": "ok" if check.returncode == 0 else f"exit {check.returncode}",
            })
        print("\n| mode | plain pages/s | --warc pages/s | plain CPU s | --warc CPU s | --warc / plain wall | "
              "--warc / plain CPU | archive MB | warcio check |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for s in summary:
            print(f"| {s['mode']} | {s['plain pages/s']:.0f} | {s['--warc pages/s']:.0f} | {s['plain CPU s']:.2f} | "
                  f"{s['--warc CPU s']:.2f} | {s['wall ratio']:.3f} | {s['CPU ratio']:.3f} | "
                  f"{s['archive MB']:.1f} | {s['warcio check']} |")
        print(f"(medians of {args.repeat} pairs; the ratios pair by pair)")

        mode = "crawl" if "crawl" in archives else next(iter(archives))
        args.mode_now = mode
        depth, seeds = (args.depth, site.seeds) if mode == "crawl" else (0, [str(list_file)])
        state = work / "state.db"
        sizes = []
        for run in (1, 2):
            archive = work / f"state-{run}.warc.gz"
            out = work / f"state-{run}.jsonl"
            cmd = bench.crawler_cmd(python, seeds, depth, args.concurrency, args.per_host, out, None,
                                    ["--state", str(state), "--warc", str(archive)])
            measured(f"state{run}", cmd, out, expected, args, exclude)
            sizes.append(archive.stat().st_size)
        kinds = record_types(work / "state-2.warc.gz")
        print(f"\nre-crawl with --state, the site unchanged ({mode}): first archive {sizes[0] / 1e6:.1f} MB, "
              f"second {sizes[1] / 1e6:.1f} MB; the second's records: "
              + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))

        out = work / "extract.jsonl"
        start = time.perf_counter()
        done = subprocess.run([python, "-m", "crawler", "extract", str(archives[mode]), "-o", str(out), "-q"],
                              cwd=bench.PROJECT, capture_output=True, text=True, timeout=args.timeout)
        wall = time.perf_counter() - start
        records = sum(1 for _ in open(out, encoding="utf-8")) if out.exists() else 0
        print(f"crawler extract of the {mode} archive: {records} records in {wall:.2f} s, {records / wall:.0f} "
              f"records/s, {records / wall / plain_rate[mode]:.2f}x the plain crawl's pages/s"
              + ("" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.strip()[-300:]})"))
        return 0 if done.returncode == 0 else 1
    finally:
        bench.finish(servers, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
