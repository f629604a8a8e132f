"""Spikes taken out of a stream before it is filtered, so a glitch cannot blind a channel.

A spike is what the station-health metrics count (MUSTANG's rule), in steady data: a run of
at most :data:`SPIKE_RUN` consecutive samples each more than :data:`SPIKE_THRESHOLD` robust
sigmas (1.4826 MAD) from the median of its :data:`SPIKE_WINDOW`-sample neighbourhood, with
the data either side of the run alike in spread (:data:`SPIKE_STEADY`). An earthquake's
wave train is not one: it is long, ordinary among its neighbours, and its onset leaves the
data after it far livelier than before. A spike's samples are replaced by the straight line
between the samples either side of the run.

Streaming, record by record: a test needs the samples after the one tested, so the
:class:`Despiker` holds back the end of a record from a possible spike too near it to be
decided, until the next record; records without one (nearly all) are handed on whole and at
once. Every decision depends only on the raw samples of the segment, never on how they were
cut into records, so feeding a segment in any pieces gives the same output as feeding it
whole.

The Hampel test costs a median per sample; it runs only where a cheap screen says a spike
may start: a sample that rises from the one before by more than :data:`SCREEN` times the
largest such step in the previous block of :data:`BLOCK` samples and before it in its own
(blocks counted from the segment's start; in the first block, :data:`FIRST_SCALE` times the
median step of the first :data:`FIRST` samples), after which the data come back to within
half that rise of the level before it within :data:`SPIKE_RUN` samples, and stay there
(:data:`STAY`). So a spike is masked only if it also stands out from the steps around it:
the spikes that matter, those that would trigger or swell the LTA. A record whose largest
step stays under the threshold holds none, which one maximum shows (and a maximum is the
same however the data were cut). An earthquake's wave train raises the steps of its block,
and does not come back so soon.
After a spike, the rest of its block and the next have a high threshold: a much smaller
spike then goes unmasked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["REACH", "SPIKE_RUN", "SPIKE_STEADY", "SPIKE_THRESHOLD", "SPIKE_WINDOW", "Despiker"]

Float64Array = NDArray[np.float64]
IntArray = NDArray[np.intp]
Raw = NDArray[np.float64] | NDArray[np.integer[Any]]

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
SCREEN = 3.0
"""A sample is looked at when it rises from the one before by this many times the largest
step of the previous block."""
BLOCK = 256
"""Samples of a block whose largest step is the next block's reference."""
FIRST = 16
"""The first block's reference: the median step of the segment's first this many samples ..."""
FIRST_SCALE = 5.0
"""... times this (about the ratio of the largest of 256 noise steps to their median)."""

STAY = 3
"""Samples the data must stay back near their level after a spike."""

_HALF = SPIKE_WINDOW // 2
_AFTER = np.arange(1, SPIKE_RUN + STAY)  # offsets after a rise that come_back looks at
REACH = SPIKE_RUN + STAY + _HALF + SPIKE_RUN
"""Samples after a possible spike's first that deciding it needs: its run, the stay after
it, and the Hampel windows of the samples about the run."""
_CONTEXT = _HALF + 2 * SPIKE_RUN
"""Samples kept from before those handed on, for the tests near them."""
_LIMIT = SPIKE_THRESHOLD * 1.4826


