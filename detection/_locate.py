"""Earthquake location: a grid search over latitude, longitude and depth, refined, then polished.

How it works
------------
1. A coarse grid covers the stations' box widened by ``search_margin_km`` and depths from 0 to
   the table's deepest source. At each node the origin time that minimises the weighted L1
   misfit is the weighted median of ``t_obs - T``; the misfit is the weighted sum of absolute
   residuals (each residual divided by its pick's uncertainty), so a bad pick pulls far less
   than in least squares.
2. The few best, mutually distant nodes are refined by grids three times finer around them,
   down to ``final_spacing_km``; the best of them is kept.
3. Gauss-Newton with Huber weights (iteratively re-weighted, Levenberg-damped) polishes the
   hypocentre off the grid, using the table's derivatives.
4. The covariance of the linearised problem gives the errors: the 68 % confidence ellipse of
   the epicentre and the depth and origin-time standard errors, scaled up by the residuals
   when they are larger than the picks' uncertainties say. From fewer than four stations
   the misfit has long valleys (depth against distance) and mirror-image minima the
   linearisation does not see: the errors are then the second moments of the likelihood
   ``exp(-chi2 / 2)`` on grids around the solution, as NonLinLoc's covariance of its PDF,
   with the model's error added to the picks' uncertainties.

With fewer than ``min_phases`` phases or at most one station the event is not located; with
fewer than ``min_phases_free_depth`` phases (or fewer than three stations) the depth is fixed
at ``fixed_depth_km`` and only the epicentre and origin time are solved for. The result says
which, and why.

Quality grades follow HYPO71 (Lee & Lahr 1975): a solution grade from the RMS and the
horizontal and vertical errors, a station-distribution grade from the number of stations, the
azimuthal gap and the nearest station's distance, combined as their mean rounded down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from detection._geo import azimuth_deg, destination, distance_km
from detection._traveltime import TravelTimeTable

_BLOCK_VALUES = 1 << 20
"""Largest nodes-by-observations array a misfit evaluation makes at once (8 MB a float64)."""
_COARSE_OBSERVATIONS = 60
"""Observations the coarse grid uses at most: the earliest (see ``_first_heard``)."""

__all__ = [
    "LocatedArrival",
    "LocatorConfig",
    "Observation",
    "Origin",
    "StationCoordinates",
    "locate",
    "predicted_arrivals",
]

Float64Array = NDArray[np.float64]
PhaseName = Literal["P", "S"]
LocationStatus = Literal["free", "fixed_depth", "not_located"]

_ELLIPSE_68 = math.sqrt(-2.0 * math.log(1.0 - 0.683))
"""Scale of the 1-sigma ellipse to 68.3 % confidence in two dimensions (chi-square, 2 dof)."""
_KM_PER_DEG = math.pi / 180.0 * 6371.0
_FEW_STATIONS = 4
"""A free solution from fewer stations says so in its ``reason``."""


@dataclass(frozen=True)
class StationCoordinates:
    """Where a station is: degrees, and km above the model's surface (sea level)."""

    latitude: float
    longitude: float
    elevation_km: float = 0.0


@dataclass(frozen=True)
class Observation:
    """One phase arrival offered to the locator.

    Attributes
    ----------
    station : str
        Station id, a key of the stations mapping.
    phase : {"P", "S"}
    time : float
        Arrival time, POSIX seconds.
    uncertainty : float
        One-sigma uncertainty of the time, seconds (weights the arrival by its inverse).
    key : int
        The caller's id of the pick (opaque here).
    """

    station: str
    phase: PhaseName
    time: float
    uncertainty: float = 0.1
    key: int = -1


