"""`extract` hooks for the library tests.

They live in an importable module (``tests.extract_helpers``) because the
hook is pickled by name and must import in spawned worker processes too.
"""

from __future__ import annotations

import os
from typing import Any


def heading(url: str, soup: Any) -> dict[str, Any]:
    """The page's first ``<h1>`` text, plus the pid of the process that ran the hook."""
    h1 = soup.find("h1")
    return {"h1": h1.get_text(strip=True) if h1 is not None else None, "worker_pid": os.getpid()}


def fail_on_a(url: str, soup: Any) -> dict[str, Any]:
    """Raise on ``/a``; add a field elsewhere."""
    if url.endswith("/a"):
        raise ValueError("boom")
    return {"seen": True}
