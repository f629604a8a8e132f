"""Travel-time tables of a velocity model, built with ObsPy's TauP and cached on disk.

The model's ``.nd`` text is built into a TauP model with ``obspy.taup.taup_create.
build_taup_model``; for every source depth of the grid the model is split at that depth and
the first P (of ``p``, ``P``, ``Pn``, ``Pg``) and the first S (``s``, ``S``, ``Sn``, ``Sg``)
are read off each phase's sampled travel-time curve at every distance of the grid, as TauP's
own first estimate does (the tangents of the two bracketing rays, Buland & Chapman 1983),
without its ray shooting: the table is built in seconds instead of many minutes and differs
from ``TauPyModel.get_travel_times`` by at most a few hundredths of a second (a test holds it
to that).

The table is stored as ``<cache_dir>/<model>-<key>.npz``; the key hashes the model's ``.nd``
text, the grid and the ObsPy version, so a changed model (or grid) builds a new table and an
unchanged one is read back in milliseconds.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import obspy
from numpy.typing import NDArray
from obspy.taup.helper_classes import TauModelError
from obspy.taup.tau_model import TauModel
from obspy.taup.taup_create import build_taup_model
from obspy.taup.taup_time import TauPTime

from detection import TravelTimeTable
from ingest.quakes.velocity import ModelRows
from stations.errors import ConfigurationError

__all__ = [
    "EARTH_RADIUS_KM",
    "P_PHASES",
    "S_PHASES",
    "TableGrid",
    "build_tau_model",
    "compute_table",
    "load_table",
]

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0
"""The radius of TauP's models, and of the sphere :func:`detection.distance_km` measures on."""
P_PHASES = ("p", "P", "Pn", "Pg")
S_PHASES = ("s", "S", "Sn", "Sg")
Float64Array = NDArray[np.float64]


