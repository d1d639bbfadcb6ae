"""The functions the pool runs, importable without the worker's dependencies.

The main process only needs to *name* the worker functions (the pool pickles
them by reference); importing `crawler.worker` there would load requests,
lxml and BeautifulSoup into the main process and, through fork, into the
Manager process too (~25 MB each) for nothing. These shims import the worker
on first use, inside the pool processes.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import CrawlConfig
    from .page import Result, Task


def init_worker(config: CrawlConfig, extract: Any = None) -> None:
    """Pool initializer (see `crawler.worker.init_worker`)."""
    # Signals first: a forked worker inherits the CLI's SIGTERM handler, and
    # Pool.terminate() may come while the import below is still running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from .worker import init_worker as init

    init(config, extract)


def process(task: Task) -> Result:
    """Run one task in a pool process (see `crawler.worker.process`)."""
    from .worker import process as run

    return run(task)
