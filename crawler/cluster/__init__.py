"""A crawl shared through Redis (``--redis``): the connection, the Lua scripts,
the shared frontier and host gate, and this node's record path.

Imported only when a crawl or a command names ``--redis``.
"""
