"""STA/LTA characteristic functions with carried state.

Both functions equal ObsPy's (``obspy.signal.trigger.recursive_sta_lta`` and
``classic_sta_lta``) on a whole segment, including their warm-up: the first ``nlta`` (recursive)
or ``nlta - 1`` (classic) values of a segment are zero. Fed in pieces with the returned state,
they give the same values, bit for bit, as fed whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._filter import _as_float_1d, _frozen, sosfilt_rows_inplace

__all__ = [
    "ClassicStaLtaState",
    "RecursiveStaLtaState",
    "classic_sta_lta",
    "recursive_sta_lta",
]

Float64Array = NDArray[np.float64]
TINY = float(np.finfo(np.float64).tiny)

#: Classic STA/LTA restarts its running sums every this many samples of a segment (counted
#: from the segment start, so the restarts do not depend on how the data are cut), which bounds
#: their rounding error however long the segment runs.
CLASSIC_BLOCK = 16384


def _check_windows(nsta: int, nlta: int) -> None:
    if not (isinstance(nsta, int | np.integer) and isinstance(nlta, int | np.integer)):
        raise ValueError(f"need integer nsta and nlta, got nsta={nsta!r}, nlta={nlta!r}")
    if not 0 < nsta < nlta:
        raise ValueError(f"need 0 < nsta < nlta, got nsta={nsta}, nlta={nlta}")


@dataclass(frozen=True, eq=False)
class RecursiveStaLtaState:
    """State of :func:`recursive_sta_lta` after ``n`` samples of a segment.

    Attributes
    ----------
    nsta, nlta : int
        The windows the state belongs to.
    n : int
        Samples of the segment seen so far.
    zi : ndarray, shape (2, 2)
        Delay values of the two first-order sections (read-only).
    w_last : float
        The last output of the two sections (see :func:`recursive_sta_lta`, Notes).
    """

    nsta: int
    nlta: int
    n: int
    zi: Float64Array
    w_last: float


@lru_cache(maxsize=64)
def _recursive_sos(nsta: int, nlta: int) -> Float64Array:
    p_sta = 1.0 - 1.0 / nsta
    p_lta = 1.0 - 1.0 / nlta
    # not frozen: SciPy's kernel takes a writable buffer (it does not write to it)
    return np.array([[1.0, 0.0, 0.0, 1.0, -p_sta, 0.0], [1.0, 0.0, 0.0, 1.0, -p_lta, 0.0]])


def recursive_sta_lta(
    x: ArrayLike, nsta: int, nlta: int, state: RecursiveStaLtaState | None = None
) -> tuple[Float64Array, RecursiveStaLtaState]:
    """Recursive STA/LTA of one piece of a segment, carrying the state to the next piece.

    ``sta[i] = c_s * x[i]**2 + (1 - c_s) * sta[i-1]`` with ``c_s = 1/nsta``, likewise the LTA
    with ``c_l = 1/nlta``, both starting from zero; the ratio is ``sta / lta``, and the first
    ``nlta`` values of the segment are set to zero. As in ObsPy, the recursion starts at the
    segment's second sample.

    Parameters
    ----------
    x : array_like, 1-D
        Samples, normally bandpass-filtered.
    nsta, nlta : int
        Window lengths in samples, ``0 < nsta < nlta``.
    state : RecursiveStaLtaState, optional
        The state returned for the previous piece; ``None`` starts a segment.

    Returns
    -------
    ratio : ndarray of float64
        STA/LTA of each sample of ``x``.
    state : RecursiveStaLtaState
        The state after the last sample.

    Raises
    ------
    ValueError
        If the windows are invalid, ``x`` is not 1-D numeric, or ``state`` belongs to other
        windows.

    Notes
    -----
    Both averages come from one pass of a compiled filter: the squared samples go through the
    two first-order sections ``1/(1 - p_s z^-1)`` and ``1/(1 - p_l z^-1)`` in cascade, giving
    ``w``; then ``sta = c_s (w[i] - p_l w[i-1])`` and ``lta = c_l (w[i] - p_s w[i-1])``, each of
    which undoes one section. The ratio differs from ObsPy's by at most about ``nlta`` units of
    float64 rounding, absolute.
    """
    _check_windows(nsta, nlta)
    a = _as_float_1d(x)
    nsta, nlta = int(nsta), int(nlta)
    if state is None:
        state = RecursiveStaLtaState(nsta, nlta, 0, _frozen(np.zeros((2, 2))), 0.0)
    elif (state.nsta, state.nlta) != (nsta, nlta):
        raise ValueError(
            f"state is for nsta={state.nsta}, nlta={state.nlta}, got nsta={nsta}, nlta={nlta}"
        )
    m = a.size
    if m == 0:
        return np.empty(0), state
    zi = np.array(state.zi, order="C").reshape(1, 2, 2)
    ratio, w_last = recursive_step(a, nsta, nlta, state.n, zi, state.w_last)
    assert ratio is not None  # no quiet check asked for
    new = RecursiveStaLtaState(nsta, nlta, state.n + m, _frozen(zi[0]), w_last)
    return ratio, new


@dataclass(frozen=True, eq=False)
class ClassicStaLtaState:
    """State of :func:`classic_sta_lta` after ``n`` samples of a segment.

    Attributes
    ----------
    nsta, nlta : int
        The windows the state belongs to.
    n : int
        Samples of the segment seen so far.
    squares : ndarray, shape (nlta,)
        The last ``nlta`` squared samples, zeros before the segment start (read-only).
    sta_sum, lta_sum : float
        Running sums of the last ``nsta`` and ``nlta`` squares.
    """

    nsta: int
    nlta: int
    n: int
    squares: Float64Array
    sta_sum: float
    lta_sum: float


def classic_sta_lta(
    x: ArrayLike, nsta: int, nlta: int, state: ClassicStaLtaState | None = None
) -> tuple[Float64Array, ClassicStaLtaState]:
    """Classic (boxcar) STA/LTA of one piece of a segment, carrying the state.

    ``sta[i]`` is the mean of ``x**2`` over the ``nsta`` samples ending at ``i``, ``lta[i]``
    over the ``nlta`` samples ending at ``i`` (samples before the segment count as zero); the
    ratio is ``sta / lta`` with ``lta`` floored at the smallest normal float64, and the first
    ``nlta - 1`` values of the segment are zero, as in ObsPy.

    Parameters
    ----------
    x : array_like, 1-D
        Samples, normally bandpass-filtered.
    nsta, nlta : int
        Window lengths in samples, ``0 < nsta < nlta``.
    state : ClassicStaLtaState, optional
        The state returned for the previous piece; ``None`` starts a segment.

    Returns
    -------
    ratio : ndarray of float64
        STA/LTA of each sample of ``x``.
    state : ClassicStaLtaState
        The state after the last sample.

    Raises
    ------
    ValueError
        If the windows are invalid, ``x`` is not 1-D numeric, or ``state`` belongs to other
        windows.

    Notes
    -----
    As ObsPy's C version, the window sums are running sums (add the new square, subtract the
    one leaving the window). Every :data:`CLASSIC_BLOCK` samples of the segment (counted from
    its start, so independent of how the data are cut) they are recomputed from the stored
    squares, which bounds their rounding error on an endless stream.
    """
    _check_windows(nsta, nlta)
    a = _as_float_1d(x)
    nsta, nlta = int(nsta), int(nlta)
    if state is None:
        state = ClassicStaLtaState(nsta, nlta, 0, _frozen(np.zeros(nlta)), 0.0, 0.0)
    elif (state.nsta, state.nlta) != (nsta, nlta):
        raise ValueError(
            f"state is for nsta={state.nsta}, nlta={state.nlta}, got nsta={nsta}, nlta={nlta}"
        )
    if a.size == 0:
        return np.empty(0), state
    ratio, squares, sta_sum, lta_sum = classic_step(
        a, nsta, nlta, state.n, state.squares, state.sta_sum, state.lta_sum
    )
    new = ClassicStaLtaState(nsta, nlta, state.n + a.size, _frozen(squares), sta_sum, lta_sum)
    return ratio, new


def recursive_step(
    a: Float64Array,
    nsta: int,
    nlta: int,
    n: int,
    zi: Float64Array,
    w_last: float,
    scratch: Float64Array | None = None,
    quiet_below: float | None = None,
) -> tuple[Float64Array | None, float]:
    """Kernel of :func:`recursive_sta_lta`: updates ``zi`` (shape (1, 2, 2)) in place.

    Returns the ratio and the new ``w_last``; ``a`` is float64, 1-D and not empty.
    ``scratch``: a C-contiguous float64 array of shape (2, k) with ``k > a.size``, used for
    the intermediate values instead of new arrays (a caller fed record by record keeps one).
    ``quiet_below``: if given and every ratio of the piece is provably below it, the ratio is
    not computed and ``None`` is returned in its place (the state is updated all the same).

    The check costs three array operations against the ratio's seven: with ``k = nlta/nsta``,
    ``sta/lta < thr`` is ``k (w - p_l w') < thr (w - p_s w')``, linear in ``w`` and ``w'``.
    It is made against ``thr * (1 - 1e-6)``, far more than the rounding of either side
    (about ``nlta`` units of float64 rounding), so it never says quiet where the ratio
    reaches ``thr``; near the threshold it defers to the ratio.
    """
    m = a.size
    c_s, c_l = 1.0 / nsta, 1.0 / nlta
    p_s, p_l = 1.0 - c_s, 1.0 - c_l
    buf = scratch if scratch is not None and scratch.shape[1] > m else np.empty((2, m + 1))
    buf[0, 0] = w_last
    u = buf[0, 1 : m + 1]
    np.multiply(a, a, out=u)
    if n == 0:
        u[0] = 0.0
    sosfilt_rows_inplace(_recursive_sos(nsta, nlta), buf[0:1, 1 : m + 1], zi)
    prev, cur = buf[0, :m], u
    w_last = float(u[-1])
    if quiet_below is not None:
        k, thr = nlta / nsta, quiet_below * (1.0 - 1e-6)
        if k > thr:  # else a ratio at the threshold is possible only in rounding: no check
            # k sta' - thr lta' = (k - thr) (w - b w') with b = (k p_l - thr p_s) / (k - thr)
            excess = np.multiply(prev, (k * p_l - thr * p_s) / (k - thr), out=buf[1, :m])
            np.subtract(cur, excess, out=excess)
            if np.maximum.reduce(excess) <= 0.0:
                return None, w_last
    ratio = np.multiply(prev, p_l)
    np.subtract(cur, ratio, out=ratio)
    lta = np.multiply(prev, p_s, out=buf[1, :m])
    np.subtract(cur, lta, out=lta)
    # lta/c_l >= TINY/c_l means lta >= TINY: ObsPy's guard against zero division
    np.maximum(lta, TINY * nlta, out=lta)
    np.divide(ratio, lta, out=ratio)
    ratio *= nlta / nsta
    if n < nlta:
        ratio[: nlta - n] = 0.0
    return ratio, w_last


def classic_step(
    a: Float64Array,
    nsta: int,
    nlta: int,
    n: int,
    last_squares: Float64Array,
    sta_sum: float,
    lta_sum: float,
) -> tuple[Float64Array, Float64Array, float, float]:
    """Kernel of :func:`classic_sta_lta`: the ratio, the new squares and sums.

    ``a`` is float64, 1-D and not empty; the inputs are not modified.
    """
    m = a.size
    squares = np.empty(nlta + m)
    squares[:nlta] = last_squares
    new = squares[nlta:]
    np.multiply(a, a, out=new)
    # run[i + 1] is the window sum at sample i: cumulative sums of (new - leaving) squares
    run_sta = np.empty(m + 1)
    run_lta = np.empty(m + 1)
    np.subtract(new, squares[nlta - nsta : nlta - nsta + m], out=run_sta[1:])
    np.subtract(new, squares[:m], out=run_lta[1:])
    ratio = np.empty(m)
    pos = 0
    while pos < m:
        if n + pos > 0 and (n + pos) % CLASSIC_BLOCK == 0:
            sta_sum = float(squares[pos + nlta - nsta : pos + nlta].sum())
            lta_sum = float(squares[pos : pos + nlta].sum())
        end = min(m, pos + CLASSIC_BLOCK - (n + pos) % CLASSIC_BLOCK)
        sta_run = run_sta[pos : end + 1]
        lta_run = run_lta[pos : end + 1]
        sta_run[0] = sta_sum
        lta_run[0] = lta_sum
        np.cumsum(sta_run, out=sta_run)
        np.cumsum(lta_run, out=lta_run)
        sta_sum, lta_sum = float(sta_run[-1]), float(lta_run[-1])
        lta = np.maximum(lta_run[1:], TINY * nlta)
        np.divide(sta_run[1:], lta, out=ratio[pos:end])
        pos = end
    ratio *= nlta / nsta
    if n < nlta - 1:
        ratio[: nlta - 1 - n] = 0.0
    return ratio, squares[-nlta:].copy(), sta_sum, lta_sum
