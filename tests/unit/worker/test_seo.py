"""crawler.worker.seo: the --seo fields of a page, and SimHash's near-duplicate property."""

from __future__ import annotations

import hashlib
import random

from crawler.page import SEO_FIELDS
from crawler.worker.parse import parse_html
from crawler.worker.seo import empty_fields, hamming, seo_fields, simhash, take_words

URL = "http://a.test/dir/page"
HEAD = """<head><title>T</title>
<link rel="canonical" href="/canon#x"><link rel="alternate" hreflang="de" href="de/page">
<link rel="alternate" hreflang="fr" href="http://a.test/fr/">
<meta name="description" content="  A  page
 about things ">
<meta property="og:title" content="OG title"><meta property="og:image" content="/img.png">
<style>p { color: red }</style><script>var hidden = "words";</script></head>"""


def fields_of(html: str, url: str = URL, redirects: list[str] | None = None) -> dict[str, object]:
    parsed = parse_html(html.encode("utf-8"), url, keep_root=True)
    return seo_fields(parsed.root, parsed.base, redirects or [])


def test_every_field_in_spec_order():
    fields = fields_of(f"<html lang='en-GB'>{HEAD}<body><h1>First <b>one</b></h1><h1>Second</h1>"
                       "<p>Hello,  world: five words here.</p><!-- not text --><noscript>no</noscript></body></html>",
                       redirects=["301 http://a.test/old"])
    assert tuple(fields) == SEO_FIELDS
    assert fields["canonical"] == "http://a.test/canon"
    assert fields["meta_description"] == "A page about things"
    assert fields["h1"] == "First one"
    assert fields["lang"] == "en-GB"
    assert fields["hreflang"] == ["de=http://a.test/dir/de/page", "fr=http://a.test/fr/"]
    assert fields["og_title"] == "OG title"
    assert fields["og_image"] == "http://a.test/img.png"
    # "First one", "Second", "Hello world five words here" (8 words): script, style, title, comment, noscript left out
    assert fields["word_count"] == 3 + 5
    assert isinstance(fields["content_hash"], str)
    assert len(fields["content_hash"]) == 16
    int(fields["content_hash"], 16)
    assert fields["redirects"] == ["301 http://a.test/old"]


def test_base_href_resolves_canonical():
    fields = fields_of("<head><base href='http://b.test/x/'><link rel=canonical href='c'></head>")
    assert fields["canonical"] == "http://b.test/x/c"


def test_missing_fields_are_none_and_lists_empty():
    fields = fields_of("<p>just text</p>")
    assert fields["canonical"] is None
    assert fields["h1"] is None
    assert fields["lang"] is None
    assert fields["hreflang"] == []
    assert fields["redirects"] == []
    assert fields["word_count"] == 2


def test_empty_document():
    fields = fields_of("")
    assert fields == empty_fields([])


def test_visible_text_keeps_tails_of_skipped_elements():
    parsed = parse_html(b"<title>t</title><p>A<script>x</script>b<!-- c -->d<style>s</style></p><td>e</td><td>f</td>",
                        URL, keep_root=True)
    # As a browser shows it: "a", "b" and "d" touch once the script, comment and style are gone.
    assert take_words(parsed.root) == ["abd", "e", "f"]


def _text(seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(2000)]
    return [rng.choice(vocabulary) for _ in range(n)]


def _hash(words: list[str]) -> str:
    html = "<p>" + " ".join(words) + "</p>"
    value = fields_of(html)["content_hash"]
    assert isinstance(value, str)
    return value


def test_simhash_near_duplicates_differ_in_few_bits():
    words = _text(1)
    near = list(words)
    near[150] = "changed"  # one word of 300
    near.append("footer")
    other = _text(2)
    assert _hash(words) == _hash(words)
    assert hamming(_hash(words), _hash(near)) <= 6
    assert hamming(_hash(words), _hash(other)) >= 16


def test_simhash_is_stable_across_processes():
    # Python's hash() is salted per process; the hash must not be (records are compared across runs).
    assert f"{simhash(['a b c', 'b c d'])}" == f"{simhash(['a b c', 'b c d'])}"
    assert simhash(["x"]) == simhash(["x"]) != 0


def test_simhash_matches_the_textbook_loop():
    def textbook(features: list[str]) -> int:
        votes = [0] * 64
        for feature in features:
            value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
            for bit in range(64):
                votes[bit] += 1 if value >> bit & 1 else -1
        return sum(1 << bit for bit in range(64) if votes[bit] > 0)

    for n in (1, 2, 7, 300):
        features = [f"f{i}" for i in range(n)]
        assert simhash(features) == textbook(features)
