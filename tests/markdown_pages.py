"""Pages with known main content, for the Markdown tests and `tests/benchmarks/bench_markdown.py`.

Each page wraps its content in the boilerplate real sites carry (menus,
breadcrumbs, sidebars, footers, cookie banners, comment threads), in the
different shapes sites use (``<main>``, ``<article>``, only ``<div>``s,
layout tables). ``expected`` is the main content's text: what a reader
would copy out of the page; boilerplate words are listed in ``dropped``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownPage:
    """One test page: where it lives, its HTML, its main text, and words that must not appear."""

    name: str
    url: str
    html: str
    expected: str
    dropped: tuple[str, ...] = ()


NAV = """<header class="site-header"><a class="logo" href="/">Acme</a>
<nav aria-label="Main"><ul><li><a href="/">Home</a></li><li><a href="/products/">Products</a></li>
<li><a href="/pricing">Pricing</a></li><li><a href="/blog/">Blog</a></li>
<li><a href="/contact">Contact</a></li></ul></nav>
</header>"""
CRUMBS = """<ol class="breadcrumb"><li><a href="/">Home</a></li><li><a href="/blog/">Blog</a></li>
<li>Guides</li></ol>"""
COOKIES = """<div id="cookie-consent" class="cookie-banner"><p>We use cookies to improve your experience.
<a href="/privacy">Privacy policy</a></p><button>Accept all</button><button>Reject</button></div>"""
SIDEBAR = """<aside class="sidebar"><h3>Popular posts</h3><ul><li><a href="/blog/a">Tangerine widgets</a></li>
<li><a href="/blog/b">Quokka scaling</a></li></ul><form><input name="q"><button>Search</button></form></aside>"""
FOOTER = """<footer class="site-footer"><div class="cols"><a href="/about">About us</a> <a href="/jobs">Careers</a>
<a href="/legal">Imprint</a></div><p>Copyright 2026 Acme Corporation. All rights reserved.</p></footer>"""
BOILERPLATE_WORDS = ("Pricing", "Tangerine", "Quokka", "cookies", "Careers", "Imprint", "Copyright", "Accept")

ARTICLE = KnownPage(
    name="article",
    url="http://127.0.0.1/blog/guides/parsing.html",
    html=f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Parsing HTML fast | Acme</title>
<style>body {{ font: 16px sans-serif }}</style><script>var tracking = "pixel";</script></head><body>
{COOKIES}{NAV}{CRUMBS}
<main><article>
<h1>Parsing HTML fast</h1>
<p>Parsing is <em>the</em> hot path of a crawler, and <strong>lxml</strong> is the fastest parser we
measured. Read the <a href="/docs/lxml">lxml notes</a> or the <a href="https://lxml.de/">project site</a>
before you start.</p>
<h2>What to measure</h2>
<p>Three numbers matter:</p>
<ul><li>pages per second</li><li>CPU per page
<ul><li>in the workers</li><li>in the main process</li></ul></li><li>memory</li></ul>
<h2>Results</h2>
<table><thead><tr><th>Parser</th><th>Pages/s</th></tr></thead>
<tbody><tr><td>lxml</td><td>5700</td></tr><tr><td>html5lib</td><td>310</td></tr></tbody></table>
<h3>The code</h3>
<pre><code class="language-python">from lxml import etree
tree = etree.fromstring(body, etree.HTMLParser())
print(tree.findtext(".//title"))</code></pre>
<p>Call <code>etree.fromstring</code> once per page; see <a href="/docs/lxml">the notes</a> again.</p>
</article>{SIDEBAR}</main>
{FOOTER}<script>console.log("bye")</script></body></html>""",
    expected="""Parsing HTML fast
Parsing is the hot path of a crawler, and lxml is the fastest parser we measured. Read the lxml notes or the
project site before you start.
What to measure
Three numbers matter: pages per second CPU per page in the workers in the main process memory
Results
Parser Pages/s lxml 5700 html5lib 310
The code
from lxml import etree
tree = etree.fromstring(body, etree.HTMLParser())
print(tree.findtext(".//title"))
Call etree.fromstring once per page; see the notes again.""",
    dropped=BOILERPLATE_WORDS + ("tracking", "console", "Products"),
)

