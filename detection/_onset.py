"""Onsets refined without the band-pass's delay, their uncertainty, and the first motion.

The streaming band-pass is causal: its group delay (0.03-0.15 s across 1-20 Hz) would make an
onset picked on its output late. A short window of raw samples around the trigger is filtered
again here, forward and backward (:func:`scipy.signal.sosfiltfilt`, no delay), and Maeda's
AIC picks the onset on that. The forward-backward filter has ``corners // 2`` sections each
way (at least one), so its magnitude response is about that of the detector's band-pass.

A zero-phase filter has a price: its response is symmetric, so a strong onset leaks a
precursor ahead of itself (a few per cent of its amplitude, over a few tenths of a second),
and the AIC then picks early. So a P onset is looked for once more (:func:`refine`), within
:data:`REFINE_S` of the first estimate, on the raw samples high-passed causally: no delay
worth the name at an onset's frequencies (a two-pole high-pass at 1 Hz leads a 5 Hz wave by
about 0.01 s), and no precursor. On the bench's data (``bench/picks.py``) the P onsets' mean
error is then +0.008 s and their mean absolute error 0.033 s. S onsets keep the first
estimate: on the horizontals, in the P coda, the second look did worse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.signal
from numpy.typing import NDArray

from detection._aic import aic
from detection._filter import sosfilt_rows_inplace

__all__ = ["AIC_SPREAD", "Onset", "Polarity", "aic_onset", "first_motion", "zero_phase_sos"]

Float64Array = NDArray[np.float64]
Polarity = Literal["positive", "negative", "undecidable"]

AIC_SPREAD = 15.0
"""The onset's uncertainty is the half-width of the interval over which the AIC stays within
this of its minimum (about two thirds of the bench's P onsets lie within it)."""
EDGE_S = 0.05
"""The AIC minimum is searched at least this far (and two samples) from a window's ends."""
MOTION_WINDOW_S = 0.1
"""The first motion must rise above the noise within this long after the onset."""
MOTION_SIGMAS = 4.0
"""... by this many standard deviations of the noise before the onset."""


@dataclass(frozen=True)
class Onset:
    """An onset found in a window.

    Attributes
    ----------
    index : int
        The onset's sample in the window.
    uncertainty : float
        Seconds, at least one sample interval.
    at_edge : bool
        True if the AIC minimum lies at the nearest point to the window's start (or end) it
        may take: the onset may lie outside the window, and ``index`` is not to be trusted.
    """

    index: int
    uncertainty: float
    at_edge: bool


REFINE_S = 0.6
"""Half-width, in seconds, of a P onset's second AIC window, on causally high-passed raw
samples (chosen on the bench's data: 0.5 to 1.0 s give the same figures within a pick or
two)."""


@lru_cache(maxsize=64)
def high_pass_sos(freqmin: float, sampling_rate: float) -> Float64Array:
    """Two-pole Butterworth high-pass at ``freqmin``: removes the microseisms; its phase
    lead at the frequencies of an onset is a few milliseconds."""
    sos = scipy.signal.butter(2, freqmin / (0.5 * sampling_rate), btype="highpass", output="sos")
    out: Float64Array = np.ascontiguousarray(sos, dtype=np.float64)
    return out


def refine(
    raws: list[Float64Array], index: int, first: int, sos: Float64Array, sampling_rate: float
) -> int:
    """The onset near ``index`` again, on the raw samples high-passed causally (no
    precursor, unlike the zero-phase filter's before a strong onset): AIC, summed over the
    channels, within :data:`REFINE_S` of it. ``first``: the earliest index allowed."""
    half = max(3, round(REFINE_S * sampling_rate))
    a = max(first, index - half)
    b = min(min(r.size for r in raws), index + half)
    margin = 2
    if b - a < 2 * margin + 4:
        return index
    curve = np.zeros(b - a)
    for raw in raws:
        start = max(0, a - 4 * half)  # a lead-in for the filter
        rows = (raw[start:b] - raw[start])[None]
        sosfilt_rows_inplace(sos, rows, np.zeros((1, sos.shape[0], 2)))
        curve += aic(rows[0, a - start :])
    curve[:margin] = np.inf
    curve[curve.size - margin :] = np.inf
    return a + int(np.argmin(curve))


@lru_cache(maxsize=64)
def zero_phase_sos(
    freqmin: float, freqmax: float, sampling_rate: float, corners: int
) -> Float64Array:
    """The sections of the forward-backward band-pass: ``max(1, corners // 2)`` each way."""
    nyquist = 0.5 * sampling_rate
    sos = scipy.signal.butter(
        max(1, corners // 2), [freqmin / nyquist, freqmax / nyquist], btype="bandpass", output="sos"
    )
    # not frozen: SciPy's kernel takes a writable buffer (it does not write to it)
    out: Float64Array = np.ascontiguousarray(sos, dtype=np.float64)
    return out


_STEADY: dict[bytes, Float64Array] = {}


def _steady_state(sos: Float64Array) -> Float64Array:
    """``scipy.signal.sosfilt_zi(sos)``, once per filter (it solves a system per section)."""
    key = sos.tobytes()
    found = _STEADY.get(key)
    if found is None:
        found = _STEADY[key] = np.ascontiguousarray(scipy.signal.sosfilt_zi(sos))
    return found


def filtered(raw: Float64Array, sos: Float64Array, reference: int) -> Float64Array:
    """``raw`` less the mean of its first ``reference`` samples (at least one), filtered
    forward and backward.

    What ``scipy.signal.sosfiltfilt(sos, x)`` computes (odd extension of ``3 (2 n + 1)``
    samples, each pass started in the steady state of its first sample), through SciPy's
    compiled kernel directly: the public function solves for its initial conditions on
    every call, ten times the cost of the filtering here.
    """
    head = raw[: max(1, reference)]
    w = raw - float(np.add.reduce(head)) / head.size
    n = w.size
    pad = min(n - 1, 3 * (2 * sos.shape[0] + 1))
    if pad < 1:
        return w
    rows = np.empty((1, n + 2 * pad))
    ext = rows[0]
    ext[pad : pad + n] = w
    np.subtract(2.0 * w[0], w[pad:0:-1], out=ext[:pad])
    np.subtract(2.0 * w[-1], w[-2 : -pad - 2 : -1], out=ext[pad + n :])
    zi = _steady_state(sos)
    state = (zi * ext[0])[None]
    sosfilt_rows_inplace(sos, rows, state)
    back = np.ascontiguousarray(rows[:, ::-1])
    state = (zi * back[0, 0])[None]
    sosfilt_rows_inplace(sos, back, state)
    out: Float64Array = back[0, ::-1][pad : pad + n].copy()
    return out


def aic_onset(f: Float64Array, lo: int, hi: int, sampling_rate: float) -> Onset:
    """The onset in ``f[lo:hi]`` (zero-phase filtered samples), as an index into ``f``.

    The AIC is computed over the window, its minimum searched away from the window's ends
    (:data:`EDGE_S`, at least two samples): a window's first samples often make the AIC's
    smallest value without being an onset. The uncertainty is the half-width, in seconds, of
    the interval around the minimum over which the AIC stays within :data:`AIC_SPREAD` of it.
    """
    n = hi - lo
    margin = max(2, round(EDGE_S * sampling_rate))
    if n < 2 * margin + 2:
        return Onset(lo + n // 2, n / 2 / sampling_rate, True)
    curve = aic(f[lo:hi])
    curve[:margin] = np.inf
    curve[n - margin :] = np.inf
    k = int(np.argmin(curve))
    inside = curve <= curve[k] + AIC_SPREAD
    left = k
    while left > margin and inside[left - 1]:
        left -= 1
    right = k
    while right < n - margin - 1 and inside[right + 1]:
        right += 1
    width = max(k - left, right - k, 1)
    edge = k == margin or k == n - margin - 1
    return Onset(lo + k, width / sampling_rate, edge)


def first_motion(raw: Float64Array, onset: int, sampling_rate: float) -> Polarity:
    """The direction of the first motion after ``onset`` in raw samples.

    The half second before the onset gives a straight-line trend and the noise's standard
    deviation about it; the first sample within :data:`MOTION_WINDOW_S` after the onset that
    departs from the trend by :data:`MOTION_SIGMAS` deviations gives the direction, unless an
    earlier sample went the other way by half as much. Positive is up for a vertical channel
    (counts increasing).
    """
    n_pre = max(5, round(0.5 * sampling_rate))
    a = max(0, onset - n_pre)
    pre = raw[a:onset]
    k = pre.size
    after = raw[onset : onset + max(2, round(MOTION_WINDOW_S * sampling_rate))]
    if k < 5 or after.size == 0:
        return "undecidable"
    t, t_mean, t_spread = _ramp(k)
    mean = float(np.add.reduce(pre)) / k
    slope = float(np.dot(t, pre)) / t_spread
    residual = pre - (mean + slope * t)
    sigma = math.sqrt(float(np.dot(residual, residual)) / k)
    ahead = np.arange(k - t_mean, k - t_mean + after.size)
    y = after - (mean + slope * ahead)
    limit = MOTION_SIGMAS * sigma
    beyond = np.flatnonzero(np.abs(y) > limit) if sigma > 0 else np.flatnonzero(y)
    if beyond.size == 0:
        return "undecidable"
    j = int(beyond[0])
    sign = math.copysign(1.0, float(y[j]))
    if j and float(np.minimum.reduce(sign * y[:j])) < -0.5 * limit:
        return "undecidable"
    return "positive" if sign > 0 else "negative"


@lru_cache(maxsize=16)
def _ramp(k: int) -> tuple[Float64Array, float, float]:
    """Sample times of ``k`` samples about their mean, the mean, and their sum of squares."""
    t_mean = (k - 1) / 2
    t = np.arange(k, dtype=np.float64) - t_mean
    t.flags.writeable = False
    return t, t_mean, float(np.dot(t, t))
