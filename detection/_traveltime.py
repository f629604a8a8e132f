"""Travel times of the first P and the first S from a table over distance and source depth.

With a 1-D velocity model a travel time depends only on the epicentral distance and the
source depth, so a small table holds all of them. The table is built elsewhere (``ingest``
builds it with ObsPy's TauP from the configured model and caches it); here it is plain arrays,
interpolated bilinearly, vectorised, with the derivatives a locator needs.

Receivers are at the model's surface (depth 0). A station's elevation is accounted for by the
caller, e.g. with :meth:`TravelTimeTable.elevation_delay`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["TravelTimeTable"]

Float64Array = NDArray[np.float64]


def _uniform_axis(name: str, values: Float64Array) -> tuple[float, float]:
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"need at least two {name}, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite")
    steps = np.diff(values)
    step = float(steps.mean())
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=1e-9):
        raise ValueError(f"{name} must be increasing with a uniform step, got steps {steps[:5]}")
    if values[0] != 0.0:
        raise ValueError(f"{name} must start at 0, got {values[0]}")
    return float(values[0]), step


@dataclass(frozen=True, eq=False)
class TravelTimeTable:
    """First-arrival P and S travel times over (source depth, epicentral distance).

    Parameters
    ----------
    distances_km : array_like, shape (nx,)
        Epicentral distances, km: from 0, uniform step.
    depths_km : array_like, shape (nz,)
        Source depths below the model's surface, km: from 0, uniform step.
    p, s : array_like, shape (nz, nx)
        Travel times in seconds of the first P and of the first S.
    surface_vp, surface_vs : float
        Velocities at the top of the model, km/s (for station elevation delays).
    name : str
        What the table was built from (e.g. ``"pamir"``), for messages and provenance.

    Notes
    -----
    Interpolation is bilinear in (distance, depth): its error is at most an eighth of the
    grid step squared times the curvature of the travel-time surface, largest near the source
    (hundredths of a second for a 1 km x 2 km grid except within a few km of a shallow source).
    Beyond the largest distance the last cell's slope continues (build the table as far as you
    need); depths are clamped to the table's range.

    Raises
    ------
    ValueError
        If the axes are not uniform from 0, the shapes disagree, a time is not finite, or a
        velocity is not positive.
    """

    distances_km: Float64Array
    depths_km: Float64Array
    p: Float64Array
    s: Float64Array
    surface_vp: float
    surface_vs: float
    name: str = "table"
    _times: Float64Array = field(init=False, repr=False)
    _flat: Float64Array = field(init=False, repr=False)
    _dx: float = field(init=False, repr=False)
    _dz: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.distances_km, dtype=np.float64)
        z = np.ascontiguousarray(self.depths_km, dtype=np.float64)
        _, dx = _uniform_axis("distances_km", x)
        _, dz = _uniform_axis("depths_km", z)
        p = np.ascontiguousarray(self.p, dtype=np.float64)
        s = np.ascontiguousarray(self.s, dtype=np.float64)
        for label, t in (("p", p), ("s", s)):
            if t.shape != (z.size, x.size):
                raise ValueError(
                    f"{label} must have shape (depths, distances) = {(z.size, x.size)}, "
                    f"got {t.shape}"
                )
            if not np.all(np.isfinite(t)):
                bad = np.argwhere(~np.isfinite(t))[0]
                raise ValueError(
                    f"{label} has no time at depth {z[bad[0]]} km, distance {x[bad[1]]} km"
                )
        if not (self.surface_vp > 0 and self.surface_vs > 0):
            raise ValueError(
                f"need positive surface velocities, got vp={self.surface_vp}, vs={self.surface_vs}"
            )
        for name, value in (("distances_km", x), ("depths_km", z), ("p", p), ("s", s)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        times = np.stack([p, s])
        times.setflags(write=False)
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_flat", times.reshape(-1))
        object.__setattr__(self, "_dx", dx)
        object.__setattr__(self, "_dz", dz)

    @property
    def max_distance_km(self) -> float:
        """Largest tabulated epicentral distance, km."""
        return float(self.distances_km[-1])

    @property
    def max_depth_km(self) -> float:
        """Largest tabulated source depth, km."""
        return float(self.depths_km[-1])

    @property
    def digest(self) -> str:
        """A short hash of the table's contents (changes whenever a time changes)."""
        h = hashlib.sha256()
        for a in (self.distances_km, self.depths_km, self.p, self.s):
            h.update(a.tobytes())
        return h.hexdigest()[:16]

    def elevation_delay(self, is_s: ArrayLike, elevation_km: ArrayLike) -> Float64Array:
        """Extra time to climb a station's elevation, vertically through the top layer.

        Parameters
        ----------
        is_s : array_like of bool
            ``True`` for S, ``False`` for P.
        elevation_km : array_like
            Station elevations above the model's surface, km (negative below it).

        Returns
        -------
        ndarray of float64
            Seconds to add to the table's time (the broadcast shape of the inputs).
        """
        v = np.where(np.asarray(is_s, dtype=bool), self.surface_vs, self.surface_vp)
        out: Float64Array = np.asarray(elevation_km, dtype=np.float64) / v
        return out

    def time(self, is_s: ArrayLike, distance_km: ArrayLike, depth_km: ArrayLike) -> Float64Array:
        """Travel time of the first P (``is_s`` false) or S (true), seconds.

        Parameters
        ----------
        is_s : array_like of bool
            Phase of each query.
        distance_km, depth_km : array_like
            Epicentral distance and source depth, km; all three broadcast together.

        Returns
        -------
        ndarray of float64
            Times, the broadcast shape of the inputs.
        """
        return self._interpolate(is_s, distance_km, depth_km, gradient=False)[0]

    def time_gradient(
        self, is_s: ArrayLike, distance_km: ArrayLike, depth_km: ArrayLike
    ) -> tuple[Float64Array, Float64Array, Float64Array]:
        """Travel time and its derivatives by distance and by depth.

        The derivatives are those of the bilinear surface itself (constant along each axis
        within a cell), so a locator that follows them minimises the same function it
        evaluates.

        Returns
        -------
        time, d_distance, d_depth : ndarray of float64
            Seconds, seconds per km along the surface, seconds per km of depth.
        """
        t, gx, gz = self._interpolate(is_s, distance_km, depth_km, gradient=True)
        assert gx is not None
        assert gz is not None
        return t, gx, gz

    def _interpolate(
        self, is_s: ArrayLike, distance_km: ArrayLike, depth_km: ArrayLike, *, gradient: bool
    ) -> tuple[Float64Array, Float64Array | None, Float64Array | None]:
        phase = np.asarray(is_s, dtype=bool)
        x = np.asarray(distance_km, dtype=np.float64)
        z = np.asarray(depth_km, dtype=np.float64)
        if not (phase.shape == x.shape == z.shape):
            phase, x, z = np.broadcast_arrays(phase, x, z)
        nz, nx = self._times.shape[1:]
        fx = np.maximum(x, 0.0) * (1.0 / self._dx)
        ix = np.minimum(fx.astype(np.intp), nx - 2)
        ux = fx - ix  # > 1 beyond the last distance: the last cell's slope continues
        fz = np.clip(z, 0.0, self.max_depth_km) * (1.0 / self._dz)
        iz = np.minimum(fz.astype(np.intp), nz - 2)
        uz = fz - iz
        flat = self._flat
        at = (phase * nz + iz) * nx + ix
        t00 = flat[at]
        t01 = flat[at + 1]
        t10 = flat[at + nx]
        t11 = flat[at + nx + 1]
        top = t00 + ux * (t01 - t00)
        bottom = t10 + ux * (t11 - t10)
        t: Float64Array = top + uz * (bottom - top)
        if not gradient:
            return t, None, None
        gx: Float64Array = ((1.0 - uz) * (t01 - t00) + uz * (t11 - t10)) / self._dx
        gz: Float64Array = (bottom - top) / self._dz
        return t, gx, gz
