"""Nearest-hash search over 64-bit perceptual hashes.

Hamming distance is XOR then popcount; NumPy does both on whole arrays
(`numpy.bitwise_count`), so comparing a query with every reference costs one
vectorized pass, and a batch of queries is done in chunks that keep memory
bounded. At a million references this is a fraction of a second, which keeps
the search flat enough that no tree structure is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")
CHUNK = 2048  # queries per vectorized block: CHUNK × references bytes of distances


class HashIndex(Generic[T]):
    """64-bit hashes with a label each (the label says what the hash is of)."""

    def __init__(self, hashes: Sequence[int], labels: Sequence[T]):
        if len(hashes) != len(labels):
            raise ValueError("one label per hash")
        self.hashes = np.asarray(list(hashes), dtype=np.uint64)
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.labels)

    def distances(self, query: int) -> np.ndarray:
        """Hamming distance from `query` to every hash."""
        return np.bitwise_count(self.hashes ^ np.uint64(query))

    def within(self, query: int, max_distance: int) -> list[tuple[T, int]]:
        """Labels of hashes within `max_distance` of `query`, nearest first."""
        if not len(self):
            return []
        dist = self.distances(query)
        hits = np.flatnonzero(dist <= max_distance)
        return sorted(((self.labels[i], int(dist[i])) for i in hits), key=lambda t: t[1])

    def nearest_many(self, queries: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """For each query: index of the nearest hash and its distance (vectorized)."""
        q = np.asarray(list(queries), dtype=np.uint64)
        best = np.empty(len(q), dtype=np.int64)
        dist = np.empty(len(q), dtype=np.uint8)
        for start in range(0, len(q), CHUNK):
            block = np.bitwise_count(q[start : start + CHUNK, None] ^ self.hashes[None, :])
            best[start : start + CHUNK] = block.argmin(axis=1)
            dist[start : start + CHUNK] = block.min(axis=1)
        return best, dist
