"""Spikes taken out of a stream before it is filtered, so a glitch cannot blind a channel.

A spike is what the station-health metrics count (MUSTANG's rule), in steady data: a run of
at most :data:`SPIKE_RUN` consecutive samples each more than :data:`SPIKE_THRESHOLD` robust
sigmas (1.4826 MAD) from the median of its :data:`SPIKE_WINDOW`-sample neighbourhood, with
the data either side of the run alike in spread (:data:`SPIKE_STEADY`). An earthquake's
wave train is not one: it is long, ordinary among its neighbours, and its onset leaves the
data after it far livelier than before. A spike's samples are replaced by the straight line
between the samples either side of the run.

Streaming, record by record: a sample's test needs the half window after it, so the
:class:`Despiker` hands on all but the last :data:`LAG` samples it has taken (0.24 s at
100 sps) and the rest with the next record. Every decision depends only on the raw samples of
the segment, never on how they were cut into records, so feeding a segment in any pieces
gives the same output as feeding it whole.

The Hampel test costs a median per sample; it runs only where a cheap screen says a spike
may be: a sample whose first difference exceeds :data:`SCREEN` times the running mean of the
absolute first differences (an exponential average over :data:`SCREEN_SAMPLES` samples, of
the raw data, carried across records). A full-scale spike passes the screen by orders of
magnitude; in quiet noise almost no sample does. Right after a spike the running mean is
high for a few hundred samples, so a much smaller spike then is not looked for.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from detection._filter import sosfilt_rows_inplace

__all__ = ["LAG", "SPIKE_RUN", "SPIKE_STEADY", "SPIKE_THRESHOLD", "SPIKE_WINDOW", "Despiker"]

Float64Array = NDArray[np.float64]
IntArray = NDArray[np.intp]

SPIKE_WINDOW = 41
"""Samples of the Hampel filter's neighbourhood (MUSTANG's, and the health metrics')."""
SPIKE_THRESHOLD = 10.0
"""Robust sigmas (1.4826 MAD) from the neighbourhood's median that make a sample an outlier."""
SPIKE_RUN = 3
"""A spike is at most this many consecutive outliers."""
SPIKE_STEADY = 3.0
"""... in steady data: the spreads (MAD) of the half windows either side of the run differ by
at most this factor. An impulsive P onset's first samples can pass the Hampel test (half their
window is the quiet before it), but the spread after them is far larger than before."""
SCREEN = 6.0
"""A sample is tested when its first difference exceeds this many running means."""
SCREEN_SAMPLES = 32
"""Time constant, in samples, of the running mean of the absolute first differences."""

_HALF = SPIKE_WINDOW // 2
LAG = _HALF + SPIKE_RUN + 1
"""Samples held back: a test needs the half window after the last sample of a run."""
_CONTEXT = LAG
"""Samples kept from before the samples handed on, for the tests near them."""
_LIMIT = SPIKE_THRESHOLD * 1.4826


@lru_cache(maxsize=1)
def _screen_sos() -> Float64Array:
    """One first-order section: ``y[i] = SCREEN * a * u[i] + (1 - a) * y[i-1]``, so the
    output is the running mean already multiplied by :data:`SCREEN`."""
    a = 1.0 / SCREEN_SAMPLES
    return np.array([[SCREEN * a, 0.0, 0.0, 1.0, -(1.0 - a), 0.0]])


class Despiker:
    """Takes the samples of one segment in order and hands them on with spikes masked.

    Parameters
    ----------
    enabled : bool
        If false, samples are handed on at once and unchanged.
    """

    def __init__(self, enabled: bool = True) -> None:
        self._enabled = enabled
        self.reset()

    def reset(self) -> None:
        """Start a new segment (what is held is dropped: hand it on with ``push(final=True)``
        first)."""
        self._tail = np.empty(0)  # raw samples: up to _CONTEXT handed on, then those held
        self._held = 0
        self._zi = np.zeros((1, 1, 2))
        self._pending: list[int] = []  # candidates near the end of the last samples handed on
        self._taken = 0  # samples taken in the segment
        self.masked = 0
        """Samples masked in the segment so far."""

    @property
    def held(self) -> int:
        """Samples taken but not handed on yet."""
        return self._held

    @property
    def last(self) -> float | None:
        """The last raw sample taken, or ``None`` before any."""
        return float(self._tail[-1]) if self._tail.size else None

    def push(self, x: Float64Array, *, final: bool = False) -> Float64Array:
        """Take the next samples of the segment (float64, 1-D, finite); return those ready to
        be processed, in order, spikes masked: all but the last :data:`LAG` taken, or all
        with ``final`` (the end of the segment). The returned array is a new one."""
        if not self._enabled:
            self._taken += x.size
            self._tail = x[-1:].copy() if x.size else self._tail
            return np.array(x, dtype=np.float64, copy=True)
        before = self._tail.size - self._held  # context samples already handed on
        ctx = np.concatenate((self._tail, x)) if self._tail.size else np.array(x, copy=True)
        start = self._taken - self._held  # segment index of the first sample to hand on
        self._taken += x.size
        end = ctx.size if final else max(before, ctx.size - LAG)
        out = ctx[before:end].copy()
        if out.size:
            self._mask(ctx, before, end, start, out)
        self._held = ctx.size - end
        keep = min(ctx.size, self._held + _CONTEXT)
        self._tail = ctx[ctx.size - keep :].copy()
        return out

    # -- internals ----------------------------------------------------------------------------

    def _mask(self, ctx: Float64Array, lo: int, hi: int, start: int, out: Float64Array) -> None:
        """Mask the spikes among ``ctx[lo:hi]`` in ``out`` (a copy of that part); ``start`` is
        the segment index of ``ctx[lo]``."""
        base = lo - start  # index in ctx of the segment's first sample (may be < 0)
        # Screen the samples to hand on and the next SPIKE_RUN (a run there may reach back
        # into them): first differences against the running mean, carried at ``hi``.
        stop = min(ctx.size, hi + SPIKE_RUN)
        if start == 0:  # the segment's first sample: no difference
            diff = np.empty(stop - lo)
            diff[0] = 0.0
            np.subtract(ctx[lo + 1 : stop], ctx[lo : stop - 1], out=diff[1:])
        else:
            diff = np.subtract(ctx[lo:stop], ctx[lo - 1 : stop - 1])
        np.abs(diff, out=diff)
        level = diff.reshape(1, -1).copy()
        sosfilt_rows_inplace(_screen_sos(), level, self._zi)
        # The state after the last sample handed on: a one-pole section's state is its pole
        # times its output, as the kernel itself carries it.
        self._zi[0, 0, 0] = (1.0 - 1.0 / SCREEN_SAMPLES) * float(level[0, hi - lo - 1])
        over = np.greater(diff, level[0])
        found = (np.flatnonzero(over) + start).tolist() if over.any() else []
        candidates = [c for c in self._pending if c >= start - SPIKE_RUN] + found
        self._pending = [c for c in found if start + hi - lo - SPIKE_RUN <= c < start + hi - lo]
        if not candidates:
            return
        for a, b in _spike_runs(ctx, [c + base for c in candidates], lo, hi, base):
            first, last = max(base, 0), ctx.size - 1
            left = ctx[a - 1] if a - 1 >= first else ctx[b] if b <= last else 0.0
            right = ctx[b] if b <= last else left
            n = b - a + 1
            for i in range(max(a, lo), min(b, hi)):
                out[i - lo] = left + (right - left) * (i - a + 1) / n
                self.masked += 1


