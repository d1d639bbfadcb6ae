"""Pure URL helpers: canonical form, host/origin keys, registered domain.

Canonicalisation is w3lib's (fragment dropped, query sorted, percent-encoding
normalised, dot segments resolved) plus what w3lib leaves alone: default ports
dropped and an empty path spelled ``/``. Every function here is pure and
cached where the crawl calls it once per link.
"""

from __future__ import annotations

import re
from functools import lru_cache
from hashlib import blake2b
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}



# A URL already in canonical form, but for a fragment or a default port: an
# ASCII host, a path of unreserved characters and "/", no query, no dot
# segment. Most links on most sites look like this, and w3lib's full
# canonicalisation (~20 µs) would give it back unchanged.
_PLAIN = re.compile(r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?(/[A-Za-z0-9._~/-]*)?(?:#.*)?",
                    re.DOTALL)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)")


def _plain(url: str) -> str | None:
    """The canonical form of a URL that needs no more than a regex to tell, else None."""
    match = _PLAIN.fullmatch(url)
    if match is None:
        return None
    scheme, host, port, path = match.groups()
    if path is None:
        path = "/"
    elif "//" in path or _DOT_SEGMENT.search(path):
        return None
    if len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
        return None  # IDNA refuses these: the slow path says how
    if port is not None:
        if port[0] == "0" or int(port) > 65535:  # leading zeros, out of range: the slow path decides
            return None
        if int(port) != _DEFAULT_PORTS[scheme]:
            host = f"{host}:{port}"
    return f"{scheme}://{host}{path}"


# Sized for the links a site repeats on every page (navigation, footers): a
# larger cache mostly holds one-off URLs, ~250 bytes each per worker process.
@lru_cache(maxsize=8192)
def normalize_url(url: str, encoding: str = "utf-8") -> str:
    """Canonical form of an absolute http(s) URL; raises ValueError if it has none.

    ``encoding`` percent-encodes non-ASCII query text (a page's own encoding,
    as browsers do); paths are always UTF-8.

    >>> normalize_url("HTTP://Example.COM:80/b?z=1&a=2#top")
    'http://example.com/b?a=2&z=1'
    """
    plain = _plain(url)
    return plain if plain is not None else _canonical(url, encoding)


#: What the URL standard strips from both ends of a URL: C0 controls and space
#: (Python's strip() also took no-break and ideographic spaces, part of a URL).
_C0_SPACE = "".join(map(chr, range(0x21)))


def whatwg_href(href: str) -> str:
    r"""``href`` cleaned as the URL standard cleans an http(s) URL before parsing it.

    Leading and trailing C0 controls and spaces stripped, every tab and
    newline removed, and ``\`` read as ``/`` up to the query or fragment.

    >>> whatwg_href(" \\a\\b\t\n?x\\y ")
    '/a/b?x\\y'
    """
    if href[:1] <= " " or href[-1:] <= " ":  # an empty href too: stripping it is free
        href = href.strip(_C0_SPACE)
    if "\t" in href or "\n" in href or "\r" in href:
        href = href.replace("\t", "").replace("\n", "").replace("\r", "")
    if "\\" in href:
        end = len(href)
        for mark in "?#":
            at = href.find(mark)
            if 0 <= at < end:
                end = at
        href = href[:end].replace("\\", "/") + href[end:]
    return href


