"""Trigger hysteresis on a characteristic function, with carried state.

The semantics are ObsPy's ``obspy.signal.trigger.trigger_onset`` (without ``max_len_delete``):
a trigger turns on at the first sample of a run of values ``>= thr_on`` and stays on while
the values are ``>= thr_off``; its off index is the last sample still ``>= thr_off``. A trigger
longer than ``max_len`` samples is cut to ``off = on + max_len``, and the next trigger is the
next run ``>= thr_on`` that starts after the cut. Runs ``>= thr_on`` that start while a trigger
is on are part of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._filter import _as_float_1d

__all__ = ["TriggerState", "trigger_onset"]

Int64Array = NDArray[np.int64]
Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class TriggerState:
    """State of :func:`trigger_onset` between two pieces of one segment.

    Attributes
    ----------
    n : int
        Samples of the segment seen so far (the index of the next sample).
    above : bool
        Whether the last sample was ``>= thr_on``.
    on : int
        Index of the trigger that is on, or -1.
    after : int
        A new trigger must start after this index (the last trigger's off index, or -1).
    """

    n: int = 0
    above: bool = False
    on: int = -1
    after: int = -1


def _check_thresholds(thr_on: float, thr_off: float, max_len: int | None) -> None:
    if not (math.isfinite(thr_on) and math.isfinite(thr_off) and 0 < thr_off <= thr_on):
        raise ValueError(
            f"need finite 0 < thr_off <= thr_on, got thr_on={thr_on}, thr_off={thr_off}"
        )
    if max_len is not None and max_len < 0:
        raise ValueError(f"need max_len >= 0 or None, got max_len={max_len}")


def trigger_onset(
    cf: ArrayLike,
    thr_on: float,
    thr_off: float,
    max_len: int | None = None,
    state: TriggerState | None = None,
) -> tuple[Int64Array, TriggerState]:
    """Completed triggers in one piece of a characteristic function, carrying the state.

    Parameters
    ----------
    cf : array_like, 1-D
        Characteristic function (e.g. STA/LTA) of the next samples of the segment.
    thr_on, thr_off : float
        Thresholds, ``0 < thr_off <= thr_on``.
    max_len : int, optional
        Longest trigger in samples (``off - on``); ``None`` for no limit.
    state : TriggerState, optional
        The state returned for the previous piece; ``None`` starts a segment.

    Returns
    -------
    triggers : ndarray of int64, shape (k, 2)
        ``(on, off)`` sample indices, counted from the segment start, of the triggers that
        ended in this piece (or reached ``max_len``). A trigger still on at the end of the
        piece is reported by a later call; its on index is ``state.on``.
    state : TriggerState
        The state after the last sample.

    Notes
    -----
    ObsPy's batch function also closes a trigger still on at the end of the data, at the last
    sample; do that with ``(state.on, state.n - 1)`` when a segment ends.
    """
    _check_thresholds(thr_on, thr_off, max_len)
    c = _as_float_1d(cf, "cf")
    return trigger_step(c, thr_on, thr_off, max_len, TriggerState() if state is None else state)


def trigger_step(
    c: Float64Array,
    thr_on: float,
    thr_off: float,
    max_len: int | None,
    state: TriggerState,
    *,
    reaches_on: bool = False,
) -> tuple[Int64Array, TriggerState]:
    """Kernel of :func:`trigger_onset`, without argument checks (``c`` is float64, 1-D).

    Searches forward from where it is: the end of the trigger that is on, then the next
    start after it, and so on, each search over the rest of the piece only.
    ``reaches_on``: the caller knows that some ``c[i] >= thr_on`` (skips that check).
    """
    m = c.size
    if m == 0:
        return np.empty((0, 2), dtype=np.int64), state
    s = state.n
    on, after = state.on, state.after
    if on < 0 and not (reaches_on or np.maximum.reduce(c) >= thr_on):  # also when c has NaN
        return np.empty((0, 2), dtype=np.int64), TriggerState(s + m, False, -1, after)
    limit = math.inf if max_len is None else max_len
    found: list[tuple[int, int]] = []
    while True:
        if on < 0:
            start = _next_start(c, max(after + 1 - s, 0), thr_on, state.above)
            if start < 0:
                break
            on = s + start
        end = _first_below(c, max(on + 1 - s, 0), thr_off)  # the first sample below thr_off
        off = s + end - 1 if end >= 0 else None
        if on + limit <= s + m - 1 and (off is None or off > on + limit):
            off = on + int(limit)
        if off is None:
            break
        found.append((on, off))
        on, after = -1, off
    triggers = np.array(found, dtype=np.int64).reshape(-1, 2)
    return triggers, TriggerState(s + m, bool(c[-1] >= thr_on), on, after)


def _next_start(c: Float64Array, i: int, threshold: float, above_before: bool) -> int:
    """Index of the first run start (``c[j] >= threshold`` after a sample below it, or after
    ``above_before`` for ``j = 0``) with ``j >= i``, or -1."""
    while i < c.size:
        hits = c[i:] >= threshold
        j = int(hits.argmax())
        if not hits[j]:
            return -1
        j += i
        if not (c[j - 1] >= threshold if j > 0 else above_before):
            return j
        below = _first_below(c, j, threshold)  # j continues a run: go past its end
        if below < 0:
            return -1
        i = below + 1
    return -1


def _first_below(c: Float64Array, start: int, threshold: float) -> int:
    """Index of the first ``c[i] < threshold`` with ``i >= start``, or -1: scanned in short
    blocks, since a trigger usually ends soon after it starts."""
    block = 256
    while start < c.size:
        below = c[start : start + block] < threshold
        i = int(below.argmax())
        if below[i]:
            return start + i
        start += block
        block *= 4
    return -1