def _spike_runs(
    ctx: Float64Array, candidates: list[int], lo: int, hi: int, base: int
) -> list[tuple[int, int]]:
    """The spike runs ``[a, b)`` (indices into ``ctx``) with a sample in ``ctx[lo:hi]``:
    each sample within :data:`SPIKE_RUN` of a candidate is tested, and kept if it is an
    outlier whose run of outliers is at most :data:`SPIKE_RUN` long. ``base``: index in
    ``ctx`` of the segment's first sample (negative if it is no longer held), where
    neighbourhoods are cut."""
    near = sorted({j for c in candidates for j in range(c - SPIKE_RUN, c + SPIKE_RUN + 1)})
    tested = [j for j in near if lo <= j < hi]
    if not tested:
        return []
    # Flags of every sample whose run may reach a tested one.
    span = sorted(
        {
            k
            for j in tested
            for k in range(j - SPIKE_RUN, j + SPIKE_RUN + 1)
            if max(base, 0) <= k < ctx.size
        }
    )
    flags = dict(
        zip(span, _outliers(ctx, np.array(span, dtype=np.intp), base).tolist(), strict=True)
    )
    runs: list[tuple[int, int]] = []
    for j in tested:
        if not flags.get(j, False) or (runs and runs[-1][0] <= j < runs[-1][1]):
            continue
        # Its run of outliers, looked for within SPIKE_RUN samples either side (before the
        # segment, and after its end, nothing is an outlier).
        a = j
        while a > j - SPIKE_RUN and flags.get(a - 1, False):
            a -= 1
        b = j + 1
        while b <= j + SPIKE_RUN and flags.get(b, False):
            b += 1
        if b - a <= SPIKE_RUN and _steady(ctx, a, b, max(base, 0)):
            runs.append((a, b))
    return runs


def _steady(ctx: Float64Array, a: int, b: int, first: int) -> bool:
    """Whether the half windows before and after the run ``[a, b)`` have spreads (MAD) within
    :data:`SPIKE_STEADY` of each other (a half cut to nothing by the segment's ends counts
    as steady)."""
    spreads = []
    for part in (ctx[max(first, a - _HALF) : a], ctx[b : b + _HALF]):
        if part.size:
            spreads.append(float(np.median(np.abs(part - np.median(part)))))
    if len(spreads) < 2:
        return True
    low, high = min(spreads), max(spreads)
    return high <= SPIKE_STEADY * low if low > 0 else high == 0


def _outliers(ctx: Float64Array, at: IntArray, base: int) -> NDArray[np.bool_]:
    """Whether each sample ``ctx[at]`` is more than the threshold from its neighbourhood's
    median (the window cut at the segment's start, ``base``, and at the end of ``ctx``)."""
    lo_bound = max(base, 0)
    hi_bound = ctx.size - 1
    around = at[:, None] + np.arange(-_HALF, _HALF + 1)
    valid = (around >= lo_bound) & (around <= hi_bound)
    if valid.all():
        windows = ctx[around]
        windows.partition(_HALF, axis=1)
        median = windows[:, _HALF]
        spread = np.abs(windows - median[:, None])
        spread.partition(_HALF, axis=1)
        mad = spread[:, _HALF]
    else:
        # Cut windows (a segment's first or last samples): one at a time, as NaN-free slices.
        median = np.empty(at.size)
        mad = np.empty(at.size)
        for i, j in enumerate(at.tolist()):
            w = ctx[max(lo_bound, j - _HALF) : min(hi_bound, j + _HALF) + 1]
            m = float(np.median(w))
            median[i] = m
            mad[i] = float(np.median(np.abs(w - m)))
    deviation = np.abs(ctx[at] - median)
    result: NDArray[np.bool_] = (mad > 0) & (deviation > _LIMIT * mad)
    return result
