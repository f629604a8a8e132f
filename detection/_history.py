"""The last raw samples a detector processed, kept by their index in the segment."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["History"]

Float64Array = NDArray[np.float64]


class History:
    """A ring of the last ``capacity`` raw samples of a segment (spikes masked).

    Kept as float32 (4 bytes a value): a 24-bit digitizer's counts are exact in it, and the
    windows read back serve onsets, noise levels, amplitudes and S searches, not the chain's
    state. Sample ``i`` of the segment sits at ``i % capacity``, so a window reads the same
    values however the segment was cut into records.
    """

    def __init__(self, capacity: int) -> None:
        self._ring = np.zeros(max(1, capacity), dtype=np.float32)
        self._end = 0

    @property
    def capacity(self) -> int:
        """Samples kept."""
        return int(self._ring.size)

    @property
    def start(self) -> int:
        """Segment index of the oldest sample kept."""
        return max(0, self._end - self.capacity)

    @property
    def end(self) -> int:
        """Segment index after the newest sample kept."""
        return self._end

    def reset(self) -> None:
        """A new segment: nothing kept."""
        self._end = 0

    def append(self, raw: NDArray[np.float64] | NDArray[np.integer[Any]]) -> None:
        """Keep the next samples of the segment (the oldest are dropped)."""
        m, c = raw.size, self.capacity
        if m == 0:
            return
        first = self._end
        self._end += m
        if m > c:
            raw, first, m = raw[-c:], self._end - c, c
        at = first % c
        head = min(m, c - at)
        self._ring[at : at + head] = raw[:head]
        if head < m:
            self._ring[: m - head] = raw[head:]

    def get(self, a: int, b: int) -> tuple[int, Float64Array]:
        """Samples ``a:b`` of the segment that are kept: the index of the first one returned
        and the values (float64, a new array; empty if none is kept)."""
        a, b = max(a, self.start), min(b, self._end)
        if b <= a:
            return a, np.empty(0)
        c = self.capacity
        i, j = a % c, (b - 1) % c + 1
        part = self._ring[i:j] if i < j else np.concatenate((self._ring[i:], self._ring[:j]))
        return a, part.astype(np.float64)
