"""Files on disk in the main process: seed lists in, output records out (and back),
and the SQLite state of a resumable crawl with its record journal.
"""
