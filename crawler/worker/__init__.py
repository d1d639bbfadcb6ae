"""What runs in the worker processes: fetch, parse, extract, filter links.

A task comes in as a plain `crawler.page.Task` and leaves as a plain
`crawler.page.Result`. Modules here never import `crawler.engine`,
`crawler.store`, `crawler.cluster` or `crawler.cli`: a worker holds no
main-process state, and its imports stay cheap.
"""