def _canonical(url: str, encoding: str) -> str:
    url = whatwg_href(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    port = parts.port  # raises ValueError on a port that is not a number
    # Imported here: w3lib.url loads urllib.request with it, ~29 ms of every
    # start-up, and a crawl whose URLs are all in canonical form (the `_plain`
    # fast path) never needs it.
    from w3lib.url import canonicalize_url

    canon = canonicalize_url(url, encoding=encoding)
    parts = urlsplit(canon)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    # No user info: credentials never reach a record, nor make a URL distinct.
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a canonical URL: the key for per-host limits and robots.txt."""
    end = url.find("/", url.find("://") + 3)
    return url if end < 0 else url[:end]


def host_of(url: str) -> str:
    """Lower-cased host name of a URL, without port or credentials."""
    return (urlsplit(url).hostname or "").lower()


@lru_cache(maxsize=4096)
def registered_domain(host: str) -> str:
    """Registered domain of a host (``a.b.example.co.uk`` → ``example.co.uk``).

    Hosts with no public suffix (IP addresses, ``localhost``) are their own domain.
    """
    result = _extractor()(host)
    domain = result.top_domain_under_public_suffix if hasattr(result, "top_domain_under_public_suffix") \
        else result.registered_domain
    return domain or host


@lru_cache(maxsize=1)
def _extractor() -> Any:
    # Imported on first use: only --scope domain needs it (~19 MB with requests).
    import tldextract

    # The bundled public-suffix snapshot only: no list is ever downloaded, so
    # the crawler works offline and every run classifies domains the same way.
    # Private suffixes count (github.io, blogspot.com): foo.github.io is its
    # own site, so --scope domain from it must not wander into every other one.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def fingerprint(url: str) -> int:
    """A stable 64-bit fingerprint of a canonical URL (the seen set stores these, not strings)."""
    return int.from_bytes(blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


# -- --markdown-dir file names ---------------------------------------------------
#: A path segment kept as it is in a file name: lower case (case-insensitive file
#: systems), no leading dot, nothing a shell or another OS reads specially, short.
_SAFE_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
_UNSAFE_CHARS = re.compile(r"[^a-z0-9._-]")
_SAFE_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,198}[a-z0-9])?")
_RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
                             *(f"lpt{i}" for i in range(10))})
#: Directories of a path kept at most; deeper ones are left out of the name (which then takes the hash).
MARKDOWN_MAX_DIRS = 16


def markdown_path(url: str) -> str:
    """The relative POSIX path of ``url``'s Markdown file under ``--markdown-dir``: unique per URL.

    The first directory is the origin: the host, ``_PORT`` for a port that
    is not the scheme's default, ``_http`` for plain http. Each path segment
    that is already safe (lower case, letters, digits, ``.``, ``_``, ``-``,
    no leading dot, at most 80 characters) is kept; a path ending in ``/`` is
    ``index.md``. Anything else (upper case, other characters, ``..``, a
    query, a long or deep path, a segment named ``index``, a directory
    ending in ``.md``) is made safe and the file name takes ``~`` and a hash
    of the whole URL: names without ``~`` map one to one onto URLs, and no
    two URLs share a name, even on a case-insensitive file system.

    >>> markdown_path("https://example.com/blog/post")
    'example.com/blog/post.md'
    >>> markdown_path("http://127.0.0.1:8080/docs/")
    '127.0.0.1_8080_http/docs/index.md'
    >>> markdown_path("https://example.com/a/../B?q=1").startswith("example.com/a/_../b~")
    True
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    lossy = bool(parts.query)
    if not _SAFE_HOST.fullmatch(host):
        host = _UNSAFE_CHARS.sub("_", host).strip(".-")[:200] or "host"  # "[::1]" is "__1"
        lossy = True
    try:
        port = parts.port
    except ValueError:
        port, lossy = None, True
    origin = host + (f"_{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else "")
    origin += "_http" if scheme == "http" else ""
    *dirs, name = parts.path.split("/")[1:] or [""]
    if len(dirs) > MARKDOWN_MAX_DIRS:
        dirs, lossy = dirs[:MARKDOWN_MAX_DIRS], True
    out = [origin]
    for segment in dirs:
        safe, same = _safe_segment(segment)
        if safe.endswith(".md"):  # never the name of a directory: a file's name ends in .md
            safe, same = safe[:-3] + "_md", False
        out.append(safe)
        lossy |= not same
    if name == "":
        name = "index"
    elif name == "index":  # the directory's own index.md is the URL ending in "/"
        lossy = True
    else:
        name, same = _safe_segment(name)
        lossy |= not same
    if lossy:
        name += "~" + blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return "/".join(out) + "/" + name + ".md"


def _safe_segment(segment: str) -> tuple[str, bool]:
    """(a safe spelling of one path segment, whether it is the segment unchanged)."""
    if _SAFE_SEGMENT.fullmatch(segment) and segment not in _RESERVED_NAMES:
        return segment, True
    safe = _UNSAFE_CHARS.sub("_", segment.lower())[:80]
    if not safe or safe[0] in ".-":  # no hidden file, nothing a command reads as an option
        safe = "_" + safe[:79]
    if safe in _RESERVED_NAMES:
        safe += "_"
    return safe, False
