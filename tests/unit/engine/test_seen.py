"""FingerprintSet: set semantics across merges, and its memory per URL."""

from __future__ import annotations

import random

from crawler.engine import seen
from crawler.engine.seen import FingerprintSet


def test_membership_across_merges(monkeypatch):
    monkeypatch.setattr(seen, "_MIN_RECENT", 64)  # force many merges
    rng = random.Random(7)
    values = [rng.getrandbits(64) for _ in range(5000)]
    s = FingerprintSet()
    for v in values:
        assert v not in s
        s.add(v)
        assert v in s
    assert len(s) == len(set(values))
    assert all(v in s for v in values)
    assert not any(rng.getrandbits(64) in s for _ in range(1000))
    assert list(s._sorted) == sorted(s._sorted)


def test_extremes_and_duplicates(monkeypatch):
    monkeypatch.setattr(seen, "_MIN_RECENT", 2)
    s = FingerprintSet()
    for v in (0, 2**64 - 1, 5, 5, 0):
        s.add(v)
    assert 0 in s
    assert 2**64 - 1 in s
    assert 5 in s
    assert 6 not in s
    assert len(s) == 3
    s.clear()
    assert len(s) == 0
    assert 5 not in s


def test_bytes_per_fingerprint_once_merged(monkeypatch):
    monkeypatch.setattr(seen, "_MIN_RECENT", 1000)
    s = FingerprintSet()
    rng = random.Random(3)
    for _ in range(100_000):
        s.add(rng.getrandbits(64))
    merged = s._sorted.itemsize * len(s._sorted)
    # the merged part costs 8 bytes a URL; the recent part stays under a quarter of it
    assert s._sorted.itemsize == 8
    assert len(s._recent) < len(s._sorted) // 4 + 1000
    assert merged / len(s._sorted) == 8
