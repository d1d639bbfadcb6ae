"""The address policy: which IP addresses a fetch may connect to, checked after DNS resolution
and before any connection.

A *public* address is one that is globally routable (`ipaddress`'s
``is_global``); every other address (loopback, private, link-local,
carrier-grade NAT, reserved…) is the network the crawler runs in.

- By default a page on a public address never leads, by a link or a
  redirect, to a non-public one: a fetch whose referrer's host is public,
  or whose redirect chain went through a public address, connects to public
  addresses only. Seeds (no referrer) may be anything, so are the pages a
  non-public seed links to: crawling an intranet from an intranet seed works.
- ``--no-private`` (``no_private``) allows public addresses only, for every
  request: for crawls run as a service on URLs from anyone.

A refusal raises `BlockedAddress` before any connection is attempted; the
fetch's record then has the error kind ``blocked``. A host that resolves to
both kinds of address is reached on its public ones. The check runs in the
connection itself (`crawler._internals.ConnectToChosenAddress`): the socket
goes to the very address checked, so a second resolution cannot swap it
(DNS rebinding), and a kept-alive connection is checked again before it is
reused for another fetch. Connections through a proxy are the proxy's to
make: the policy does not see them.

``CRAWLER_TEST_PUBLIC`` (tests only): comma-separated addresses or networks
taken as public, so that tests can play a public site on loopback.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection
from urllib3.util.connection import allowed_gai_family

from .._internals import connection_peer

_local = threading.local()


def _test_public() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    spec = os.environ.get("CRAWLER_TEST_PUBLIC", "")
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec.split(",") if item.strip())


_PLAYED_PUBLIC = _test_public()


class BlockedAddress(OSError):
    """A connection the address policy refused (no connection was attempted)."""


@dataclass
class FetchPolicy:
    """The policy of the fetch running in this thread."""

    referrer_host: str | None
    no_private: bool
    #: a hop of this fetch went to a public address: later hops must too
    public_hop: bool = False

    def public_only(self) -> str | None:
        """Why only public addresses may be used now, or None when any may."""
        if self.no_private:
            return "--no-private"
        if self.public_hop:
            return "a redirect from a public address"
        if self.referrer_host is not None and host_is_public(self.referrer_host):
            return f"a link on a page of {self.referrer_host}, a public address"
        return None


def is_public(address: str) -> bool:
    """True for a globally routable IP address (an IPv4-mapped IPv6 address judged as its IPv4 one)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if _PLAYED_PUBLIC and any(ip in network for network in _PLAYED_PUBLIC):
        return True
    return ip.is_global and not ip.is_multicast


def kind_of(address: str) -> str:
    """A word for a non-public address: ``loopback``, ``link-local``, ``private`` or ``reserved``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    return "private" if ip.is_private else "reserved"


@lru_cache(maxsize=1024)
def host_is_public(host: str) -> bool:
    """Whether ``host`` (a referrer's) has a public address; a name that no longer resolves counts as public."""
    try:
        infos = socket.getaddrinfo(host, None, allowed_gai_family(), socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return True  # the stricter reading: its links may not reach in
    return any(is_public(str(info[4][0])) for info in infos)


@contextmanager
def policy(referrer: str | None, no_private: bool) -> Iterator[FetchPolicy]:
    """The address policy for the fetches made in this block (one task's), in this thread."""
    host = urlsplit(referrer).hostname if referrer else None
    previous = getattr(_local, "fetch", None)
    state = _local.fetch = FetchPolicy(host, no_private)
    try:
        yield state
    finally:
        _local.fetch = previous


def reachable_links(state: FetchPolicy, url: str, links: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    """The links of the page ``url`` that its fetch (``state``) lets the crawl follow, and how many it does not.

    A link's fetch is judged by its referrer, the page's URL: a page whose URL
    is on a local host but which a redirect took to a public address would
    have its links judged as a local page's. Those links are checked here:
    the ones whose host has no public address are not followed.
    """
    if not state.public_hop or state.no_private or host_is_public(urlsplit(url).hostname or ""):
        return links, 0
    kept = tuple(link for link in links if host_is_public(urlsplit(link).hostname or ""))
    return kept, len(links) - len(kept)


def choose(host: str, port: int) -> list[str] | None:
    """The addresses of ``host`` a new connection may use, in resolution order; None when no
    policy is in force (outside a task). Raises `BlockedAddress` when none may be used."""
    fetch: FetchPolicy | None = getattr(_local, "fetch", None)
    if fetch is None:
        return None
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    public = [address for address in addresses if is_public(address)]
    why = fetch.public_only()
    if why is not None:
        if not public:
            raise BlockedAddress(_refusal(host, addresses[0], why))
        addresses = public
    if public:
        fetch.public_hop = True
    return addresses


def check_reused(conn: HTTPConnection) -> None:
    """Before a kept-alive connection carries this fetch's request: the same check as a new one."""
    fetch: FetchPolicy | None = getattr(_local, "fetch", None)
    sock = conn.sock
    if fetch is None or sock is None or conn.proxy is not None:  # a proxy's connection is the proxy's
        return
    # Asked once per socket, not once per request: getpeername() lets go of the GIL,
    # and in a worker whose fetch threads all want it every hand-over costs a wait
    # (the crawl's CPU was ~4 % lower without this check at all).
    peer = connection_peer(conn)
    if peer is None:
        return  # not connected: urllib3 connects it anew, through choose()
    if is_public(peer):
        fetch.public_hop = True
        return
    why = fetch.public_only()
    if why is not None:
        raise BlockedAddress(_refusal(peer, peer, why))


def _refusal(host: str, address: str, why: str) -> str:
    where = address if host == address else f"{host} ({address})"
    return f"{where} is a {kind_of(address)} address, not fetched for {why}"
