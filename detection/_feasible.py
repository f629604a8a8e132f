"""Whether any hypocentre could explain arrivals within their tolerances: a cheap bound that
lets the associator skip locations that cannot succeed.

The associator of a sparse network (a pick tried against a three-station event) locates the
event afresh with the pick and keeps the pick only if every residual is within its
tolerance. That location searches a region (the box of the observed stations widened by the
locator's ``search_margin_km``, depths from 0 to the deepest searched, or the fixed depth)
and its solution lies inside it. If no point of that region, with any origin time, leaves
every residual within its tolerance, the location cannot fit, and need not be made.

How it is decided
-----------------
At a source position ``x`` the residuals ``t_i - T_i(x) - t0`` all fit for some origin time
``t0`` exactly when ``max_i (t_i - T_i(x) - tol_i) <= min_i (t_i - T_i(x) + tol_i)``. The
region is cut into cells; over a cell every ``T_i`` stays within ``e_i`` of its value at the
cell's centre, ``e_i`` being the table's steepest slopes (of its bilinear surface, by
distance and by depth) times the cell's reach from its centre (a bound on the great-circle
distance to any of its points, and its half-height). A cell whose centre fails the test
even with the ``e_i`` added is empty of solutions; the others are halved in every
dimension, and so on. No cell left: nothing fits (``False``). A centre that fits outright,
too many cells, or cells smaller than ``_SMALLEST_KM``: it may fit (``True``). So ``False``
is a proof, ``True`` only a "perhaps".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from detection._geo import EARTH_RADIUS_KM, distance_km
from detection._locate import LocatorConfig, Observation, StationCoordinates, search_box
from detection._traveltime import TravelTimeTable

__all__ = ["SolutionBound"]

Float64Array = NDArray[np.float64]
_KM_PER_DEG = math.pi / 180.0 * EARTH_RADIUS_KM
_FIRST_CELL_KM = 40.0
"""Size of the first cells, km (horizontally and in depth)."""
_MAX_CELLS = 50_000
"""More cells than this at one level: give up (the location decides)."""
_SMALLEST_KM = 0.25
"""Cells this small and still undecided: give up."""
_ROUNDING_S = 1e-6
"""Seconds allowed for rounding (the residuals are differences of POSIX times)."""


class SolutionBound:
    """Decides, for a travel-time table, whether arrivals may have a solution that fits.

    Parameters
    ----------
    table : TravelTimeTable
        The travel times the locator uses.
    """

    def __init__(self, table: TravelTimeTable) -> None:
        self._table = table
        times = np.stack([table.p, table.s])
        # steepest slopes of the bilinear surface, P then S (a hair more, for rounding)
        dx = float(table.distances_km[1] - table.distances_km[0])
        dz = float(table.depths_km[1] - table.depths_km[0])
        self._by_distance = np.abs(np.diff(times, axis=2)).max(axis=(1, 2)) / dx * (1 + 1e-9)
        self._by_depth = np.abs(np.diff(times, axis=1)).max(axis=(1, 2)) / dz * (1 + 1e-9)

    def may_fit(
        self,
        observations: Sequence[Observation],
        tolerances: Sequence[float],
        stations: Mapping[str, StationCoordinates],
        config: LocatorConfig,
    ) -> bool:
        """Whether ``locate(observations, stations, table, config)`` may return an origin
        whose residuals are all within ``tolerances`` (seconds, one per observation).

        ``False`` only when no source in the region ``locate`` searches, at any origin
        time, explains every observation within its tolerance.
        """
        table = self._table
        coords = [stations[o.station] for o in observations]
        lat = np.array([c.latitude for c in coords], dtype=np.float64)
        lon = np.array([c.longitude for c in coords], dtype=np.float64)
        is_s = np.array([o.phase == "S" for o in observations])
        delay = table.elevation_delay(is_s, np.array([c.elevation_km for c in coords]))
        t_ref = min(o.time for o in observations)
        t = np.array([o.time - t_ref for o in observations], dtype=np.float64)
        tol = np.asarray(tolerances, dtype=np.float64) + _ROUNDING_S
        phase = is_s.astype(np.intp)
        by_distance, by_depth = self._by_distance[phase], self._by_depth[phase]

        # the region locate searches (its solution stays inside it)
        south, north, west, east = search_box(lat, lon, config)
        fixed = len(observations) < config.min_phases_free_depth or (
            len({o.station for o in observations}) < 3
        )
        deepest = min(config.max_depth_km or table.max_depth_km, table.max_depth_km)
        top, bottom = (config.fixed_depth_km,) * 2 if fixed else (0.0, deepest)
        cos_mid = max(math.cos(math.radians(0.5 * (south + north))), 0.05)
        n_lat = max(1, math.ceil((north - south) * _KM_PER_DEG / _FIRST_CELL_KM))
        n_lon = max(1, math.ceil((east - west) * _KM_PER_DEG * cos_mid / _FIRST_CELL_KM))
        n_z = max(1, math.ceil((bottom - top) / _FIRST_CELL_KM))
        h_lat, h_lon, h_z = (
            (north - south) / (2 * n_lat),
            (east - west) / (2 * n_lon),
            ((bottom - top) / (2 * n_z)),
        )
        c_lat, c_lon, c_z = (
            a.ravel()
            for a in np.meshgrid(
                south + h_lat * (2 * np.arange(n_lat) + 1),
                west + h_lon * (2 * np.arange(n_lon) + 1),
                top + h_z * (2 * np.arange(n_z) + 1),
                indexing="ij",
            )
        )
        first = True
        while True:
            d = distance_km(c_lat[:, None], c_lon[:, None], lat[None, :], lon[None, :])
            base = t[None, :] - (table.time(is_s[None, :], d, c_z[:, None]) + delay[None, :])
            if np.any((base - tol).max(axis=1) <= (base + tol).min(axis=1)):
                return True  # a centre fits outright
            reach = _reach_km(c_lat, h_lat, h_lon)
            if first and float((d + reach[:, None]).max()) > table.max_distance_km:
                return True  # beyond the table the depth slope is not bounded
            first = False
            spread = reach[:, None] * by_distance[None, :] + h_z * by_depth[None, :]
            open_ = (base - tol - spread).max(axis=1) <= (base + tol + spread).min(axis=1)
            if not open_.any():
                return False
            if 8 * int(open_.sum()) > _MAX_CELLS or float(reach.max()) < _SMALLEST_KM:
                return True
            c_lat, c_lon, c_z = c_lat[open_], c_lon[open_], c_z[open_]
            h_lat, h_lon, h_z = h_lat / 2, h_lon / 2, h_z / 2
            o_lat, o_lon, o_z = (
                a.ravel()
                for a in np.meshgrid(
                    [-h_lat, h_lat],
                    [-h_lon, h_lon],
                    [-h_z, h_z] if h_z > 0 else [0.0],
                    indexing="ij",
                )
            )
            c_lat = (c_lat[:, None] + o_lat[None, :]).ravel()
            c_lon = (c_lon[:, None] + o_lon[None, :]).ravel()
            c_z = (c_z[:, None] + o_z[None, :]).ravel()


def _reach_km(c_lat: Float64Array, h_lat: float, h_lon: float) -> Float64Array:
    """Farthest great-circle distance, km, from a cell's centre to any of its points (cells
    ``h_lat`` and ``h_lon`` degrees either side of centres at latitudes ``c_lat``).

    The haversine of the distance is ``sin²(Δφ/2) + cos φ0 cos φ sin²(Δλ/2)``, at most
    ``sin²(h_lat/2) + c² sin²(h_lon/2)`` with ``c`` the largest cosine of a latitude in the
    cell."""
    nearest_equator = np.maximum(np.abs(c_lat) - h_lat, 0.0)
    c = np.cos(np.radians(np.minimum(nearest_equator, 90.0)))
    h = math.sin(math.radians(h_lat) / 2) ** 2 + c**2 * math.sin(math.radians(h_lon) / 2) ** 2
    out: Float64Array = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return out * (1 + 1e-9) + 1e-9
