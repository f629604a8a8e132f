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
    """AIC of the splits ``k = 2 .. n - 2`` of a float64 window of ``n >= 4`` samples.

    The head's and the tail's sums go through each step together, as the two rows of one
    array: a trigger costs about a dozen small array operations here, not two dozen.
    With ``S1, S2`` the sums of a part's deviations and squared deviations and ``j`` its
    length, ``j * log(var) = j * log(j * S2 - S1**2) - 2 j log(j)``.
    """
    n = a.size
    weights, offsets, floors = _split_constants(n)
    sums = np.empty((2, n))
    np.subtract(a, np.add.reduce(a) / n, out=sums[0])
    np.multiply(sums[0], sums[0], out=sums[1])
    np.add.accumulate(sums, axis=1, out=sums)
    parts = np.empty((2, 2, n - 3))  # [head, tail] x [S1, S2]
    parts[0] = sums[:, 1 : n - 2]
    np.subtract(sums[:, -1:], parts[0], out=parts[1])
    spread = np.multiply(parts[:, 1], weights)
    spread -= np.square(parts[:, 0], out=parts[:, 0])
    np.maximum(spread, floors, out=spread)
    np.log(spread, out=spread)
    spread *= weights
    total: Float64Array = np.add(spread[0], spread[1], out=parts[0, 0])
    total -= offsets
    return total


@lru_cache(maxsize=16)
def _split_constants(n: int) -> tuple[Float64Array, Float64Array, Float64Array]:
    """For the splits of a window of ``n`` samples: the lengths of head and tail (shape
    (2, n - 3)), ``2 j log(j)`` summed over both parts, and the floor of ``j * S2 - S1**2``
    that keeps each variance at least the smallest normal float64 (``j**2 * TINY``)."""
    k = np.arange(2, n - 1, dtype=np.float64)
    weights = np.stack((k, n - k))
    offsets = (2.0 * weights * np.log(weights)).sum(axis=0)
    floors = np.square(weights) * TINY
    for array in (weights, offsets, floors):
        array.flags.writeable = False
    return weights, offsets, floors


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
    return 2 + int(_splits(a).argmin())