@dataclass(frozen=True)
class TableGrid:
    """Distances and depths of a travel-time table, km."""

    max_distance_km: float = 1000.0
    max_depth_km: float = 300.0
    distance_step_km: float = 1.0
    depth_step_km: float = 2.0

    def __post_init__(self) -> None:
        for name in ("max_distance_km", "max_depth_km", "distance_step_km", "depth_step_km"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError("velocity_model", f"{name} must be > 0, got {value}")
        for axis in ("distance", "depth"):
            top, step = getattr(self, f"max_{axis}_km"), getattr(self, f"{axis}_step_km")
            if abs(top / step - round(top / step)) > 1e-9 or top / step < 1:
                raise ConfigurationError(
                    "velocity_model",
                    f"max_{axis}_km ({top}) must be a whole number of {axis}_step_km ({step})",
                )

    @property
    def distances(self) -> Float64Array:
        n = round(self.max_distance_km / self.distance_step_km)
        return np.linspace(0.0, self.max_distance_km, n + 1)

    @property
    def depths(self) -> Float64Array:
        n = round(self.max_depth_km / self.depth_step_km)
        return np.linspace(0.0, self.max_depth_km, n + 1)


def build_tau_model(model: ModelRows, folder: Path) -> Path:
    """Write the model's ``.nd`` file into ``folder`` and build it with TauP.

    Returns
    -------
    Path
        The TauP model file (``.npz``), which ``obspy.taup.TauPyModel`` also reads.

    Raises
    ------
    ConfigurationError
        If TauP refuses the model.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nd = folder / f"{model.name or 'model'}-{model.digest}.nd"
    nd.write_text(model.nd_text(), encoding="utf-8")
    npz = nd.with_suffix(".npz")
    try:
        build_taup_model(str(nd), output_folder=str(folder), verbose=False)
    except (ValueError, TauModelError, IndexError) as e:
        raise ConfigurationError(str(nd), f"TauP cannot build this velocity model: {e}") from e
    if not npz.is_file():  # build_taup_model prints and swallows some errors
        raise ConfigurationError(str(nd), "TauP did not build the velocity model")
    return npz


def _first_arrivals(phases: Sequence[Any], x_rad: Float64Array) -> Float64Array:
    """Earliest time over the phases at each distance (radians), from the sampled curves."""
    best = np.full(x_rad.shape, np.inf)
    for phase in phases:
        dist = np.asarray(phase.dist, dtype=np.float64)
        if dist.size < 2:
            continue
        time = np.asarray(phase.time, dtype=np.float64)
        ray = np.asarray(phase.ray_param, dtype=np.float64)
        d1, d2 = dist[:-1, None], dist[1:, None]
        inside = (d1 - x_rad) * (d2 - x_rad) <= 0.0
        left = time[:-1, None] + ray[:-1, None] * (x_rad - d1)
        right = time[1:, None] + ray[1:, None] * (x_rad - d2)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (ray[:-1] - ray[1:])[:, None] / (d1 - d2)
        estimate = np.where(slope > 0, np.maximum(left, right), np.minimum(left, right))
        estimate = np.where(inside, estimate, np.inf)
        best = np.minimum(best, estimate.min(axis=0))
    return best


def compute_table(
    tau_model: TauModel,
    grid: TableGrid,
    surface: tuple[float, float],
    name: str,
    progress: Callable[[int, int], None] | None = None,
) -> TravelTimeTable:
    """First P and S over the grid from a TauP model.

    Raises
    ------
    ConfigurationError
        If the model has no P or S arrival at some grid point.
    """
    x_rad = grid.distances / EARTH_RADIUS_KM
    depths = grid.depths
    p = np.empty((depths.size, x_rad.size))
    s = np.empty_like(p)
    for i, depth in enumerate(depths):
        calc = TauPTime(tau_model, list(P_PHASES + S_PHASES), float(depth), 0.0)
        calc.depth_correct(float(depth))
        calc.recalc_phases()
        p[i] = _first_arrivals([ph for ph in calc.phases if ph.name in P_PHASES], x_rad)
        s[i] = _first_arrivals([ph for ph in calc.phases if ph.name in S_PHASES], x_rad)
        if progress is not None:
            progress(i + 1, depths.size)
    for label, t in (("P", p), ("S", s)):
        if not np.all(np.isfinite(t)):
            iz, ix = np.argwhere(~np.isfinite(t))[0]
            raise ConfigurationError(
                name,
                f"the velocity model gives no {label} at depth {depths[iz]} km and distance "
                f"{grid.distances[ix]} km",
            )
    return TravelTimeTable(grid.distances, depths, p, s, surface[0], surface[1], name=name)


def _key(model: ModelRows, grid: TableGrid) -> str:
    h = hashlib.sha256(model.nd_text().encode())
    h.update(repr(grid).encode())
    h.update(f"obspy {obspy.__version__} table v1".encode())
    return h.hexdigest()[:16]


def load_table(
    model: ModelRows,
    grid: TableGrid,
    cache_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> TravelTimeTable:
    """The model's table from the cache, or built (and cached) if it is not there.

    Parameters
    ----------
    model : ModelRows
    grid : TableGrid
    cache_dir : Path or None
        Where tables are kept (created if missing); ``None``: build, keep nothing.
    progress : callable, optional
        Called with (depths done, depths) while building.
    """
    name = model.name or "model"
    key = _key(model, grid)
    path = cache_dir / f"{name}-{key}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                return TravelTimeTable(
                    data["distances"],
                    data["depths"],
                    data["p"],
                    data["s"],
                    float(data["surface"][0]),
                    float(data["surface"][1]),
                    name=name,
                )
        except (OSError, KeyError, ValueError) as e:
            log.warning("travel-time table %s is unreadable (%s); building it again", path, e)
    log.info("building travel-time tables of velocity model %s (%s)", name, key)
    with tempfile.TemporaryDirectory(prefix="larza-taup-") as tmp:
        npz = build_tau_model(model, Path(tmp))
        tau_model = TauModel.from_file(str(npz))
    table = compute_table(tau_model, grid, model.surface, name, progress)
    if path is not None:
        try:
            _save(table, model.surface, path)
        except OSError as e:  # a read-only folder (a container's): built at each start
            log.warning("travel-time table not cached (%s): built again at the next start", e)
    return table


def _save(table: TravelTimeTable, surface: tuple[float, float], path: Path) -> None:
    """Write the table beside its final name, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(
            partial,
            distances=table.distances_km,
            depths=table.depths_km,
            p=table.p,
            s=table.s,
            surface=np.array(surface),
        )
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
