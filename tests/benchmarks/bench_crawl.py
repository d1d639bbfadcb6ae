#!/usr/bin/env python3
"""End-to-end crawl benchmark: ``python -m crawler`` (and optionally Scrapy) on a generated site.

Run from the project root with the project's venv::

    .venv/bin/python tests/benchmarks/bench_crawl.py --pages 2000 --hosts 4 --concurrency 16,64

What it does, all on loopback addresses (127.0.0.x) and inside one temp dir:

1. writes a deterministic site: N pages over H hosts (host i is 127.0.0.(2+i)),
   15–25 KB of HTML each with 30–50 links of every usual spelling, in BFS
   layers (a page's shortest distance from its host's index is its layer), a
   robots.txt per host disallowing /private/ (a few pages link there);
2. serves it with nginx (one master, one server block per address; with
   ``--latency-ms`` > 0 the echo module's non-blocking ``echo_sleep`` delays
   every response), or with one ThreadingHTTPServer subprocess per host when
   nginx (or, for latency, its echo module) is missing;
3. runs the crawler once per concurrency and mode (``crawl``: the index of
   every host as seeds, ``--depth D``, scope host; ``list``: every expected URL
   in a seed file at depth 0), measuring wall time, CPU seconds of the whole
   process tree, and the peak RSS sum of that tree;
4. checks each output against the expected URL set (coverage, extra URLs,
   duplicate records) and prints a table.

See README.md next to this file for the caveats.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import html
import json
import os
import posixpath
import random
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
PEER_VENV_PYTHON = "/tmp/crawler-bench-venv/bin/python"

RUN_TIMEOUT = 300.0  # default cap on one crawl, seconds
SERVER_START_TIMEOUT = 15.0
REAP_TIMEOUT = 10.0
SAMPLE_INTERVAL = 0.1  # RSS sampling period, seconds

EXTERNAL_HOST = "127.0.0.250"  # linked from every page, never served, never in scope
MAX_HOSTS = 200
MAX_FANOUT = 20  # most pages of layer L+1 under one page of layer L
LAYER_FRACTIONS = (0.03, 0.15, 0.72)  # share of the host's pages in layers 1..3; the rest go deeper
PRIVATE_PAGES = 4  # /private/docK.html per host, disallowed by robots.txt
PAGE_PREFIX = {2: "t", 3: "p"}

WORDS = (
    "the of and to in is that for it as with was on be by at this from or an are which have not but had "
    "crawler network server request response header body page link anchor section table column row value "
    "index layer depth breadth queue frontier worker process thread socket latency throughput budget "
    "archive catalogue library museum garden river mountain valley harbour station market square bridge "
    "summer winter autumn spring morning evening northern southern eastern western ancient modern "
    "history science music theatre cinema painting sculpture poetry novel essay letter journal report "
    "café naïve résumé façade Zürich São Paulo Kraków smörgåsbord jalapeño über coöperate piñata "
    "blue green amber silver golden crimson violet quiet rapid gentle bright hollow distant nearby "
    "measure observe compare publish collect gather describe explain consider remember discover"
).split()


# --------------------------------------------------------------------------- the site


@dataclass
class SitePage:
    """One generated page: where it lives, its BFS layer (-1: private) and its links."""

    host: int
    addr: str
    path: str
    layer: int
    title: str
    url: str = ""
    parent: str | None = None
    nav: list[tuple[str, str | None]] = field(default_factory=list)  # (href as written, target or None)
    body: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def links(self) -> list[tuple[str, str | None]]:
        return self.nav + self.body


@dataclass
class Site:
    """The whole generated site: pages keyed by URL, and per host the URLs of each layer."""

    seed: int
    port: int
    addrs: list[str]
    pages: dict[str, SitePage]
    layers: list[list[list[str]]]  # layers[host][layer] -> URLs
    private: list[list[str]]  # private[host] -> URLs

    @property
    def seeds(self) -> list[str]:
        return [self.layers[h][0][0] for h in range(len(self.addrs))]


def norm(url: str) -> str:
    """The comparison key of a URL: scheme and host lower-cased, fragment dropped, empty path = /."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def resolve(page_url: str, href: str) -> str | None:
    """What a browser makes of ``href`` on ``page_url``: a normalised http(s) URL, or None."""
    absolute = urljoin(page_url, href.strip())
    if urlsplit(absolute).scheme.lower() not in ("http", "https"):
        return None
    return norm(absolute)


def layer_sizes(n: int) -> list[int]:
    """Pages per BFS layer for a host of ``n`` pages (layer 0 is the index)."""
    sizes = [1]
    rest = n - 1
    for frac in LAYER_FRACTIONS:
        if rest <= 0:
            break
        size = min(max(1, round(frac * n)), MAX_FANOUT * sizes[-1], rest)
        sizes.append(size)
        rest -= size
    while rest > 0:
        size = min(MAX_FANOUT * sizes[-1], rest)
        sizes.append(size)
        rest -= size
    return sizes


