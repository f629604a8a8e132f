"""From ``larza.toml`` to the objects of :mod:`detection`: the velocity model and its
travel-time table, the associator's and locator's settings, the ML calibration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from detection import (
    LocatorConfig,
    MagnitudeCalibration,
    QuakeAssociatorConfig,
    TravelTimeTable,
)
from ingest.config import LarzaConfig, LocationTable, MagnitudeTable, VelocityModelTable
from ingest.quakes.velocity import (
    Layer,
    ModelRows,
    layered_model,
    named_model,
    read_model_file,
)

__all__ = [
    "SMALLEST_NETWORK",
    "associator_config",
    "locates",
    "locator_config",
    "magnitude_calibration",
    "travel_time_table",
    "velocity_model",
]


def velocity_model(table: VelocityModelTable, base_dir: Path) -> ModelRows:
    """The configured model as rows (file, layers or a named model).

    Raises
    ------
    ConfigurationError
        A file that cannot be read or parsed (naming it and the line), or bad layers.
    """
    if table.file is not None:
        path = Path(table.file)
        return read_model_file(path if path.is_absolute() else base_dir / path, table.base)
    if table.layers is not None:
        assert table.moho_km is not None  # checked with the table
        layers = tuple(Layer(top, vp, vs) for top, vp, vs in table.layer_values())
        return layered_model("layers", layers, table.moho_km, table.base)
    return named_model(table.model)


def travel_time_table(
    config: LarzaConfig, progress: Callable[[int, int], None] | None = None
) -> TravelTimeTable:
    """The travel-time table of the configured model: from the cache, or built with TauP
    (a few seconds for the default grid) and cached."""
    from ingest.quakes.traveltimes import TableGrid, load_table  # ObsPy's TauP

    table = config.velocity_model
    grid = TableGrid(
        max_distance_km=table.max_distance_km,
        max_depth_km=table.max_depth_km,
        distance_step_km=table.distance_step_km,
        depth_step_km=table.depth_step_km,
    )
    cache = Path(table.cache_dir) if table.cache_dir else None
    if cache is not None and not cache.is_absolute():
        cache = config.base_dir / cache
    return load_table(velocity_model(table, config.base_dir), grid, cache, progress)


SMALLEST_NETWORK = 3
"""Stations with coordinates the phase associator needs: fewer make trigger groups."""


def locates(location: LocationTable, n_stations: int) -> bool:
    """Whether a network of ``n_stations`` stations with coordinates makes earthquakes
    (phase association, located when the phases allow) rather than trigger groups."""
    return n_stations >= min(location.min_stations, SMALLEST_NETWORK)


def locator_config(location: LocationTable, max_depth_km: float | None = None) -> LocatorConfig:
    return LocatorConfig(
        min_phases=location.min_phases_located,
        min_phases_free_depth=location.min_phases_free_depth,
        fixed_depth_km=location.fixed_depth_km,
        max_depth_km=max_depth_km,
        search_margin_km=location.search_margin_km,
        grid_spacing_km=location.grid_spacing_km,
        depth_spacing_km=location.depth_spacing_km,
        huber=location.huber,
        p_model_error_s=location.p_model_error_s,
        s_model_error_s=location.s_model_error_s,
    )


def associator_config(
    location: LocationTable, n_stations: int | None = None
) -> QuakeAssociatorConfig:
    """The associator's settings; for a network of ``n_stations`` with fewer than
    ``[location] min_stations`` (three stations) an event needs P at every station and no
    more phases than that: it is located when it has ``min_phases_located`` phases (its S
    picks), else stored "not located" with the reason."""
    min_stations, min_phases = location.min_stations, location.min_phases
    if n_stations is not None and SMALLEST_NETWORK <= n_stations < min_stations:
        min_stations = min_phases = n_stations
    return QuakeAssociatorConfig(
        min_stations=min_stations,
        min_phases=min_phases,
        p_model_error_s=location.p_model_error_s,
        s_model_error_s=location.s_model_error_s,
        tolerance_sigmas=location.tolerance_sigmas,
        confidence=location.confidence,
        min_coverage=location.min_coverage,
        min_moveout_s=location.min_moveout_s,
        relabel=location.relabel,
        locator=locator_config(location),
    )


def magnitude_calibration(magnitude: MagnitudeTable) -> MagnitudeCalibration:
    return MagnitudeCalibration(
        log_a0=magnitude.log_a0,
        distance=magnitude.distance,
        station_corrections=dict(magnitude.station_corrections),
        min_distance_km=magnitude.min_distance_km,
        max_distance_km=magnitude.max_distance_km,
        trim=magnitude.trim,
        k_slope=magnitude.k_slope,
        k_intercept=magnitude.k_intercept,
    )