class Despiker:
    """Takes the samples of one segment in order and hands them on with spikes masked.

    Samples are handed on as they come but after a possible spike that the samples taken so
    far cannot decide (its :data:`REACH` runs past them): from there on they are held until
    the next call (or the end of the segment, ``final``).

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
        self._tail: Raw = np.empty(0)  # the last raw samples handed on (up to _CONTEXT)
        self._held: Float64Array = np.empty(0)  # raw samples taken but not handed on
        self._handed = 0  # samples handed on in the segment
        self._reference = -1.0  # the current block's largest step allowed (-1: not known yet)
        self._block_max = 0.0  # the largest step so far in the current block
        self.masked = 0
        """Samples masked in the segment so far."""

    @property
    def held(self) -> int:
        """Samples taken but not handed on yet."""
        return int(self._held.size)

    @property
    def last(self) -> float | None:
        """The last raw sample taken, or ``None`` before any."""
        if self._held.size:
            return float(self._held[-1])
        return float(self._tail[-1]) if self._tail.size else None

    def push(self, x: Raw, *, final: bool = False) -> Raw:
        """Take the next samples of the segment (1-D, finite, float64 or integer counts);
        return those ready to be processed, in order, spikes masked (see the class). The
        returned array may be ``x`` itself or a view of it: do not change it."""
        if not self._enabled:
            self._tail = x[-1:] if x.size else self._tail
            return x
        if self._held.size:
            joined: Float64Array = np.concatenate((self._held, x), dtype=np.float64)
            x = joined
            self._held = np.empty(0)
        m = x.size
        start = self._handed  # segment index of x[0]
        if m == 0:
            return x
        if start == 0 and self._reference < 0:
            if m <= FIRST and not final:
                self._held = x.astype(np.float64)  # the first block's reference needs FIRST
                return x[:0]
            steps_first = np.abs(np.diff(x[: FIRST + 1]))
            median = float(np.median(steps_first)) if steps_first.size else 0.0
            self._reference = FIRST_SCALE * median
        # |x[i] - x[i-1]|, as float64 whatever the samples' type (integer counts included)
        steps = np.empty(m)
        steps[0] = 0.0 if start == 0 else abs(float(x[0]) - float(self._tail[-1]))
        np.subtract(x[1:], x[:-1], out=steps[1:], dtype=np.float64)
        np.abs(steps, out=steps)
        rises, reference, block_max = self._screen(steps, start, m)
        if rises is not None:
            # Most rises (a wave train's) do not come back: tell those from the record alone.
            inside = (rises >= 1) & (rises + (SPIKE_RUN + STAY - 1) < m)
            rest = rises[~inside]
            back = _come_back(x, rises[inside], 0)
            if back.size or rest.size:
                return self._decide(x, steps, np.union1d(back, rest), start, final)
        self._reference, self._block_max = reference, block_max
        self._hand_on(x, m)
        return x

    # -- internals ----------------------------------------------------------------------------

    def _screen(
        self, steps: Float64Array, start: int, stop: int
    ) -> tuple[IntArray | None, float, float]:
        """The samples of ``steps[:stop]`` that rise above their block's threshold (indices
        into ``steps``), and the blocks' bookkeeping (reference, largest step so far) as it
        stands after them."""
        first = -start % BLOCK or BLOCK  # where the next block begins
        if first >= stop:
            edges = [0]
            maxima = [float(np.maximum.reduce(steps[:stop]))]
        else:
            edges = [0, *range(first, stop, BLOCK)]
            maxima = np.maximum.reduceat(steps[:stop], edges).tolist()
        reference, block_max = self._reference, self._block_max
        found: list[IntArray] = []
        for k, largest in enumerate(maxima):
            end = edges[k + 1] if k + 1 < len(edges) else stop
            if largest > SCREEN * reference:
                # Each step against the previous block's largest and the largest before it
                # in its own block: in a wave train only the first big steps are rises.
                a = edges[k]
                part = steps[a:end]
                earlier = np.maximum.accumulate(part)
                earlier[1:] = earlier[:-1]
                earlier[0] = block_max
                np.maximum(earlier, max(reference, block_max), out=earlier)
                found.append(np.flatnonzero(part > SCREEN * earlier) + a)
            if largest > block_max:
                block_max = largest
            if (start + end) % BLOCK == 0:  # a block is complete: the next one's reference
                reference, block_max = block_max, 0.0
        rises = None if not found else found[0] if len(found) == 1 else np.concatenate(found)
        return rises, reference, block_max

    def _hand_on(self, x: Raw, n: int) -> None:
        """Note ``x[:n]`` handed on: the context for the next tests."""
        tail: Raw
        if n >= _CONTEXT:
            tail = x[n - _CONTEXT : n]
        else:
            tail = np.concatenate((self._tail, x[:n]), dtype=np.float64)[-_CONTEXT:]
        # a view of a record of its own (nothing writes to it); a copy of a long input's end,
        # or of a piece of a larger array, which the view would keep alive
        self._tail = tail if x.base is None and x.size <= 1024 else tail.copy()
        self._handed += n

    def _decide(self, x: Raw, steps: Float64Array, rises: IntArray, start: int, final: bool) -> Raw:
        """The rare path: possible spikes. Test those the data reach far enough to decide,
        hold the samples from the first that they do not."""
        ctx: Float64Array = np.concatenate((self._tail, x), dtype=np.float64)
        off = ctx.size - x.size  # index of x[0] in ctx
        base = off - start  # index in ctx of the segment's first sample (may be < 0)
        h = x.size  # hand on x[:h]
        if not final:
            undecided = np.flatnonzero(rises + (off + REACH) >= ctx.size)
            if undecided.size:
                h = int(rises[undecided[0]])
        decided = rises[rises < h] + off
        found = _come_back(ctx, decided, max(base, 0)) if decided.size else decided
        out: Raw = x[:h]
        if found.size:
            runs = _spike_runs(ctx, found.tolist(), off, off + h, base)
            if runs:
                out = ctx[off : off + h].copy()
                first, last = max(base, 0), ctx.size - 1
                for a, b in runs:
                    left = ctx[a - 1] if a - 1 >= first else ctx[b] if b <= last else 0.0
                    right = ctx[b] if b <= last else left
                    n = b - a + 1
                    for i in range(max(a, off), min(b, off + h)):
                        out[i - off] = left + (right - left) * (i - a + 1) / n
                        self.masked += 1
        if h:
            _, self._reference, self._block_max = self._screen(steps, start, h)
            self._hand_on(x, h)
        self._held = x[h:].astype(np.float64)
        return out


def _come_back(ctx: Raw, rises: IntArray, first: int) -> IntArray:
    """Of the samples ``rises`` (indices into ``ctx``), those after which the data come back
    to within half the rise of the level before it within :data:`SPIKE_RUN` samples and stay
    there for :data:`STAY` samples (a wave swings back through the old level, and on)."""
    rises = rises[rises > first]
    if rises.size == 0:
        return rises
    before = ctx[rises - 1]
    half = 0.5 * np.abs(ctx[rises] - before)
    after = rises[:, None] + _AFTER  # the samples after each rise
    inside = after < ctx.size  # past the data: taken as back (only at a segment's end)
    near = np.abs(ctx[np.minimum(after, ctx.size - 1)] - before[:, None]) < half[:, None]
    near |= ~inside
    # back at some r <= SPIKE_RUN and for STAY samples from there
    stays = near[:, :SPIKE_RUN].copy()
    for q in range(1, STAY):
        stays &= near[:, q : q + SPIKE_RUN]
    out: IntArray = rises[stays.any(axis=1)]
    return out


def _spike_runs(
    ctx: Float64Array, candidates: list[int], lo: int, hi: int, base: int
) -> list[tuple[int, int]]:
    """The spike runs ``[a, b)`` (indices into ``ctx``) with a sample in ``ctx[lo:hi]``:
    each candidate and the :data:`SPIKE_RUN` - 1 samples after it are tested, and kept if
    an outlier whose run of outliers is at most :data:`SPIKE_RUN` long. ``base``: index in
    ``ctx`` of the segment's first sample (negative if it is no longer held), where
    neighbourhoods are cut."""
    starts = np.asarray(candidates, dtype=np.intp)
    tested = np.unique((starts[:, None] + np.arange(SPIKE_RUN)).ravel())
    tested = tested[(tested >= lo) & (tested < hi)]
    if tested.size == 0:
        return []
    # Flags of every sample whose run may reach a tested one.
    span = np.unique((tested[:, None] + np.arange(-SPIKE_RUN, SPIKE_RUN + 1)).ravel())
    span = span[(span >= max(base, 0)) & (span < ctx.size)]
    flags = dict(zip(span.tolist(), _outliers(ctx, span, base).tolist(), strict=True))
    runs: list[tuple[int, int]] = []
    for j in tested.tolist():
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
            spreads.append(_mad(part))
    if len(spreads) < 2:
        return True
    low, high = min(spreads), max(spreads)
    return high <= SPIKE_STEADY * low if low > 0 else high == 0


def _mad(x: Float64Array) -> float:
    """Median absolute deviation from the median (of an even count: the upper medians)."""
    k = x.size // 2
    median = float(np.partition(x, k)[k])
    return float(np.partition(np.abs(x - median), k)[k])


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
