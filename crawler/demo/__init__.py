"""``crawler demo``'s site: generated pages on loopback, served in the main process.

`crawler.demo.site` generates it (deterministic, with its expected crawl);
`crawler.demo.server` serves it. Used by the demo command and by tests.
"""
