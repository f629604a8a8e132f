"""Ground motion at a station: PGA, PGV, response spectra and instrumental intensity.

The inputs are calibrated ground acceleration (m/s^2) and velocity (m/s), response-corrected
elsewhere (``ingest`` does it with ObsPy from the channel's response).

- PGA and PGV: the largest absolute value; a station's value is that of its larger
  horizontal component (ShakeMap's convention), the vertical is kept separately.
- PSA: pseudo-spectral acceleration ``omega^2 * max|u|`` of a linear oscillator of the given
  period and damping (5 %). ``u`` is computed exactly for acceleration linear between samples
  (the piecewise-linear solution of Nigam & Jennings 1969): the oscillator's state over one
  sample is the matrix exponential of its equations with a first-order hold of the input,
  which makes a second-order recursive filter run by ``scipy.signal.lfilter``.
- Instrumental intensity: Worden et al. (2012)'s ground-motion-to-intensity conversion,
  ``MMI = 1.78 + 1.55 log10(PGA)`` (cm/s^2) up to log10 PGA = 1.57, then
  ``-1.60 + 3.70 log10(PGA)``; ``MMI = 3.78 + 1.47 log10(PGV)`` (cm/s) up to log10 PGV = 0.53,
  then ``2.89 + 3.16 log10(PGV)``. The station's intensity is the larger of the two, within
  1 to 10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import expm
from scipy.signal import lfilter

__all__ = [
    "G_M_S2",
    "ComponentMotion",
    "StationMotion",
    "component_motion",
    "mmi_from_pga",
    "mmi_from_pgv",
    "oscillator_response",
    "station_motion",
]

Float64Array = NDArray[np.float64]
G_M_S2 = 9.80665
"""Standard gravity: %g = 100 * a / G_M_S2."""
DEFAULT_PERIODS = (0.3, 1.0, 3.0)


def _as_signal(name: str, x: ArrayLike) -> Float64Array:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"{name} must be 1-D with at least two samples, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(a)))} samples that are not finite")
    return a


@lru_cache(maxsize=64)
def _oscillator_filter(
    period: float, damping: float, dt: float
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(b, a) of the recursion from ground acceleration to relative displacement."""
    w = 2 * math.pi / period
    f = np.array([[0.0, 1.0], [-(w**2), -2 * damping * w]])
    g = np.array([0.0, -1.0])
    block = np.zeros((4, 4))
    block[:2, :2] = f * dt
    block[:2, 2] = g * dt
    block[2, 3] = 1.0
    e = expm(block)
    phi = e[:2, :2]
    hold0, hold1 = e[:2, 2], e[:2, 3]
    b_now = hold0 - hold1  # weight of a[k]
    b_next = hold1  # weight of a[k + 1]
    _a11, a12, a22 = phi[0, 0], phi[0, 1], phi[1, 1]
    num = (
        float(b_next[0]),
        float(b_now[0] - a22 * b_next[0] + a12 * b_next[1]),
        float(-a22 * b_now[0] + a12 * b_now[1]),
    )
    den = (1.0, float(-np.trace(phi)), float(np.linalg.det(phi)))
    return num, den


def oscillator_response(
    acceleration: ArrayLike, sampling_rate: float, period: float, damping: float = 0.05
) -> Float64Array:
    """Relative displacement (m) of a damped oscillator on the ground, from rest.

    Parameters
    ----------
    acceleration : array_like, 1-D
        Ground acceleration, m/s^2, linear between samples.
    sampling_rate : float
        Hz.
    period : float
        Natural period, s.
    damping : float
        Fraction of critical damping, 0 < damping < 1.

    Returns
    -------
    ndarray of float64
        ``u`` at the samples.

    Raises
    ------
    ValueError
        If the signal is not 1-D finite, or a parameter is out of range.
    """
    a = _as_signal("acceleration", acceleration)
    if not (math.isfinite(sampling_rate) and sampling_rate > 0):
        raise ValueError(f"need sampling_rate > 0, got {sampling_rate}")
    if not (math.isfinite(period) and period > 0):
        raise ValueError(f"need period > 0, got {period}")
    if not 0 < damping < 1:
        raise ValueError(f"need 0 < damping < 1, got {damping}")
    b, den = _oscillator_filter(float(period), float(damping), 1.0 / float(sampling_rate))
    u: Float64Array = lfilter(b, den, a)
    return u


