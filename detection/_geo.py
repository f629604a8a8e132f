"""Distances and azimuths on a spherical Earth, vectorised.

The travel-time tables are computed by TauP for a spherical Earth of radius 6371 km, so the
same sphere is used here: an epicentral distance in kilometres is the great-circle arc on it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_RADIUS_KM", "azimuth_deg", "destination", "distance_km"]

EARTH_RADIUS_KM = 6371.0
"""Radius of the sphere (TauP's models, iasp91 and ak135, have this radius)."""

Float64Array = NDArray[np.float64]


def distance_km(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Float64Array:
    """Great-circle distance between points, kilometres (haversine; arrays broadcast).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : array_like
        Latitudes and longitudes in degrees.

    Returns
    -------
    ndarray of float64
        Distances in km, the broadcast shape of the inputs.
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: Float64Array = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


def azimuth_deg(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Float64Array:
    """Azimuth from point 1 towards point 2, degrees clockwise from north in [0, 360).

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : array_like
        Latitudes and longitudes in degrees.

    Returns
    -------
    ndarray of float64
        Initial bearing of the great circle from 1 to 2 (0 where the points coincide).
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    out: Float64Array = np.degrees(np.arctan2(y, x)) % 360.0
    return out


def destination(
    lat: ArrayLike, lon: ArrayLike, azimuth: ArrayLike, distance: ArrayLike
) -> tuple[Float64Array, Float64Array]:
    """The point ``distance`` km from (``lat``, ``lon``) along ``azimuth`` degrees.

    Parameters
    ----------
    lat, lon : array_like
        Start, degrees.
    azimuth : array_like
        Initial bearing, degrees clockwise from north.
    distance : array_like
        Great-circle distance, km.

    Returns
    -------
    latitude, longitude : ndarray of float64
        Degrees; longitudes in [-180, 180).
    """
    p1 = np.radians(np.asarray(lat, dtype=np.float64))
    l1 = np.radians(np.asarray(lon, dtype=np.float64))
    a = np.radians(np.asarray(azimuth, dtype=np.float64))
    d = np.asarray(distance, dtype=np.float64) / EARTH_RADIUS_KM
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(a))
    l2 = l1 + np.arctan2(np.sin(a) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180.0) % 360.0 - 180.0