@dataclass(frozen=True)
class LocatorConfig:
    """How the locator searches and what it refuses to do.

    Attributes
    ----------
    min_phases : int
        Fewer phases: not located.
    min_phases_free_depth : int
        Fewer phases (or fewer than three stations): the depth is fixed at ``fixed_depth_km``.
    fixed_depth_km : float
        Depth of a fixed-depth solution, km.
    max_depth_km : float or None
        Deepest source searched, km (``None``: the table's deepest).
    search_margin_km : float
        The coarse grid covers the stations' box widened by this much on every side.
    grid_spacing_km, depth_spacing_km : float
        Steps of the coarse grid.
    final_spacing_km : float
        The grid refinement stops at this horizontal step (the polish goes further).
    huber : float
        Residuals larger than this many pick uncertainties are down-weighted (Huber).
    candidates : int
        Distinct coarse minima refined (guards against a wrong local minimum).
    likelihood_errors : bool
        A free solution from fewer than four stations takes its errors from a grid of its
        likelihood around it rather than from the linearised problem (a few ms to tens of
        ms more); without it they are the linearised ones.
    p_model_error_s, s_model_error_s : float
        How far the velocity model's times may be off, seconds: added in quadrature to the
        picks' uncertainties in those likelihood errors (a few spare phases cannot show
        the model's error in the residuals).
    """

    min_phases: int = 3
    min_phases_free_depth: int = 5
    fixed_depth_km: float = 10.0
    max_depth_km: float | None = None
    search_margin_km: float = 200.0
    grid_spacing_km: float = 20.0
    depth_spacing_km: float = 20.0
    final_spacing_km: float = 0.5
    huber: float = 1.5
    candidates: int = 4
    likelihood_errors: bool = True
    p_model_error_s: float = 0.0
    s_model_error_s: float = 0.0

    def __post_init__(self) -> None:
        if self.min_phases < 3:
            raise ValueError(f"need min_phases >= 3, got {self.min_phases}")
        if self.min_phases_free_depth < 4:
            raise ValueError(f"need min_phases_free_depth >= 4, got {self.min_phases_free_depth}")
        for name in ("p_model_error_s", "s_model_error_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"need a finite {name} >= 0, got {value}")
        for name in ("grid_spacing_km", "depth_spacing_km", "final_spacing_km", "huber"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"need a finite {name} > 0, got {value}")
        if not (math.isfinite(self.search_margin_km) and self.search_margin_km >= 0):
            raise ValueError(f"need search_margin_km >= 0, got {self.search_margin_km}")
        if not (math.isfinite(self.fixed_depth_km) and self.fixed_depth_km >= 0):
            raise ValueError(f"need fixed_depth_km >= 0, got {self.fixed_depth_km}")
        if self.candidates < 1:
            raise ValueError(f"need candidates >= 1, got {self.candidates}")


@dataclass(frozen=True)
class LocatedArrival:
    """An observation as the origin explains it.

    Attributes
    ----------
    key, station, phase, time, uncertainty :
        As in the :class:`Observation`.
    residual : float
        Observed minus predicted time, seconds.
    weight : float
        Final Huber weight in [0, 1] (1: fully used).
    distance_km : float
        Epicentral distance to the station.
    azimuth : float
        Azimuth from the epicentre to the station, degrees.
    """

    key: int
    station: str
    phase: PhaseName
    time: float
    uncertainty: float
    residual: float
    weight: float
    distance_km: float
    azimuth: float


@dataclass(frozen=True)
class Origin:
    """A located (or, with the reason, unlocated) hypocentre.

    Errors are one standard deviation except the ellipse, which is the 68.3 % confidence
    ellipse of the epicentre. ``None`` where the solution cannot say (fixed or unlocated).

    Attributes
    ----------
    status : {"free", "fixed_depth", "not_located"}
    reason : str
        Why the depth is fixed or the event not located; for a free solution from three
        stations, that it rests on three stations ("" otherwise).
    time : float
        Origin time, POSIX seconds (NaN if not located).
    latitude, longitude : float
        Epicentre, degrees (NaN if not located).
    depth_km : float
        Below the model's surface (sea level).
    rms : float
        Root mean square of the residuals, seconds.
    n_phases, n_stations : int
        Phases and distinct stations used.
    azimuthal_gap : float
        Largest azimuth, degrees, between stations seen from the epicentre.
    min_distance_km, max_distance_km : float
        Epicentral distance to the nearest and farthest station used.
    time_error_s, latitude_error_km, longitude_error_km, depth_error_km : float or None
    semi_major_km, semi_minor_km, ellipse_azimuth : float or None
        68.3 % confidence ellipse of the epicentre; azimuth of its major axis, degrees.
    quality : str
        HYPO71 grade A (best) to D; "-" if not located.
    arrivals : tuple of LocatedArrival
    """

    status: LocationStatus
    reason: str
    time: float
    latitude: float
    longitude: float
    depth_km: float
    rms: float
    n_phases: int
    n_stations: int
    azimuthal_gap: float
    min_distance_km: float
    max_distance_km: float
    time_error_s: float | None
    latitude_error_km: float | None
    longitude_error_km: float | None
    depth_error_km: float | None
    semi_major_km: float | None
    semi_minor_km: float | None
    ellipse_azimuth: float | None
    quality: str
    arrivals: tuple[LocatedArrival, ...]

    @property
    def located(self) -> bool:
        return self.status != "not_located"

    @property
    def horizontal_error_km(self) -> float | None:
        """HYPO71's ERH: the root sum of squares of the latitude and longitude errors."""
        if self.latitude_error_km is None or self.longitude_error_km is None:
            return None
        return math.hypot(self.latitude_error_km, self.longitude_error_km)


@dataclass
class _Problem:
    lat: Float64Array  # per observation: its station's coordinates
    lon: Float64Array
    elev: Float64Array
    is_s: NDArray[np.bool_]
    t: Float64Array  # seconds after t_ref
    w: Float64Array  # 1 / sigma
    table: TravelTimeTable
    delay: Float64Array
    bounds: tuple[float, float, float, float] = (-90.0, 90.0, -math.inf, math.inf)
    """Latitude and longitude limits of the search: the stations' box and the margin."""

    def clamp(self, lat: float, lon: float) -> tuple[float, float]:
        return (
            min(max(lat, self.bounds[0]), self.bounds[1]),
            min(max(lon, self.bounds[2]), self.bounds[3]),
        )

    def subset(self, keep: NDArray[np.intp]) -> _Problem:
        """The problem of some of the observations (the search box of their stations)."""
        return _Problem(
            lat=self.lat[keep],
            lon=self.lon[keep],
            elev=self.elev[keep],
            is_s=self.is_s[keep],
            t=self.t[keep],
            w=self.w[keep],
            table=self.table,
            delay=self.delay[keep],
        )

    def misfit(
        self, lat: Float64Array, lon: Float64Array, depth: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        """L1 misfit and best origin time of every node (1-D arrays of nodes), a block of
        nodes at a time so that the nodes-by-observations arrays stay within
        ``_BLOCK_VALUES`` values."""
        step = max(1, _BLOCK_VALUES // max(self.t.size, 1))
        if lat.size <= step:
            return self._misfit(lat, lon, depth)
        parts = [
            self._misfit(lat[i : i + step], lon[i : i + step], depth[i : i + step])
            for i in range(0, lat.size, step)
        ]
        return np.concatenate([c for c, _ in parts]), np.concatenate([t for _, t in parts])

    def _misfit(
        self, lat: Float64Array, lon: Float64Array, depth: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        d = distance_km(lat[:, None], lon[:, None], self.lat[None, :], self.lon[None, :])
        tt = self.table.time(self.is_s[None, :], d, depth[:, None]) + self.delay[None, :]
        base = self.t[None, :] - tt
        t0 = _weighted_median(base, self.w)
        return np.abs(base - t0[:, None]) @ self.w, t0


def _weighted_median(values: Float64Array, weights: Float64Array) -> Float64Array:
    order = np.argsort(values, axis=1)
    v = np.take_along_axis(values, order, axis=1)
    c = np.cumsum(weights[order], axis=1)
    idx = np.argmax(c >= 0.5 * c[:, -1:], axis=1)
    out: Float64Array = v[np.arange(v.shape[0]), idx]
    return out


def locate(
    observations: Sequence[Observation],
    stations: Mapping[str, StationCoordinates],
    table: TravelTimeTable,
    config: LocatorConfig | None = None,
    *,
    start: tuple[float, float, float] | None = None,
) -> Origin:
    """Locate one event from its phase arrivals.

    Parameters
    ----------
    observations : sequence of Observation
        The arrivals; at most one per station and phase is expected (the caller chooses).
    stations : mapping of str to StationCoordinates
        Coordinates of (at least) every observed station.
    table : TravelTimeTable
        Travel times of the velocity model.
    config : LocatorConfig, optional
    start : (latitude, longitude, depth_km), optional
        A previous solution: search only around it (within ten-odd km, an update with one
        more pick) instead of the whole region.

    Returns
    -------
    Origin
        ``status`` says whether the depth was free, fixed, or the event not located.

    Raises
    ------
    ValueError
        If an observation's station has no coordinates, or a time or uncertainty is not a
        finite number (uncertainties must be positive).
    """
    cfg = config or LocatorConfig()
    obs = list(observations)
    for o in obs:
        if o.station not in stations:
            raise ValueError(f"no coordinates for station {o.station!r}")
        if not (math.isfinite(o.time) and math.isfinite(o.uncertainty) and o.uncertainty > 0):
            raise ValueError(
                f"need a finite time and an uncertainty > 0, got {o.station} {o.phase} "
                f"time={o.time} uncertainty={o.uncertainty}"
            )
        if o.phase not in ("P", "S"):
            raise ValueError(f"phase must be 'P' or 'S', got {o.phase!r}")
    n_stations = len({o.station for o in obs})
    if len(obs) < cfg.min_phases or n_stations < 2:
        n_s = sum(o.phase == "S" for o in obs)
        return _unlocated(
            obs,
            f"{len(obs)} phases ({len(obs) - n_s} P, {n_s} S) at {n_stations} stations: a "
            f"location needs at least {cfg.min_phases} phases at 2 stations",
        )
    fixed = len(obs) < cfg.min_phases_free_depth or n_stations < 3
    if fixed:
        reason = (
            f"depth fixed at {cfg.fixed_depth_km:g} km: {len(obs)} phases at {n_stations} "
            f"stations (a free depth needs {cfg.min_phases_free_depth} phases at 3 stations)"
        )
    elif n_stations < _FEW_STATIONS:
        reason = (
            f"{n_stations} stations only: {len(obs)} phases for 4 unknowns, little "
            "redundancy (errors from the picks' uncertainties)"
        )
    else:
        reason = ""
    t_ref = min(o.time for o in obs)
    coords = [stations[o.station] for o in obs]
    is_s = np.array([o.phase == "S" for o in obs])
    elev = np.array([c.elevation_km for c in coords], dtype=np.float64)
    problem = _Problem(
        lat=np.array([c.latitude for c in coords], dtype=np.float64),
        lon=np.array([c.longitude for c in coords], dtype=np.float64),
        elev=elev,
        is_s=is_s,
        t=np.array([o.time - t_ref for o in obs], dtype=np.float64),
        w=np.array([1.0 / o.uncertainty for o in obs], dtype=np.float64),
        table=table,
        delay=table.elevation_delay(is_s, elev),
    )
    problem.bounds = _bounds(problem, cfg)
    max_depth = min(cfg.max_depth_km or table.max_depth_km, table.max_depth_km)
    depth_range = (cfg.fixed_depth_km, cfg.fixed_depth_km) if fixed else (0.0, max_depth)
    if start is None:
        found = _global_search(problem, cfg, depth_range)
    else:
        lat0, lon0, z0 = start
        lat0, lon0 = problem.clamp(lat0, lon0)
        z0 = cfg.fixed_depth_km if fixed else min(max(z0, 0.0), max_depth)
        found = _refine(problem, (lat0, lon0, z0), cfg.grid_spacing_km / 6, cfg, depth_range)
    lat, lon, depth, t0 = _polish(problem, found, cfg, depth_range)
    return _origin(obs, problem, t_ref, (lat, lon, depth, t0), cfg, fixed, reason)


def predicted_arrivals(
    origin: Origin, stations: Mapping[str, StationCoordinates], table: TravelTimeTable
) -> dict[str, tuple[float, float, float]]:
    """The P and S arrival times a located origin predicts at stations, picked or not.

    Parameters
    ----------
    origin : Origin
        A located origin (free or fixed depth).
    stations : mapping of str to StationCoordinates
        The stations to predict at.
    table : TravelTimeTable
        The travel times the origin was located with.

    Returns
    -------
    dict of str to (float, float, float)
        Per station: the P time and the S time (POSIX seconds, the elevation's delay
        included, as the locator predicts them) and the epicentral distance, km.

    Raises
    ------
    ValueError
        If the origin is not located.
    """
    if not origin.located:
        raise ValueError(f"an origin not located predicts no arrivals ({origin.reason})")
    names = list(stations)
    if not names:
        return {}
    lat = np.array([stations[n].latitude for n in names])
    lon = np.array([stations[n].longitude for n in names])
    elev = np.array([stations[n].elevation_km for n in names])
    d = distance_km(origin.latitude, origin.longitude, lat, lon)
    times = []
    for is_s in (False, True):
        travel = table.time(is_s, d, origin.depth_km) + table.elevation_delay(is_s, elev)
        times.append(origin.time + travel)
    return {n: (float(times[0][i]), float(times[1][i]), float(d[i])) for i, n in enumerate(names)}


def _unlocated(obs: Sequence[Observation], reason: str) -> Origin:
    nan = math.nan
    arrivals = tuple(
        LocatedArrival(o.key, o.station, o.phase, o.time, o.uncertainty, nan, 0.0, nan, nan)
        for o in obs
    )
    return Origin(
        status="not_located",
        reason=reason,
        time=nan,
        latitude=nan,
        longitude=nan,
        depth_km=nan,
        rms=nan,
        n_phases=len(obs),
        n_stations=len({o.station for o in obs}),
        azimuthal_gap=360.0,
        min_distance_km=nan,
        max_distance_km=nan,
        time_error_s=None,
        latitude_error_km=None,
        longitude_error_km=None,
        depth_error_km=None,
        semi_major_km=None,
        semi_minor_km=None,
        ellipse_azimuth=None,
        quality="-",
        arrivals=arrivals,
    )


def _axis(low: float, high: float, step: float) -> Float64Array:
    n = max(math.ceil((high - low) / step), 0) + 1
    return np.linspace(low, low + (n - 1) * step, n) if n > 1 else np.array([low])


def _bounds(problem: _Problem, cfg: LocatorConfig) -> tuple[float, float, float, float]:
    return search_box(problem.lat, problem.lon, cfg)


def search_box(
    lat: Float64Array, lon: Float64Array, cfg: LocatorConfig
) -> tuple[float, float, float, float]:
    """South, north, west and east limits of the search for observations at stations of
    these latitudes and longitudes (one per observation, in their order): the stations' box
    widened by ``search_margin_km``. The solution stays within it."""
    lat_mid = float(np.mean(lat))
    dlat = cfg.search_margin_km / _KM_PER_DEG
    dlon = cfg.search_margin_km / (_KM_PER_DEG * max(math.cos(math.radians(lat_mid)), 0.05))
    return (
        max(float(lat.min()) - dlat, -89.0),
        min(float(lat.max()) + dlat, 89.0),
        float(lon.min()) - dlon,
        float(lon.max()) + dlon,
    )


def _first_heard(problem: _Problem, cfg: LocatorConfig) -> _Problem:
    """The coarse grid's problem: with more than ``_COARSE_OBSERVATIONS`` observations, those
    of the stations that heard the event first (the source is near them), searched over
    their own box; the candidates are then refined with every observation."""
    if problem.t.size <= _COARSE_OBSERVATIONS:
        return problem
    first = np.argsort(problem.t - problem.delay, kind="stable")[:_COARSE_OBSERVATIONS]
    part = problem.subset(np.sort(first))
    part.bounds = _bounds(part, cfg)
    return part


def _global_search(
    problem: _Problem, cfg: LocatorConfig, depth_range: tuple[float, float]
) -> tuple[float, float, float]:
    coarse = _first_heard(problem, cfg)
    lat_mid = float(np.mean(coarse.lat))
    south, north, west, east = coarse.bounds
    lats = _axis(south, north, cfg.grid_spacing_km / _KM_PER_DEG)
    lon_step = cfg.grid_spacing_km / (_KM_PER_DEG * max(math.cos(math.radians(lat_mid)), 0.05))
    lons = _axis(west, east, lon_step)
    depths = _axis(depth_range[0], depth_range[1], cfg.depth_spacing_km)
    depths = np.unique(np.clip(np.append(depths, depth_range[1]), *depth_range))
    glat, glon, gz = (a.ravel() for a in np.meshgrid(lats, lons, depths, indexing="ij"))
    cost, _ = coarse.misfit(glat, glon, gz)
    order = np.argsort(cost)
    chosen: list[int] = []
    for i in order:
        if len(chosen) == cfg.candidates:
            break
        far = all(
            float(distance_km(glat[i], glon[i], glat[j], glon[j])) > 1.5 * cfg.grid_spacing_km
            or abs(gz[i] - gz[j]) > 1.5 * cfg.depth_spacing_km
            for j in chosen
        )
        if far:
            chosen.append(int(i))
    best: tuple[float, tuple[float, float, float]] | None = None
    for i in chosen:
        point = (float(glat[i]), float(glon[i]), float(gz[i]))
        refined = _refine(coarse, point, cfg.grid_spacing_km / 3, cfg, depth_range)
        c = float(coarse.misfit(*(np.array([v]) for v in refined))[0][0])
        if best is None or c < best[0]:
            best = (c, refined)
    assert best is not None
    if coarse is problem:
        return best[1]
    # the candidates were told apart by the first stations; every observation has its say
    return _refine(problem, best[1], cfg.grid_spacing_km / 9, cfg, depth_range)


def _refine(
    problem: _Problem,
    point: tuple[float, float, float],
    step_km: float,
    cfg: LocatorConfig,
    depth_range: tuple[float, float],
) -> tuple[float, float, float]:
    lat, lon, z = point
    hz = step_km * cfg.depth_spacing_km / cfg.grid_spacing_km
    offsets = np.arange(-3, 4, dtype=np.float64)
    while True:
        cos_lat = max(math.cos(math.radians(lat)), 0.05)
        dlat = offsets * step_km / _KM_PER_DEG
        dlon = offsets * step_km / (_KM_PER_DEG * cos_lat)
        depths = (
            np.clip(z + offsets * hz, *depth_range)
            if depth_range[0] < depth_range[1]
            else np.array([depth_range[0]])
        )
        south, north, west, east = problem.bounds
        glat, glon, gz = (
            a.ravel()
            for a in np.meshgrid(
                np.unique(np.clip(lat + dlat, south, north)),
                np.unique(np.clip(lon + dlon, west, east)),
                np.unique(depths),
                indexing="ij",
            )
        )
        cost, _ = problem.misfit(glat, glon, gz)
        i = int(np.argmin(cost))
        lat, lon, z = float(glat[i]), float(glon[i]), float(gz[i])
        if step_km <= cfg.final_spacing_km:
            return lat, lon, z
        step_km /= 3.0
        hz /= 3.0


def _predict(
    problem: _Problem, lat: float, lon: float, depth: float
) -> tuple[Float64Array, Float64Array, Float64Array, Float64Array, Float64Array]:
    """Predicted times (without origin time), their derivatives by east, north, depth, and
    the distances and azimuths to the stations."""
    d = distance_km(lat, lon, problem.lat, problem.lon)
    az = azimuth_deg(lat, lon, problem.lat, problem.lon)
    t, gx, gz = problem.table.time_gradient(problem.is_s, d, np.full_like(d, depth))
    a = np.radians(az)
    jac = np.column_stack([-gx * np.sin(a), -gx * np.cos(a), gz])
    return t + problem.delay, jac[:, 0], jac[:, 1], jac[:, 2], np.column_stack([d, az])


def _huber_weights(scaled: Float64Array, c: float) -> Float64Array:
    a = np.abs(scaled)
    out: Float64Array = np.where(a <= c, 1.0, c / np.maximum(a, 1e-12))
    return out


def _huber_loss(scaled: Float64Array, c: float) -> float:
    a = np.abs(scaled)
    return float(np.sum(np.where(a <= c, 0.5 * a**2, c * a - 0.5 * c**2)))


def _polish(
    problem: _Problem,
    point: tuple[float, float, float],
    cfg: LocatorConfig,
    depth_range: tuple[float, float],
) -> tuple[float, float, float, float]:
    lat, lon, z = point
    free_depth = depth_range[0] < depth_range[1]
    c = cfg.huber
    pred = _predict(problem, lat, lon, z)[0]
    t0 = float(_weighted_median((problem.t - pred)[None, :], problem.w)[0])
    loss = _huber_loss((problem.t - pred - t0) * problem.w, c)
    damping = 1e-3
    for _ in range(20):
        tt, jx, jy, jz, _geom = _predict(problem, lat, lon, z)
        r = problem.t - tt - t0
        scaled = r * problem.w
        w = problem.w**2 * _huber_weights(scaled, c)
        cols = [jx, jy] + ([jz] if free_depth else []) + [np.ones_like(jx)]
        jac = np.column_stack(cols)
        normal = jac.T @ (jac * w[:, None])
        rhs = jac.T @ (w * r)
        improved = False
        for _attempt in range(8):
            lhs = normal + damping * np.diag(np.diag(normal) + 1e-9)
            try:
                step = np.linalg.solve(lhs, rhs)
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            dx, dy = float(step[0]), float(step[1])
            dz = float(step[2]) if free_depth else 0.0
            dt = float(step[-1])
            moved = math.hypot(dx, dy)
            if moved > 0:
                nlat, nlon = destination(lat, lon, math.degrees(math.atan2(dx, dy)), moved)
                cand = problem.clamp(float(nlat), float(nlon))
            else:
                cand = (lat, lon)
            nz = min(max(z + dz, depth_range[0]), depth_range[1])
            npred = _predict(problem, cand[0], cand[1], nz)[0]
            nloss = _huber_loss((problem.t - npred - (t0 + dt)) * problem.w, c)
            if nloss <= loss:
                gain = loss - nloss
                lat, lon, z, t0, loss = cand[0], cand[1], nz, t0 + dt, nloss
                damping = max(damping / 3.0, 1e-6)
                improved = True
                small = (moved < 1e-3 and abs(dz) < 1e-3 and abs(dt) < 1e-5) or gain <= 1e-9 * (
                    1.0 + loss
                )
                break
            damping *= 10.0
        if not improved or small:
            break
    return lat, lon, z, t0


def _chi_square(
    problem: _Problem, lat: Float64Array, lon: Float64Array, depth: Float64Array
) -> tuple[Float64Array, Float64Array]:
    """Weighted least-squares misfit of every node (1-D arrays) and its best origin time."""
    d = distance_km(lat[:, None], lon[:, None], problem.lat[None, :], problem.lon[None, :])
    tt = problem.table.time(problem.is_s[None, :], d, depth[:, None]) + problem.delay[None, :]
    base = problem.t[None, :] - tt
    w2 = problem.w**2
    t0 = base @ w2 / w2.sum()
    out: Float64Array = ((base - t0[:, None]) ** 2) @ w2
    return out, t0


def _scan_errors(
    problem: _Problem,
    solution: tuple[float, float, float, float],
    depth_range: tuple[float, float],
    span_km: float,
) -> tuple[Float64Array, float]:
    """Second moments (east, north, depth, time) about the solution of the likelihood
    ``exp(-chi2 / 2)`` over a grid of ``span_km`` around it, and the largest likelihood on
    the grid's horizontal edge relative to the peak."""
    lat, lon, z, t0 = solution
    n = 25
    axis = np.linspace(-span_km, span_km, n)
    z_lo = max(depth_range[0], z - span_km)
    z_hi = min(depth_range[1], z + span_km)
    depths = np.linspace(z_lo, z_hi, n) if z_hi > z_lo else np.array([z])
    gx, gy, gz = (a.ravel() for a in np.meshgrid(axis, axis, depths, indexing="ij"))
    cos_lat = max(math.cos(math.radians(lat)), 0.05)
    glat = lat + gy / _KM_PER_DEG
    glon = lon + gx / (_KM_PER_DEG * cos_lat)
    chi2, gt = _chi_square(problem, glat, glon, gz)
    dof = problem.t.size - (4 if depths.size > 1 else 3)
    scale = max(1.0, float(chi2.min()) / dof) if dof > 0 else 1.0
    like = np.exp(-(chi2 - chi2.min()) / (2.0 * scale))
    like /= like.sum()
    offsets = np.column_stack([gx, gy, gz - z, gt - t0])
    moments: Float64Array = (offsets * like[:, None]).T @ offsets
    edge = (np.abs(gx) >= span_km) | (np.abs(gy) >= span_km)
    return moments, float(like[edge].max() / like.max())


def _likelihood_errors(
    problem: _Problem,
    solution: tuple[float, float, float, float],
    depth_range: tuple[float, float],
    linear: float | None,
) -> Float64Array:
    """Second moments of the hypocentre's likelihood about the solution, east, north, depth
    and origin time, from grids around it (as NonLinLoc's covariance of its PDF).

    With few stations the misfit has long valleys (depth against distance) and second
    minima (a mirror image across the stations' line) that the linearised covariance does
    not see. The grid starts at four times the linearised semi-major axis (within
    10-300 km) and widens while the likelihood on its edge is not negligible, then shrinks
    to three standard deviations to resolve a narrow peak."""
    span = min(max(4.0 * (linear or 0.0), 10.0), 300.0)
    moments, edge = _scan_errors(problem, solution, depth_range, span)
    while edge > 1e-3 and span < 300.0:
        span = min(2.0 * span, 300.0)
        moments, edge = _scan_errors(problem, solution, depth_range, span)
    sigma = math.sqrt(max(moments[0, 0], moments[1, 1], moments[2, 2]))
    if 3.0 * sigma < span / 2:
        moments, _ = _scan_errors(problem, solution, depth_range, max(3.0 * sigma, 1.0))
    return moments


def _gap(azimuths: Float64Array) -> float:
    if azimuths.size < 2:
        return 360.0
    a = np.sort(azimuths % 360.0)
    gaps = np.diff(np.append(a, a[0] + 360.0))
    return float(gaps.max())


def _grade_solution(rms: float, erh: float | None, erz: float | None) -> int:
    h = math.inf if erh is None else erh
    v = math.inf if erz is None else erz
    if rms < 0.15 and h <= 1.0 and v <= 2.0:
        return 0
    if rms < 0.30 and h <= 2.5 and v <= 5.0:
        return 1
    if rms < 0.50 and h <= 5.0:
        return 2
    return 3


def _grade_distribution(n_stations: int, gap: float, dmin: float, depth: float) -> int:
    if n_stations >= 6 and gap <= 90 and dmin <= max(depth, 5.0):
        return 0
    if n_stations >= 6 and gap <= 135 and dmin <= max(2 * depth, 10.0):
        return 1
    if n_stations >= 6 and gap <= 180 and dmin <= 50.0:
        return 2
    return 3


def _ellipse(cov: Float64Array) -> tuple[float, float, float]:
    """The 68.3 % confidence ellipse of a 2x2 east-north covariance: semi-major and
    semi-minor axes (km) and the major axis's azimuth (degrees, 0-180)."""
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, 0.0)
    east, north = vectors[0, 1], vectors[1, 1]
    return (
        _ELLIPSE_68 * math.sqrt(values[1]),
        _ELLIPSE_68 * math.sqrt(values[0]),
        math.degrees(math.atan2(east, north)) % 180.0,
    )


def _origin(
    obs: Sequence[Observation],
    problem: _Problem,
    t_ref: float,
    solution: tuple[float, float, float, float],
    cfg: LocatorConfig,
    fixed: bool,
    reason: str,
) -> Origin:
    lat, lon, z, t0 = solution
    tt, jx, jy, jz, geom = _predict(problem, lat, lon, z)
    r = problem.t - tt - t0
    scaled = r * problem.w
    hw = _huber_weights(scaled, cfg.huber)
    w = problem.w**2 * hw
    cols = [jx, jy] + ([] if fixed else [jz]) + [np.ones_like(jx)]
    jac = np.column_stack(cols)
    m = jac.shape[1]
    n = len(obs)
    errors: dict[str, float | None] = dict.fromkeys(
        ("x", "y", "z", "t", "major", "minor", "az"), None
    )
    try:
        cov = np.linalg.inv(jac.T @ (jac * w[:, None]))
    except np.linalg.LinAlgError:
        cov = None
    if cov is not None and n > m - 1 and np.all(np.isfinite(cov)):
        scale = max(1.0, float(np.sum(w * r**2)) / (n - m)) if n > m else 1.0
        cov = cov * scale
        errors["x"] = math.sqrt(max(cov[0, 0], 0.0))
        errors["y"] = math.sqrt(max(cov[1, 1], 0.0))
        errors["t"] = math.sqrt(max(cov[-1, -1], 0.0))
        if not fixed:
            errors["z"] = math.sqrt(max(cov[2, 2], 0.0))
        errors["major"], errors["minor"], errors["az"] = _ellipse(
            np.asarray(cov[:2, :2], dtype=np.float64)
        )
    if cfg.likelihood_errors and not fixed and len({o.station for o in obs}) < _FEW_STATIONS:
        depth_range = (
            0.0,
            min(cfg.max_depth_km or problem.table.max_depth_km, problem.table.max_depth_km),
        )
        sigma = 1.0 / problem.w
        model = np.where(problem.is_s, cfg.s_model_error_s, cfg.p_model_error_s)
        widened = replace(problem, w=1.0 / np.hypot(sigma, model))
        moments = _likelihood_errors(widened, solution, depth_range, errors["major"])
        errors["x"] = math.sqrt(moments[0, 0])
        errors["y"] = math.sqrt(moments[1, 1])
        errors["z"] = math.sqrt(moments[2, 2])
        errors["t"] = math.sqrt(moments[3, 3])
        errors["major"], errors["minor"], errors["az"] = _ellipse(moments[:2, :2])
    arrivals = tuple(
        LocatedArrival(
            key=o.key,
            station=o.station,
            phase=o.phase,
            time=o.time,
            uncertainty=o.uncertainty,
            residual=float(r[i]),
            weight=float(hw[i]),
            distance_km=float(geom[i, 0]),
            azimuth=float(geom[i, 1]),
        )
        for i, o in enumerate(obs)
    )
    dist = geom[:, 0]
    by_station = {o.station: (geom[i, 0], geom[i, 1]) for i, o in enumerate(obs)}
    gap = _gap(np.array([a for _, a in by_station.values()]))
    rms = float(np.sqrt(np.mean(r**2)))
    erh = (
        math.hypot(errors["x"], errors["y"])
        if errors["x"] is not None and errors["y"] is not None
        else None
    )
    qs = _grade_solution(rms, erh, errors["z"])
    qd = _grade_distribution(len(by_station), gap, float(dist.min()), z)
    quality = "ABCD"[min(3, math.ceil((qs + qd) / 2))]
    return Origin(
        status="fixed_depth" if fixed else "free",
        reason=reason,
        time=t_ref + t0,
        latitude=lat,
        longitude=lon,
        depth_km=z,
        rms=rms,
        n_phases=n,
        n_stations=len(by_station),
        azimuthal_gap=gap,
        min_distance_km=float(dist.min()),
        max_distance_km=float(dist.max()),
        time_error_s=errors["t"],
        latitude_error_km=errors["y"],
        longitude_error_km=errors["x"],
        depth_error_km=errors["z"],
        semi_major_km=errors["major"],
        semi_minor_km=errors["minor"],
        ellipse_azimuth=errors["az"],
        quality=quality,
        arrivals=arrivals,
    )
