"""The main process's crawl engine: the loop, its gate, scheduler, frontier and pool.

Nothing here fetches or parses: tasks go to the worker processes through
`crawler.engine.pool`, results come back to `crawler.engine.crawler.Crawler`,
which hands finished pages to its sinks. Imports `crawler.worker` only by
name (`crawler.worker.entry`), the back-ends (`crawler.store`,
`crawler.cluster`) only where they are picked, and never the CLI.
"""