def _dir_of(path: str) -> str:
    """The directory a page's children live in: ``/s3/`` for ``/s3/``, ``/s3/t7/`` for ``/s3/t7.html``."""
    return path if path.endswith("/") else path[: -len(".html")] + "/"


def relative_href(from_path: str, to_path: str) -> str:
    """``to_path`` spelled relative to the page at ``from_path`` (both root-relative)."""
    base = from_path[: from_path.rfind("/") + 1]
    if to_path == base:
        return "./"
    rel = posixpath.relpath(to_path, base)
    return rel + "/" if to_path.endswith("/") and not rel.endswith("/") else rel


def build_site(n_pages: int, n_hosts: int, port: int, seed: int = 1) -> Site:
    """The site model (no files): paths, layers, titles and every page's links."""
    addrs = [f"127.0.0.{2 + i}" for i in range(n_hosts)]
    pages: dict[str, SitePage] = {}
    layers: list[list[list[str]]] = []
    private: list[list[str]] = []
    children: dict[str, list[str]] = {}
    for h, addr in enumerate(addrs):
        count = n_pages // n_hosts + (1 if h < n_pages % n_hosts else 0)
        origin = f"http://{addr}:{port}"
        host_layers: list[list[str]] = []
        for layer, size in enumerate(layer_sizes(max(1, count))):
            urls = []
            for i in range(size):
                if layer == 0:
                    path, parent = "/", None
                elif layer == 1:
                    path, parent = f"/s{i}/", host_layers[0][0]
                else:
                    prev = host_layers[layer - 1]
                    parent = prev[i * len(prev) // size]
                    prefix = PAGE_PREFIX.get(layer, f"d{layer}-")
                    path = _dir_of(pages[parent].path) + f"{prefix}{i}.html"
                url = origin + path
                kind = ("Home", "Section", "Topic", "Article")[min(layer, 3)]
                words = random.Random(f"title:{seed}:{url}").choices(WORDS, k=2)
                title = f"{words[0].capitalize()} & {words[1]} — {kind} {i} · host {h + 1}"
                pages[url] = SitePage(h, addr, path, layer, title, url, parent)
                children.setdefault(url, [])
                if parent is not None:
                    children[parent].append(url)
                urls.append(url)
            host_layers.append(urls)
        layers.append(host_layers)
        priv = []
        for k in range(PRIVATE_PAGES):
            url = f"{origin}/private/doc{k}.html"
            pages[url] = SitePage(h, addr, f"/private/doc{k}.html", -1, f"Private document {k} · host {h + 1}", url)
            priv.append(url)
        private.append(priv)
    site = Site(seed, port, addrs, pages, layers, private)
    for page in pages.values():
        _add_links(site, page, children.get(page.url, []))
    return site


def _add_links(site: Site, page: SitePage, kids: list[str]) -> None:
    rng = random.Random(f"links:{site.seed}:{page.url}")
    host_layers = site.layers[page.host]
    origin = f"http://{page.addr}:{site.port}"

    def add(where: list[tuple[str, str | None]], href: str) -> None:
        where.append((href, resolve(page.url, href)))

    def spell(target_path: str) -> str:
        style = rng.random()
        if style < 0.30:
            href = target_path
        elif style < 0.60:
            href = relative_href(page.path, target_path)
        elif style < 0.80:
            href = origin + target_path
        elif style < 0.85:
            href = f"//{page.addr}:{site.port}{target_path}"
        elif style < 0.90:
            rel = relative_href(page.path, target_path)
            href = rel if rel.startswith(".") else "./" + rel
        else:
            href = target_path + f"#sec-{rng.randint(1, 9)}"
        return href

    # Navigation: the home page and the first sections, root-relative.
    add(page.nav, "/")
    for url in (host_layers[1] if len(host_layers) > 1 else [])[:6]:
        add(page.nav, site.pages[url].path)
    target = rng.randint(30, 50)
    body = page.body
    if page.layer < 0:  # private pages: a few links back, nothing else
        add(body, "/")
        add(body, "../")
        return
    if page.parent is not None:
        parent_path = site.pages[page.parent].path
        add(body, relative_href(page.path, parent_path) if rng.random() < 0.5 else parent_path)
    for url in kids:  # every child, so that every page is reachable at exactly its layer
        add(body, relative_href(page.path, site.pages[url].path))
    add(body, "#top")
    add(body, "#main")
    for _ in range(rng.randint(1, 2)):
        add(body, f"mailto:{rng.choice(WORDS)}@example.org")
    for _ in range(rng.randint(1, 2)):
        add(body, "javascript:void(0)" if rng.random() < 0.5 else "javascript:window.print()")
    if len(site.addrs) > 1:
        for _ in range(2):
            other = rng.choice([h for h in range(len(site.addrs)) if h != page.host])
            other_layers = site.layers[other]
            add(body, rng.choice(other_layers[rng.randrange(len(other_layers))]))
    add(body, f"http://{EXTERNAL_HOST}:{site.port}/ext/{rng.randint(1, 999)}.html")
    if page.layer == 0 or rng.random() < 0.12:
        add(body, rng.choice([site.pages[u].path for u in site.private[page.host]]))
    deepest = min(page.layer + 1, len(host_layers) - 1)  # never more than one layer deeper
    same_host = [href for href, tgt in body if tgt is not None and tgt.startswith(origin + "/")]
    while len(page.nav) + len(body) < target:
        if same_host and rng.random() < 0.1:
            add(body, rng.choice(same_host))  # an exact duplicate
            continue
        url = rng.choice(host_layers[rng.randint(0, deepest)])
        href = spell(site.pages[url].path)
        same_host.append(href)
        add(body, href)
    rng.shuffle(body)


def expected_urls(site: Site, seeds: list[str], depth: int) -> dict[str, int]:
    """URL -> BFS depth of what a polite crawl of ``seeds`` at ``depth`` with scope=host records."""
    dist = {s: 0 for s in seeds}
    frontier = list(seeds)
    for d in range(depth):
        following = []
        for url in frontier:
            page = site.pages.get(url)
            if page is None:
                continue
            host = urlsplit(url).netloc
            for _, target in page.links:
                if target is None or target in dist:
                    continue
                parts = urlsplit(target)
                if parts.netloc != host or parts.path.startswith("/private/"):
                    continue
                dist[target] = d + 1
                following.append(target)
        frontier = following
    for url, d in dist.items():  # the generator's promise: BFS depth is the layer
        if url in site.pages and site.pages[url].layer != d:
            raise AssertionError(f"site generator bug: {url} is layer {site.pages[url].layer}, BFS depth {d}")
    return dist


def _sentences(rng: random.Random, n_words: int) -> list[str]:
    words = rng.choices(WORDS, k=n_words)
    out, i = [], 0
    while i < len(words):
        n = rng.randint(8, 16)
        chunk = words[i : i + n]
        out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
        i += n
    return out


def render_page(site: Site, page: SitePage) -> bytes:
    """The HTML of ``page``: 15–25 KB, UTF-8, deterministic."""
    rng = random.Random(f"render:{site.seed}:{page.url}")
    size = rng.randint(15_000, 25_000) if page.layer >= 0 else rng.randint(2_000, 4_000)
    esc = html.escape
    title = esc(page.title)
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<meta name="description" content="{esc(" ".join(rng.choices(WORDS, k=20)))}">\n'
        '<link rel="stylesheet" href="/static/site.css">\n'
        "<style>body{font-family:Georgia,serif;max-width:62em;margin:0 auto;padding:0 1em}"
        "nav ul{list-style:none;padding:0}nav li{display:inline;margin-right:1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        ".note{color:#666;font-size:90%}</style>\n</head>\n"
        f'<body id="top">\n<header><p class="site">Benchmark site · host {page.host + 1}</p></header>\n'
    )
    nav = "".join(f'<li><a href="{esc(h)}">{esc(rng.choice(WORDS).capitalize())}</a></li>' for h, _ in page.nav)
    parts = [head, f'<nav aria-label="main"><ul>{nav}</ul></nav>\n<main id="main">\n<h1>{title}</h1>\n']
    links = [h for h, _ in page.body]
    in_table = links[len(links) * 2 // 3 :]
    in_text = links[: len(links) * 2 // 3]
    while in_text:  # paragraphs carrying 1-3 inline links each
        sentences = [esc(s, quote=False) for s in _sentences(rng, rng.randint(40, 90))]
        for _ in range(min(len(in_text), rng.randint(1, 3))):
            href = in_text.pop()
            anchor = " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))
            pos = rng.randrange(len(sentences))
            sentences[pos] += f' See <a href="{esc(href)}">{esc(anchor)}</a>.'
        parts.append(f"<p>{' '.join(sentences)}</p>\n")
    rows = []
    for i in range(max(8, len(in_table))):
        name = esc(" ".join(rng.choices(WORDS, k=2)).capitalize())
        cell = f'<a href="{esc(in_table[i])}">{name}</a>' if i < len(in_table) else name
        rows.append(f"<tr><td>{cell}</td><td>{rng.randint(1, 99999)}</td>"
                    f"<td class=\"note\">{esc(' '.join(rng.choices(WORDS, k=6)))}</td></tr>")
    parts.append("<table>\n<thead><tr><th>Item</th><th>Count</th><th>Notes</th></tr></thead>\n<tbody>\n"
                 + "\n".join(rows) + "\n</tbody>\n</table>\n")
    footer = (f'</main>\n<footer><p class="note">© 2024 Benchmark site · generated page {esc(page.path)}</p>'
              "</footer>\n<script>document.documentElement.className='js';</script>\n</body>\n</html>\n")
    length = sum(len(p) for p in parts) + len(footer)
    while length < size:
        paragraph = f"<h2>{esc(' '.join(rng.choices(WORDS, k=3)).capitalize())}</h2>\n<p>" \
                    f"{esc(' '.join(_sentences(rng, rng.randint(60, 120))))}</p>\n"
        parts.append(paragraph)
        length += len(paragraph)
    parts.append(footer)
    return "".join(parts).encode("utf-8")


def write_site(site: Site, root: Path) -> dict[str, float]:
    """Write every page and a robots.txt per host under ``root/hN/``; returns size statistics."""
    sizes = []
    for page in site.pages.values():
        rel = page.path.lstrip("/") + ("index.html" if page.path.endswith("/") else "")
        path = root / f"h{page.host}" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        body = render_page(site, page)
        path.write_bytes(body)
        if page.layer >= 0:
            sizes.append(len(body))
    for h in range(len(site.addrs)):
        (root / f"h{h}" / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    anchors = [len(p.links) for p in site.pages.values() if p.layer >= 0]
    return {
        "pages": len(sizes),
        "mb": sum(sizes) / 1e6,
        "min_kb": min(sizes) / 1e3,
        "max_kb": max(sizes) / 1e3,
        "links_min": min(anchors),
        "links_max": max(anchors),
        "links_mean": sum(anchors) / len(anchors),
    }


# --------------------------------------------------------------------------- processes


def become_subreaper() -> bool:
    """Make orphaned descendants (pool workers of a killed crawler…) our children, so we reap them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (zombies included), from /proc."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
        except OSError:  # the thread ended, or no CONFIG_PROC_CHILDREN: scan instead
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue
            return _children_by_scan(pid)
    return kids


def _children_by_scan(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def tree_pids(roots: list[int]) -> list[int]:
    """``roots`` and all their descendants."""
    seen, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(children_of(pid))
    return seen


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Samples the RSS sum of our descendants (servers excluded) every 100 ms; keeps the peak."""

    def __init__(self, exclude: set[int]) -> None:
        super().__init__(daemon=True)
        self.exclude = exclude
        self.peak = 0
        self._done = threading.Event()

    def sample(self) -> None:
        roots = [p for p in children_of(os.getpid()) if p not in self.exclude]
        self.peak = max(self.peak, sum(rss_bytes(p) for p in tree_pids(roots)))

    def run(self) -> None:
        self.sample()
        while not self._done.wait(SAMPLE_INTERVAL):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


def reap_orphans(exclude: set[int], timeout: float = REAP_TIMEOUT) -> int:
    """Wait for our children not in ``exclude`` (orphans adopted as subreaper); SIGKILL them after ``timeout``.

    Returns how many had to be killed. Only processes descending from ones this
    script started can be our children, so nothing else is ever signalled.
    """
    deadline = time.monotonic() + timeout
    killed = 0
    while True:
        kids = [p for p in children_of(os.getpid()) if p not in exclude]
        if not kids:
            return killed
        for pid in kids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        if time.monotonic() > deadline:
            if killed:
                print(f"warning: could not reap {kids}", file=sys.stderr)
                return killed
            for pid in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed = len(kids)
            print(f"warning: killed {killed} leftover process(es) {kids}", file=sys.stderr)
            deadline = time.monotonic() + 5
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen, group: bool = False, timeout: float = 10.0) -> None:
    """SIGTERM ``proc``, then SIGKILL after ``timeout`` (its whole process group if ``group``: it leads one).

    The graceful SIGTERM goes to ``proc`` alone, as a user's ``kill PID`` would:
    the crawler then stops its own pool and flushes its output.
    """
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    proc.wait(timeout=timeout)


def free_port(addrs: list[str]) -> int:
    """A TCP port free on every address of ``addrs``."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
        try:
            for addr in addrs[1:]:
                with socket.socket() as s:
                    s.bind((addr, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on all addresses")


def wait_listening(addrs: list[str], port: int, procs: list[subprocess.Popen], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(addrs)
    while pending:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a server exited at start-up")
        try:
            with socket.create_connection((pending[0], port), timeout=0.5):
                pending.pop(0)
                continue
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"servers not listening after {timeout:g}s: {pending}")
        time.sleep(0.05)


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


#: Where Debian's libnginx-mod-http-echo (and others) put the echo module: with it nginx adds latency.
ECHO_MODULES = ("/usr/lib/nginx/modules/ngx_http_echo_module.so", "/usr/lib64/nginx/modules/ngx_http_echo_module.so",
                "/usr/local/lib/nginx/modules/ngx_http_echo_module.so")


def find_echo_module() -> str | None:
    """nginx's echo module, whose non-blocking ``echo_sleep`` delays each response (None: not installed)."""
    return next((path for path in ECHO_MODULES if os.path.exists(path)), None)


class Servers:
    """The site's HTTP servers: nginx (preferred) or one Python server per host."""

    def __init__(self, site_root: Path, work: Path, addrs: list[str], port: int, kind: str,
                 latency_ms: float, nginx_workers: int, gzip_static: bool = False) -> None:
        self.site_root, self.work, self.addrs, self.port = site_root, work, addrs, port
        self.latency_ms, self.nginx_workers = latency_ms, nginx_workers
        #: nginx serves FILE.gz (written beside FILE) to a client that accepts gzip
        self.gzip_static = gzip_static
        self.procs: list[subprocess.Popen] = []
        self.kind = kind
        self._log: IO[bytes] | None = None

    @property
    def pids(self) -> set[int]:
        return {p.pid for p in self.procs}

    def start(self) -> None:
        log = self._log = open(self.work / "server.log", "ab")  # closed by stop()
        if self.kind == "nginx":
            conf = self.work / "nginx.conf"
            conf.write_text(self._nginx_conf())
            (self.work / "nginx-temp").mkdir(exist_ok=True)
            nginx = find_nginx()
            assert nginx is not None
            cmd = [nginx, "-p", str(self.work), "-c", str(conf), "-e", str(self.work / "nginx-error.log")]
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                               start_new_session=True))
        else:
            for i, addr in enumerate(self.addrs):
                cmd = [sys.executable, str(Path(__file__).resolve()), "--_serve", str(self.site_root / f"h{i}"),
                       addr, str(self.port), str(self.latency_ms)]
                self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                   start_new_session=True))
        try:
            wait_listening(self.addrs, self.port, self.procs, SERVER_START_TIMEOUT)
        except RuntimeError:
            self.stop()
            tail = (self.work / "server.log").read_text(errors="replace")[-2000:]
            errlog = self.work / "nginx-error.log"
            if errlog.exists():
                tail += errlog.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"servers failed to start:\n{tail}") from None

    def stop(self) -> None:
        for proc in self.procs:
            try:
                stop_process(proc)
            except subprocess.TimeoutExpired:
                print(f"warning: server {proc.pid} did not stop", file=sys.stderr)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _nginx_conf(self) -> str:
        w = self.work
        # With latency: every response (robots.txt and 404s too) waits latency_ms in
        # echo_sleep, which does not block the nginx worker, then serves the file.
        delayed = (f"location / {{ echo_sleep {self.latency_ms / 1000:.3f}; echo_exec @file; }} "
                   "location @file { try_files $uri ${uri}index.html =404; } ") if self.latency_ms > 0 else ""
        servers = "\n".join(
            f"    server {{ listen {addr}:{self.port}; server_name _; root {self.site_root / f'h{i}'}; "
            f"index index.html; {delayed}}}"
            for i, addr in enumerate(self.addrs)
        )
        module = f"load_module {find_echo_module()};\n" if self.latency_ms > 0 else ""
        temp = "\n".join(f"    {name}_temp_path {w / 'nginx-temp' / name};"
                         for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return f"""{module}daemon off;
master_process on;
worker_processes {self.nginx_workers};
pid {w / 'nginx.pid'};
error_log {w / 'nginx-error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    types {{ text/html html; text/plain txt; text/css css; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    gzip_static {"on" if self.gzip_static else "off"};
    keepalive_timeout 65;
    keepalive_requests 100000;
    # Cached descriptors stay open: the cache must stay under the worker's
    # descriptor limit (often 1024-20000), or a large site's crawl gets 500s
    # ("Too many open files") once it has touched that many pages.
    open_file_cache max=512 inactive=20s;
{temp}
{servers}
}}
"""


def serve(root: str, addr: str, port: int, latency_ms: float) -> int:
    """The Python fallback server for one host (run as a subprocess): HTTP/1.1 keep-alive, optional latency."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    delay = latency_ms / 1000.0

    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if delay > 0:
                time.sleep(delay)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    httpd = Server((addr, port), functools.partial(Handler, directory=root))
    httpd.serve_forever()
    return 0


# --------------------------------------------------------------------------- runs


SCRAPY_SPIDER = '''
"""Minimal breadth-first Scrapy spider equivalent to `python -m crawler SEEDS --depth D` (scope host)."""
from urllib.parse import urlsplit

import scrapy
from scrapy.http import HtmlResponse


class BenchSpider(scrapy.Spider):
    name = "bench"

    def __init__(self, seeds=None, depth="0", **kwargs):
        super().__init__(**kwargs)
        with open(seeds, encoding="utf-8") as f:
            self.start_urls = [line.strip() for line in f if line.strip()]
        self.max_depth = int(depth)

    # Seeds go through the duplicate filter too (Scrapy's default start requests
    # skip it, and would fetch a seed twice when a page links back to it).
    def start_requests(self):
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    async def start(self):  # Scrapy >= 2.13; older versions use start_requests
        for request in self.start_requests():
            yield request

    def parse(self, response):
        depth = response.meta.get("depth", 0)
        title = response.css("title::text").get() if isinstance(response, HtmlResponse) else None
        yield {"url": response.url, "status": response.status, "depth": depth,
               "title": " ".join(title.split()) if title else None}
        if depth >= self.max_depth or not isinstance(response, HtmlResponse):
            return
        host = urlsplit(response.url).hostname
        for href in response.css("a::attr(href), area::attr(href)").getall():
            url = response.urljoin(href.strip())
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.hostname == host:
                yield scrapy.Request(url, callback=self.parse)
'''


@dataclass
class Row:
    crawler: str
    mode: str
    concurrency: int
    per_host: int
    pages: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    coverage_pct: float = 0.0
    extra: int = 0
    dups: int = 0
    errors: int = 0
    rc: int | None = None
    note: str = ""

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_s / self.pages if self.pages else 0.0


def check_output(path: Path, expected: set[str], row: Row) -> None:
    """Fill the correctness columns of ``row`` from the JSONL at ``path``."""
    urls: list[str] = []
    errors = 0
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    errors += 1
                    continue
                urls.append(norm(rec.get("url") or ""))
                status = rec.get("status")
                if rec.get("ok") is False or rec.get("error") or not (isinstance(status, int) and status < 400):
                    errors += 1
    distinct = set(urls)
    row.pages = len(distinct)
    row.coverage_pct = 100.0 * len(distinct & expected) / len(expected) if expected else 0.0
    row.extra = len(distinct - expected)
    row.dups = len(urls) - len(distinct)
    row.errors = errors


def run_measured(cmd: list[str], cwd: Path, log: Path, timeout: float, exclude: set[int]) -> dict:
    """Run ``cmd`` to completion (bounded): wall, CPU of the process tree, peak RSS sum, exit status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        sampler = TreeSampler(exclude)
        sampler.start()
        timed_out = False
        try:
            rc: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop_process(proc, group=True)
            rc = proc.returncode
        wall = time.perf_counter() - start
        sampler.stop()
    reap_orphans(exclude)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rss": sampler.peak, "rc": rc, "timed_out": timed_out}


def run_one(name: str, mode: str, c: int, per_host: int, cmd: list[str], run_dir: Path, out: Path,
            expected: set[str], timeout: float, exclude: set[int]) -> Row:
    row = Row(name, mode, c, per_host)
    log = out.with_suffix(".stderr")  # next to the output, in the work dir
    m = run_measured(cmd, run_dir, log, timeout, exclude)
    row.wall_s, row.cpu_s, row.peak_rss_mb, row.rc = m["wall"], m["cpu"], m["rss"] / 1e6, m["rc"]
    check_output(out, expected, row)
    if m["timed_out"]:
        row.note = f"TIMEOUT after {timeout:g}s"
    elif m["rc"] != 0:
        row.note = f"exit {m['rc']}"
    if row.note:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        print(f"  {name} {mode} c={c}: {row.note}\n    " + "\n    ".join(tail), file=sys.stderr)
    return row


def crawler_cmd(python: str, seeds: list[str], depth: int, c: int, per_host: int, out: Path,
                workers: int | None, extra: Sequence[str] = (), command: str | None = None) -> list[str]:
    cmd = [python, "-m", "crawler", *([command] if command else []), *seeds, "--depth", str(depth),
           "--concurrency", str(c), "--per-host", str(per_host), "--output", str(out), "--no-progress", "-q"]
    # "{out}" in an extra argument is this run's output path (a --links or --report beside it).
    return cmd + (["--workers", str(workers)] if workers else []) + [a.replace("{out}", str(out)) for a in extra]


def scrapy_cmd(python: str, spider: Path, seed_file: Path, depth: int, c: int, per_host: int, out: Path) -> list[str]:
    settings = {
        "CONCURRENT_REQUESTS": c,
        "CONCURRENT_REQUESTS_PER_DOMAIN": per_host,
        "ROBOTSTXT_OBEY": True,
        "DEPTH_LIMIT": depth,  # 0 = no limit; the spider never follows links at depth >= D anyway
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "RETRY_TIMES": 2,
        "DOWNLOAD_TIMEOUT": 20,
        "USER_AGENT": "bench-scrapy",
    }
    cmd = [python, "-m", "scrapy", "runspider", str(spider), "-a", f"seeds={seed_file}", "-a", f"depth={depth}",
           "-O", f"{out}:jsonlines"]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    return cmd


def scrapy_python(requested: str | None) -> tuple[str | None, str]:
    """(python with Scrapy, version) or (None, reason)."""
    candidates = [requested] if requested else [sys.executable, PEER_VENV_PYTHON]
    reasons = []
    for python in candidates:
        if not python or not os.access(python, os.X_OK):
            reasons.append(f"{python}: not found")
            continue
        try:
            done = subprocess.run([python, "-c", "import scrapy; print(scrapy.__version__)"], capture_output=True,
                                  text=True, timeout=60, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            reasons.append(f"{python}: timed out importing scrapy")
            continue
        if done.returncode == 0:
            return python, done.stdout.strip()
        reasons.append(f"{python}: no scrapy")
    return None, "; ".join(reasons)


# (header, width, format, value); numbers right-aligned, text left-aligned.
COLUMNS = (
    ("crawler", 7, "{}", lambda r: r.crawler),
    ("mode", 5, "{}", lambda r: r.mode),
    ("C", 4, "{:d}", lambda r: r.concurrency),
    ("per-host", 8, "{:d}", lambda r: r.per_host),
    ("pages", 6, "{:d}", lambda r: r.pages),
    ("pages/s", 8, "{:.1f}", lambda r: r.pages_per_s),
    ("wall s", 7, "{:.2f}", lambda r: r.wall_s),
    ("CPU s", 7, "{:.2f}", lambda r: r.cpu_s),
    ("CPU ms/page", 11, "{:.2f}", lambda r: r.cpu_ms_per_page),
    ("peak RSS MB", 11, "{:.1f}", lambda r: r.peak_rss_mb),
    ("coverage %", 10, "{:.2f}", lambda r: r.coverage_pct),
    ("extra", 5, "{:d}", lambda r: r.extra),
    ("dups", 5, "{:d}", lambda r: r.dups),
    ("err", 4, "{:d}", lambda r: r.errors),
    ("note", 0, "{}", lambda r: r.note),
)


def table_header() -> str:
    return "  ".join(name.ljust(w) if fmt == "{}" else name.rjust(w) for name, w, fmt, _ in COLUMNS).rstrip()


def table_row(row: Row) -> str:
    cells = []
    for name, w, fmt, get in COLUMNS:
        text = fmt.format(get(row))
        cells.append(text.ljust(max(w, len(name))) if fmt == "{}" else text.rjust(max(w, len(name))))
    return "  ".join(cells).rstrip()


def format_table(rows: list[Row]) -> str:
    return "\n".join([table_header(), *(table_row(r) for r in rows)])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pages", type=int, default=2000, help="pages in the site (all hosts)")
    p.add_argument("--hosts", type=int, default=4, help=f"hosts, 127.0.0.2 … (at most {MAX_HOSTS})")
    p.add_argument("--depth", type=int, default=3, help="crawl depth of the crawl mode")
    p.add_argument("--concurrency", default="16,64", help="comma-separated total concurrencies; per-host = C/hosts")
    p.add_argument("--modes", default="crawl,list", help="crawl (seeds + depth) and/or list (expected URLs, depth 0)")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="server delay per response (nginx with its echo module, else Python servers)")
    p.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    p.add_argument("--nginx-workers", type=int, default=1, help="nginx worker processes")
    p.add_argument("--workers", type=int, help="crawler --workers (default: its own, the CPU count)")
    p.add_argument("--python", default=None, help="python running the crawler (default: PROJECT/.venv/bin/python "
                   "if present, else this one)")
    p.add_argument("--crawler-args", default="", help="extra crawler options, e.g. '--links {out}.links.csv' "
                   "({out}: the run's output path)")
    p.add_argument("--command", choices=("check",), help="run 'crawler check' instead of a crawl")
    p.add_argument("--scrapy", action="store_true", help="also run an equivalent Scrapy spider")
    p.add_argument("--scrapy-python", default=None,
                   help=f"python with Scrapy (default: this one if it has Scrapy, else {PEER_VENV_PYTHON})")
    p.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    p.add_argument("--timeout", type=float, default=RUN_TIMEOUT, help="cap on one crawl, seconds")
    p.add_argument("--seed", type=int, default=1, help="site generator seed")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (site, configs, outputs)")
    args = p.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        p.error(f"--hosts must be 1..{MAX_HOSTS}")
    if not args.hosts <= args.pages <= 500_000:
        p.error("--pages must be between --hosts and 500000")
    if args.depth < 0 or args.repeat < 1 or args.timeout <= 0:
        p.error("--depth >= 0, --repeat >= 1 and --timeout > 0 please")
    try:
        args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        p.error("--concurrency: comma-separated integers")
    if not args.concurrency or min(args.concurrency) < 1:
        p.error("--concurrency: at least one value >= 1")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - {"crawl", "list"}:
        p.error("--modes: crawl and/or list")
    if args.server == "nginx" and args.latency_ms > 0 and not find_echo_module():
        p.error("nginx adds latency only with its echo module (libnginx-mod-http-echo): use --server python")
    return args


def project_python() -> str:
    """The project's venv python, else this one."""
    venv = PROJECT / ".venv/bin/python"
    return str(venv) if venv.exists() else sys.executable


def work_dir(prefix: str) -> Path:
    """A new temp dir for a run, readable by nginx's workers (user nobody when run as root)."""
    os.umask(0o022)
    work = Path(tempfile.mkdtemp(prefix=prefix))
    work.chmod(0o755)
    return work


def finish(servers: Servers | None, work: Path, keep: bool) -> None:
    """Stop the servers and any crawl process left over; remove ``work`` unless ``keep``."""
    if servers is not None:
        servers.stop()
    reap_orphans(set())
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_serve"]:
        return serve(argv[1], argv[2], int(argv[3]), float(argv[4]))
    args = parse_args(argv)
    python = args.python or project_python()
    subreaper = become_subreaper()
    work = work_dir("crawler-bench-")
    servers: Servers | None = None
    rows: list[Row] = []
    try:
        addrs = [f"127.0.0.{2 + i}" for i in range(args.hosts)]
        port = free_port(addrs)
        t0 = time.perf_counter()
        site = build_site(args.pages, args.hosts, port, args.seed)
        stats = write_site(site, work / "site")
        expected_crawl = expected_urls(site, site.seeds, args.depth)
        expected = set(expected_crawl)
        print(f"site: {stats['pages']} pages (+{PRIVATE_PAGES}/host private) on {args.hosts} host(s), "
              f"{stats['mb']:.1f} MB, {stats['min_kb']:.1f}-{stats['max_kb']:.1f} KB/page, "
              f"{stats['links_min']}-{stats['links_max']} links/page (mean {stats['links_mean']:.1f}), "
              f"layers/host {[len(layer) for layer in site.layers[0]]}, generated in {time.perf_counter() - t0:.1f}s")
        print(f"expected at depth {args.depth}, scope host: {len(expected)} URLs; work dir {work}")

        kind = args.server
        if kind == "auto":
            kind = "nginx" if find_nginx() and (args.latency_ms <= 0 or find_echo_module()) else "python"
        if kind == "nginx" and not find_nginx():
            print("nginx not found", file=sys.stderr)
            return 2
        servers = Servers(work / "site", work, addrs, port, kind, args.latency_ms, args.nginx_workers)
        servers.start()
        if kind == "nginx":
            print(f"server: nginx ({args.nginx_workers} worker(s)) on {addrs[0]}..{addrs[-1]}:{port}")
        else:
            print(f"server: Python ThreadingHTTPServer x{len(addrs)} on {addrs[0]}..{addrs[-1]}:{port}, latency "
                  f"{args.latency_ms:g} ms. NOTE: Python servers cap throughput (and take CPU from the crawler).")
        print(f"crawler python: {python}; subreaper: {'yes' if subreaper else 'no (grandchildren may be missed)'}; "
              f"cores: {os.cpu_count()}; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        scrapy_py = None
        if args.scrapy:
            scrapy_py, version = scrapy_python(args.scrapy_python)
            if scrapy_py is None:
                print(f"Scrapy skipped: not importable ({version})")
            else:
                print(f"scrapy: {version} ({scrapy_py})")
        spider = work / "bench_spider.py"
        spider.write_text(SCRAPY_SPIDER)
        seed_file = work / "seeds.txt"
        seed_file.write_text("\n".join(site.seeds) + "\n")
        list_file = work / "list.txt"
        list_file.write_text("\n".join(sorted(expected, key=lambda u: (expected_crawl[u], u))) + "\n")

        exclude = servers.pids
        print()
        print(table_header(), flush=True)
        n = 0
        for c in args.concurrency:
            per_host = max(1, c // args.hosts)
            for mode in args.modes:
                depth, seeds = (args.depth, site.seeds) if mode == "crawl" else (0, [str(list_file)])
                for rep in range(args.repeat):
                    n += 1
                    out = work / f"run{n}-crawler-{mode}-c{c}-r{rep}.jsonl"
                    cmd = crawler_cmd(python, seeds, depth, c, per_host, out, args.workers,
                                      shlex.split(args.crawler_args), args.command)
                    row = run_one("crawler", mode, c, per_host, cmd, PROJECT, out, expected, args.timeout, exclude)
                    rows.append(row)
                    print(table_row(row), flush=True)
                    if scrapy_py:
                        out = work / f"run{n}-scrapy-{mode}-c{c}-r{rep}.jsonl"
                        cmd = scrapy_cmd(scrapy_py, spider, seed_file if mode == "crawl" else list_file, depth, c,
                                         per_host, out)
                        row = run_one("scrapy", mode, c, per_host, cmd, work, out, expected, args.timeout, exclude)
                        rows.append(row)
                        print(table_row(row), flush=True)
        print()
        print(format_table(rows))
        print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "pages": args.pages, "hosts": args.hosts, "depth": args.depth, "server": kind,
                "latency_ms": args.latency_ms, "expected": len(expected), "site": stats,
                "rows": [asdict(r) | {"pages_per_s": r.pages_per_s, "cpu_ms_per_page": r.cpu_ms_per_page}
                         for r in rows],
            }, indent=2))
        return 0 if all(r.rc == 0 for r in rows) else 1
    finally:
        finish(servers, work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
