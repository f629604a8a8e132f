"""The association's voting grid: P travel times from a lattice of source positions.

The lattice covers the stations' box widened by a margin, at every depth step. A station's
P times (and what a cell's extent can change them by) are needed only for the nodes within
``reach_km`` of it, north-south and east-west: they are computed when the station first
votes and kept while they fit a memory budget (least recently used dropped first). A small
network's stations reach the whole lattice, so every vote sees every node; a network of
thousands of stations holds a few of them at a time instead of nodes x stations numbers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detection._geo import azimuth_deg, distance_km
from detection._traveltime import TravelTimeTable

Float32Array = NDArray[np.float32]
Float64Array = NDArray[np.float64]

_KM_PER_DEG = 111.19492664455873
_BUDGET_BYTES = 64 * 2**20
"""Memory the stations' kept columns may take together."""


@dataclass(frozen=True)
class _Column:
    """One station's P times over its window of the lattice."""

    rows: slice  # latitude indices
    cols: slice  # longitude indices
    time: Float32Array  # (rows, cols, depths)
    slack: Float32Array  # (rows, cols, depths, 3): the gradient times the half cell

    @property
    def nbytes(self) -> int:
        return int(self.time.nbytes + self.slack.nbytes)


@dataclass(frozen=True)
class Window:
    """The nodes a vote looks at (a station's window) and every voter's numbers on them.

    ``time[:, k]`` and ``slack[:, k, :]`` belong to the k-th station asked for; NaN where a
    node is beyond that station's reach (it cannot vote there).
    """

    lat: Float64Array
    lon: Float64Array
    depth: Float64Array
    time: Float32Array  # (nodes, stations)
    slack: Float32Array  # (nodes, stations, 3)

    def node(self, index: int) -> tuple[float, float, float]:
        """Latitude, longitude and depth of a node of the window."""
        i, j, d = np.unravel_index(index, (self.lat.size, self.lon.size, self.depth.size))
        return float(self.lat[i]), float(self.lon[j]), float(self.depth[d])


class VotingGrid:
    """P travel times from the lattice's nodes to the stations, by station window.

    Parameters
    ----------
    lat, lon, elevation_km : ndarray
        The stations' coordinates, in station index order.
    table : TravelTimeTable
    spacing_km, depth_step_km : float
        Horizontal and vertical steps of the lattice.
    margin_km : float
        How far the lattice extends beyond the stations' box.
    max_depth_km : float
    reach_km : float
        How far from a station (north-south and east-west) its P picks vote.
    """

    def __init__(
        self,
        lat: Float64Array,
        lon: Float64Array,
        elevation_km: Float64Array,
        table: TravelTimeTable,
        *,
        spacing_km: float,
        depth_step_km: float,
        margin_km: float,
        max_depth_km: float,
        reach_km: float,
    ) -> None:
        self._sta_lat, self._sta_lon = lat, lon
        self._table = table
        self._delay = table.elevation_delay(False, elevation_km)
        mid = float(lat.mean())
        self._cos_mid = max(math.cos(math.radians(mid)), 0.05)
        self._lat = np.arange(
            lat.min() - margin_km / _KM_PER_DEG,
            lat.max() + margin_km / _KM_PER_DEG + 1e-9,
            spacing_km / _KM_PER_DEG,
        )
        self._lon = np.arange(
            lon.min() - margin_km / (_KM_PER_DEG * self._cos_mid),
            lon.max() + margin_km / (_KM_PER_DEG * self._cos_mid) + 1e-9,
            spacing_km / (_KM_PER_DEG * self._cos_mid),
        )
        self._depth = np.arange(0.0, max_depth_km + 1e-9, depth_step_km)
        self._half = np.array([spacing_km / 2, spacing_km / 2, depth_step_km / 2], np.float32)
        self._reach = reach_km
        self._kept: OrderedDict[int, _Column] = OrderedDict()
        self._kept_bytes = 0

    @property
    def kept_bytes(self) -> int:
        """Memory the kept station columns take."""
        return self._kept_bytes

    def window(self, station: int, voters: Sequence[int]) -> Window:
        """The nodes within reach of ``station`` and the voters' P times on them."""
        own = self._column(station)
        lat, lon = self._lat[own.rows], self._lon[own.cols]
        shape = (lat.size, lon.size, self._depth.size)
        time = np.full((*shape, len(voters)), np.nan, np.float32)
        slack = np.full((*shape, len(voters), 3), np.nan, np.float32)
        for k, voter in enumerate(voters):
            col = self._column(voter)
            rows = _overlap(own.rows, col.rows)
            cols = _overlap(own.cols, col.cols)
            if rows is None or cols is None:
                continue
            (mine_r, theirs_r), (mine_c, theirs_c) = rows, cols
            time[mine_r, mine_c, :, k] = col.time[theirs_r, theirs_c]
            slack[mine_r, mine_c, :, k] = col.slack[theirs_r, theirs_c]
        n = lat.size * lon.size * self._depth.size
        return Window(
            lat=lat,
            lon=lon,
            depth=self._depth,
            time=time.reshape(n, len(voters)),
            slack=slack.reshape(n, len(voters), 3),
        )

    def _column(self, station: int) -> _Column:
        col = self._kept.get(station)
        if col is not None:
            self._kept.move_to_end(station)
            return col
        col = self._compute(station)
        self._kept[station] = col
        self._kept_bytes += col.nbytes
        while self._kept_bytes > _BUDGET_BYTES and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._kept_bytes -= old.nbytes
        return col

    def _compute(self, station: int) -> _Column:
        slat, slon = float(self._sta_lat[station]), float(self._sta_lon[station])
        dlat = self._reach / _KM_PER_DEG
        dlon = self._reach / (_KM_PER_DEG * self._cos_mid)
        rows = _span(self._lat, slat - dlat, slat + dlat)
        cols = _span(self._lon, slon - dlon, slon + dlon)
        glat, glon, gz = np.meshgrid(
            self._lat[rows], self._lon[cols], self._depth, indexing="ij", sparse=False
        )
        d = distance_km(glat, glon, slat, slon)
        az = np.radians(azimuth_deg(glat, glon, slat, slon))
        t, gx, gzz = self._table.time_gradient(False, d, gz)
        time = (t + self._delay[station]).astype(np.float32)
        grad = np.stack([-gx * np.sin(az), -gx * np.cos(az), gzz], axis=-1)
        return _Column(rows, cols, time, grad.astype(np.float32) * self._half)


def _span(axis: Float64Array, low: float, high: float) -> slice:
    """The indices of ``axis`` (ascending) within [low, high]."""
    start = int(np.searchsorted(axis, low - 1e-9, side="left"))
    stop = int(np.searchsorted(axis, high + 1e-9, side="right"))
    return slice(start, max(stop, start))


def _overlap(mine: slice, theirs: slice) -> tuple[slice, slice] | None:
    """Where two index ranges of one axis meet: as slices of each."""
    start, stop = max(mine.start, theirs.start), min(mine.stop, theirs.stop)
    if start >= stop:
        return None
    return slice(start - mine.start, stop - mine.start), slice(
        start - theirs.start, stop - theirs.start
    )
