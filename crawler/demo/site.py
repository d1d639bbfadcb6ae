"""The demo site: a few hundred pages on three loopback hosts, generated from code.

Deterministic (the same pages, links and bytes every time, whatever the
port), so the demo shows the same crawl on every machine and the tests
know in advance what a crawl of it must find (`DemoSite.expected`):

* host 1, a bookshop: ``/``, 5 categories, 8 books each, 2 review pages per
  book; host 2, a documentation site: 4 guides of 6 chapters with 2 sections;
  host 3, a small blog: 12 posts and their comment pages;
* on each host a ``robots.txt`` that disallows ``/private/`` (linked from the
  home page) and names a ``sitemap.xml`` listing the host's pages;
* planted: a 301 redirect (``/old-catalog``), two broken links (a 404 and a
  410), a slow page (``/slow``, about a second), non-HTML files (PDF, PNG,
  CSV), a gzip-served page (``/archive``), and links to the other hosts.

Every page is at most 3 links from its host's home page, so ``--depth 3``
from the three home pages reaches all of them.
"""

from __future__ import annotations

import gzip
import html
import random
from dataclasses import dataclass, field

#: The hosts: the last octet of 127.0.0.X, and what each one is.
HOSTS: tuple[tuple[int, str], ...] = ((1, "Loopback Books"), (2, "Loopback Docs"), (3, "Loopback Blog"))
#: Seconds the slow page takes.
SLOW_SECONDS = 1.0

_WORDS = ("crawler", "archive", "politeness", "frontier", "sitemap", "record", "robots", "queue", "worker",
          "parser", "depth", "scope", "redirect", "status", "header", "cache", "index", "link", "page", "host",
          "reader", "binding", "chapter", "review", "edition", "author", "history", "garden", "river", "lamp")


