"""How a worker's Sessions reach the network: the proxy and the TLS checks.

`configure` is applied to every Session `crawler.worker.fetch.make_session`
makes, so pages, robots.txt and sitemaps all go the same way.

- ``--proxy URL`` is every request's proxy (``http``, ``https``, ``socks5``,
  ``socks5h``; SOCKS through requests' ``socks`` extra) but for the hosts of
  ``NO_PROXY``, as curl's ``-x``. Without it the environment's proxies apply
  as before (``trust_env``); with neither, the
  Session has no proxy and the fetch keeps its fast path
  (`crawler._internals.send_get`).
- TLS: ``--insecure`` turns the check off (and urllib3's warning on every
  request with it: the command line says it once, at start); ``--ca-bundle``
  names the CAs to trust; without either, ``REQUESTS_CA_BUNDLE`` /
  ``CURL_CA_BUNDLE`` and then ``SSL_CERT_FILE`` are honoured, as requests,
  curl and Python's ``ssl`` honour them.
"""

from __future__ import annotations

import os
import re
import warnings

import requests
import urllib3

from ..config import CrawlConfig, hide_password
from .adapter import HostHeaders


def configure(session: requests.Session, config: CrawlConfig) -> None:
    """Give ``session`` the crawl's proxy and certificate checks."""
    if config.proxy:
        session.proxies = {"http": config.proxy, "https": config.proxy}
        # requests puts the environment's proxies over the Session's: --proxy
        # must win, as curl's -x does (the CA variables are read below).
        session.trust_env = False
    verify = tls_verify(config)
    if verify is not None:
        session.verify = verify
    table = {name: own.request_headers() for name, own in config.hosts if own.request_headers()}
    no_proxy = (os.environ.get("no_proxy") or os.environ.get("NO_PROXY")) if config.proxy else None
    if table or no_proxy:
        for adapter in session.adapters.values():
            if isinstance(adapter, HostHeaders):
                adapter.host_headers = table
                adapter.no_proxy = no_proxy


def init_process(config: CrawlConfig) -> None:
    """Per worker process, before its fetch threads start: with ``--insecure``, no warning per request."""
    if config.insecure:
        # The check is off on purpose and the command line said so once; a
        # warning per request would bury everything else on stderr. Here, not
        # per Session: a thread's catch_warnings (parse.py) would undo a
        # filter another thread added meanwhile.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


def tls_verify(config: CrawlConfig) -> bool | str | None:
    """What HTTPS is verified against: False (``--insecure``), a CA file or folder, or None (the default)."""
    if config.insecure:
        return False
    if config.ca_bundle:
        return config.ca_bundle
    # requests' own variables first (its trust_env path reads them), then the
    # one curl and Python's ssl read (which pass over a missing file, as here).
    ssl_file = os.environ.get("SSL_CERT_FILE")
    return (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            or (ssl_file if ssl_file and os.path.isfile(ssl_file) else None))


def proxy_failure(exc: BaseException, host: str) -> str:
    """What went wrong between the crawler, its proxy and ``host``, in one line without a password."""
    root: BaseException = exc
    for _ in range(8):  # urllib3 and requests keep the cause in ``reason`` or the last argument
        inner = getattr(root, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(root.args) if isinstance(a, BaseException)), None)
        if inner is None or inner is root:
            break
        root = inner
    if isinstance(root, OSError) and root.strerror:
        reason = root.strerror
    else:
        text = str(root)
        # "SOCKSHTTPConnection(host=…): Failed to establish a new connection: 0x01: General failure"
        reason = text.rpartition("new connection: ")[2] if "new connection: " in text else text
    reason = _ERRNO.sub("", reason).strip(" '\"()") or type(root).__name__
    return hide_password(f"cannot reach {host} through the proxy: {reason[:1].lower()}{reason[1:]}")[:200]


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