DIVS = KnownPage(
    name="divs",
    url="http://127.0.0.1/2026/11/winter-garden",
    html=f"""<html><head><title>Winter garden</title></head><body>
<div id="wrapper"><div id="header">{NAV}</div>
<div id="container"><div id="content"><div class="post">
<h2 class="entry-title">Preparing the winter garden</h2>
<div class="entry-content">
<p>The first frost came early this year, so the dahlias had to come out of the ground before the end of
October. Lift them carefully, brush off the soil, and let the tubers dry for a few days.</p>
<p>Store the tubers in a box of dry compost, somewhere cool but frost free. Check them every few weeks,
and throw away any that turn soft.</p>
<p>Next spring, pot them up in March and plant them out after the last frost, in full sun.</p>
</div></div>
<div id="comments"><h3>3 comments</h3><p>Great advice, thanks! My dahlias rotted last winter.</p></div>
</div>
<div id="sidebar" class="widget-area"><h3>Archives</h3><ul><li><a href="/2026/10/">October</a></li>
<li><a href="/2026/09/">September</a></li></ul></div>
</div>{FOOTER}</div></body></html>""",
    expected="""Preparing the winter garden
The first frost came early this year, so the dahlias had to come out of the ground before the end of
October. Lift them carefully, brush off the soil, and let the tubers dry for a few days.
Store the tubers in a box of dry compost, somewhere cool but frost free. Check them every few weeks,
and throw away any that turn soft.
Next spring, pot them up in March and plant them out after the last frost, in full sun.""",
    dropped=BOILERPLATE_WORDS + ("Archives", "rotted", "September"),
)

DOCS = KnownPage(
    name="docs",
    url="http://127.0.0.1/docs/install",
    html=f"""<html lang="de"><body>{NAV}
<div class="layout"><div class="toc"><a href="#a">Requirements</a> <a href="#b">Steps</a></div>
<div role="main"><h1>Installation</h1>
<h2 id="a">Requirements</h2><p>You need Python 3.10 or newer and a C compiler for the optional speed-ups.</p>
<h2 id="b">Steps</h2><ol><li>Create a virtual environment.</li><li>Run <code>pip install crawler</code>.</li>
<li>Check the version with <kbd>crawler --version</kbd>.</li></ol>
<blockquote><p>Tip: pin the version in production.</p></blockquote>
<div class="pagination"><a href="/docs/">Previous</a> <a href="/docs/usage">Next page</a></div>
</div></div>{FOOTER}</body></html>""",
    expected="""Installation
Requirements
You need Python 3.10 or newer and a C compiler for the optional speed-ups.
Steps
Create a virtual environment. Run pip install crawler. Check the version with crawler --version.
Tip: pin the version in production.""",
    dropped=BOILERPLATE_WORDS + ("Previous", "Next page"),
)

TABLES = KnownPage(
    name="layout-table",
    url="http://127.0.0.1/old/page.htm",
    html=f"""<html><body><table width="100%"><tr>
<td width="20%" class="menu"><a href="/">Home</a><br><a href="/news">News</a><br><a href="/links">Links</a></td>
<td><h1>Club history</h1>
<p>The club was founded in 1921 by twelve railway workers, who played on a field behind the station.</p>
<p>After the war the club moved to the new ground on Mill Lane, where it still plays today.</p>
</td></tr></table>{FOOTER}</body></html>""",
    expected="""Club history
The club was founded in 1921 by twelve railway workers, who played on a field behind the station.
After the war the club moved to the new ground on Mill Lane, where it still plays today.""",
    dropped=BOILERPLATE_WORDS + ("News", "Links"),
)

BOILERPLATE_ONLY = KnownPage(
    name="all-boilerplate",
    url="http://127.0.0.1/sitemap-page",
    html=f"""<html><body>{COOKIES}{NAV}{CRUMBS}
<div class="links"><ul><li><a href="/a">Alpha</a></li><li><a href="/b">Beta</a></li><li><a href="/c">Gamma</a></li>
</ul></div>{SIDEBAR}{FOOTER}</body></html>""",
    expected="",
    dropped=BOILERPLATE_WORDS + ("Alpha", "Home", "Blog"),
)

PAGES = (ARTICLE, DIVS, DOCS, TABLES, BOILERPLATE_ONLY)
