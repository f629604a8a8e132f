"""Local magnitude ML from Wood-Anderson amplitudes, the network magnitude, energy class K.

Station magnitude: ``ML = log10(A) + (-log A0)(r) + correction``, with A the peak
Wood-Anderson displacement of one horizontal component in mm and r the distance. The default
``-log A0`` is Hutton & Boore (1987) for southern California, with r the hypocentral distance:

    -log A0(r) = 1.110 log10(r / 100) + 0.00189 (r - 100) + 3.0

A table of ``log A0`` against distance (SeisComP's convention and sign, e.g. its default
``0:-1.3, 60:-2.8, 100:-3.0, 400:-4.5, 1000:-5.85``) replaces it when a network has its own
calibration; between its points ``log A0`` is linear in distance, beyond them the nearest
value holds. A station's magnitude is the mean of its horizontal components' magnitudes (as
Richter averaged the two), plus its correction.

The network magnitude is a trimmed mean of the station magnitudes: the ``trim`` fraction of
them is dropped, half from each end (SeisComP's default trims 25 %), and the uncertainty is
the standard deviation of those kept.

Energy class K (Rautian's scale of the Central Asian bulletins, K = log10 E in joules) is
given from ML by a linear regional conversion, ``K = k_slope * ML + k_intercept``, by default
``K = 1.8 ML + 4.6``: the conversion the Central Asian literature attributes to Rautian, for
the comparison of a new catalogue with the Service's own. It is not Rautian's amplitude
nomogram (the sum of the P and S amplitudes with her distance calibration); set the
coefficients the Service's own regression gives.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MagnitudeCalibration",
    "NetworkMagnitude",
    "StationMagnitude",
    "energy_class",
    "hutton_boore_minus_log_a0",
    "network_magnitude",
    "station_magnitude",
]

Float64Array = NDArray[np.float64]


def hutton_boore_minus_log_a0(distance_km: ArrayLike) -> Float64Array:
    """Hutton & Boore (1987) ``-log A0`` at hypocentral distances in km.

    Raises
    ------
    ValueError
        If a distance is not positive.
    """
    r = np.asarray(distance_km, dtype=np.float64)
    if np.any(~(r > 0)):
        raise ValueError(f"need distances > 0 km, got {r[~(r > 0)][:3]}")
    out: Float64Array = 1.110 * np.log10(r / 100.0) + 0.00189 * (r - 100.0) + 3.0
    return out


@dataclass(frozen=True)
class MagnitudeCalibration:
    """How amplitudes become ML.

    Attributes
    ----------
    log_a0 : tuple of (distance km, log A0) or None
        A ``log A0`` table (SeisComP's sign: negative numbers); ``None``: Hutton & Boore.
    distance : {"hypocentral", "epicentral"}
        Which distance the correction takes.
    station_corrections : mapping of str to float
        Added to the station's magnitude (``NET.STA``).
    min_distance_km, max_distance_km : float
        Stations closer or farther are not used.
    trim : float
        Fraction of station magnitudes the network mean drops (half at each end).
    k_slope, k_intercept : float
        ``K = k_slope * ML + k_intercept``.
    """

    log_a0: tuple[tuple[float, float], ...] | None = None
    distance: Literal["hypocentral", "epicentral"] = "hypocentral"
    station_corrections: Mapping[str, float] = field(default_factory=dict)
    min_distance_km: float = 0.0
    max_distance_km: float = 1000.0
    trim: float = 0.25
    k_slope: float = 1.8
    k_intercept: float = 4.6

    def __post_init__(self) -> None:
        if self.log_a0 is not None:
            d = [p[0] for p in self.log_a0]
            if len(d) < 2 or any(b <= a for a, b in itertools.pairwise(d)):
                raise ValueError(f"log_a0: need two or more increasing distances, got {d}")
        if not 0 <= self.trim < 1:
            raise ValueError(f"need 0 <= trim < 1, got {self.trim}")
        if not 0 <= self.min_distance_km < self.max_distance_km:
            raise ValueError(
                f"need 0 <= min_distance_km < max_distance_km, got {self.min_distance_km}, "
                f"{self.max_distance_km}"
            )

    def minus_log_a0(self, distance_km: ArrayLike) -> Float64Array:
        """``-log A0`` at the given distances (km)."""
        if self.log_a0 is None:
            return hutton_boore_minus_log_a0(distance_km)
        d, v = (np.array(x, dtype=np.float64) for x in zip(*self.log_a0, strict=True))
        out: Float64Array = -np.interp(np.asarray(distance_km, dtype=np.float64), d, v)
        return out


@dataclass(frozen=True)
class StationMagnitude:
    """One station's ML.

    Attributes
    ----------
    station : str
    magnitude : float
    amplitudes_mm : tuple of float
        Peak Wood-Anderson amplitude of each component used, mm.
    distance_km : float
        The distance the correction used.
    correction : float
        The station correction applied.
    """

    station: str
    magnitude: float
    amplitudes_mm: tuple[float, ...]
    distance_km: float
    correction: float


def station_magnitude(
    station: str,
    amplitudes_mm: Sequence[float],
    epicentral_km: float,
    depth_km: float,
    calibration: MagnitudeCalibration | None = None,
) -> StationMagnitude | None:
    """ML of one station from its horizontal components' peak Wood-Anderson amplitudes.

    Parameters
    ----------
    station : str
        ``NET.STA`` (looked up in the station corrections).
    amplitudes_mm : sequence of float
        Zero-to-peak amplitude of each horizontal component, mm (one or two).
    epicentral_km, depth_km : float
        Where the station is from the hypocentre.
    calibration : MagnitudeCalibration, optional

    Returns
    -------
    StationMagnitude or None
        ``None`` if the station is outside the calibrated distances.

    Raises
    ------
    ValueError
        If no amplitude is given or one is not a positive finite number.
    """
    cal = calibration or MagnitudeCalibration()
    amps = [float(a) for a in amplitudes_mm]
    if not amps or not all(math.isfinite(a) and a > 0 for a in amps):
        raise ValueError(f"need positive finite amplitudes, got {amps} at {station}")
    r = (
        math.hypot(epicentral_km, depth_km)
        if cal.distance == "hypocentral"
        else float(epicentral_km)
    )
    if not cal.min_distance_km <= r <= cal.max_distance_km or r <= 0:
        return None
    correction = float(cal.station_corrections.get(station, 0.0))
    logs = np.log10(np.array(amps))
    ml = float(np.mean(logs) + cal.minus_log_a0(r)) + correction
    return StationMagnitude(station, ml, tuple(amps), r, correction)


@dataclass(frozen=True)
class NetworkMagnitude:
    """The network's magnitude.

    Attributes
    ----------
    magnitude : float
    uncertainty : float or None
        Standard deviation of the station magnitudes kept (``None`` with one).
    station_count : int
        Stations kept in the mean.
    stations : tuple of StationMagnitude
        All station magnitudes, kept or not.
    used : tuple of bool
        Whether each of ``stations`` is in the mean.
    """

    magnitude: float
    uncertainty: float | None
    station_count: int
    stations: tuple[StationMagnitude, ...]
    used: tuple[bool, ...]


def network_magnitude(
    stations: Sequence[StationMagnitude], trim: float = 0.25
) -> NetworkMagnitude | None:
    """Trimmed mean of station magnitudes (``None`` without any).

    ``floor(n * trim / 2)`` magnitudes are dropped at each end, so nothing is trimmed from
    fewer than ``2 / trim`` stations.
    """
    if not stations:
        return None
    if not 0 <= trim < 1:
        raise ValueError(f"need 0 <= trim < 1, got {trim}")
    values = np.array([s.magnitude for s in stations])
    order = np.argsort(values, kind="stable")
    cut = math.floor(len(values) * trim / 2)
    kept = np.zeros(len(values), dtype=bool)
    kept[order[cut : len(values) - cut]] = True
    used = values[kept]
    spread = float(np.std(used, ddof=1)) if used.size > 1 else None
    return NetworkMagnitude(
        magnitude=float(used.mean()),
        uncertainty=spread,
        station_count=int(used.size),
        stations=tuple(stations),
        used=tuple(bool(k) for k in kept),
    )


def energy_class(magnitude: float, slope: float = 1.8, intercept: float = 4.6) -> float:
    """Energy class ``K = slope * ML + intercept`` (see the module's note on its origin)."""
    return slope * magnitude + intercept
