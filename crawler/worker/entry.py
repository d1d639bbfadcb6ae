"""The functions the pool runs, importable without the worker's dependencies.

The main process only needs to *name* the worker functions (the pool pickles
them by reference); importing `crawler.worker.tasks` with the CLI would load
requests, lxml and BeautifulSoup into the main process and, through fork, into
the Manager process too for nothing. These shims import the worker on first
use, inside the pool processes, unless the main process loaded it (`preload`)
just before it forked them.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import CrawlConfig
    from ..page import ArchiveRef, PageResult, Result, Task
    from ..warcmember import ArchiveDamaged


def preload(ctx: Any) -> None:
    """Before a pool in context ``ctx`` starts: when its workers are forked, load the worker's
    modules here, for every worker to inherit.

    Each worker had imported them itself, ~0.07 s of CPU a worker. The main
    process holds them from then on (+12 MB; the Manager, started before,
    does not); the crawl's processes together, on the bench's fast site,
    went from 132 to 136 MB. A spawned or forkserver worker imports as before.
    """
    if ctx.get_start_method() != "fork":
        return
    try:
        from . import tasks  # noqa: F401  # loaded for the workers to inherit
    except ImportError:
        # A broken install: each worker fails the same way, which the pool
        # reports in one line (engine.pool.WorkerStartError), not a traceback here.
        pass


def init_worker(config: CrawlConfig, extract: Any = None) -> None:
    """Pool initializer (see `crawler.worker.tasks.init_worker`)."""
    # Signals first: a forked worker inherits the CLI's SIGTERM handler, and
    # Pool.terminate() may come while the import below is still running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _few_malloc_arenas()
    from .tasks import init_worker as init

    init(config, extract)


def _few_malloc_arenas() -> None:
    # glibc gives each new thread its own malloc arena (up to 8 per core), and
    # each arena keeps the memory its thread freed: with dozens of fetch
    # threads that is tens of MB per worker. Two arenas are plenty when the
    # GIL serialises the allocating code anyway.
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def process(task: Task) -> Result:
    """Run one task in a pool process (see `crawler.worker.tasks.process`)."""
    from .tasks import process as run

    return run(task)


def process_archived(item: tuple[Task, ArchiveRef]) -> PageResult | ArchiveDamaged:
    """Parse one archived page in a pool process (see `crawler.worker.tasks.process_archived`);
    the damage, if the page's records are damaged."""
    from ..warcmember import ArchiveDamaged
    from .tasks import process_archived as run

    try:
        return run(*item)
    except ArchiveDamaged as exc:
        # Returned, not raised: the pool hands a chunk's exception over in place of the
        # whole chunk's results, and the pages before the damage in it would be lost.
        return exc
