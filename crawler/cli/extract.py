"""``python -m crawler extract ARCHIVE... -o OUT``: records from WARC files, without the network.

Reads WARC files (this crawler's ``--warc``, wget's ``--warc-file``, any
other) and writes the records a live crawl would have written: the same
parse, ``--select`` fields and error texts, on the worker pool. For an
archive this crawler wrote, every field but ``elapsed_ms``, ``fetched_at``
(the ``WARC-Date``) and ``attempts`` equals the live run's; see
`crawler.store.warcread` for what a foreign archive gives.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence

from ..config import CONTENT_MODES, DEFAULT_CHUNK_WORDS, DEFAULT_CONTENT, CrawlConfig
from ..engine.sink import Sink
from ..errors import CrawlerError
from ..page import MARKDOWN_FIELDS, SEO_FIELDS, ArchiveRef, Done, Page, Task
from ..store.output import FORMATS, format_for, open_writer
from ..store.warcread import ArchiveDamaged, read_archives
from ..worker import entry
from .usage import EXIT_NOTHING, EXIT_OK, fail_usage, usage_parser

#: Archived pages handed to a worker at a time (parsing is ~0.5 ms a page): on the bench's fast
#: site 128 took 1.57 s against 16's 1.75 (less CPU in the pool's pipes and threads; 256: the same).
CHUNK = 128


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``crawler extract``."""
    p = usage_parser("crawler extract", "Write the records a crawl would have written, from WARC files "
                     "(no network access). Exit status: 0 records written, 1 the archives hold no page or one "
                     "is damaged (the records before the damage are written, and a line names the file and "
                     "offset), 2 bad usage.")
    p.add_argument("archives", nargs="+", metavar="ARCHIVE", help="WARC file (.warc or .warc.gz)")
    p.add_argument("-o", "--output", default="-", metavar="PATH",
                   help="output file; format from .csv/.json/.jsonl; - = stdout as JSONL (default)")
    p.add_argument("--format", choices=FORMATS, help="output format (overrides the extension)")
    p.add_argument("--select", action="append", default=[], metavar="NAME=CSS[@ATTR]",
                   type=lambda spec: (spec, False), dest="select",
                   help="repeatable: field NAME is the first match of CSS (as for a crawl)")
    p.add_argument("--select-all", action="append", metavar="NAME=CSS[@ATTR]", dest="select",
                   type=lambda spec: (spec, True), help="repeatable: field NAME lists every match")
    p.add_argument("--seo", action="store_true",
                   help="add the SEO fields (canonical, meta_description, h1, ..., redirects), as for a crawl")
    p.add_argument("--markdown", action="store_true",
                   help="add field markdown: the page's main content as CommonMark (as for a crawl)")
    p.add_argument("--content", choices=CONTENT_MODES, default=DEFAULT_CONTENT,
                   help="main: leave navigation, sidebars, footers and banners out (default); full: the whole body")
    p.add_argument("--markdown-dir", metavar="DIR",
                   help="write one .md file per ok HTML page under DIR (YAML front matter; field markdown_file)")
    p.add_argument("--chunks", metavar="PATH", help="write the Markdown split at headings to PATH (JSON Lines)")
    p.add_argument("--chunk-words", type=int, default=DEFAULT_CHUNK_WORDS, metavar="N",
                   help=f"with --chunks: at most N words a piece (default {DEFAULT_CHUNK_WORDS})")
    p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                   help="decoded bytes of a body parsed at most, as the crawl's --max-bytes (default 10485760)")
    p.add_argument("-w", "--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: CPU count)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line on stderr")
    return p


