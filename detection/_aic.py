"""Akaike information criterion onset picker (Maeda's formula, on the samples themselves)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._filter import _as_float_1d

__all__ = ["aic", "aic_pick"]

Float64Array = NDArray[np.float64]
TINY = float(np.finfo(np.float64).tiny)


def aic(x: ArrayLike) -> Float64Array:
    """Maeda's AIC of every split of a window into a noise and a signal part.

    ``aic[k] = k * log(var(x[:k])) + (n - k) * log(var(x[k:]))`` for ``2 <= k <= n - 2``
    (both parts at least two samples), ``+inf`` elsewhere. Variances are floored at the
    smallest normal float64 so a flat part gives a large negative value, not ``-inf``.

    Parameters
    ----------
    x : array_like, 1-D
        The window, normally bandpass-filtered samples around a trigger.

    Returns
    -------
    ndarray of float64, shape (n,)
        AIC of a split before each sample.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D numeric.
    """
    a = _as_float_1d(x)
    out = np.full(a.size, np.inf)
    if a.size >= 4:
        out[2 : a.size - 1] = _splits(a)
    return out


def _splits(a: Float64Array) -> Float64Array:
    """AIC of the splits ``k = 2 .. n - 2`` of a float64 window of ``n >= 4`` samples."""
    n = a.size
    k, rest = _split_sizes(n)
    d = a - a.mean()
    c1 = np.cumsum(d)
    c2 = np.cumsum(np.square(d, out=d))
    s1, s2 = c1[1 : n - 2], c2[1 : n - 2]  # sums of a[:k]
    head = s2 / k - np.square(s1 / k)
    tail = (c2[-1] - s2) / rest - np.square((c1[-1] - s1) / rest)
    np.log(np.maximum(head, TINY, out=head), out=head)
    np.log(np.maximum(tail, TINY, out=tail), out=tail)
    head *= k
    tail *= rest
    head += tail
    return head


@lru_cache(maxsize=16)
def _split_sizes(n: int) -> tuple[Float64Array, Float64Array]:
    """Sizes of the head (``k``) and the tail (``n - k``) of each split, read-only."""
    k = np.arange(2, n - 1, dtype=np.float64)
    rest = n - k
    k.flags.writeable = rest.flags.writeable = False
    return k, rest


def aic_pick(x: ArrayLike) -> int:
    """Index of the onset in a window: the first sample after the AIC minimum split.

    Parameters
    ----------
    x : array_like, 1-D
        The window.

    Returns
    -------
    int
        The onset index in ``x``; 0 for a window shorter than four samples.
    """
    a = _as_float_1d(x)
    if a.size < 4:
        return 0
    return 2 + int(np.argmin(_splits(a)))
