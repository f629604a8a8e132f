"""Butterworth bandpass as second-order sections, with carried state.

The streaming filter removes the segment's offset by subtracting the first sample of the
segment from every sample before filtering from rest. For a bandpass (zero gain at DC) this is
the same, up to rounding, as starting from ``sosfilt_zi(sos) * x[0]``, the steady state for a
constant input equal to the first sample: in both cases the first output is zero and the offset
causes no step response (hence no false trigger at start-up). Subtracting the offset also keeps
large digitizer offsets out of the filter's state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.signal
from numpy.typing import ArrayLike, NDArray

__all__ = ["FilterState", "bandpass", "design_bandpass"]

Float64Array = NDArray[np.float64]

# SciPy's public ``sosfilt`` validates and copies its arguments on every call, about 25 µs,
# which is more than the whole budget for a 300-sample record. The compiled kernel it calls
# filters a C-contiguous (rows, n) float64 array in place with a (rows, sections, 2) state. Use
# it when present (checked against the public function in the tests), else the public path.
_sosfilt_kernel: Callable[..., Any] | None
try:
    from scipy.signal import _sosfilt as _sosfilt_module

    _sosfilt_kernel = _sosfilt_module._sosfilt
except (ImportError, AttributeError):  # pragma: no cover - SciPy moved its private kernel
    _sosfilt_kernel = None


def sosfilt_rows_inplace(sos: Float64Array, rows: Float64Array, zi: Float64Array) -> None:
    """Filter each row of ``rows`` in place, updating ``zi`` in place.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        C-contiguous float64 second-order sections.
    rows : ndarray, shape (m, n)
        C-contiguous float64 data, overwritten with the filtered data.
    zi : ndarray, shape (m, n_sections, 2)
        C-contiguous float64 filter state, overwritten with the final state.
    """
    if _sosfilt_kernel is not None:
        _sosfilt_kernel(sos, rows, zi)
        return
    for i in range(rows.shape[0]):
        y, zf = scipy.signal.sosfilt(sos, rows[i], zi=zi[i])
        rows[i] = y
        zi[i] = zf


def design_bandpass(
    freqmin: float, freqmax: float, sampling_rate: float, corners: int = 4
) -> Float64Array:
    """Design a Butterworth bandpass as second-order sections.

    Parameters
    ----------
    freqmin, freqmax : float
        Corner frequencies in Hz, ``0 < freqmin < freqmax < sampling_rate / 2``.
    sampling_rate : float
        Samples per second.
    corners : int
        Filter order of each of the lowpass and highpass halves (as ObsPy's ``corners``);
        the result has ``corners`` sections.

    Returns
    -------
    sos : ndarray, shape (corners, 6)
        C-contiguous float64.

    Raises
    ------
    ValueError
        If a frequency or the order is out of range.
    """
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise ValueError(f"need a finite sampling_rate > 0, got sampling_rate={sampling_rate}")
    nyquist = 0.5 * sampling_rate
    if not (0 < freqmin < freqmax < nyquist):
        raise ValueError(
            "need 0 < freqmin < freqmax < Nyquist, got "
            f"freqmin={freqmin}, freqmax={freqmax}, Nyquist={nyquist}"
        )
    if not (isinstance(corners, int) and 1 <= corners <= 10):
        raise ValueError(f"need an integer 1 <= corners <= 10, got corners={corners!r}")
    sos = scipy.signal.butter(
        corners, [freqmin / nyquist, freqmax / nyquist], btype="bandpass", output="sos"
    )
    return cast(Float64Array, np.ascontiguousarray(sos, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class FilterState:
    """State of :func:`bandpass` between two pieces of one continuous segment.

    Attributes
    ----------
    zi : ndarray, shape (n_sections, 2)
        The sections' delay values (read-only), as ``scipy.signal.sosfilt``'s ``zf``.
    offset : float
        The segment's first sample, subtracted from every sample.
    """

    zi: Float64Array
    offset: float


def _as_float_1d(x: ArrayLike, name: str = "x") -> Float64Array:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"need a 1-D array for {name}, got shape {a.shape}")
    if a.dtype.kind not in "iuf":
        raise ValueError(f"need integer or float samples for {name}, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def bandpass(
    x: ArrayLike, sos: Float64Array, state: FilterState | None = None
) -> tuple[Float64Array, FilterState]:
    """Filter one piece of a continuous segment, carrying the state to the next piece.

    Filtering a segment in pieces, passing each returned state to the next call, gives the
    same result, bit for bit, as filtering it whole.

    Parameters
    ----------
    x : array_like, 1-D
        Samples (any integer or float dtype).
    sos : ndarray, shape (n_sections, 6)
        Second-order sections, e.g. from :func:`design_bandpass`.
    state : FilterState, optional
        The state returned for the previous piece; ``None`` starts a segment, whose first
        sample becomes the offset removed from all its samples.

    Returns
    -------
    y : ndarray of float64
        The filtered piece.
    state : FilterState
        The state after the last sample.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D numeric, or ``state`` does not fit ``sos``.
    """
    a = _as_float_1d(x)
    sos = np.array(sos, dtype=np.float64, order="C")  # writable: the kernel wants that
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise ValueError(f"need sos of shape (n_sections, 6), got shape {sos.shape}")
    n_sections = sos.shape[0]
    if state is None:
        if a.size == 0:
            return np.empty(0), FilterState(_frozen(np.zeros((n_sections, 2))), math.nan)
        state = FilterState(_frozen(np.zeros((n_sections, 2))), float(a[0]))
    if state.zi.shape != (n_sections, 2):
        raise ValueError(f"need state.zi of shape {(n_sections, 2)}, got shape {state.zi.shape}")
    offset = state.offset
    if math.isnan(offset):  # a segment that has not seen a sample yet
        if a.size == 0:
            return np.empty(0), state
        offset = float(a[0])
    rows = np.empty((1, a.size))
    np.subtract(a, offset, out=rows[0])
    zi = np.array(state.zi, dtype=np.float64, order="C").reshape(1, n_sections, 2)
    sosfilt_rows_inplace(sos, rows, zi)
    return rows[0], FilterState(_frozen(zi[0]), offset)


def _frozen(a: Float64Array) -> Float64Array:
    a.flags.writeable = False
    return a