def main(argv: Sequence[str]) -> int:
    """Run ``crawler extract``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _extract(args)
    except CrawlerError as exc:
        return fail_usage(str(exc))


def _extract(args: argparse.Namespace) -> int:
    from ..select import Selector

    for path in args.archives:
        if not os.path.isfile(path):
            return fail_usage(f"no such archive: {path!r}")
    format_for(args.output, args.format)
    options: dict[str, object] = {"select": tuple(Selector.parse(spec, many) for spec, many in args.select),
                                  "seo": args.seo, "markdown": args.markdown, "content": args.content,
                                  "markdown_dir": args.markdown_dir or None, "chunks": args.chunks or None,
                                  "chunk_words": args.chunk_words}
    if args.max_bytes is not None:
        options["max_bytes"] = args.max_bytes
    if args.workers is not None:
        options["workers"] = args.workers
    config = CrawlConfig(**options)  # type: ignore[arg-type]
    selected = tuple(s.name for s in config.select)
    leading = tuple(name for name, on in zip(MARKDOWN_FIELDS, (config.markdown, bool(config.markdown_dir)),
                                             strict=True) if on)
    start = time.monotonic()
    pages = errors = 0
    pages_in = _UpToDamage(read_archives(args.archives))
    sinks = _text_sinks(config)
    writer = open_writer(args.output, args.format, last_fields=selected)
    try:
        ctx = multiprocessing.get_context(config.start_method)
        entry.preload(ctx)
        with ctx.Pool(config.workers, initializer=entry.init_worker, initargs=(config,)) as pool:
            for result in pool.imap(entry.process_archived, pages_in, chunksize=CHUNK):
                if isinstance(result, ArchiveDamaged):  # found by the worker checking the page's span: the first
                    pages_in.damaged = result
                    break
                page = result.page
                _complete(page, leading, selected)
                writer.write(page)
                for sink in sinks:
                    sink.write(Done(page, result.task, result))
                pages += 1
                errors += page.error is not None
    finally:
        writer.close()
        for sink in sinks:
            sink.close(True)
    damaged = pages_in.damaged
    if damaged is not None:
        print(f"crawler: extract: {damaged} (the {pages} records before it were written)", file=sys.stderr)
    if not args.quiet:
        elapsed = time.monotonic() - start
        print(f"crawler: extract: {pages} records from {len(args.archives)} archive(s), {errors} errors, "
              f"{elapsed:.1f} s, {pages / elapsed if elapsed else 0:.1f} records/s", file=sys.stderr)
    return EXIT_OK if pages and damaged is None else EXIT_NOTHING


class _UpToDamage:
    """The index's pages up to an archive's damage, which it keeps (`damaged`) instead of raising.

    Why: the pool reads the pages in a thread of its own, in chunks, and an
    exception there loses the chunk it was filling, then leaves ``imap``
    waiting forever (CPython 3.11): the pages end here, and `_extract` reports
    the damage after writing every record before it.
    """

    def __init__(self, pages: Iterator[tuple[Task, ArchiveRef]]) -> None:
        self.pages = pages
        self.damaged: ArchiveDamaged | None = None

    def __iter__(self) -> Iterator[tuple[Task, ArchiveRef]]:
        try:
            yield from self.pages
        except ArchiveDamaged as exc:
            self.damaged = exc


def _text_sinks(config: CrawlConfig) -> list[Sink]:
    sinks: list[Sink] = []
    if config.markdown_dir:
        from ..store.mdfiles import MarkdownFiles

        sinks.append(MarkdownFiles(config.markdown_dir))
    if config.chunks:
        from ..store.chunks import ChunkSink

        sinks.append(ChunkSink(config.chunks, config.chunk_words))
    for sink in sinks:
        sink.open()
    return sinks


def _complete(page: Page, leading: tuple[str, ...], selected: tuple[str, ...]) -> None:
    # The crawl's field order (see crawler.engine.crawler's _emit): the SEO fields,
    # the Markdown fields, then the selectors'; every record has them all.
    extra = page.extra
    if leading:
        front = {name: extra[name] for name in SEO_FIELDS if name in extra}
        front.update((name, extra.get(name)) for name in leading)
        page.extra = extra = {**front, **{k: v for k, v in extra.items() if k not in front}}
    for name in selected:
        extra.setdefault(name, None)
