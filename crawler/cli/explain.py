"""``crawler explain URL --state PATH``: why a URL was or was not fetched, from a ``--state`` file.

Exit status: 0 when the state knows the URL, 1 when it does not, 2 bad usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import CrawlerError
from ..store.explain import explain, lookup
from ..urls import normalize_url
from .usage import EXIT_NOTHING, EXIT_OK, EXIT_USAGE, fail, usage_parser


def main(argv: Sequence[str]) -> int:
    """Run ``crawler explain ARGV``; returns the exit status."""
    parser = usage_parser("crawler explain", "Say, in one paragraph, whether URL was fetched by the crawl "
                          "whose state is PATH (its depth, referrer, anchor text and result), or why not: the "
                          "robots.txt rule, the scope, an --allow/--deny pattern, the depth or a page cap, a URL "
                          "too long, never linked. Exit status: 0 known to the state, 1 not known, 2 bad usage.")
    parser.add_argument("url", metavar="URL")
    parser.add_argument("--state", required=True, metavar="PATH", help="the --state file of the crawl")
    args: argparse.Namespace = parser.parse_args(list(argv))
    try:
        url = normalize_url(args.url)
    except ValueError as exc:
        return fail(f"not a URL: {args.url!r} ({exc})", EXIT_USAGE)
    try:
        known = lookup(args.state, url)
    except CrawlerError as exc:
        return fail(str(exc), EXIT_USAGE)
    print(explain(known))
    return EXIT_OK if known.known else EXIT_NOTHING
