"""The last samples a detector processed, filtered and raw, kept by their index in the segment."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["History"]

Float64Array = NDArray[np.float64]


class History:
    """A ring of the last ``capacity`` samples of a segment: row 0 filtered, row 1 raw.

    Kept as float32 (4 bytes a value): a 24-bit digitizer's counts are exact in it, and the
    windows read back serve onsets, noise levels and amplitudes, not the chain's state.
    Sample ``i`` of the segment sits at column ``i % capacity``, so a window reads the same
    values however the segment was cut into records.
    """

    def __init__(self, capacity: int) -> None:
        self._ring = np.zeros((2, max(1, capacity)), dtype=np.float32)
        self._end = 0

    @property
    def capacity(self) -> int:
        """Samples kept."""
        return int(self._ring.shape[1])

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

    def append(self, filtered: Float64Array, raw: Float64Array) -> None:
        """Keep the next samples of the segment (the oldest are dropped)."""
        m, c = filtered.size, self.capacity
        if m == 0:
            return
        first = self._end
        self._end += m
        if m > c:
            filtered, raw, first = filtered[-c:], raw[-c:], self._end - c
            m = c
        at = first % c
        head = min(m, c - at)
        self._ring[0, at : at + head] = filtered[:head]
        self._ring[1, at : at + head] = raw[:head]
        if head < m:
            self._ring[0, : m - head] = filtered[head:]
            self._ring[1, : m - head] = raw[head:]

    def get(self, a: int, b: int) -> tuple[int, Float64Array, Float64Array]:
        """Samples ``a:b`` of the segment that are kept: the index of the first one returned,
        the filtered and the raw values (float64, new arrays; empty if none is kept)."""
        a, b = max(a, self.start), min(b, self._end)
        if b <= a:
            return a, np.empty(0), np.empty(0)
        c = self.capacity
        i, j = a % c, (b - 1) % c + 1
        if i < j:
            part = self._ring[:, i:j]
        else:
            part = np.concatenate((self._ring[:, i:], self._ring[:, :j]), axis=1)
        out = part.astype(np.float64)
        return a, out[0], out[1]