@dataclass(frozen=True)
class Response:
    """What the site answers for one path of one host."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass
class DemoSite:
    """The pages of the demo, for hosts ``127.0.0.{1,2,3}`` on ``port``.

    ``pages[(octet, path)]`` is the `Response` of each path.
    """

    port: int
    pages: dict[tuple[int, str], Response] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(20261203)
        self._books(rng)
        self._docs(rng)
        self._blog(rng)
        for octet, _ in HOSTS:
            self._common(octet)

    # -- addresses --------------------------------------------------------------------------
    def origin(self, octet: int) -> str:
        """``http://127.0.0.X:PORT``."""
        return f"http://127.0.0.{octet}:{self.port}"

    def seeds(self) -> list[str]:
        """The home page of every host."""
        return [self.origin(octet) + "/" for octet, _ in HOSTS]

    def expected(self) -> dict[str, int]:
        """Every URL a ``--depth 3`` crawl of the seeds records, with the status it gets.

        robots.txt and sitemaps are bookkeeping, ``/private/`` is refused, and
        links to other hosts are out of ``--scope host`` (their home pages are seeds).
        """
        out: dict[str, int] = {}
        for (octet, path), response in self.pages.items():
            if path in ("/robots.txt", "/sitemap.xml") or path.startswith("/private/"):
                continue
            location = dict(response.headers).get("Location")
            # A redirect's record has the status of where it lands.
            final = self.pages[(octet, location)].status if location else response.status
            out[self.origin(octet) + path] = final
        return out

    def respond(self, octet: int, path: str) -> Response:
        """The response for ``path`` on host 127.0.0.``octet`` (a 404 page for any other path)."""
        return self.pages.get((octet, path)) or _page(404, "Not found", "<p>No such page.</p>", [("/", "Home")])

    # -- the hosts ----------------------------------------------------------------------------
    def _books(self, rng: random.Random) -> None:
        categories = ("fiction", "history", "science", "travel", "cooking")
        home = [(f"/catalog/{c}/", c.title()) for c in categories]
        home += [("/old-catalog", "Catalog (old address)"), ("/catalog.pdf", "Catalog as PDF"),
                 ("/logo.png", "Logo"), ("/archive", "Archive"), ("/slow", "Bestsellers (slow)"),
                 (self.origin(2) + "/", "Docs"), (self.origin(3) + "/", "Blog")]
        self._add(1, "/", "Loopback Books", rng, home)
        for c in categories:
            books = [(f"/catalog/{c}/book-{i}", f"{c.title()} book {i}") for i in range(1, 9)]
            self._add(1, f"/catalog/{c}/", f"{c.title()} books", rng, [*books, ("/", "Home")])
            for path, title in books:
                reviews = [(f"{path}/reviews/{n}", f"Review {n}") for n in (1, 2)]
                links = [*reviews, (f"/catalog/{c}/", c.title())]
                if path == "/catalog/history/book-3":
                    links.append(("/catalog/history/book-99", "A book we no longer have"))  # broken: 404
                self._add(1, path, title, rng, links)
                for rpath, rtitle in reviews:
                    self._add(1, rpath, f"{rtitle} of {title}", rng, [(path, title)])
        self.pages[(1, "/old-catalog")] = Response(301, headers=(("Location", "/catalog/fiction/"),))
        self.pages[(1, "/catalog/history/book-99")] = _page(404, "Not found", "<p>Sold out for good.</p>", [])
        self.pages[(1, "/catalog.pdf")] = Response(body=_pdf(), content_type="application/pdf")
        self.pages[(1, "/logo.png")] = Response(body=_png(), content_type="image/png")
        archive = _page(200, "Archive", _text(rng, 6), [("/", "Home")])
        self.pages[(1, "/archive")] = Response(body=gzip.compress(archive.body, mtime=0),
                                               headers=(("Content-Encoding", "gzip"),))
        slow = _page(200, "Bestsellers", _text(rng, 2), [("/catalog/fiction/book-1", "Fiction book 1")])
        self.pages[(1, "/slow")] = Response(body=slow.body, delay=SLOW_SECONDS)

    def _docs(self, rng: random.Random) -> None:
        guides = ("install", "configure", "crawl", "deploy")
        home = [(f"/guide/{g}/", g.title()) for g in guides]
        home += [("/downloads/stats.csv", "Statistics (CSV)"), (self.origin(1) + "/", "Books")]
        self._add(2, "/", "Loopback Docs", rng, home)
        for g in guides:
            chapters = [(f"/guide/{g}/chapter-{i}", f"{g.title()}, chapter {i}") for i in range(1, 7)]
            self._add(2, f"/guide/{g}/", f"The {g} guide", rng, [*chapters, ("/", "Docs home")])
            for path, title in chapters:
                sections = [(f"{path}/section-{n}", f"Section {n}") for n in (1, 2)]
                links = [*sections, (f"/guide/{g}/", g.title())]
                if path == "/guide/deploy/chapter-6":
                    links.append(("/guide/deploy/legacy", "Legacy deployment"))  # broken: 410
                self._add(2, path, title, rng, links)
                for spath, stitle in sections:
                    self._add(2, spath, f"{title}: {stitle}", rng, [(path, title), ("/", "Docs home")])
        self.pages[(2, "/guide/deploy/legacy")] = _page(410, "Gone", "<p>This page was removed.</p>", [])
        rows = "\n".join(f"{i},{rng.randint(10, 999)}" for i in range(1, 21))
        self.pages[(2, "/downloads/stats.csv")] = Response(body=f"day,pages\n{rows}\n".encode(),
                                                           content_type="text/csv")

    def _blog(self, rng: random.Random) -> None:
        posts = [(f"/posts/{n:02d}", f"Post {n}: {rng.choice(_WORDS)} and {rng.choice(_WORDS)}") for n in range(1, 13)]
        self._add(3, "/", "Loopback Blog", rng, [*posts, (self.origin(1) + "/", "Books")])
        for i, (path, title) in enumerate(posts):
            links = [(f"{path}/comments", "Comments"), ("/", "Blog home")]
            if i + 1 < len(posts):
                links.append(posts[i + 1])
            self._add(3, path, title, rng, links)
            self._add(3, f"{path}/comments", f"Comments on {title}", rng, [(path, title)])

    def _common(self, octet: int) -> None:
        """robots.txt, the sitemap and the private page every host has."""
        origin = self.origin(octet)
        robots = f"User-agent: *\nDisallow: /private/\nSitemap: {origin}/sitemap.xml\n"
        self.pages[(octet, "/robots.txt")] = Response(body=robots.encode(), content_type="text/plain")
        self._add(octet, "/private/admin", "Admin", random.Random(octet), [])
        home = self.pages[(octet, "/")]
        self.pages[(octet, "/")] = Response(body=home.body.replace(
            b"</nav>", b'<a href="/private/admin" rel="nofollow">Admin</a> <a href="/private/login">Log in</a></nav>'))
        urls = sorted(path for (o, path), r in self.pages.items()
                      if o == octet and r.status == 200 and r.content_type.startswith("text/html")
                      and not path.startswith("/private/"))
        entries = "".join(f"<url><loc>{html.escape(origin + path)}</loc></url>" for path in urls)
        sitemap = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
        self.pages[(octet, "/sitemap.xml")] = Response(body=sitemap.encode(), content_type="application/xml")

    def _add(self, octet: int, path: str, title: str, rng: random.Random, links: list[tuple[str, str]]) -> None:
        self.pages[(octet, path)] = _page(200, title, _text(rng, rng.randint(2, 5)), links)


def _page(status: int, title: str, content: str, links: list[tuple[str, str]]) -> Response:
    nav = " ".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in links)
    body = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="description" content="{html.escape(title)} on the crawler demo site"></head>\n'
            f"<body><header><nav>{nav}</nav></header>\n<main><h1>{html.escape(title)}</h1>\n{content}</main>\n"
            "<footer><p>The crawler demo site: generated, served on loopback.</p></footer></body></html>\n")
    return Response(status, body.encode("utf-8"))


def _text(rng: random.Random, paragraphs: int) -> str:
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(30, 70))]
        out.append("<p>" + " ".join(words).capitalize() + ".</p>")
    return "\n".join(out)


def _pdf() -> bytes:
    # A minimal valid PDF with one empty page.
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def _png() -> bytes:
    # A 1x1 transparent PNG.
    return bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                         "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")
