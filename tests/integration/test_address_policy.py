"""The address policy through the real CLI and pool, on loopback only.

``CRAWLER_TEST_PUBLIC=127.0.0.1`` has the workers take the site (127.0.0.1)
for a public address; the peer (127.0.0.2) stays what it is, loopback, the
network the crawler runs in. No test here sends anything outside 127.0.0.0/8
(the unit tests fake the resolver for private and link-local addresses).
"""

from __future__ import annotations

from urllib.parse import quote

from tests.conftest import assert_clean_stderr, crawl_cli
from tests.site import Site

PUBLIC_SITE = {"CRAWLER_TEST_PUBLIC": "127.0.0.1"}


def test_a_public_page_never_leads_into_the_local_network(site: Site, peer: Site) -> None:
    to_peer = site.url("/redirect?to=" + quote(peer.url("/peer2"), safe=""))
    links = site.url("/links?to=" + quote(peer.url("/peer"), safe="") + "&to=" + quote(to_peer, safe=""))
    run = crawl_cli(site, links, "-d", 1, "--scope", "any", "-w", 1, "--retries", 0, env=PUBLIC_SITE, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    assert_clean_stderr(run.result.stderr)
    [seed] = [r for r in run.records if r["depth"] == 0]
    assert seed["ok"]
    found = {r["url"].split("?")[0]: r for r in run.records if r["depth"] == 1}
    assert set(found) == {peer.url("/peer"), site.url("/redirect")}
    # A link, and a redirect: refused before any connection (robots.txt's included).
    for record in found.values():
        assert record["error"].startswith("blocked: 127.0.0.2 is a loopback address, not fetched for "), record
    assert run.peer_hits == {}


def test_seeds_may_be_local_and_so_may_their_links(site: Site, peer: Site) -> None:
    run = crawl_cli(site, peer.url("/peer"), "-d", 1, "-w", 1, env=PUBLIC_SITE, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    assert [r["error"] for r in run.records] == [None, None]
    assert run.peer_hits == {"/robots.txt": 1, "/peer": 1, "/peer2": 1}


def test_no_private_refuses_every_local_address(site: Site, peer: Site) -> None:
    run = crawl_cli(site, peer.url("/peer"), site.url("/a"), "--no-private", "-w", 1, "--retries", 0,
                    env=PUBLIC_SITE, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    by_url = run.by_url()
    assert by_url[peer.url("/peer")]["error"] == (
        "blocked: 127.0.0.2 is a loopback address, not fetched for --no-private")
    assert by_url[site.url("/a")]["ok"]
    assert run.peer_hits == {}


def test_a_local_url_redirected_to_a_public_page_follows_no_local_link(site: Site, peer: Site) -> None:
    # The seed is local (127.0.0.2) but redirects to the "public" site, whose page links back into
    # the local network: that link is judged as the public page's, not as the local URL's.
    public_page = site.url("/links?to=" + quote(peer.url("/peer2"), safe="") + "&to=" + quote(site.url("/a"), safe=""))
    seed = peer.url("/redirect?to=" + quote(public_page, safe=""))
    run = crawl_cli(site, seed, "-d", 1, "--scope", "any", "-w", 1, env=PUBLIC_SITE, peer=peer)
    assert run.result.returncode == 0, run.result.stderr
    assert {r["url"] for r in run.records if r["depth"] == 1} == {site.url("/a")}
    assert {path.split("?")[0] for path in run.peer_hits} == {"/robots.txt", "/redirect"}
