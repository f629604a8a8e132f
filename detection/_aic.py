"""Akaike information criterion onset picker (Maeda's formula, on the samples themselves)."""

from __future__ import annotations

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
    n = a.size
    out = np.full(n, np.inf)
    if n < 4:
        return out
    a = a - a.mean()
    k = np.arange(2, n - 1, dtype=np.float64)  # split points
    c1 = np.cumsum(a)
    c2 = np.cumsum(a * a)
    s1_head, s2_head = c1[1 : n - 2], c2[1 : n - 2]  # sums of a[:k]
    s1_tail, s2_tail = c1[-1] - s1_head, c2[-1] - s2_head
    var_head = s2_head / k - (s1_head / k) ** 2
    var_tail = s2_tail / (n - k) - (s1_tail / (n - k)) ** 2
    out[2 : n - 1] = k * np.log(np.maximum(var_head, TINY)) + (n - k) * np.log(
        np.maximum(var_tail, TINY)
    )
    return out


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
    values = aic(x)
    if values.size < 4:
        return 0
    return int(np.argmin(values))