def mmi_from_pga(pga_cms2: float) -> float:
    """Worden et al. (2012) intensity from PGA in cm/s^2 (unclipped)."""
    if not pga_cms2 > 0:
        return 1.0
    y = math.log10(pga_cms2)
    return 1.78 + 1.55 * y if y <= 1.57 else -1.60 + 3.70 * y


def mmi_from_pgv(pgv_cms: float) -> float:
    """Worden et al. (2012) intensity from PGV in cm/s (unclipped)."""
    if not pgv_cms > 0:
        return 1.0
    y = math.log10(pgv_cms)
    return 3.78 + 1.47 * y if y <= 0.53 else 2.89 + 3.16 * y


@dataclass(frozen=True)
class ComponentMotion:
    """Peak values of one component.

    Attributes
    ----------
    component : str
        ``Z``, ``N``, ``E`` (or ``1``/``2``).
    pga : float
        m/s^2.
    pgv : float
        m/s.
    psa : tuple of (period s, m/s^2)
    """

    component: str
    pga: float
    pgv: float
    psa: tuple[tuple[float, float], ...]


def component_motion(
    component: str,
    acceleration: ArrayLike,
    velocity: ArrayLike,
    sampling_rate: float,
    periods: Sequence[float] = DEFAULT_PERIODS,
    damping: float = 0.05,
) -> ComponentMotion:
    """PGA, PGV and PSA of one component from its acceleration and velocity."""
    acc = _as_signal("acceleration", acceleration)
    vel = _as_signal("velocity", velocity)
    psa = []
    for period in periods:
        u = oscillator_response(acc, sampling_rate, period, damping)
        psa.append((float(period), (2 * math.pi / period) ** 2 * float(np.abs(u).max())))
    return ComponentMotion(
        component, float(np.abs(acc).max()), float(np.abs(vel).max()), tuple(psa)
    )


@dataclass(frozen=True)
class StationMotion:
    """A station's ground motion: its larger horizontal component's values.

    Attributes
    ----------
    pga_cms2, pga_g_pct : float
        Peak ground acceleration, cm/s^2 and % of g.
    pgv_cms : float
        Peak ground velocity, cm/s.
    psa_g_pct : tuple of (period s, % g)
        Pseudo-spectral acceleration at 5 % damping.
    mmi, mmi_pga, mmi_pgv : float
        Instrumental intensity (Worden et al. 2012): the larger of the PGA and PGV estimates.
    vertical : ComponentMotion or None
    components : tuple of ComponentMotion
    """

    pga_cms2: float
    pga_g_pct: float
    pgv_cms: float
    psa_g_pct: tuple[tuple[float, float], ...]
    mmi: float
    mmi_pga: float
    mmi_pgv: float
    vertical: ComponentMotion | None
    components: tuple[ComponentMotion, ...]


def station_motion(components: Sequence[ComponentMotion]) -> StationMotion:
    """Combine components: horizontals (any component but ``Z``) give the station's values;
    with no horizontal, the vertical does.

    Raises
    ------
    ValueError
        With no component.
    """
    if not components:
        raise ValueError("need at least one component")
    horizontal = [c for c in components if c.component != "Z"] or list(components)
    vertical = next((c for c in components if c.component == "Z"), None)
    pga = max(c.pga for c in horizontal)
    pgv = max(c.pgv for c in horizontal)
    periods = [p for p, _ in horizontal[0].psa]
    psa = tuple((p, 100.0 * max(dict(c.psa)[p] for c in horizontal) / G_M_S2) for p in periods)
    by_pga = mmi_from_pga(100.0 * pga)
    by_pgv = mmi_from_pgv(100.0 * pgv)
    mmi = min(max(by_pga, by_pgv, 1.0), 10.0)
    return StationMotion(
        pga_cms2=100.0 * pga,
        pga_g_pct=100.0 * pga / G_M_S2,
        pgv_cms=100.0 * pgv,
        psa_g_pct=psa,
        mmi=mmi,
        mmi_pga=by_pga,
        mmi_pgv=by_pgv,
        vertical=vertical,
        components=tuple(components),
    )
