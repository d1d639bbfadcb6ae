"""`FingerprintSet`: the seen set, at about 8-25 bytes per URL.

A Python ``set`` of 64-bit ints costs ~70 bytes per entry (the int object
plus the hash slot). Here most fingerprints live in one sorted ``array('Q')``
(8 bytes each, binary-searched) and only recent ones in a small set, merged
into the array whenever the set reaches a quarter of the array's size: the
merge streams, so its cost stays linear and amortised O(1) per insert.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator

_MIN_RECENT = 65536


class FingerprintSet:
    """A set of unsigned 64-bit ints with ``add``, ``in`` and ``len``."""

    def __init__(self) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()

    def __contains__(self, fp: int) -> bool:
        if fp in self._recent:
            return True
        arr = self._sorted
        i = bisect_left(arr, fp)
        return i < len(arr) and arr[i] == fp

    def add(self, fp: int) -> None:
        """Add ``fp`` (callers check membership first; a duplicate is harmless)."""
        self._recent.add(fp)
        if len(self._recent) >= max(_MIN_RECENT, len(self._sorted) // 4):
            self._merge()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def clear(self) -> None:
        """Forget everything."""
        self._sorted = array("Q")
        self._recent.clear()

    def _merge(self) -> None:
        self._sorted = array("Q", _unique(heapq.merge(self._sorted, sorted(self._recent))))
        self._recent.clear()


def _unique(values: Iterator[int]) -> Iterator[int]:
    last = None
    for value in values:
        if value != last:
            yield value
            last = value
